from __future__ import annotations

import dataclasses
import os

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.errors import ArtifactError
from rnncast.settings import ReadOptions, WindowConfig
from rnncast.store import artifact
from rnncast.store.artifact import FORMAT_VERSION
from tests.conftest import fit, make_long, make_sales, predicted, shapes


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_long(n_series=2, length=120))
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=32, device="cpu")
    bundle, _ = fit(series, window, model, config, ReadOptions(freq="h"), "series.csv")
    path = tmp_path_factory.mktemp("model") / "m.rnncast"
    artifact.save(bundle, path)
    return series, bundle, path


def test_round_trip_gives_identical_forecasts_and_fields(trained):
    series, bundle, path = trained
    loaded = artifact.load(path)
    before = predicted(bundle, series)
    after = predicted(loaded, series)
    np.testing.assert_array_equal(before.y_hat.to_numpy(), after.y_hat.to_numpy())
    for name in (
        "read_options",
        "schema",
        "axis",
        "window",
        "model",
        "train",
        "series_ids",
        "cutoffs",
        "values",
        "fingerprint",
        "history",
        "summary",
        "rnncast_version",
        "created",
        "format_version",
        "data_path",
    ):
        assert getattr(loaded, name) == getattr(bundle, name), name
    assert loaded.cutoffs == [t.isoformat() for t in series.ends]
    assert loaded.fingerprint == series.fingerprint()


def test_file_is_plain_data_loadable_without_code(trained):
    _, _, path = trained
    payload = torch.load(path, weights_only=True)  # raises if any object would need pickle code
    assert payload["format"] == "rnncast-model"
    assert payload["format_version"] == FORMAT_VERSION
    assert all(t.device.type == "cpu" for state in payload["weights"] for t in state.values())


def _flip_bytes_of(tensor: torch.Tensor, path, count: int = 16) -> None:
    """Flip `count` bytes in the middle of `tensor`'s data inside the file at `path`."""
    raw = bytearray(path.read_bytes())
    data = tensor.detach().contiguous().numpy().tobytes()
    start = raw.find(data)
    assert start >= 0 and len(data) > count
    middle = start + (len(data) - count) // 2
    raw[middle : middle + count] = bytes(b ^ 0xFF for b in raw[middle : middle + count])
    path.write_bytes(bytes(raw))


def test_a_model_file_carries_the_checksum_of_its_contents(trained):
    _, _, path = trained
    payload = torch.load(path, weights_only=True)
    assert payload["checksum"].startswith("sha256:") and len(payload["checksum"]) == 7 + 64
    assert artifact.checksum(payload) == payload["checksum"]
    assert artifact.intact(payload)
    del payload["checksum"]  # a file written before checksums: nothing to check
    assert artifact.intact(payload)


def test_flipped_bytes_in_a_weight_tensor_are_refused(trained, tmp_path):
    _, bundle, path = trained
    damaged = tmp_path / "damaged.rnncast"
    damaged.write_bytes(path.read_bytes())
    largest = max(bundle.weights[0].values(), key=lambda t: t.numel())
    _flip_bytes_of(largest, damaged)
    torch.load(damaged, weights_only=True)  # still a readable torch file: only the sum tells
    with pytest.raises(ArtifactError) as e:
        artifact.load(damaged)
    assert str(e.value) == (
        f"'{damaged}' is damaged: its contents do not match the SHA-256 checksum written when "
        "it was saved: train again with 'rnncast train', or restore a copy"
    )


def test_a_changed_setting_is_damage_too(trained, tmp_path):
    _, _, path = trained
    payload = torch.load(path, weights_only=True)
    payload["data"]["cutoffs"][0] = "2001-01-01T00:00:00"  # would shift the forecast's times
    changed = tmp_path / "changed.rnncast"
    torch.save(payload, changed)
    with pytest.raises(ArtifactError, match="is damaged: its contents do not match"):
        artifact.load(changed)


def test_missing_and_folder(tmp_path):
    with pytest.raises(ArtifactError) as e:
        artifact.load(tmp_path / "none.rnncast")
    assert str(e.value) == (
        f"model file '{tmp_path}/none.rnncast' not found: train one with 'rnncast train DATA' "
        "or pass --model"
    )
    with pytest.raises(ArtifactError) as e:
        artifact.load(tmp_path)
    assert str(e.value) == f"model file '{tmp_path}' is a folder: pass the model file with --model"


UNREADABLE = (
    "'{}' is not a readable rnncast model file (truncated, damaged or another kind of file): "
    "pass a file written by 'rnncast train', or retrain"
)


@pytest.mark.parametrize("cut", [0, 10, 0.5, -20])
def test_truncated(trained, tmp_path, cut):
    _, _, path = trained
    raw = path.read_bytes()
    n = int(len(raw) * cut) if isinstance(cut, float) else (cut if cut >= 0 else len(raw) + cut)
    broken = tmp_path / "broken.rnncast"
    broken.write_bytes(raw[:n])
    with pytest.raises(ArtifactError) as e:
        artifact.load(broken)
    assert str(e.value) == UNREADABLE.format(broken)


def test_other_files(tmp_path):
    text = tmp_path / "data.csv"
    text.write_text("a,b\n1,2\n")
    with pytest.raises(ArtifactError) as e:
        artifact.load(text)
    assert str(e.value) == UNREADABLE.format(text)
    other = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, other)
    with pytest.raises(ArtifactError) as e:
        artifact.load(other)
    assert str(e.value) == (
        f"'{other}' is not an rnncast model file (it is a torch file without rnncast's header): "
        "pass a file written by 'rnncast train'"
    )


def test_pickled_objects_are_refused(tmp_path):
    evil = tmp_path / "evil.rnncast"
    torch.save({"format": "rnncast-model", "x": np.dtype("float32")}, evil)
    with pytest.raises(ArtifactError) as e:
        artifact.load(evil)
    assert str(e.value) == UNREADABLE.format(evil)


def test_newer_format(trained, tmp_path):
    _, bundle, _ = trained
    payload = bundle.to_payload()
    payload.update(format_version=FORMAT_VERSION + 1, rnncast_version="9.0.0")
    newer = tmp_path / "newer.rnncast"
    torch.save(payload, newer)
    with pytest.raises(ArtifactError) as e:
        artifact.load(newer)
    assert str(e.value) == (
        f"'{newer}' was written by a newer rnncast (9.0.0, model format {FORMAT_VERSION + 1}); "
        f"this rnncast 0.1.0 reads format {FORMAT_VERSION}: upgrade with 'pip install -U rnncast'"
    )


@pytest.mark.parametrize(
    ("version", "fix"),
    [
        ("1.0.0", "upgrade with 'pip install -U rnncast'"),
        ("?", "retrain it with this version ('rnncast train')"),
    ],
)
def test_other_major_version(trained, tmp_path, version, fix):
    _, bundle, _ = trained
    payload = bundle.to_payload()
    payload.update(rnncast_version=version)
    other = tmp_path / "other.rnncast"
    torch.save(payload, other)
    with pytest.raises(ArtifactError) as e:
        artifact.load(other)
    assert str(e.value) == (
        f"'{other}' was written by rnncast {version}, another major version than this rnncast "
        f"0.1.0, whose models it cannot promise to read: {fix}"
    )
    payload.update(rnncast_version="0.9.3")  # the same major version loads
    torch.save(payload, other)
    assert artifact.load(other).rnncast_version == "0.9.3"


def _load_error(payload: dict, path) -> str:
    """The one-line error of loading `payload` saved as a model file at `path`."""
    torch.save(payload, path)
    with pytest.raises(ArtifactError) as e:
        artifact.load(path)
    return str(e.value)


def test_damaged_contents(trained, tmp_path):
    _, bundle, _ = trained
    payload = bundle.to_payload()
    del payload["config"]
    damaged = tmp_path / "damaged.rnncast"
    assert _load_error(payload, damaged) == (
        f"'{damaged}' is a damaged rnncast model file (KeyError: 'config'): retrain with "
        "'rnncast train'"
    )
    payload = bundle.to_payload()
    payload["weights"] = [{"head.weight": torch.zeros(1)}]
    assert _load_error(payload, damaged).startswith(
        f"'{damaged}' is a damaged rnncast model file (ArtifactError: the weights in the model "
        "file do not fit its configuration (Error(s) in loading state_dict"
    )


@pytest.mark.parametrize(
    ("section", "key", "value", "error"),
    [
        ("read", "id_col", 5, "AttributeError"),
        ("axis", "freq", "zz", "ValueError"),
        ("window", "lookback", 25, "ValueError"),
        ("model", "cell", "tcn", "ConfigError"),
    ],
)
def test_damaged_fields_are_one_line_errors(trained, tmp_path, section, key, value, error):
    _, bundle, _ = trained
    payload = bundle.to_payload()
    where = payload["data"] if section == "axis" else payload["config"]
    where[section][key] = value
    damaged = tmp_path / "damaged.rnncast"
    message = _load_error(payload, damaged)
    assert message.startswith(f"'{damaged}' is a damaged rnncast model file ({error}: ")
    assert "\n" not in message


@pytest.mark.parametrize("transform", ["none", "log"])
def test_an_ensemble_averages_its_members(tmp_path, transform):
    """In the model's transform: a log model's forecast is its members' geometric mean."""
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_long(n_series=2, length=120))
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4, transform=transform)
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=32, device="cpu", ensemble=3)
    bundle, results = fit(series, window, model, config)
    assert len(bundle.weights) == len(results) == 3
    assert bundle.summary["members"] == 3
    assert {row["member"] for row in bundle.history} == {1, 2, 3}
    path = tmp_path / "ensemble.rnncast"
    artifact.save(bundle, path)
    loaded = artifact.load(path)
    together = predicted(loaded, series).y_hat.to_numpy()
    alone = [
        predicted(
            dataclasses.replace(loaded, weights=[w], train=dataclasses.replace(config, ensemble=1)),
            series,
        ).y_hat.to_numpy()
        for w in loaded.weights
    ]
    mean = np.mean(alone, axis=0) if transform == "none" else np.exp(np.log(alone).mean(axis=0))
    np.testing.assert_allclose(together, mean, rtol=1e-5, atol=1e-5)
    assert not np.allclose(alone[0], alone[1])  # seeds seed, seed + 1, ... differ


def test_new_options_round_trip(tmp_path):
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_long(n_series=2, length=120))
    window = WindowConfig(lookback=24, horizon=6, val_size=6, lookbacks=(24, 12))
    model = ModelConfig(
        hidden_size=8, num_layers=1, segment=4, decoder="parallel", quantiles=(0.1, 0.9)
    )
    config = TrainConfig(max_epochs=2, epoch_size=64, batch_size=32, device="cpu", ensemble=2)
    bundle, _ = fit(series, window, model, config)
    path = tmp_path / "parallel.rnncast"
    artifact.save(bundle, path)
    loaded = artifact.load(path)
    assert loaded.model.decoder == "parallel"
    assert loaded.window.lookbacks == (24, 12)
    assert [m.lookback for m in loaded.network().members] == [24, 12]
    assert loaded.model.quantiles == (0.1, 0.9)
    pd.testing.assert_frame_equal(predicted(bundle, series), predicted(loaded, series))


def test_files_without_the_new_fields_mean_what_they_meant(trained, tmp_path):
    series, bundle, _ = trained
    # files from before --transform modelled the values as they are, and before --clip
    # forecast below 0 too
    before = dataclasses.replace(bundle.model, transform="none", clip="none")
    bundle = dataclasses.replace(bundle, model=before)
    payload = bundle.to_payload()
    for section, names in artifact.BEFORE_FIELD.items():
        for name in names:
            del payload["config"][section][name]
    old = tmp_path / "old.rnncast"
    torch.save(payload, old)
    loaded = artifact.load(old)
    assert loaded.model.decoder == "direct" and loaded.model.quantiles == ()
    assert loaded.model == bundle.model  # every missing field reads as the old behaviour
    assert loaded.model.decoder == "direct" and not loaded.model.bidirectional
    np.testing.assert_array_equal(
        predicted(bundle, series).y_hat.to_numpy(),
        predicted(loaded, series).y_hat.to_numpy(),
    )


def test_a_model_file_keeps_its_clip_and_one_from_before_clips_nothing(tmp_path):
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_sales())
    window, model = shapes(series, ModelConfig(hidden_size=8, segment=7), horizon=14)
    config = TrainConfig(max_epochs=2, epoch_size=128, batch_size=64, device="cpu", ensemble=1)
    bundle, _ = fit(series, window, model, config)
    path, old = tmp_path / "m.rnncast", tmp_path / "old.rnncast"
    artifact.save(bundle, path)
    assert artifact.load(path).model.clip == "zero"  # 'auto' on sales: no value below 0
    clipped = predicted(artifact.load(path), series).y_hat
    payload = bundle.to_payload()
    del payload["config"]["model"]["clip"]  # as files written before --clip are
    torch.save(payload, old)
    assert artifact.load(old).model.clip == "none"
    free = predicted(artifact.load(old), series).y_hat
    assert (free < 0).any() and (clipped >= 0).all()
    np.testing.assert_array_equal(clipped, free.clip(lower=0))


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "esn", "reservoir_size": 30, "spectral_radius": 0.5, "leak_rate": 0.3},
        {"decoder": "seq2seq", "attention": True, "bidirectional": True, "cell": "lstm"},
        {"decoder": "recursive", "cell": "rnn", "activation": "relu"},
    ],
)
def test_architectures_round_trip_as_ensembles(tmp_path, options):
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_long(n_series=2, length=120))
    window = WindowConfig(lookback=24, horizon=6, val_size=6, lookbacks=(24, 12))
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4, **options)
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=32, device="cpu", ensemble=2)
    if model.cell == "esn":  # it takes no gradient-training options
        config = TrainConfig(epoch_size=64, device="cpu", ensemble=2)
    bundle, _ = fit(series, window, model, config)
    path = tmp_path / "m.rnncast"
    artifact.save(bundle, path)
    loaded = artifact.load(path)
    assert loaded.model == dataclasses.replace(model, transform="log", clip="zero")  # resolved
    assert [m.lookback for m in loaded.network().members] == [24, 12]
    before = predicted(bundle, series).y_hat.to_numpy()
    np.testing.assert_array_equal(before, predicted(loaded, series).y_hat)
    assert np.isfinite(before).all()


@pytest.fixture(scope="module")
def series_scaled(tmp_path_factory):
    from rnncast.settings import ModelConfig, TrainConfig

    series = from_frame(make_long(n_series=2, length=120))
    window = WindowConfig(lookback=24, horizon=6, val_size=6)
    model = ModelConfig(hidden_size=8, num_layers=1, segment=4, scaling="series")
    config = TrainConfig(max_epochs=1, epoch_size=64, batch_size=32, device="cpu")
    bundle, _ = fit(series, window, model, config)
    return series, bundle


def test_series_units_round_trip(series_scaled, tmp_path):
    series, bundle = series_scaled
    path = tmp_path / "series.rnncast"
    artifact.save(bundle, path)
    loaded = artifact.load(path)
    assert loaded.units.dtype == np.float32
    np.testing.assert_array_equal(loaded.units, bundle.units)
    pd.testing.assert_frame_equal(predicted(bundle, series), predicted(loaded, series))


def test_files_without_units_measure_them_on_the_data(series_scaled, tmp_path):
    series, bundle = series_scaled
    payload = bundle.to_payload()
    del payload["data"]["units"]
    old = tmp_path / "old.rnncast"
    torch.save(payload, old)
    loaded = artifact.load(old)
    assert len(loaded.units) == 0
    # the data are the training data, so the units measured on them are training's
    pd.testing.assert_frame_equal(predicted(bundle, series), predicted(loaded, series))


def test_units_that_do_not_fit_the_series_are_damage(series_scaled, tmp_path):
    _, bundle = series_scaled
    payload = bundle.to_payload()
    payload["data"]["units"] = torch.ones(3)
    damaged = tmp_path / "damaged.rnncast"
    assert _load_error(payload, damaged) == (
        f"'{damaged}' is a damaged rnncast model file (ValueError: 3 series units for 2 "
        "series): retrain with 'rnncast train'"
    )


class _FillsUp:
    """A file that takes `room` bytes, then says the disk is full, as a real one does."""

    def __init__(self, file, room: int):
        self.file, self.room = file, room

    def write(self, data) -> int:
        import errno

        if len(data) > self.room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self.room -= len(data)
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.file.close()


@pytest.mark.parametrize("room", [0, 2000])
def test_a_save_that_runs_out_of_space_half_way_is_one_line(trained, tmp_path, monkeypatch, room):
    import os

    from rnncast.errors import OutputError

    _, bundle, _ = trained
    target = tmp_path / "m.rnncast"
    target.write_bytes(b"old")
    fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda fd, mode: _FillsUp(fdopen(fd, mode, 0), room))
    with pytest.raises(OutputError) as e:  # torch's zip writer raised its own RuntimeError
        artifact.save(bundle, target)
    monkeypatch.undo()
    assert str(e.value) == (
        f"cannot write '{target}': No space left on device (Errno 28): free some space or choose "
        "another path"
    )
    assert target.read_bytes() == b"old" and [p.name for p in tmp_path.iterdir()] == ["m.rnncast"]


def test_model_paths_the_system_refuses_are_one_line(trained, tmp_path, monkeypatch):
    import errno
    import os

    _, _, path = trained
    loop = tmp_path / "loop.rnncast"
    os.symlink(tmp_path / "other", loop)
    os.symlink(loop, tmp_path / "other")
    long = tmp_path / ("x" * 300 + ".rnncast")
    opened = os.open

    def refuse(name, *args, **kwargs):
        if str(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return opened(name, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse)  # root reads anything: the refusal is simulated
    fix = "check the path and its permissions, or pass another --model"
    for where, why in ((loop, "Too many levels of symbolic links (Errno 40)"),
                       (long, "File name too long (Errno 36)"),
                       (path, "Permission denied (Errno 13)")):  # fmt: skip
        with pytest.raises(ArtifactError) as e:
            artifact.load(where)
        assert str(e.value) == f"cannot read model file '{where}': {why}: {fix}"


# ---- model files in an object store (a real S3 server: moto's) -----------------------------


def test_a_model_file_in_a_bucket_round_trips(trained, bucket):
    series, bundle, _ = trained
    artifact.save(bundle, bucket.url("models/m.rnncast"))
    assert bucket.names() == ["models/m.rnncast"]  # no temporary key left
    loaded = artifact.load(bucket.url("models/m.rnncast"))
    np.testing.assert_array_equal(predicted(bundle, series).y_hat, predicted(loaded, series).y_hat)
    assert loaded.fingerprint == bundle.fingerprint


def test_a_model_url_that_is_missing_damaged_or_a_prefix_is_one_line(trained, bucket):
    _, _, path = trained
    cases = {
        "none.rnncast": f"model file '{bucket.url('none.rnncast')}' not found: check the URL",
        "dir": f"model file '{bucket.url('dir')}' is a folder (a prefix of objects): pass the "
               "file",
        "cut.rnncast": UNREADABLE.format(bucket.url("cut.rnncast")),
    }  # fmt: skip
    bucket.put("dir/m.rnncast", path.read_bytes())
    bucket.put("cut.rnncast", path.read_bytes()[:100])
    for key, message in cases.items():
        with pytest.raises(ArtifactError) as e:
            artifact.load(bucket.url(key))
        assert str(e.value) == message
    with pytest.raises(ArtifactError) as e:
        artifact.load("s3://no-such-bucket/m.rnncast")
    assert str(e.value) == (
        "model file 's3://no-such-bucket/m.rnncast' not found: there is no bucket "
        "'no-such-bucket': check the URL"
    )


def test_training_data_at_a_url_is_recorded_as_shown():
    assert artifact._absolute("https://u:p@host/d.csv?sig=s3cr3t") == "https://host/d.csv"
    assert artifact._absolute("s3://b/d.parquet") == "s3://b/d.parquet"
    assert artifact._absolute("d.csv") == os.path.abspath("d.csv")


def test_init_from_is_kept_and_shown_only_for_updates(trained, tmp_path):
    import hashlib

    _, bundle, path = trained
    assert artifact.file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert "init_from" not in bundle.describe() and "init_from" not in bundle.to_payload()
    record = {"path": "old.rnncast", "sha256": "ab" * 32, "created": "2026-01-01T00:00:00+00:00",
              "rnncast_version": "0.1.0", "data_fingerprint": "cd" * 32}  # fmt: skip
    updated = dataclasses.replace(bundle, init_from=record)
    artifact.save(updated, tmp_path / "u.rnncast")
    loaded = artifact.load(tmp_path / "u.rnncast")
    assert loaded.init_from == record and loaded.describe()["init_from"] == record
    assert artifact.load(path).init_from == {}  # a file written without it


def test_a_model_file_given_as_another_option_is_named_so(trained, tmp_path):
    with pytest.raises(ArtifactError) as e:
        artifact.load(tmp_path / "none.rnncast", "--init-from")
    assert str(e.value) == (
        f"model file '{tmp_path / 'none.rnncast'}' not found: check the path given to "
        "--init-from, or train from scratch without it"
    )
    with pytest.raises(ArtifactError) as e:
        artifact.load(tmp_path, "init_from")
    assert (
        str(e.value) == f"model file '{tmp_path}' is a folder: pass the model file with init_from"
    )
