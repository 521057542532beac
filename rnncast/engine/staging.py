"""Where the series values stay while a model trains or forecasts.

On the compute device when they fit: one copy at the start, then every batch is an index
into it, with no per-batch transfer. On a CUDA GPU whose free memory they would crowd (more
than `DEVICE_SHARE` of it), in host memory instead: each batch's windows are gathered on the
host into page-locked (pinned) memory and copied to the GPU without blocking, so the copy
overlaps the work already queued there. CPUs and Apple GPUs (whose memory is the host's)
always keep the values where they compute.
"""

from __future__ import annotations

import numpy as np
import torch

# The share of the GPU's free memory the data may take: the rest is for the network, its
# activations for a batch, the optimiser state and cuDNN's workspace.
DEVICE_SHARE = 0.5


def fits(nbytes: int, free: int) -> bool:
    """Whether data of `nbytes` fits in a device with `free` bytes free."""
    return nbytes <= DEVICE_SHARE * free


def nbytes(*arrays: np.ndarray | None) -> int:
    """The bytes of `arrays` together (None counts nothing): what `home` is asked about."""
    return sum(a.nbytes for a in arrays if a is not None)


def home(nbytes: int, device: torch.device, place: str = "auto") -> torch.device:
    """The device the values (`nbytes` of them, covariates included) stay on while the
    compute runs on `device`: `device` itself, or the host (`place`: auto decides by
    `fits` on CUDA; device and host force one: `TrainConfig.data_on`)."""
    if device.type != "cuda" or place == "device":
        return device
    if place == "host":
        return torch.device("cpu")
    free, _ = torch.cuda.mem_get_info(device)
    return device if fits(nbytes, free) else torch.device("cpu")


def gather(view: torch.Tensor, index: torch.Tensor, device: torch.device) -> torch.Tensor:
    """view[index] on `device`, indexed where `view` lives. From the host to a CUDA GPU
    (see `home`), through a page-locked buffer from PyTorch's caching host allocator (which
    keeps it until the copy has run) and a non-blocking copy."""
    index = index.to(view.device)
    if view.device.type != "cpu" or device.type != "cuda":
        return view[index].to(device)  # already where it is computed on: no copy
    out = torch.empty((len(index), *view.shape[1:]), dtype=view.dtype, pin_memory=True)
    torch.index_select(view, 0, index, out=out)
    return out.to(device, non_blocking=True)
