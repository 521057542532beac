"""Shared fixtures: seeded synthetic series, small fast settings, sample data paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rnncast.settings import ModelConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"


def make_long(
    n_series: int = 3,
    length: int = 120,
    freq: str = "h",
    seed: int = 0,
    start: str = "2024-01-01",
    lengths: list[int] | None = None,
) -> pd.DataFrame:
    """Seeded long-format frame: daily-seasonal sine, trend and noise at different levels."""
    rng = np.random.default_rng(seed)
    frames = []
    for i in range(n_series):
        n = lengths[i] if lengths else length
        t = np.arange(n)
        y = 10 * (i + 1) + 3 * np.sin(2 * np.pi * t / 24) + 0.02 * t + rng.normal(0, 0.3, n)
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": f"s{i}",
                    "ds": pd.date_range(start, periods=n, freq=freq),
                    "y": y,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def make_sales(n_series: int = 3, length: int = 182, seed: int = 0) -> pd.DataFrame:
    """Seeded daily sales in long format, intermittent: none on Sundays and on about 70% of
    the other days, else a few (no value below 0, so `--clip auto` clips). A briefly trained
    model forecasts some days below 0 unless it clips."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-01", periods=length, freq="D")
    frames = []
    for i in range(n_series):
        shut = (days.day_of_week == 6) | (rng.random(length) < 0.7)
        y = np.where(shut, 0.0, rng.poisson(6 + 4 * (days.day_of_week == 5)))
        frames.append(pd.DataFrame({"unique_id": f"S{i + 1:02d}", "ds": days, "y": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def long_frame() -> pd.DataFrame:
    return make_long()


@pytest.fixture
def long_csv(tmp_path: Path, long_frame: pd.DataFrame) -> Path:
    path = tmp_path / "series.csv"
    long_frame.to_csv(path, index=False)
    return path


@pytest.fixture
def small_model() -> ModelConfig:
    return ModelConfig(hidden_size=8, num_layers=1, dropout=0.0, segment=4)


@pytest.fixture
def fast_train() -> TrainConfig:
    return TrainConfig(max_epochs=3, epoch_size=256, batch_size=64, patience=2, device="cpu")


@pytest.fixture(autouse=True)
def quiet_machine(monkeypatch) -> None:
    """The default thread count leaves the cores other processes keep busy; a test machine's
    load (pytest itself) must not change what the tests see."""
    from rnncast.engine import threads

    monkeypatch.setattr(threads, "busy_cpus", lambda seconds=0.0: 0.0)


@pytest.fixture
def threads_used(monkeypatch) -> list:
    """The thread counts `rnncast.engine.threads.using` is entered with, in order (it still
    sets them)."""
    from rnncast.engine import threads

    seen: list = []
    real = threads.using

    def recording(n):
        seen.append(n)
        return real(n)

    monkeypatch.setattr(threads, "using", recording)
    return seen


def shapes(series, model: ModelConfig | None = None, **request):
    """The window and the resolved model `rnncast.plan` chooses for `series` under a
    training request of `request` (horizon=..., lookback=..., ensemble=...)."""
    from rnncast import plan
    from rnncast.settings import TrainRequest

    return plan.resolve(TrainRequest(**request), series, model or ModelConfig())


def fit(series, window, model, config, read=None, path=None, **hooks):
    """Train as `rnncast train` does (`jobs.train`), from settings given directly rather
    than planned from a request; (model file contents, each network's result)."""
    from rnncast import jobs
    from rnncast.plan import Plan
    from rnncast.settings import ReadOptions

    trained = jobs.train(Plan(series, read or ReadOptions(), window, model, config), path,
                         **hooks)  # fmt: skip
    return trained.artifact, trained.results


def predicted(artifact, series, horizon=None, **options):
    """`jobs.predict`'s forecast frame, on the CPU."""
    from rnncast import jobs

    return jobs.predict(artifact, series, horizon, "cpu", **options).frame


def flat_series(values: np.ndarray, offsets) -> object:
    """A SeriesSet of series i = values[offsets[i]:offsets[i + 1]], at integer steps."""
    from rnncast.data.build import from_frame

    offsets = np.asarray(offsets)
    lengths = np.diff(offsets)
    frame = pd.DataFrame({
        "unique_id": np.repeat([f"s{i}" for i in range(len(lengths))], lengths),
        "ds": np.concatenate([np.arange(n) for n in lengths]),
        "y": np.asarray(values, dtype=np.float32),
    })  # fmt: skip
    return from_frame(frame)
