"""Where networks run: the device a name means (`--device`), and the float type of the
training forward pass (`--precision`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from rnncast.errors import ConfigError
from rnncast.settings import PRECISIONS


def resolve_device(spec: str) -> torch.device:
    """'auto' prefers CUDA, then Apple MPS, then the CPU; other names are checked."""
    spec = spec.strip().lower()
    mps = getattr(torch.backends, "mps", None)
    mps_ok = mps is not None and mps.is_available()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if mps_ok else torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    if spec == "mps":
        if not mps_ok:
            raise ConfigError(
                "--device mps: Apple MPS is not available here; use --device auto or cpu"
            )
        return torch.device("mps")
    if spec == "cuda" or spec.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise ConfigError(
                f"--device {spec}: CUDA is not available here (torch {torch.__version__}); "
                "use --device auto or cpu"
            )
        index = spec.partition(":")[2]
        if index and (not index.isdigit() or int(index) >= torch.cuda.device_count()):
            raise ConfigError(
                f"--device {spec}: there are {torch.cuda.device_count()} CUDA devices "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
        return torch.device(spec)
    raise ConfigError(f"--device must be auto, cpu, cuda, cuda:N or mps, got '{spec}'")


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The float type of the training forward pass under autocast (`--precision`), or None
    for plain float32. 'auto' is bfloat16 on CUDA GPUs that have it (Ampere and later) and
    float16 on older ones (with loss scaling: its range is small), float32 on CPUs and Apple
    GPUs. Weights and the optimiser stay float32 in every case."""
    if precision not in PRECISIONS:
        raise ConfigError(f"--precision must be one of {', '.join(PRECISIONS)}, got '{precision}'")
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    bf16 = device.type == "cpu" or (device.type == "cuda" and torch.cuda.is_bf16_supported())
    if precision == "auto":
        return torch.bfloat16 if bf16 else torch.float16
    if device.type == "mps" or (precision == "fp16" and device.type != "cuda"):
        raise ConfigError(
            f"--precision {precision} is for CUDA GPUs{' and CPUs' if precision == 'bf16' else ''}"
            f", not {device.type}: pass --precision fp32 or auto"
        )
    if precision == "bf16" and not bf16:
        raise ConfigError(
            f"--precision bf16: this GPU ({torch.cuda.get_device_name(device)}) has no "
            "bfloat16: pass --precision fp16 or auto"
        )
    return torch.bfloat16 if precision == "bf16" else torch.float16


def memory(device: torch.device) -> int | None:
    """Bytes of memory `device` has: a CUDA device's own, else the machine's (less where a
    cgroup limits this process); None where it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.get_device_properties(device).total_memory
    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # Windows
        return None
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
    except OSError:
        return total
    return min(total, int(limit)) if limit.isdigit() else total
