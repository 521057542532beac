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
