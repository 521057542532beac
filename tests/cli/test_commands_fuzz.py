"""Fuzzing the CLI with generated CSV files: every case ends in success or in exit 1 with a
one-line message, never a traceback, and never leaves a partial or changed output."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from rnncast.cli.app import app

runner = CliRunner()
TINY = ["--max-steps", "2", "--hidden-size", "4", "--ensemble", "1", "--device", "cpu",
        "--batch-size", "8", "--quiet"]  # fmt: skip

NAMES = ["unique_id", "ds", "y", "date", "value", "id", "x", "Unnamed: 0", ""]
CELLS = {
    "int": st.integers(-1000, 1000).map(str),
    "float": st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
    "huge": st.sampled_from(["1e39", "-3.5e300", "1e-320"]),
    "text": st.text(alphabet="abcxyz ,;\"'\n\t-:.0123456789", max_size=6),
    "empty": st.just(""),
    "na": st.sampled_from(["NA", "nan", "null", "N/A", "None"]),
    "bool": st.sampled_from(["true", "False"]),
}


@st.composite
def time_column(draw, rows: int) -> list[str]:
    """Times: evenly spaced (maybe with gaps, repeats, zones, bad cells), written ISO or day
    first (01/02/2000, 13.01.2000), or integers."""
    kind = draw(st.sampled_from(["hourly", "daily", "monthly", "int", "mixed", "dayfirst",
                                 "dayfirst monthly"]))  # fmt: skip
    mark = draw(st.sampled_from(["/", ".", "-"]))
    start = dt.datetime(2000, 1, 1) + dt.timedelta(hours=draw(st.integers(0, 10_000)))
    step = {"hourly": dt.timedelta(hours=1), "daily": dt.timedelta(days=1)}.get(kind)
    out = []
    for i in range(rows):
        if kind == "int":
            out.append(str(i * draw(st.sampled_from([1, 1, 1, 2]))))
        elif kind == "monthly":
            out.append(f"{2000 + i // 12}-{i % 12 + 1:02d}-01")
        elif kind == "dayfirst":  # days above 12 tell the order once there are enough rows
            out.append((start + dt.timedelta(days=i)).strftime(f"%d{mark}%m{mark}%Y"))
        elif kind == "dayfirst monthly":  # no day above 12: the order cannot be told
            out.append(f"01{mark}{i % 12 + 1:02d}{mark}{2000 + i // 12}")
        elif kind == "mixed":
            out.append(draw(st.sampled_from(["2024-01-01", "soon", "", "2024-01-02T00:00Z", "7"])))
        else:
            out.append((start + i * step).isoformat(sep=" "))
    if rows and draw(st.booleans()):  # damage: a gap, a repeat, a bad cell or a zone
        i = draw(st.integers(0, rows - 1))
        out[i] = draw(st.sampled_from([out[0], "", "not a time", out[i] + "+02:00"]))
    return out


@st.composite
def csv_files(draw) -> str:
    rows = draw(st.integers(0, 60))
    n_cols = draw(st.integers(1, 4))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n_cols, max_size=n_cols))
    columns = []
    for name in names:
        if name in ("ds", "date") or (name == names[0] and draw(st.booleans())):
            columns.append(draw(time_column(rows)))
        elif name in ("unique_id", "id"):
            columns.append(draw(st.lists(st.sampled_from(["a", "b", "007", ""]), min_size=rows,
                                         max_size=rows)))  # fmt: skip
        else:
            kind = draw(st.sampled_from(["float", "float", "int", "int", *CELLS]))
            cell = CELLS[kind]
            columns.append([draw(cell) for _ in range(rows)])
    sep = draw(st.sampled_from([",", ",", ",", ";"]))  # ';' with decimal commas, as in Europe
    if sep == ";":
        columns = [[cell.replace(".", ",") if _number(cell) else cell for cell in col]
                   for col in columns]  # fmt: skip
    lines = [sep.join(names)] if draw(st.integers(0, 9)) else []  # sometimes no header
    for r in range(rows):
        lines.append(sep.join(col[r] for col in columns))
    if rows and draw(st.integers(0, 9)) == 0:
        lines.append("x" * draw(st.integers(0, 3)))  # a ragged last line
    return "\n".join(lines) + ("\n" if draw(st.booleans()) else "")


def _number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def check_outcome(result, folder: Path, before: dict[str, bytes]) -> None:
    exception = result.exception
    assert exception is None or isinstance(exception, SystemExit), repr(exception)
    assert result.exit_code in (0, 1), (result.exit_code, result.stderr)
    assert not list(folder.glob(".*.lock")), "a lock file was left behind"
    if result.exit_code == 1:
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), lines
        after = {p.name: p.read_bytes() for p in folder.iterdir()}
        assert after == before  # nothing created, nothing changed


@settings(
    max_examples=int(os.environ.get("RNNCAST_FUZZ_EXAMPLES", "60")),
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                           HealthCheck.data_too_large],
)  # fmt: skip
@given(
    text=csv_files(),
    options=st.lists(
        st.sampled_from([
            ["--fill", "ffill"], ["--fill", "zero"], ["--fill", "interpolate"], ["--skip-short"],
            ["--horizon", "2"], ["--lookback", "3"], ["--freq", "h"], ["--val-size", "0"],
            ["--holdout", "2"], ["--target", "y"], ["--dayfirst"], ["--monthfirst"],
            ["--sep", ";"], ["--decimal", ","],
        ]),
        max_size=3,
    ).map(lambda chunks: [a for chunk in chunks for a in chunk]),
)  # fmt: skip
def test_generated_csv_files_never_crash(tmp_path_factory, text, options):
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "data.csv").write_text(text)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        with np.errstate(all="raise", under="ignore"):  # a silent NaN of our numpy code shows
            result = runner.invoke(app, ["train", "data.csv", *TINY, *options])
        check_outcome(result, folder, before)
        if result.exit_code == 0:
            assert (folder / "model.rnncast").exists()
            before = {p.name: p.read_bytes() for p in folder.iterdir()}
            result = runner.invoke(app, ["predict", "--quiet"])
            check_outcome(result, folder, before)
            if result.exit_code == 0:
                forecast = pd.read_csv(folder / "forecast.csv")
                assert forecast.columns[-1] == "y_hat" and len(forecast) > 0
                assert np.isfinite(forecast["y_hat"]).all()
    finally:
        os.chdir(cwd)
