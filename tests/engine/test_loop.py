from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.data.windows import split_ranges
from rnncast.engine import batches, loop, losses
from rnncast.engine.events import BatchEnd, EpochEnd, TrainStart
from rnncast.errors import DataError
from rnncast.settings import TrainConfig, WindowConfig
from tests.conftest import make_long

WINDOW = WindowConfig(lookback=48, horizon=12, val_size=12)


@pytest.fixture
def series():
    return from_frame(make_long(n_series=3, length=200))


def test_same_seed_same_model(series, small_model, fast_train):
    a = loop.fit(series, WINDOW, small_model, fast_train)
    b = loop.fit(series, WINDOW, small_model, fast_train)
    for (name, x), y in zip(
        a.network.state_dict().items(), b.network.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    c = loop.fit(series, WINDOW, small_model, dataclasses.replace(fast_train, seed=1))
    assert not torch.equal(a.network.head.weight, c.network.head.weight)


def test_training_beats_the_untrained_network(series, small_model):
    config = TrainConfig(max_epochs=15, epoch_size=512, batch_size=32, lr=3e-3, device="cpu")
    result = loop.fit(series, WINDOW, small_model, config)
    first = result.history[0]["val_loss"]
    assert result.best_val_loss < 0.8 * first


@pytest.mark.parametrize("method", ["window", "series"])
def test_best_weights_are_restored(series, small_model, method):
    config = TrainConfig(
        max_epochs=8, epoch_size=256, batch_size=64, lr=0.05, patience=3, device="cpu"
    )
    model = dataclasses.replace(small_model, scaling=method)
    result = loop.fit(series, WINDOW, model, config)
    val_losses = [h["val_loss"] for h in result.history]
    assert result.best_epoch == int(np.argmin(val_losses)) + 1
    _, val = split_ranges(series.offsets, WINDOW)
    floors = batches.series_floors(series.values, series.offsets, WINDOW.lookback, model)
    windows = batches.Windows.of(torch.from_numpy(series.values), series.offsets, floors,
                                 WINDOW.width, codes=np.arange(1, 4))  # fmt: skip
    again = losses.evaluate_loss(result.network, batches.Split.of(windows, val),
                                 WINDOW.lookback, losses.loss_function("mae"), 64)  # fmt: skip
    assert again == pytest.approx(min(val_losses), rel=1e-5)


def test_an_epoch_of_many_windows_draws_only_its_own():
    rng = np.random.default_rng(0)
    few = loop._draw(rng, 10, 25)  # passes over all ten
    assert sorted(few[:10]) == list(range(10)) and sorted(few[10:20]) == list(range(10))
    many = loop._draw(rng, loop.DRAW_ALL * 4, 1000)
    assert len(set(many.tolist())) == 1000 and many.max() < loop.DRAW_ALL * 4


def test_early_stopping_and_limits(series, small_model):
    config = TrainConfig(
        max_epochs=50, epoch_size=64, batch_size=64, lr=0.5, patience=2, device="cpu"
    )
    result = loop.fit(series, WINDOW, small_model, config)
    assert result.stopped == "early stop: no improvement for 2 epochs"
    assert len(result.history) < 50
    limited = loop.fit(
        series, WINDOW, small_model, dataclasses.replace(config, max_steps=5, max_epochs=100)
    )
    assert limited.steps == 5
    assert limited.stopped == "reached --max-steps 5"


def test_events_are_reported(series, small_model, fast_train):
    heard = []
    result = loop.fit(series, WINDOW, small_model, fast_train, heard.append)
    start = heard[0]
    assert isinstance(start, TrainStart)
    assert start.train_windows == 3 * (200 - 12 - 60 + 1)
    assert start.val_windows == 3
    epochs = [e for e in heard if isinstance(e, EpochEnd)]
    assert [e.epoch for e in epochs] == list(range(1, len(result.history) + 1))
    steps = [e for e in heard if isinstance(e, BatchEnd)]
    assert len(steps) == result.steps
    assert all(math.isfinite(e.loss) for e in steps)


def test_epochs_repeat_small_data_up_to_a_minimum_of_batches(small_model):
    tiny = from_frame(make_long(n_series=1, length=80))
    heard = []
    loop.fit(tiny, WINDOW, small_model, TrainConfig(max_epochs=1, device="cpu"), heard.append)
    assert heard[0].train_windows == 80 - 12 - 60 + 1
    assert heard[0].batches_per_epoch == loop.MIN_EPOCH_BATCHES


def test_no_validation(series, small_model, fast_train):
    window = WindowConfig(lookback=48, horizon=12, val_size=0)
    result = loop.fit(series, window, small_model, fast_train)
    assert result.val_windows == 0
    assert result.best_val_loss is None
    assert all(h["val_loss"] is None for h in result.history)


def test_too_short_series_are_named(small_model, fast_train):
    short = from_frame(make_long(n_series=3, length=200, lengths=[200, 50, 30]))
    with pytest.raises(DataError) as e:
        loop.fit(short, WINDOW, small_model, fast_train)
    assert str(e.value) == (
        "2 series are shorter than lookback 48 + horizon 12 = 60 values: 's1' (50), 's2' (30); "
        "pass a smaller --lookback, or --skip-short to leave them out"
    )


def test_no_series_long_enough_to_train(small_model, fast_train):
    short = from_frame(make_long(n_series=2, length=65))
    with pytest.raises(DataError) as e:
        loop.fit(short, WINDOW, small_model, fast_train)
    assert str(e.value) == (
        "no series is long enough to train on: the longest has 65 values but lookback 48 + "
        "horizon 12 + validation 12 needs 72; pass a smaller --lookback or --val-size"
    )


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda(series, small_model, fast_train):
    result = loop.fit(series, WINDOW, small_model, dataclasses.replace(fast_train, device="cuda"))
    assert result.device.startswith("cuda")
    assert next(result.network.parameters()).is_cuda


def test_bf16_autocast_trains_float32_weights(series, small_model):
    """bf16 autocast (here on the CPU) runs the network in bfloat16: the losses differ from
    float32's a little, the model still learns, and weights stay float32 (without weight
    averaging, which slows what 4 short epochs show)."""
    config = TrainConfig(
        max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cpu", ema=0.0
    )
    plain = loop.fit(series, WINDOW, small_model, config)
    auto = loop.fit(series, WINDOW, small_model, dataclasses.replace(config, precision="auto"))
    half = loop.fit(series, WINDOW, small_model, dataclasses.replace(config, precision="bf16"))
    assert [h["val_loss"] for h in auto.history] == [h["val_loss"] for h in plain.history]
    ours, theirs = half.history, plain.history
    assert [h["val_loss"] for h in ours] != [h["val_loss"] for h in theirs]
    assert ours[-1]["val_loss"] < 0.6 * ours[0]["val_loss"]
    assert ours[-1]["val_loss"] == pytest.approx(theirs[-1]["val_loss"], rel=0.2)
    assert all(p.dtype == torch.float32 for p in half.network.parameters())


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("precision", ["auto", "fp16", "fp32"])
def test_reduced_precision_on_cuda(series, small_model, precision):
    """auto is bf16 on GPUs that have it, else fp16 with a loss scaler; all learn."""
    config = TrainConfig(max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cuda",
                         precision=precision)  # fmt: skip
    result = loop.fit(series, WINDOW, small_model, config)
    assert result.history[-1]["val_loss"] < 0.6 * result.history[0]["val_loss"]
    assert all(p.dtype == torch.float32 for p in result.network.parameters())


def test_quantile_model_learns_calibrated_quantiles(small_model):
    """On a sine plus unit Gaussian noise the 0.1 and 0.9 quantiles must leave about 10% of
    the values below and above them (a loss with the levels mixed up would not)."""
    rng = np.random.default_rng(0)
    t = np.arange(3000)
    frame = make_long(n_series=1, length=3000)
    frame["y"] = 5 * np.sin(2 * np.pi * t / 24) + rng.normal(0, 1, len(t))
    series = from_frame(frame)
    window = WindowConfig(lookback=48, horizon=4, val_size=0)
    config = dataclasses.replace(small_model, quantiles=(0.1, 0.9), hidden_size=16)
    fitted = loop.fit(
        series, window, config, TrainConfig(max_steps=600, batch_size=128, lr=1e-2, device="cpu")
    )
    from rnncast.forecast.forecasting import outputs_at

    starts = np.arange(0, 3000 - 52, 7)
    out = outputs_at(fitted.network, series, starts)
    actual = series.values[starts[:, None] + 48 + np.arange(4)]
    assert out.quantiles.shape == (len(starts), 4, 3)
    assert 0.05 < (actual < out.at(0.1)).mean() < 0.16
    assert 0.05 < (actual > out.at(0.9)).mean() < 0.16


@pytest.mark.parametrize(
    "options",
    [
        {"decoder": "seq2seq", "attention": True},
        {"decoder": "recursive"},
        {"bidirectional": True, "cell": "lstm"},
        {"cell": "rnn", "activation": "relu", "checkpoint_activations": True},
    ],
)
def test_new_architectures_learn(series, small_model, options):
    config = TrainConfig(max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cpu")
    model = dataclasses.replace(small_model, **options)
    result = loop.fit(series, WINDOW, model, config)
    assert result.best_val_loss < 0.9 * result.history[0]["val_loss"]


def test_weight_average_by_hand():
    """Each step moves the average (1 - decay) of the way to the weights; in the first steps
    the decay is (1 + steps) / (10 + steps) at most."""
    network = torch.nn.Linear(2, 1)
    averaged = copy.deepcopy(network)
    with torch.no_grad():
        averaged.weight.fill_(0.0)
        network.weight.fill_(1.0)
    loop._average(averaged, network, 0.5, steps=100)
    assert torch.allclose(averaged.weight, torch.full((1, 2), 0.5))
    loop._average(averaged, network, 0.99, steps=0)  # decay 0.1
    assert torch.allclose(averaged.weight, torch.full((1, 2), 0.95))


def test_ema_judges_and_keeps_the_averaged_weights(series, small_model):
    config = TrainConfig(
        max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cpu", ema=0.0
    )
    plain = loop.fit(series, WINDOW, small_model, config)
    averaged = loop.fit(series, WINDOW, small_model, dataclasses.replace(config, ema=0.9))
    ours, theirs = averaged.history, plain.history
    assert [h["train_loss"] for h in ours] == [h["train_loss"] for h in theirs]  # same steps
    assert [h["val_loss"] for h in ours] != [h["val_loss"] for h in theirs]
    assert ours[-1]["val_loss"] < 0.7 * ours[0]["val_loss"]  # the average learns too
    assert ours[-1]["val_loss"] == pytest.approx(theirs[-1]["val_loss"], rel=0.2)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(averaged.network.parameters(), plain.network.parameters(), strict=True)
    )


def test_init_starts_from_given_weights_and_they_are_the_first_to_beat(series, small_model):
    """An update (`init`): the network starts from the given weights, not the seed's, and
    their validation loss is epoch 0's; an epoch that does not beat it does not replace
    them."""
    config = TrainConfig(max_epochs=3, epoch_size=256, batch_size=64, device="cpu")
    source = loop.fit(series, WINDOW, small_model, config)
    start = copy.deepcopy(source.network.state_dict())
    tiny = dataclasses.replace(config, lr=1e-12, max_epochs=1, seed=5)
    kept = loop.fit(series, WINDOW, small_model, tiny, init=start)
    assert kept.best_epoch == 0 and len(kept.history) == 1
    assert kept.best_val_loss == pytest.approx(source.best_val_loss, rel=1e-6)
    for name, value in kept.network.state_dict().items():
        assert torch.equal(value, start[name]), name
    fresh = loop.fit(series, WINDOW, small_model, tiny)  # random weights: far from them
    assert not torch.allclose(fresh.network.head.weight, start["head.weight"], atol=1e-3)
    faster = dataclasses.replace(tiny, lr=1e-3, max_epochs=3)
    moved = loop.fit(series, WINDOW, small_model, faster, init=start)
    assert moved.best_epoch >= 1 and moved.best_val_loss < kept.best_val_loss


def test_cosine_schedule_warms_up_then_decays_to_zero(series, small_model):
    config = TrainConfig(max_epochs=2, epoch_size=64, batch_size=64, lr=0.01, device="cpu",
                         schedule="cosine", patience=100)  # fmt: skip
    seen = []
    original = torch.optim.AdamW.step

    def step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(torch.optim.AdamW, "step", step)
        result = loop.fit(series, WINDOW, small_model, config)
    total = 2 * loop.MIN_EPOCH_BATCHES  # 64-window epochs repeat up to 20 batches
    assert result.steps == len(seen) == total
    warm = round(loop.WARMUP * total)
    assert seen[:warm] == pytest.approx([0.01 * (k + 1) / warm for k in range(warm)])
    assert seen[warm] == pytest.approx(0.01)
    assert all(a >= b for a, b in zip(seen[warm:], seen[warm + 1 :], strict=False))
    assert seen[-1] == pytest.approx(0.01 * 0.5 * (1 + math.cos(math.pi * (total - 1 - warm)
                                                                / (total - warm))))  # fmt: skip
    assert [h["lr"] for h in result.history][-1] == pytest.approx(seen[-1])


def _walks(n_series: int = 4, length: int = 300, seed: int = 0):
    rng = np.random.default_rng(seed)
    frame = make_long(n_series=n_series, length=length)
    frame["y"] = 100 + np.cumsum(rng.normal(size=(n_series, length)), axis=1).ravel()
    return from_frame(frame)


@pytest.mark.parametrize(("data", "shrunk"), [("walk", True), ("sine", False)])
def test_blend_weight_is_fitted_on_the_validation_windows(series, small_model, data, shrunk):
    config = TrainConfig(max_epochs=4, epoch_size=256, batch_size=64, device="cpu")
    model = dataclasses.replace(small_model, blend="naive")
    window = WindowConfig(lookback=48, horizon=12, val_size=40)
    data = _walks() if data == "walk" else series
    result = loop.fit(data, window, model, config)
    weight = float(result.network.blend_weight)
    assert (weight < 1.0) == shrunk
    # what it was chosen by: no weight on the grid scores lower on the validation windows
    _, val = loop._splits(data, window, model, config, torch.device("cpu"))
    criterion = losses.loss_function("mae")
    chosen = losses.evaluate_loss(result.network, val, 48, criterion, 64)
    for k in (0, 10, 20):
        result.network.blend_weight.fill_(k / 20)
        assert losses.evaluate_loss(result.network, val, 48, criterion, 64) >= chosen - 1e-6
