from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from rnncast.errors import ConfigError
from rnncast.outputs import atomic_write, check_writable, write_frame, write_json


def test_check_writable_messages(tmp_path):
    assert check_writable(tmp_path / "m.rnncast", "--out") == tmp_path / "m.rnncast"
    cases = [
        (
            tmp_path / "nope" / "f.csv",
            None,
            f"--out '{tmp_path}/nope/f.csv': folder '{tmp_path}/nope' does not exist; create it or "
            "choose another path",
        ),
        (tmp_path, None, f"--out '{tmp_path}' is a folder: give a file name"),
        (
            tmp_path / "f.xlsx",
            (".csv", ".parquet"),
            f"--out '{tmp_path}/f.xlsx' must end in .csv or .parquet: the extension picks the "
            "format",
        ),
    ]
    for path, suffixes, message in cases:
        with pytest.raises(ConfigError) as e:
            check_writable(path, "--out", suffixes)
        assert str(e.value) == message


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into read-only folders")
def test_read_only_folder(tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    with pytest.raises(ConfigError) as e:
        check_writable(folder / "f.csv", "--out")
    assert (
        str(e.value)
        == f"--out '{folder}/f.csv': folder '{folder}' is not writable; choose another path"
    )


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    target = tmp_path / "out.csv"
    target.write_text("old\n")

    def explode(f):
        f.write(b"partial")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(target, explode)
    assert target.read_text() == "old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]


def test_frames_and_json_round_trip(tmp_path):
    frame = pd.DataFrame(
        {
            "unique_id": ["a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "y_hat": [1.5, 2.5],
        }
    )
    write_frame(frame, tmp_path / "f.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "f.parquet"), frame, check_dtype=False)
    write_frame(frame, tmp_path / "f.csv")
    assert (tmp_path / "f.csv").read_text().splitlines()[1] == "a,2024-01-01,1.5"
    write_json({"a": 1.0, "b": None}, tmp_path / "m.json")
    assert json.loads((tmp_path / "m.json").read_text()) == {"a": 1.0, "b": None}
    with pytest.raises(ValueError):
        write_json({"a": float("nan")}, tmp_path / "bad.json")
    assert not (tmp_path / "bad.json").exists()
