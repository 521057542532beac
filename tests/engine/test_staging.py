from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.engine import loop, staging
from rnncast.forecast import forecasting as forecast
from rnncast.settings import WindowConfig
from tests.conftest import make_long

CUDA = torch.device("cuda")
WINDOW = WindowConfig(lookback=48, horizon=12, val_size=12)


def test_fits_takes_at_most_half_the_free_memory():
    assert staging.fits(500, free=1000)
    assert not staging.fits(501, free=1000)
    assert staging.fits(0, free=0)


@pytest.fixture
def free_gpu_memory(monkeypatch):
    """A CUDA GPU with 1,000 bytes free (the decision needs only torch's answer)."""
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1000, 4000))


def test_values_stay_on_a_gpu_while_they_fit(free_gpu_memory):
    assert staging.home(500, CUDA) == CUDA
    assert staging.home(501, CUDA) == torch.device("cpu")


def test_data_on_forces_the_place(free_gpu_memory):
    assert staging.home(10**12, CUDA, "device") == CUDA
    assert staging.home(1, CUDA, "host") == torch.device("cpu")


@pytest.mark.parametrize("place", ["auto", "device", "host"])
def test_cpus_and_apple_gpus_keep_the_values_where_they_compute(place):
    """Their memory is the host's: there is nothing to move."""
    for device in (torch.device("cpu"), torch.device("mps")):
        assert staging.home(10**12, device, place) == device


def test_gather_on_the_same_device_indexes_the_view():
    view = torch.arange(40.0).unfold(0, 5, 1)
    index = torch.tensor([3, 0, 7, 7])
    assert torch.equal(staging.gather(view, index, torch.device("cpu")), view[index])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("shape", [(40,), (40, 3)])
def test_gather_from_the_host_to_a_gpu(shape):
    view = torch.arange(float(np.prod(shape))).reshape(shape).unfold(0, 5, 1)
    index = torch.tensor([3, 0, 7, 7])
    out = staging.gather(view, index, CUDA)
    assert out.is_cuda
    assert torch.equal(out.cpu(), view[index])


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_training_from_host_memory_matches_training_from_the_gpu(
    small_model, fast_train, monkeypatch
):
    """Data kept on the host (batches copied through pinned memory) trains the same network
    as data kept on the GPU; forecasts from host-resident values match too."""
    series = from_frame(make_long(n_series=3, length=200))
    on_gpu = dataclasses.replace(fast_train, device="cuda", precision="fp32", data_on="device")
    a = loop.fit(series, WINDOW, small_model, on_gpu)
    b = loop.fit(series, WINDOW, small_model, dataclasses.replace(on_gpu, data_on="host"))
    theirs = b.network.state_dict()
    for name, x in a.network.state_dict().items():
        assert torch.allclose(x, theirs[name], atol=1e-5), name
    starts = series.offsets[1:] - WINDOW.lookback
    direct = forecast.outputs_at(a.network, series, starts, device="cuda")
    monkeypatch.setattr(staging, "home", lambda nbytes, device, place="auto": torch.device("cpu"))
    hosted = forecast.outputs_at(a.network, series, starts, device="cuda")
    np.testing.assert_allclose(hosted.point, direct.point, atol=1e-5)
