"""What people and machines see: progress lines, JSON logs, tables, the words of an
interrupted run."""

from __future__ import annotations

import json

from rnncast.cli.app import app
from tests.cli.conftest import FAST, run, runner
from tests.conftest import make_long


def test_progress_lines_without_a_terminal_and_quiet(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6")
    assert result.exit_code == 0, result.stderr
    epochs = [line for line in result.stderr.splitlines() if line.startswith("epoch ")]
    assert len(epochs) == 2 and epochs[0].startswith("epoch 1/2 loss ")
    assert "\x1b[" not in result.stderr
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--quiet")
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout == ""


def test_json_logs_are_one_object_per_line(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--log-format", "json")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == [
        "start", "info", "info", "info", "model", "epoch", "epoch", "info", "done"
    ]  # fmt: skip
    assert all(e["command"] == "train" and e["time"].endswith("+00:00") for e in events)
    assert events[0]["data"] == "s.csv" and events[0]["out"] == "model.rnncast"
    assert events[1]["message"].startswith("read s.csv: 2 series")
    assert events[4]["train_windows"] > 0 and events[4]["parameters"] > 0
    assert events[5]["epoch"] == 1 and isinstance(events[5]["train_loss"], float)
    assert events[-1]["message"] == "saved model.rnncast" and events[-1]["out"] == "model.rnncast"

    result = run("predict", "--log-format", "json")
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert [e["event"] for e in events] == ["start", "info", "done"]
    assert events[-1]["rows"] == 12 and events[-1]["series"] == 2

    result = run("evaluate", "--log-format", "json")
    assert result.stdout == ""  # the table is for people; the metrics are in the done event
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert events[-1]["event"] == "done" and "mase" in events[-1]["overall"]["model"]


def test_json_errors_and_quiet(here):
    result = run("train", "missing.csv", "--log-format", "json", "--quiet")
    assert result.exit_code == 1
    start, event = [json.loads(line) for line in result.stderr.splitlines()]  # quiet JSON:
    assert start["event"] == "start"  # start, warnings, done and error stay in the log
    assert (event["event"], event["exit_code"], event["message"]) == (
        "error", 1, "data file 'missing.csv' not found: check the path"
    )  # fmt: skip
    assert run("train", "x.csv", "--log-format", "xml").exit_code == 2


def test_info_prints_names_verbatim(here):
    frame = make_long(n_series=2, length=150)
    frame["unique_id"] = frame["unique_id"].map({"s0": "[/red]", "s1": "[bold]x"})
    frame.to_csv(here / "s.csv", index=False)
    folder = here / "br[/x]"
    folder.mkdir(parents=True)
    assert run("train", "s.csv", *FAST, "--horizon", "6", "-o", folder / "m.rnncast").exit_code == 0
    result = runner.invoke(app, ["info", str(folder / "m.rnncast")], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "[/red], [bold]x" in result.stdout and "br[/x]" in result.stdout


def test_ensemble_reports_each_model(here):
    make_long(n_series=2, length=150).to_csv(here / "s.csv", index=False)
    result = run("train", "s.csv", *FAST, "--horizon", "6", "--ensemble", "2")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sum(line.startswith("training gru (1 x 8) on cpu, model ") for line in lines) == 2
    assert [line.split(":")[0] for line in lines if line.startswith("model ")] == [
        "model 1 of 2",
        "model 2 of 2",
    ]
    described = json.loads(run("info", "--json").stdout)
    assert described["training"]["members"] == 2
    summary = result.stderr[result.stderr.index("trained model.rnncast") :]
    for row in ("data", "windows", "network", "best epoch", "validation loss", "time"):
        assert f"│ {row} " in summary, row
    assert "gru (1 x 8), direct decoder, segments of 24, in logs, 2 " in summary


def test_numbers_in_tables():
    from rnncast.cli import render

    assert render._fmt(None) == "-" and render._fmt(0.123456) == "0.1235"
    assert render._fmt(123456.7) == "123,457"
    assert render._fmt_ratio(0.5) == "[green]0.500[/green]"
    assert render._fmt_ratio(1.25) == "[red]1.250[/red]"
    assert render._fmt_share(0.78, 0.8) == "[green]78.0%[/green]"
    assert render._fmt_share(0.6, 0.8) == "[red]60.0%[/red]"


def test_a_summary_names_every_lookback_and_the_windows_the_data_allowed():
    from rnncast.cli import render
    from rnncast.settings import WindowConfig

    assert render._lookbacks(WindowConfig(60, 18, 18)) == "lookback 60"
    assert render._lookbacks(WindowConfig(60, 18, 18, (60, 96))) == "lookbacks 60, 96"
    report = {"series": 2, "windows": 3, "windows_scored": 6}
    assert render._windows_scored(report) == "2 series x 3 window(s)"
    report = {"series": 1, "windows": 100, "windows_scored": 36}
    assert render._windows_scored(report) == (
        "1 series, 36 window(s) (the data allows 36 of the 100 asked)"
    )


def test_evaluate_says_how_many_windows_the_data_allowed(here):
    make_long(n_series=1, length=150).to_csv(here / "s.csv", index=False)
    assert run("train", "s.csv", *FAST, "--horizon", "6").exit_code == 0
    result = run("evaluate", "--windows", "100")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        "backtest: 1 series, 21 window(s) (the data allows 21 of the 100 asked) of 6 steps "
        "(season 24), all in-sample"
    )


def test_what_an_interrupted_training_run_left():
    from pathlib import Path

    from rnncast.cli.render import interrupted_training

    assert interrupted_training(None, []) == (
        "no model written; pass --checkpoint PATH to keep the progress of a run that may be stopped"
    )
    assert interrupted_training(Path("ck.pt"), []) == (
        "no model written, and no epoch was complete to keep in 'ck.pt'"
    )
    assert interrupted_training(Path("ck.pt"), ["model 2 of 3 after epoch 4"]) == (
        "no model written; 'ck.pt' holds model 2 of 3 after epoch 4: continue with --resume ck.pt"
    )


def _scores(mase: float) -> dict:
    methods = {m: {k: mase for k in ("mae", "rmse", "smape", "mase")}
               for m in ("model", "naive", "seasonal_naive")}  # fmt: skip
    ratios = {k: 1.0 for k in ("mae", "rmse", "smape", "mase")}
    return {"overall": methods, "skill": {"vs_naive": ratios, "vs_seasonal_naive": ratios}}


def _titles(report: dict) -> list[str]:
    from rnncast.cli import render

    return [str(table.title) for table in render._metrics_tables(report)]


def test_evaluate_shows_in_and_out_of_sample_windows_apart():
    """One table when every window is of one kind (its title says which), else one per
    kind: the pooled scores of a mix are not shown to people."""
    none = {"windows": 0, "series": 0, **_scores(None)}
    report = {"series": 2, "windows": 2, "windows_scored": 4, "horizon": 6,
              "season_length": 24, **_scores(1.5)}  # fmt: skip
    alone = {
        **report,
        "by_sample": {
            "out_of_sample": {"windows": 4, "series": 2, **_scores(1.5)},
            "in_sample": none,
        },
    }
    assert _titles(alone) == [
        "backtest: 2 series x 2 window(s) of 6 steps (season 24), all out-of-sample"
    ]
    unknown = {
        **report,
        "by_sample": {
            "out_of_sample": none,
            "in_sample": none,
            "unknown": {"windows": 4, "series": 2, **_scores(1.5)},
        },
    }
    assert _titles(unknown) == ["backtest: 2 series x 2 window(s) of 6 steps (season 24)"]
    mixed = {**report, "by_sample": {
        "out_of_sample": {"windows": 2, "series": 2, **_scores(2.0)},
        "in_sample": {"windows": 2, "series": 1, **_scores(1.0)},
    }}  # fmt: skip
    assert _titles(mixed) == [
        "backtest, out-of-sample: 2 window(s) of 6 steps in 2 series (season 24)",
        "backtest, in-sample: 2 window(s) of 6 steps in 1 series (season 24)",
    ]
