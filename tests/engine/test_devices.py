"""Device names and the training forward pass's float type."""

from __future__ import annotations

import pytest
import torch

from rnncast.engine import devices
from rnncast.errors import ConfigError


def test_device_resolution():
    assert devices.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert devices.resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ConfigError) as e:
            devices.resolve_device("cuda:1")
        assert str(e.value) == (
            f"--device cuda:1: CUDA is not available here (torch {torch.__version__}); "
            "use --device auto or cpu"
        )
    with pytest.raises(ConfigError) as e:
        devices.resolve_device("tpu")
    assert str(e.value) == "--device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"


def test_precision_by_device():
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert devices.autocast_dtype("auto", cpu) is None  # float32: unchanged on CPUs
    assert devices.autocast_dtype("auto", mps) is None
    assert devices.autocast_dtype("fp32", cuda) is None
    assert devices.autocast_dtype("bf16", cpu) is torch.bfloat16
    for precision, device, message in (
        ("fp16", cpu, "--precision fp16 is for CUDA GPUs, not cpu: pass --precision fp32 or auto"),
        ("bf16", mps, "--precision bf16 is for CUDA GPUs and CPUs, not mps: pass --precision "
                      "fp32 or auto"),
        ("fp8", cpu, "--precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            devices.autocast_dtype(precision, device)
        assert str(e.value) == message


def test_memory_of_the_machine():
    have = devices.memory(torch.device("cpu"))
    assert have is None or have > 2**26
