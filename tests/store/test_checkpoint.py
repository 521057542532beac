"""Checkpoints: a stopped run resumed from its checkpoint ends with the model the
uninterrupted run makes; mismatched or damaged checkpoints are one-line errors."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.engine import events
from rnncast.errors import ArtifactError, ConfigError
from rnncast.settings import ModelConfig, TrainConfig, WindowConfig
from rnncast.store import checkpoint
from tests.conftest import fit, make_long

WINDOW = WindowConfig(lookback=24, horizon=6, val_size=6)
MODEL = ModelConfig(hidden_size=8, num_layers=1, segment=4, dropout=0.2)  # dropout uses the RNG
CONFIG = TrainConfig(max_epochs=4, epoch_size=128, batch_size=32, patience=10, device="cpu",
                     ensemble=2)  # fmt: skip


@pytest.fixture(scope="module")
def series():
    return from_frame(make_long(n_series=2, length=120))


@pytest.fixture(scope="module")
def uninterrupted(series):
    artifact, results = fit(series, WINDOW, MODEL, CONFIG)
    return artifact, results


class StopAfter:
    """should_stop that says yes on its call number `calls` + 1. It is asked after every
    batch: here 20 training batches and 1 validation batch an epoch, 84 calls a model."""

    def __init__(self, calls: int):
        self.left = calls

    def __call__(self) -> bool:
        self.left -= 1
        return self.left < 0


def assert_same_weights(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.keys() == y.keys()
        for name in x:
            assert torch.equal(x[name], y[name]), name


@pytest.mark.parametrize("stop_after", [5, 21 + 7, 84 + 2 * 21 + 1])
def test_resumed_run_equals_the_uninterrupted_one(tmp_path, series, uninterrupted, stop_after):
    """Stopped in model 1's first epoch (no epoch complete: nothing saved), in its second
    epoch, and in model 2's third: each resumed run ends with the same weights and history."""
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, CONFIG, should_stop=StopAfter(stop_after),
                checkpoint_path=path)  # fmt: skip
    if not path.exists():  # stopped before the first epoch ended: nothing to resume
        assert stop_after < 21
        return
    saved = checkpoint.load(path)
    artifact, results = fit(series, WINDOW, MODEL, CONFIG, resume=saved, checkpoint_path=path)
    expected, expected_results = uninterrupted
    assert_same_weights(artifact.weights, expected.weights)
    for r, e in zip(results, expected_results, strict=True):
        assert [(h["epoch"], h["train_loss"], h["val_loss"], h["lr"]) for h in r.history] == [
            (h["epoch"], h["train_loss"], h["val_loss"], h["lr"]) for h in e.history
        ]
        assert (r.best_epoch, r.best_val_loss, r.steps, r.stopped) == (
            e.best_epoch,
            e.best_val_loss,
            e.steps,
            e.stopped,
        )
    assert checkpoint.load(path).describe() == "training complete"


def test_resume_with_weight_averaging(tmp_path, series):
    """--ema: the moving average is in the checkpoint, so the resumed run ends the same."""
    config = dataclasses.replace(CONFIG, ema=0.9)
    expected, _ = fit(series, WINDOW, MODEL, config)
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, config, should_stop=StopAfter(84 + 2 * 21 + 1),
                checkpoint_path=path)  # fmt: skip
    resumed, _ = fit(series, WINDOW, MODEL, config, resume=checkpoint.load(path))
    assert_same_weights(resumed.weights, expected.weights)


def test_resume_with_members_of_different_lookbacks(tmp_path, series):
    window = dataclasses.replace(WINDOW, lookbacks=(24, 32))
    expected, _ = fit(series, window, MODEL, CONFIG)
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, window, MODEL, CONFIG, should_stop=StopAfter(84 + 30),
                checkpoint_path=path)  # fmt: skip
    resumed, _ = fit(series, window, MODEL, CONFIG, resume=checkpoint.load(path))
    assert_same_weights(resumed.weights, expected.weights)
    assert (
        resumed.weights[1]["encoder.weight_ih_l0"].shape
        == expected.weights[1]["encoder.weight_ih_l0"].shape
    )


def test_checkpoint_describes_where_training_stands(tmp_path, series):
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, CONFIG, should_stop=StopAfter(84 + 21 + 5),
                checkpoint_path=path)  # fmt: skip
    assert checkpoint.load(path).describe() == "model 2 of 2 after epoch 1"
    single = dataclasses.replace(CONFIG, ensemble=1)
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, single, should_stop=StopAfter(50), checkpoint_path=path)
    assert checkpoint.load(path).describe() == "the model after epoch 2"


def test_resume_refuses_other_settings_and_data(tmp_path, series):
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, CONFIG, should_stop=StopAfter(25), checkpoint_path=path)
    saved = checkpoint.load(path)
    with pytest.raises(ConfigError) as e:
        fit(series, WINDOW, dataclasses.replace(MODEL, hidden_size=16), CONFIG, resume=saved)
    assert str(e.value) == (
        f"--resume '{path}' was saved with --hidden-size 8, not 16: resume with the settings of "
        "the interrupted run, or start afresh without --resume"
    )
    with pytest.raises(ConfigError) as e:
        fit(series, dataclasses.replace(WINDOW, val_size=12), MODEL, CONFIG, resume=saved)
    assert "was saved with --val-size 6, not 12:" in str(e.value)
    other = from_frame(make_long(n_series=2, length=120, seed=5))
    with pytest.raises(ConfigError) as e:
        fit(other, WINDOW, MODEL, CONFIG, resume=saved)
    assert str(e.value) == (
        f"--resume '{path}' was saved while training on other data (the data's fingerprint "
        "differs): resume with the same data, or start afresh without --resume"
    )
    finished = tmp_path / "finished.pt"
    fit(series, WINDOW, MODEL, dataclasses.replace(CONFIG, max_epochs=1),
            checkpoint_path=finished)  # fmt: skip
    with pytest.raises(ConfigError) as e:
        fit(series, WINDOW, MODEL, CONFIG, resume=checkpoint.load(finished))
    assert str(e.value) == (
        f"--resume '{finished}' holds 2 finished model(s) trained with --max-epochs 1: resume "
        "with --max-epochs 1 so that every model trains alike, or start afresh without --resume"
    )
    # where it runs and, while no model has finished, how long it goes on may change
    _, results = fit(
        series, WINDOW, MODEL, dataclasses.replace(CONFIG, device="auto", max_epochs=3),
        resume=saved,
    )  # fmt: skip
    assert [len(r.history) for r in results] == [3, 3]


def test_resume_of_another_ensemble_names_the_ensemble_not_the_lookbacks_chosen_from_it(
    tmp_path, series
):
    window = dataclasses.replace(WINDOW, lookbacks=(24, 32))  # as the plan chose for 2 members
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, window, MODEL, CONFIG, should_stop=StopAfter(25), checkpoint_path=path)
    three = dataclasses.replace(WINDOW, lookbacks=(24, 32, 40))  # ... and for 3
    with pytest.raises(ConfigError) as e:
        fit(series, three, MODEL, dataclasses.replace(CONFIG, ensemble=3),
            resume=checkpoint.load(path))  # fmt: skip
    assert str(e.value) == (
        f"--resume '{path}' was saved with --ensemble 2, not 3: resume with the settings of "
        "the interrupted run, or start afresh without --resume"
    )
    other = from_frame(make_long(n_series=2, length=100, seed=5))  # shorter: other lookbacks
    with pytest.raises(ConfigError) as e:
        fit(other, WINDOW, MODEL, CONFIG, resume=checkpoint.load(path))
    assert "was saved while training on other data" in str(e.value)


def test_checkpoints_from_before_a_setting_resume_with_what_it_meant(tmp_path, series):
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, CONFIG, should_stop=StopAfter(25), checkpoint_path=path)
    saved = checkpoint.load(path)
    assert saved.config["model"]["transform"] == "log"  # 'auto' on positive data
    del saved.config["model"]["transform"], saved.config["train"]["ema"]  # an older file
    with pytest.raises(ConfigError) as e:
        fit(series, WINDOW, MODEL, CONFIG, resume=saved)
    assert str(e.value) == (
        f"--resume '{path}' was saved with --transform none, not log: resume with the settings "
        "of the interrupted run, or start afresh without --resume"
    )
    before = dataclasses.replace(MODEL, transform="none")
    _, results = fit(series, WINDOW, before, dataclasses.replace(CONFIG, ema=0.0), resume=saved)
    assert len(results) == CONFIG.ensemble


def test_a_resumed_run_may_clip_otherwise(tmp_path, series):
    """--clip acts only on the trained model's forecasts: a checkpoint saved before it (or
    with another) resumes, and the model clips as the resumed run says."""
    path = tmp_path / "ck.pt"
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, CONFIG, should_stop=StopAfter(25), checkpoint_path=path)
    saved = checkpoint.load(path)
    assert saved.config["model"]["clip"] == "zero"  # 'auto': no value below 0
    del saved.config["model"]["clip"]  # an older file: reads as 'none'
    artifact, _ = fit(series, WINDOW, MODEL, CONFIG, resume=saved)
    assert artifact.model.clip == "zero"
    saved = checkpoint.load(path)
    artifact, _ = fit(series, WINDOW, dataclasses.replace(MODEL, clip="none"), CONFIG,
                      resume=saved)  # fmt: skip
    assert artifact.model.clip == "none"


def test_bad_checkpoint_files(tmp_path):
    with pytest.raises(ArtifactError) as e:
        checkpoint.load(tmp_path / "none.pt")
    assert str(e.value) == (
        f"--resume '{tmp_path}/none.pt' not found: give the file that --checkpoint wrote"
    )
    for name, content in (("text.pt", b"hello"), ("model.pt", None)):
        p = tmp_path / name
        if content is None:
            torch.save({"format": "rnncast-model"}, p)
        else:
            p.write_bytes(content)
        with pytest.raises(ArtifactError) as e:
            checkpoint.load(p)
        assert str(e.value) == (
            f"--resume '{p}' is not a readable rnncast checkpoint (truncated, damaged or another "
            "kind of file): give the file that --checkpoint wrote"
        )
    newer = tmp_path / "newer.pt"
    torch.save({"format": "rnncast-checkpoint", "format_version": 99, "rnncast_version": "9.0"},
               newer)  # fmt: skip
    with pytest.raises(ArtifactError) as e:
        checkpoint.load(newer)
    assert str(e.value) == (
        f"--resume '{newer}' was written by rnncast 9.0 (checkpoint format 99); this rnncast "
        "0.1.0 resumes format 1: finish it with that version, or start afresh"
    )


def test_a_damaged_checkpoint_is_refused(tmp_path):
    saved = checkpoint.Checkpoint.start(WINDOW, MODEL, CONFIG, "fingerprint")
    weights = torch.arange(256, dtype=torch.float32)
    saved.current = {"member": 1, "state": {"epoch": 3, "weights": weights}}
    path = tmp_path / "run.ckpt"
    checkpoint.save(saved, path)
    assert checkpoint.load(path).current["state"]["weights"].equal(weights)
    raw = bytearray(path.read_bytes())
    start = raw.find(weights.numpy().tobytes()) + 512
    raw[start : start + 16] = bytes(16)
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactError) as e:
        checkpoint.load(path)
    assert str(e.value) == (
        f"--resume '{path}' is damaged: its contents do not match the SHA-256 checksum written "
        "when it was saved: start afresh without --resume, or restore a copy"
    )


def test_checkpoint_paths_the_system_refuses_are_one_line(tmp_path):
    import os

    loop = tmp_path / "loop.ckpt"
    os.symlink(tmp_path / "other", loop)
    os.symlink(loop, tmp_path / "other")
    long = tmp_path / ("x" * 300 + ".ckpt")
    for where, why in ((loop, "Too many levels of symbolic links (Errno 40)"),
                       (long, "File name too long (Errno 36)")):  # fmt: skip
        with pytest.raises(ArtifactError) as e:
            checkpoint.load(where)
        assert str(e.value) == (
            f"cannot read --resume '{where}': {why}: check the path and its permissions"
        )


def test_a_checkpoint_in_a_bucket_is_written_each_epoch_and_resumed(series, bucket):
    url = bucket.url("runs/ck.pt")
    single = dataclasses.replace(CONFIG, ensemble=1)
    with pytest.raises(events.TrainingStopped):
        fit(series, WINDOW, MODEL, single, should_stop=StopAfter(50), checkpoint_path=url)
    saved = checkpoint.load(url)
    assert saved.describe() == "the model after epoch 2" and saved.source == url
    assert bucket.names() == ["runs/ck.pt"]  # replaced each epoch, no temporary key left
    resumed, _ = fit(series, WINDOW, MODEL, single, resume=saved)
    uninterrupted, _ = fit(series, WINDOW, MODEL, single)
    for a, b in zip(resumed.weights[0].values(), uninterrupted.weights[0].values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(ArtifactError) as e:
        checkpoint.load(bucket.url("runs/none.pt"))
    assert str(e.value) == f"--resume '{bucket.url('runs/none.pt')}' not found: check the URL"
