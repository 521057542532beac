"""Normalisation of input windows and its inverse on the forecasts.

'window' (the default) standardises each input window by its own mean and standard
deviation, and applies the same statistics to the window's target and, inverted, to the
forecast. Because nothing is fitted to a particular series, a model can forecast series it
never saw. 'none' leaves values as they are.

The scale has a floor: a flat window would otherwise divide by zero. It is at least 0.1% of
the window's mean level, and 1 for a window of zeros, so forecasts stay finite.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

REL_FLOOR = 1e-3


@dataclass
class Stats:
    """Per-window location and scale, each (B, 1)."""

    loc: torch.Tensor
    scale: torch.Tensor


def fit(x: torch.Tensor, method: str) -> Stats:
    """Statistics of each row of `x` (B, L) for `method` ('window' or 'none')."""
    if method == "none":
        ones = torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)
        return Stats(loc=torch.zeros_like(ones), scale=ones)
    if method != "window":
        raise ValueError(f"unknown scaling '{method}'")
    loc = x.mean(dim=1, keepdim=True)
    std = x.std(dim=1, keepdim=True, unbiased=False) if x.shape[1] > 1 else torch.zeros_like(loc)
    scale = torch.maximum(std, REL_FLOOR * loc.abs())
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    return Stats(loc=loc, scale=scale)


def transform(x: torch.Tensor, stats: Stats) -> torch.Tensor:
    return (x - stats.loc) / stats.scale


def inverse(y: torch.Tensor, stats: Stats) -> torch.Tensor:
    return y * stats.scale + stats.loc
