from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import pytest
import torch

from rnncast import scaling, training
from rnncast.data import calendar
from rnncast.data.build import from_frame
from rnncast.data.windows import split_ranges, split_windows
from rnncast.errors import ConfigError, DataError
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig
from tests.conftest import make_long

WINDOW = WindowConfig(lookback=48, horizon=12, val_size=12)


@pytest.fixture
def series():
    return from_frame(make_long(n_series=3, length=200))


def test_same_seed_same_model(series, small_model, fast_train):
    a = training.fit(series, WINDOW, small_model, fast_train)
    b = training.fit(series, WINDOW, small_model, fast_train)
    for (name, x), y in zip(
        a.network.state_dict().items(), b.network.state_dict().values(), strict=True
    ):
        assert torch.equal(x, y), name
    c = training.fit(series, WINDOW, small_model, dataclasses.replace(fast_train, seed=1))
    assert not torch.equal(a.network.head.weight, c.network.head.weight)


def test_training_beats_the_untrained_network(series, small_model):
    config = TrainConfig(max_epochs=15, epoch_size=512, batch_size=32, lr=3e-3, device="cpu")
    result = training.fit(series, WINDOW, small_model, config)
    first = result.history[0]["val_loss"]
    assert result.best_val_loss < 0.8 * first


@pytest.mark.parametrize("method", ["window", "series"])
def test_best_weights_are_restored(series, small_model, method):
    config = TrainConfig(
        max_epochs=8, epoch_size=256, batch_size=64, lr=0.05, patience=3, device="cpu"
    )
    model = dataclasses.replace(small_model, scaling=method)
    result = training.fit(series, WINDOW, model, config)
    losses = [h["val_loss"] for h in result.history]
    assert result.best_epoch == int(np.argmin(losses)) + 1
    _, val = split_ranges(series.offsets, WINDOW)
    values = torch.from_numpy(series.values)
    floors = scaling.series_floors(series.values, series.offsets, WINDOW.lookback, 0.1, method)
    windows = training.Windows.of(values, series.offsets, floors, val, WINDOW.width)
    again = training.evaluate_loss(
        result.network, windows, WINDOW.lookback, method, training.loss_function("mae"), 64
    )
    assert again == pytest.approx(min(losses), rel=1e-5)


def test_windows_are_found_per_series_as_if_listed_one_by_one():
    """A batch names windows by number; its starts, floors, calendar phases and ids are
    those of the explicit list of every window (as `split_windows` gives it)."""
    # 71 leaves no training window: lookback 48 + horizon 12 + validation 12 = 72
    s = from_frame(make_long(n_series=4, lengths=[90, 71, 75, 130]))
    train, _ = split_ranges(s.offsets, WINDOW)
    starts, _ = split_windows(s.offsets, WINDOW)
    assert len(train) == len(starts) and train.count[1] == 0
    floors = np.array([0.5, 1.5, 2.5, 3.5], dtype=np.float32)
    steps = calendar.first_steps(s)
    periods = calendar.periods(s.axis)
    windows = training.Windows.of(
        torch.from_numpy(s.values), s.offsets, floors, train, WINDOW.width, steps, periods
    )
    picked = torch.tensor([0, 5, len(starts) - 1, 29, 30, 31])
    batch, got_floors, phases, ids, covs = windows.batch(picked)
    at = starts[picked.numpy()]
    series_of = np.searchsorted(s.offsets, at, side="right") - 1
    np.testing.assert_array_equal(batch.numpy(), s.values[at[:, None] + np.arange(WINDOW.width)])
    np.testing.assert_array_equal(got_floors.numpy(), floors[series_of])
    np.testing.assert_array_equal(ids.numpy(), series_of + 1)
    np.testing.assert_array_equal(
        phases.numpy(), calendar.window_phases(steps, s.offsets, at, periods)
    )
    assert covs is None and len(periods) > 0


def test_an_epoch_of_many_windows_draws_only_its_own():
    rng = np.random.default_rng(0)
    few = training._draw(rng, 10, 25)  # passes over all ten
    assert sorted(few[:10]) == list(range(10)) and sorted(few[10:20]) == list(range(10))
    many = training._draw(rng, training.DRAW_ALL * 4, 1000)
    assert len(set(many.tolist())) == 1000 and many.max() < training.DRAW_ALL * 4


def test_early_stopping_and_limits(series, small_model):
    config = TrainConfig(
        max_epochs=50, epoch_size=64, batch_size=64, lr=0.5, patience=2, device="cpu"
    )
    result = training.fit(series, WINDOW, small_model, config)
    assert result.stopped == "early stop: no improvement for 2 epochs"
    assert len(result.history) < 50
    limited = training.fit(
        series, WINDOW, small_model, dataclasses.replace(config, max_steps=5, max_epochs=100)
    )
    assert limited.steps == 5
    assert limited.stopped == "reached --max-steps 5"


def test_events_are_reported(series, small_model, fast_train):
    events = []
    result = training.fit(series, WINDOW, small_model, fast_train, events.append)
    start = events[0]
    assert isinstance(start, training.TrainStart)
    assert start.train_windows == 3 * (200 - 12 - 60 + 1)
    assert start.val_windows == 3
    epochs = [e for e in events if isinstance(e, training.EpochEnd)]
    assert [e.epoch for e in epochs] == list(range(1, len(result.history) + 1))
    batches = [e for e in events if isinstance(e, training.BatchEnd)]
    assert len(batches) == result.steps
    assert all(math.isfinite(e.loss) for e in batches)


def test_epochs_repeat_small_data_up_to_a_minimum_of_batches(small_model):
    tiny = from_frame(make_long(n_series=1, length=80))
    events = []
    training.fit(tiny, WINDOW, small_model, TrainConfig(max_epochs=1, device="cpu"), events.append)
    assert events[0].train_windows == 80 - 12 - 60 + 1
    assert events[0].batches_per_epoch == training.MIN_EPOCH_BATCHES


def test_no_validation(series, small_model, fast_train):
    window = WindowConfig(lookback=48, horizon=12, val_size=0)
    result = training.fit(series, window, small_model, fast_train)
    assert result.val_windows == 0
    assert result.best_val_loss is None
    assert all(h["val_loss"] is None for h in result.history)


def test_too_short_series_are_named(small_model, fast_train):
    short = from_frame(make_long(n_series=3, length=200, lengths=[200, 50, 30]))
    with pytest.raises(DataError) as e:
        training.fit(short, WINDOW, small_model, fast_train)
    assert str(e.value) == (
        "2 series are shorter than lookback 48 + horizon 12 = 60 values: 's1' (50), 's2' (30); "
        "pass a smaller --lookback, or --skip-short to leave them out"
    )


def test_no_series_long_enough_to_train(small_model, fast_train):
    short = from_frame(make_long(n_series=2, length=65))
    with pytest.raises(DataError) as e:
        training.fit(short, WINDOW, small_model, fast_train)
    assert str(e.value) == (
        "no series is long enough to train on: the longest has 65 values but lookback 48 + "
        "horizon 12 + validation 12 needs 72; pass a smaller --lookback or --val-size"
    )


def test_device_resolution():
    assert training.resolve_device("cpu") == torch.device("cpu")
    if not torch.cuda.is_available():
        assert training.resolve_device("auto").type in ("cpu", "mps")
        with pytest.raises(ConfigError) as e:
            training.resolve_device("cuda:1")
        assert str(e.value) == (
            f"--device cuda:1: CUDA is not available here (torch {torch.__version__}); "
            "use --device auto or cpu"
        )
    with pytest.raises(ConfigError) as e:
        training.resolve_device("tpu")
    assert str(e.value) == "--device must be auto, cpu, cuda, cuda:N or mps, got 'tpu'"


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_trains_on_cuda(series, small_model, fast_train):
    result = training.fit(
        series, WINDOW, small_model, dataclasses.replace(fast_train, device="cuda")
    )
    assert result.device.startswith("cuda")
    assert next(result.network.parameters()).is_cuda


def test_precision_by_device():
    cpu, cuda, mps = torch.device("cpu"), torch.device("cuda"), torch.device("mps")
    assert training.autocast_dtype("auto", cpu) is None  # float32: unchanged on CPUs
    assert training.autocast_dtype("auto", mps) is None
    assert training.autocast_dtype("fp32", cuda) is None
    assert training.autocast_dtype("bf16", cpu) is torch.bfloat16
    for precision, device, message in (
        ("fp16", cpu, "--precision fp16 is for CUDA GPUs, not cpu: pass --precision fp32 or auto"),
        ("bf16", mps, "--precision bf16 is for CUDA GPUs and CPUs, not mps: pass --precision "
                      "fp32 or auto"),
        ("fp8", cpu, "--precision must be one of auto, fp32, bf16, fp16, got 'fp8'"),
    ):  # fmt: skip
        with pytest.raises(ConfigError) as e:
            training.autocast_dtype(precision, device)
        assert str(e.value) == message


def test_bf16_autocast_trains_float32_weights(series, small_model):
    """bf16 autocast (here on the CPU) runs the network in bfloat16: the losses differ from
    float32's a little, the model still learns, and weights stay float32 (without weight
    averaging, which slows what 4 short epochs show)."""
    config = TrainConfig(
        max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cpu", ema=0.0
    )
    plain = training.fit(series, WINDOW, small_model, config)
    auto = training.fit(series, WINDOW, small_model, dataclasses.replace(config, precision="auto"))
    half = training.fit(series, WINDOW, small_model, dataclasses.replace(config, precision="bf16"))
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
    result = training.fit(series, WINDOW, small_model, config)
    assert result.history[-1]["val_loss"] < 0.6 * result.history[0]["val_loss"]
    assert all(p.dtype == torch.float32 for p in result.network.parameters())


def test_pinball_loss_by_hand():
    loss = training.PinballLoss((0.1, 0.9))
    pred = torch.tensor([[[1.0, 3.0]]])  # one window, one step, levels 0.1 and 0.9
    y = torch.tensor([[2.0]])
    # level 0.1: error +1 -> 0.1; level 0.9: error -1 -> 0.1
    assert loss(pred, y).item() == pytest.approx(0.1)
    y = torch.tensor([[0.0]])
    # level 0.1: error -1 -> 0.9; level 0.9: error -3 -> 0.3
    assert loss(pred, y).item() == pytest.approx(0.6)
    median = training.PinballLoss((0.5,))
    x, t = torch.randn(4, 3, 1), torch.randn(4, 3)
    assert 2 * median(x, t).item() == pytest.approx(torch.nn.L1Loss()(x[..., 0], t).item())


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
    fitted = training.fit(
        series, window, config, TrainConfig(max_steps=600, batch_size=128, lr=1e-2, device="cpu")
    )
    from rnncast.forecast import outputs_at

    starts = np.arange(0, 3000 - 52, 7)
    out = outputs_at(fitted.network, series.values, series.offsets, starts)
    actual = series.values[starts[:, None] + 48 + np.arange(4)]
    assert out.quantiles.shape == (len(starts), 4, 3)
    assert 0.05 < (actual < out.at(0.1)).mean() < 0.16
    assert 0.05 < (actual > out.at(0.9)).mean() < 0.16


class _Recorder(torch.nn.Module):
    """Returns zeros and keeps what it was given."""

    def __init__(self):
        super().__init__()
        self.seen = []
        self.config = ModelConfig()

    def forward(self, x, future=None, ids=None, target=None):
        self.seen.append((x, target))
        return torch.zeros_like(target)


def test_the_step_gives_the_network_the_scaled_target():
    batch = torch.arange(2 * 10, dtype=torch.float32).reshape(2, 10) ** 1.5
    floors = torch.zeros(2)
    recorder = _Recorder()
    phases, ids = torch.zeros(2, 0), torch.ones(2, dtype=torch.long)
    loss = training.loss_function("mae")
    training._step(recorder, batch, floors, phases, ids, None, 6, "window", loss)
    x, target = recorder.seen[0]
    stats = scaling.fit(batch[:, :6], "window", floors)
    torch.testing.assert_close(x[..., 0], scaling.transform(batch[:, :6], stats))
    torch.testing.assert_close(target, scaling.transform(batch[:, 6:], stats))


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
    result = training.fit(series, WINDOW, model, config)
    assert result.best_val_loss < 0.9 * result.history[0]["val_loss"]


def test_esn_is_fitted_in_closed_form(series, fast_train):
    from rnncast.models import EchoStateForecaster
    from rnncast.settings import ModelConfig

    events = []
    model = ModelConfig(cell="esn", reservoir_size=40, segment=4)
    result = training.fit(series, WINDOW, model, fast_train, events.append)
    assert isinstance(result.network, EchoStateForecaster)
    assert result.stopped == "closed-form ridge readout (no epochs)"
    assert [type(e).__name__ for e in events] == ["TrainStart", "EpochEnd"]
    assert len(result.history) == 1 and result.best_val_loss == result.history[0]["val_loss"]


def test_weight_average_by_hand():
    """Each step moves the average (1 - decay) of the way to the weights; in the first steps
    the decay is (1 + steps) / (10 + steps) at most."""
    network = torch.nn.Linear(2, 1)
    averaged = copy.deepcopy(network)
    with torch.no_grad():
        averaged.weight.fill_(0.0)
        network.weight.fill_(1.0)
    training._average(averaged, network, 0.5, steps=100)
    assert torch.allclose(averaged.weight, torch.full((1, 2), 0.5))
    training._average(averaged, network, 0.99, steps=0)  # decay 0.1
    assert torch.allclose(averaged.weight, torch.full((1, 2), 0.95))


def test_ema_judges_and_keeps_the_averaged_weights(series, small_model):
    config = TrainConfig(
        max_epochs=4, epoch_size=256, batch_size=32, lr=3e-3, device="cpu", ema=0.0
    )
    plain = training.fit(series, WINDOW, small_model, config)
    averaged = training.fit(series, WINDOW, small_model, dataclasses.replace(config, ema=0.9))
    ours, theirs = averaged.history, plain.history
    assert [h["train_loss"] for h in ours] == [h["train_loss"] for h in theirs]  # same steps
    assert [h["val_loss"] for h in ours] != [h["val_loss"] for h in theirs]
    assert ours[-1]["val_loss"] < 0.7 * ours[0]["val_loss"]  # the average learns too
    assert ours[-1]["val_loss"] == pytest.approx(theirs[-1]["val_loss"], rel=0.2)
    assert not all(
        torch.equal(a, b)
        for a, b in zip(averaged.network.parameters(), plain.network.parameters(), strict=True)
    )
