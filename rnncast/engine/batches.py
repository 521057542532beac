"""The one recipe from windows of the series to what a network reads, shared by training,
validation, the echo state network's fit and forecasting, so that they scale alike.

A window is named by the flat index of its first value (`rnncast.data.windows`). `Windows`
holds a strided view of all windows of one width over the flat values, where the values
stay (`rnncast.engine.staging`), and what each window's input needs from its series: its
scale floor, its row in the id embedding, its first calendar step, its covariates, and its
future-known covariates over the lookback and the horizon (which may run past its last value,
as `SeriesSet.known` holds them). `gather` takes a batch of them to the device the network
runs on as a `Batch` (raw values, or their logarithms under `--transform log`);
`network_input` turns a batch into the network's input and, for windows that reach past the
lookback, the scaled target:

    windows (B, lookback [+ horizon]) -> scale by the lookback's statistics -> (B, L, features)
                                         + the horizon's future covariates and calendar
                                         features (B, H, F + 2 n), the target (B, H)

`Split` numbers the windows of a training or validation split (`rnncast.data.windows.Ranges`)
so that memory does not grow with their count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnncast.data.calendar import window_phases
from rnncast.data.windows import Ranges
from rnncast.engine import scaling, staging
from rnncast.settings import ModelConfig


def calendar_features(phases: torch.Tensor, length: int, periods: torch.Tensor) -> torch.Tensor:
    """The features of `length` steps from each window's phases (B, n): (B, length, 2 n),
    sines then cosines (`rnncast.data.calendar`)."""
    t = torch.arange(length, device=phases.device, dtype=phases.dtype)
    angle = (2 * torch.pi) * (phases[:, None, :] + t[None, :, None]) / periods
    return torch.cat([torch.sin(angle), torch.cos(angle)], dim=-1)


def step_inputs(
    config: ModelConfig,
    x: torch.Tensor,
    phases: torch.Tensor | None,
    horizon: int,
    covariates: torch.Tensor | None = None,
    known: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The network's inputs from scaled lookback windows x (B, L), their scaled covariates
    (B, L, C), their scaled future-known covariates over lookback and horizon (B, L +
    horizon, F) and each window's calendar phases (B, n): the encoder's (B, L, features:
    value, covariates, future covariates, calendar), and the horizon's future covariates and
    calendar features (B, horizon, F + 2 n) for the decoder, or None without either."""
    x = x.unsqueeze(-1)
    length = x.shape[1]
    if config.covariate_count:
        assert covariates is not None, "a model with covariates needs them"
        x = torch.cat([x, covariates.to(x.dtype)], dim=-1)
    future = []
    if config.future_covariate_count:
        assert known is not None, "a model with future covariates needs them"
        assert known.shape[1] == length + horizon, "future covariates over lookback + horizon"
        x = torch.cat([x, known[:, :length].to(x.dtype)], dim=-1)
        future.append(known[:, length:].to(x.dtype))
    if config.calendar:
        assert phases is not None, "a model with calendar features needs each window's phases"
        periods = torch.tensor(config.calendar, dtype=x.dtype, device=x.device)
        cycles = calendar_features(phases.to(x.dtype), length + horizon, periods)
        x = torch.cat([x, cycles[:, :length]], dim=-1)
        future.append(cycles[:, length:])
    return x, torch.cat(future, dim=-1) if future else None


def series_floors(
    values: np.ndarray,
    offsets: np.ndarray,
    lookback: int,
    config: ModelConfig,
    units: np.ndarray | None = None,
) -> np.ndarray:
    """Each series' least window scale for `config` (`rnncast.engine.scaling`), float32:
    under 'series' scaling its unit, `units` where given (training's, as the model file keeps
    them) else measured on `values`; otherwise `scale_floor` of its typical spread over
    windows of `lookback`."""
    if config.scaling == "series" and units is not None:
        return np.asarray(units, dtype=np.float32)
    return scaling.series_floors(values, offsets, lookback, config.scale_floor, config.scaling,
                                 config.logs)  # fmt: skip


@dataclass
class Batch:
    """Windows gathered for one step: values (B, width) (logarithms for a model that reads
    logs), scale floors (B,), calendar phases (B, periods) or None, rows in the id embedding
    (B,) or None, covariates (B, width, C) or None, future-known covariates over lookback and
    horizon (B, lookback + horizon, F) or None; all on the device the network runs on."""

    windows: torch.Tensor
    floors: torch.Tensor
    phases: torch.Tensor | None = None
    ids: torch.Tensor | None = None
    covariates: torch.Tensor | None = None
    known: torch.Tensor | None = None


@dataclass
class NetworkInput:
    """What `network_input` makes of a batch: the encoder's input (B, L, features), the
    horizon's calendar features (B, H, 2 n) or None, the lookbacks' scaling statistics (to
    turn forecasts back), and the scaled target (B, H) where the windows hold one."""

    x: torch.Tensor
    future: torch.Tensor | None
    stats: scaling.Stats
    target: torch.Tensor | None


def network_input(config: ModelConfig, batch: Batch, lookback: int, horizon: int) -> NetworkInput:
    """The recipe: each window's first `lookback` values scaled by their own statistics
    (`config.scaling`, at least the window's floor), covariates standardised per window and
    channel over the lookback, future-known covariates over lookback and horizon (all of
    it known), calendar features beside them; the values after the lookback, if any, scaled
    alike as the target. `horizon`: the steps the network forecasts."""
    x, y = batch.windows[:, :lookback], batch.windows[:, lookback:]
    stats = scaling.fit(x, config.scaling, batch.floors, config.logs)
    past = known = None
    if batch.covariates is not None:
        past = scaling.standardise_channels(batch.covariates[:, :lookback])
    if batch.known is not None:
        known = scaling.standardise_channels(batch.known[:, : lookback + horizon])
    scaled = scaling.transform(x, stats)
    encoder, future = step_inputs(config, scaled, batch.phases, horizon, past, known)
    target = scaling.transform(y, stats) if y.shape[1] else None
    return NetworkInput(encoder, future, stats, target)


@dataclass
class Windows:
    """Every window of `width` values over the flat series values, and per series (not per
    window) its scale floor, its row in the id embedding and its first calendar step. All of
    it stays where the values are; batches come out on `device`."""

    view: torch.Tensor  # (N - width + 1, width), no copy of the values
    offsets: np.ndarray  # (S + 1,) int64: the series' flat offsets
    floors: torch.Tensor  # (S,) float32: each series' scale floor
    codes: torch.Tensor | None = None  # (S,) int64: each series' row in the id embedding
    steps: np.ndarray | None = None  # (S,) int64: each series' first calendar step
    periods: tuple[float, ...] = ()
    cov_view: torch.Tensor | None = None  # (N - width + 1, C, width): covariate windows
    device: torch.device | None = None  # where batches go (default: where the values are)
    logs: bool = False  # batches hold the values' logarithms (--transform log)
    known_view: torch.Tensor | None = None  # (K - span + 1, F, span): future covariates
    known_shift: torch.Tensor | None = None  # (S,) int64: a window's start in them - in values

    @classmethod
    def of(cls, values: torch.Tensor, offsets: np.ndarray, floors: np.ndarray, width: int, *,
           steps: np.ndarray | None = None, periods: tuple[float, ...] = (),
           covariates: torch.Tensor | None = None, codes: np.ndarray | None = None,
           device: torch.device | None = None, logs: bool = False,
           known: KnownCovariates | None = None) -> Windows:  # fmt: skip
        """`values`: the flat series values as a tensor where they stay; `floors`: each
        series' scale floor (`series_floors`); `steps`: each series' first calendar step
        (`rnncast.data.calendar.first_steps`) for the calendar `periods`; `covariates`: the
        flat past covariates (N, C), with the values, if any; `codes`: each series' row in
        the id embedding, if any; `device`: where the network runs (by default, where the
        values are); `logs`: batches take the logarithm of the windows' values, as they are
        gathered (no transformed copy of all values); `known`: the future-known covariates
        and the span of each window's (lookback + horizon), if any."""
        home = values.device
        if periods and steps is None:
            raise ValueError("calendar periods need each series' first step")

        def at_home(a: np.ndarray, dtype) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=dtype)).to(home)

        offsets = np.asarray(offsets, dtype=np.int64)
        shift = None if known is None else at_home(known.offsets[:-1] - offsets[:-1], np.int64)
        return cls(
            view=values.unfold(0, width, 1),
            offsets=offsets,
            floors=at_home(floors, np.float32),
            codes=None if codes is None else at_home(codes, np.int64),
            steps=steps if periods else None,
            periods=tuple(periods),
            cov_view=None if covariates is None else covariates.unfold(0, width, 1),
            device=home if device is None else device,
            logs=logs,
            known_view=None if known is None else known.values.unfold(0, known.span, 1),
            known_shift=shift,
        )

    @property
    def home(self) -> torch.device:
        """Where the values stay."""
        return self.view.device

    def gather(self, series: torch.Tensor, starts: torch.Tensor) -> Batch:
        """The windows starting at flat indices `starts` (of series `series`), where the
        values are, as a batch on `device`."""
        device = self.device
        phases = None
        if self.periods:  # on the CPU: --calendar only
            at = window_phases(self.steps, self.offsets, starts.cpu().numpy(), self.periods)
            phases = torch.from_numpy(at).to(device)
        covariates = None
        if self.cov_view is not None:
            covariates = staging.gather(self.cov_view, starts, device).transpose(1, 2)
        known = None
        if self.known_view is not None and self.known_shift is not None:
            at = starts + self.known_shift[series]
            known = staging.gather(self.known_view, at, device).transpose(1, 2)
        windows = staging.gather(self.view, starts, device)
        if self.logs:
            windows = windows.log()
        ids = None if self.codes is None else self.codes[series].to(device)
        return Batch(windows, self.floors[series].to(device), phases, ids, covariates, known)


@dataclass
class KnownCovariates:
    """The future-known covariates where the values stay, as `Windows.of` takes them: the
    flat rows (K, F) (`SeriesSet.known`), each series' rows (`SeriesSet.known_offsets`), and
    the steps a window reads of them: its lookback and the horizon."""

    values: torch.Tensor
    offsets: np.ndarray
    span: int

    @classmethod
    def of(cls, known: np.ndarray | None, offsets: np.ndarray | None, span: int,
           home: torch.device) -> KnownCovariates | None:  # fmt: skip
        """`known` placed on `home` (None without future covariates)."""
        if known is None or offsets is None:
            return None
        values = torch.from_numpy(np.ascontiguousarray(known, dtype=np.float32)).to(home)
        return cls(values, np.asarray(offsets, dtype=np.int64), span)


@dataclass
class Split:
    """The windows of one split (training or validation), numbered 0 .. len - 1 series by
    series: per series where its windows of the split begin and how many windows come before
    it. A batch finds its windows' series with one `searchsorted` over the series."""

    windows: Windows
    first: torch.Tensor  # (S,) int64: flat start of each series' first window of the split
    before: torch.Tensor  # (S + 1,) int64: windows of the split in all earlier series
    size: int = 0

    @classmethod
    def of(cls, windows: Windows, ranges: Ranges) -> Split:
        home = windows.home
        first = torch.from_numpy(np.ascontiguousarray(ranges.first, dtype=np.int64)).to(home)
        before = torch.from_numpy(np.ascontiguousarray(ranges.before(), dtype=np.int64)).to(home)
        return cls(windows, first, before, len(ranges))

    def __len__(self) -> int:
        return self.size

    @property
    def device(self) -> torch.device:
        """Where batches go (where the network runs)."""
        return self.windows.device

    def positions(self) -> torch.Tensor:
        """Every window number, where the values are."""
        return torch.arange(self.size, device=self.first.device)

    def starts(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(series index, flat start) of the windows numbered `positions`."""
        series = torch.searchsorted(self.before, positions, right=True) - 1
        return series, self.first[series] + (positions - self.before[series])

    def batch(self, positions: torch.Tensor) -> Batch:
        """The windows numbered `positions`."""
        return self.windows.gather(*self.starts(positions.to(self.first.device)))
