"""What the commands show people and machines: the lines that say what was read and
planned, the summary of a trained model, the metrics and quantile tables of a backtest,
`info`'s table, and the settings `--print-config` writes. Everything goes through the run's
`Reporter` (stderr) or, for tables a person asked for, stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

from rnncast.cli.console import Reporter, out_console

if TYPE_CHECKING:
    import typer

    from rnncast.data.series import SeriesSet
    from rnncast.jobs import Source, Trained
    from rnncast.plan import Plan
    from rnncast.settings import TrainRequest, WindowConfig
    from rnncast.store.artifact import Artifact
    from rnncast.store.onnxfile import Exported
    from rnncast.tracking import Tracker


def read(report: Reporter, series: SeriesSet) -> None:
    """Say what was read and what reading detected, and warn of what it changed (filled
    values)."""
    report.info(
        f"read {series.source}: {len(series):,} series, {len(series.values):,} values, "
        f"{series.schema.describe()}, {series.axis.describe()}"
    )
    if series.known is not None:
        least, most = int(series.ahead.min()), int(series.ahead.max())
        steps = f"{least}" if least == most else f"{least} to {most}"
        report.info(f"future covariates given for {steps} steps after each series' last value")
    for note in series.detected:
        report.info(note)
    for note in series.notes:
        report.warning(note)


def notes(report: Reporter, plan: Plan) -> None:
    """What the plan decided that is worth a word (held-out steps, logs, skipped series)."""
    for kind, note in plan.notes:
        (report.warning if kind == "warning" else report.info)(note)


def window(report: Reporter, plan: Plan) -> None:
    """The window the plan chose."""
    window = plan.window
    reads = f"{_lookbacks(window)} ({'one per model, ' if window.lookbacks else ''}"
    report.info(
        f"window: {reads}in segments of {plan.model.segment}), "
        f"horizon {window.horizon}, validation {window.val_size} steps per series"
    )


def updating(report: Reporter, source: Source | None, plan: Plan) -> None:
    """Where an update starts, and how long it trains."""
    if source is None:
        return
    members, train = len(source.artifact.weights), plan.train
    epochs = f"{train.max_epochs} epoch{'s' if train.max_epochs > 1 else ''}"
    report.info(
        f"starting from the {members} network{'s' if members > 1 else ''} of "
        f"'{source.path}' (sha256 {source.sha256[:12]}, written {source.artifact.created}): "
        f"--lr {train.lr:g}, at most {epochs}, --patience {train.patience}"
    )


def as_options(request: TrainRequest, params: dict[str, Any]) -> dict[str, Any]:
    """The request's settings as the command's options (lists as comma-separated text), for
    those the command takes."""
    from dataclasses import fields

    out = {}
    for f in fields(request):
        value = getattr(request, f.name)
        if f.name in params:
            listed = ",".join(map(str, value)) or None if isinstance(value, tuple) else value
            out[f.name] = listed
    return out


def trained(report: Reporter, result: Trained, series: SeriesSet, out: Path) -> None:
    """Each network's best epoch and why it stopped, the interval calibration, a table of
    the whole, and `done`."""
    model, results = result.artifact, result.results
    for k, member in enumerate(results, 1):
        label = f"model {k} of {len(results)}: " if len(results) > 1 else ""
        best = (
            f", validation loss {member.best_val_loss:.4f}"
            if member.best_val_loss is not None
            else ""
        )
        report.info(
            f"{label}best epoch {member.best_epoch} of {len(member.history)} ({member.stopped})"
            f"{best}, {member.seconds:.1f} s on {member.device}"
        )
    if model.blend_weights and min(model.blend_weights) < 1:
        weights = ", ".join(f"{w:.2f}" for w in model.blend_weights)
        report.info(
            f"forecasts blended with the last value (naive), which scored well on the "
            f"validation windows: the networks' weights {weights}"
        )
    if model.intervals:
        scaled = ", ".join(f"{k} by {v:.2f}" for k, v in model.intervals.items())
        report.info(
            f"intervals calibrated to cover their share of the validation windows: widths {scaled}"
        )
    if not report.quiet and not report.json:
        report.console.print(_train_table(model, series, out))
    report.done(
        f"saved {out}",
        out=str(out),
        seconds=model.summary["seconds"],
        best_val_loss=model.summary["best_val_loss"],
    )


def tracked(report: Reporter, tracker: Tracker) -> None:
    """Where --mlflow logged the run (nothing without it)."""
    if tracker.tracking is not None:
        t = tracker.tracking
        report.info(tracker.describe(), mlflow_run_id=tracker.run_id, experiment=t.experiment,
                    tracking_uri=t.uri)  # fmt: skip


def written(paths: list[str], stdout: str = "") -> str:
    """What a run wrote, for a line that goes on to say what failed after: "'m.rnncast'
    was written", "the metrics were written to standard output and 'f.csv' was written"
    ('' for nothing); `stdout` names what went to standard output."""
    from rnncast.data.remote import shown

    names = [f"'{shown(p)}'" for p in paths]
    parts = [f"{stdout} were written to standard output"] if stdout else []
    if len(names) == 1:
        parts.append(f"{names[0]} was written")
    elif names:
        parts.append(f"{', '.join(names[:-1])} and {names[-1]} were written")
    return " and ".join(parts)


def config_text(ctx: typer.Context, resolved: dict[str, Any]) -> str:
    """This run's options as a config file, with the settings chosen from the data filled."""
    from rnncast.store import configfile

    skip = {"config", "print_config", "quiet", "log_format", "mlflow"}  # how it runs, not what
    order = [p.name for p in ctx.command.params if p.name in ctx.params and p.name not in skip]
    values = {k: ctx.params[k] for k in order} | resolved
    plain = {
        k: str(v) if isinstance(v, Path) else getattr(v, "value", v) for k, v in values.items()
    }
    return configfile.to_toml(ctx.command.name or "train", plain)


def interrupted_training(kept: Path | None, saved: list[str]) -> str:
    """What an interrupted training run leaves: no model; maybe a checkpoint to resume."""
    if kept is None:
        return (
            "no model written; pass --checkpoint PATH to keep the progress of a run that "
            "may be stopped"
        )
    if not saved:
        return f"no model written, and no epoch was complete to keep in '{kept}'"
    return f"no model written; '{kept}' holds {saved[-1]}: continue with --resume {kept}"


def forecast_done(report: Reporter, frame: Any, series: SeriesSet, out: Path,
                  to_stdout: bool) -> None:  # fmt: skip
    h = len(frame) // max(len(series), 1)
    report.done(
        f"forecast {h} steps for {len(series):,} series" + ("" if to_stdout else f": wrote {out}"),
        out=str(out), series=len(series), horizon=h, rows=len(frame),
    )  # fmt: skip


def evaluated(report: Reporter, metrics: dict[str, Any], out: Path | None,
              forecasts: Path | None = None) -> None:  # fmt: skip
    """The tables (for people: on stdout, or on stderr when the metrics go to stdout, `out`
    None), the notes on in-sample windows and skipped series, `done`."""
    if not report.quiet and not report.json:
        console = out_console() if out is not None else report.console
        for table in _metrics_tables(metrics):
            console.print(table)
        if "quantiles" in metrics:
            console.print(_quantile_table(metrics["quantiles"]))
    _samples_note(report, metrics)
    if metrics["skipped_series"]:
        report.info(
            f"note: {len(metrics['skipped_series']):,} series too short for a backtest window "
            f"were skipped (first: '{metrics['skipped_series'][0]}')"
        )
    wrote = [str(out) if out is not None else "the metrics to standard output"]
    wrote += [str(forecasts)] if forecasts is not None else []
    report.done(
        f"wrote {' and '.join(wrote)}", out="-" if out is None else str(out),
        **({"forecasts": str(forecasts)} if forecasts is not None else {}),
        overall=metrics["overall"], skill=metrics["skill"], by_sample=metrics["by_sample"],
        **({"quantiles": metrics["quantiles"]} if "quantiles" in metrics else {}),
    )  # fmt: skip


def _samples_note(report: Reporter, metrics: dict[str, Any]) -> None:
    """A word on backtest windows inside the model's training data (in-sample), or on not
    knowing which they are."""
    if "unknown" in metrics["by_sample"]:
        report.info(
            "note: the model file records no training cut-offs, so whether the backtest "
            "windows lie inside its training data is unknown (scored as 'unknown'); retrain "
            "to record them"
        )
        return
    seen, total = metrics["windows_in_training"], metrics["windows_scored"]
    if not seen:
        return
    where = "inside the model's training data (before each series' training cut-off)"
    if seen < total:
        honest = (
            "the out-of-sample one gives" if total - seen == 1
            else f"the {total - seen:,} out-of-sample ones give"
        )  # fmt: skip
        report.info(
            f"note: {seen:,} of {total:,} backtest windows lie {where}: they are scored apart, "
            f"as in-sample; {honest} the honest estimate"
        )
        return
    share = "the backtest window lies" if total == 1 else f"all {total:,} backtest windows lie"
    report.info(
        f"note: {share} {where}: those scores are in-sample; evaluate on data newer than the "
        "training data for an honest estimate"
    )


def exported(report: Reporter, exported: Exported, out: Path) -> None:
    """The graph's inputs and outputs, and `done`."""
    from rnncast.data.remote import shown

    def ports(ports: list[Any]) -> str:
        return ", ".join(f"{p.name} ({', '.join(map(str, p.shape))}) {p.dtype}" for p in ports)

    report.done(
        f"wrote {shown(out)} ({exported.size / 2**20:,.1f} MB): {ports(exported.inputs)} -> "
        f"{ports(exported.outputs)}",
        out=shown(out), bytes=exported.size, inputs=[p.to_dict() for p in exported.inputs],
        outputs=[p.to_dict() for p in exported.outputs],
    )  # fmt: skip


def info_table(model: Path, description: dict[str, Any]) -> Table:
    """`rnncast info`'s table: one section per part of the description."""
    from rnncast.data.remote import shown

    table = Table(title=Text(shown(model)), show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    for section, fields in description.items():
        if isinstance(fields, dict):
            table.add_section()
            for key, value in fields.items():
                table.add_row(f"{section}.{key}", Text(_plain(value)))
        else:
            table.add_row(section, Text(_plain(fields)))
    return table


def _train_table(model: Artifact, series: SeriesSet, out: Path) -> Table:
    """What was trained, at a glance."""
    s, w, m = model.summary, model.window, model.model
    losses = [f"{v:.4f}" for v in s["best_val_loss"] if v is not None]
    from rnncast.data.remote import shown

    table = Table(title=Text(f"trained {shown(out)}"), show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("value")
    rows = [
        ("data", f"{len(series):,} series, {len(series.values):,} values, "
                 f"{model.axis.describe()}"),
        ("windows", f"{s['train_windows']:,} for training, {s['val_windows']:,} for validation; "
                    f"{_lookbacks(w)}, horizon {w.horizon}"),
        ("network", f"{m.describe()}, {m.decoder} decoder"
                    f"{' with attention' if m.attention else ''}, segments of {m.segment}, "
                    f"{'in logs, ' if m.logs else ''}{s['members']} member(s), "
                    f"{s['parameters']:,} parameters"),
        ("best epoch", ", ".join(str(e) for e in s["best_epoch"])
         + f" (of {', '.join(str(e) for e in s['epochs'])})"),
        ("validation loss", ", ".join(losses) if losses else "- (no validation)"),
        ("time", f"{s['seconds']:.1f} s on {s['device']}"),
    ]  # fmt: skip
    for name, value in rows:
        table.add_row(name, Text(value))
    return table


def _lookbacks(window: WindowConfig) -> str:
    """What the networks read: 'lookback 60', or each member's, 'lookbacks 60, 96'."""
    if window.lookbacks:
        return f"lookbacks {', '.join(map(str, window.lookbacks))}"
    return f"lookback {window.lookback}"


def _metrics_tables(report: dict[str, Any]) -> list[Table]:
    """The scores of every method and the model's ratios to the baselines': one table when
    the windows are all of one kind (in-sample, out-of-sample), else one per kind (the
    pooled scores stay in the metrics file)."""
    kinds = [(k, part) for k, part in report["by_sample"].items() if part["windows"]]
    steps = f"of {report['horizon']} steps"
    season = f"(season {report['season_length']})"
    if len(kinds) == 1:
        all_of = ALL_OF.get(kinds[0][0], "")
        return [_metrics_table(f"backtest: {_windows_scored(report)} {steps} {season}{all_of}",
                               report)]  # fmt: skip
    return [
        _metrics_table(
            f"backtest, {kind.replace('_', '-')}: {part['windows']:,} window(s) {steps} in "
            f"{part['series']:,} series {season}",
            part,
        )
        for kind, part in kinds
    ]


ALL_OF = {"in_sample": ", all in-sample", "out_of_sample": ", all out-of-sample"}


def _metrics_table(title: str, scores: dict[str, Any]) -> Table:
    """A row per metric of `scores` (its "overall" and "skill")."""
    table = Table(title=title)
    table.add_column("metric")
    for name in ("model", "naive", "seasonal naive", "model / naive", "model / seasonal"):
        table.add_column(name, justify="right")
    overall, skill = scores["overall"], scores["skill"]
    for metric in ("mae", "rmse", "smape", "mase"):
        ratios = [skill["vs_naive"][metric], skill["vs_seasonal_naive"][metric]]
        cells = [_fmt(overall[m][metric]) for m in ("model", "naive", "seasonal_naive")]
        cells += [_fmt_ratio(r) for r in ratios]
        table.add_row(metric, *cells)
    return table


def _windows_scored(report: dict[str, Any]) -> str:
    """How many windows were scored, and how many the data allowed of those asked."""
    series, asked, scored = report["series"], report["windows"], report["windows_scored"]
    if scored == series * asked:
        return f"{series:,} series x {asked} window(s)"
    return (
        f"{series:,} series, {scored:,} window(s) (the data allows {scored:,} of the "
        f"{series * asked:,} asked)"
    )


def _quantile_table(quantiles: dict[str, Any]) -> Table:
    """Each quantile's pinball loss and the share of actuals below it; each interval's
    coverage; observed shares green within 5 points of the nominal ones, red beyond."""
    table = Table(title="quantiles and intervals: observed against nominal shares")
    table.add_column("forecast")
    for name in ("pinball", "scaled pinball", "observed", "nominal"):
        table.add_column(name, justify="right")
    for name, q in quantiles["levels"].items():
        table.add_row(f"{name} (share below)", _fmt(q["pinball"]), _fmt(q["scaled_pinball"]),
                      _fmt_share(q["below"], q["level"]), f"{q['level']:.1%}")  # fmt: skip
    for name, interval in quantiles["intervals"].items():
        nominal = interval["upper"] - interval["lower"]
        table.add_row(f"{name} interval (coverage)", "", "",
                      _fmt_share(interval["coverage"], nominal), f"{nominal:.1%}")  # fmt: skip
    return table


def _fmt_share(value: float, nominal: float) -> str:
    colour = "green" if abs(value - nominal) <= 0.05 else "red"
    return f"[{colour}]{value:.1%}[/{colour}]"


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if abs(value) < 1e5 else f"{value:,.0f}"


def _fmt_ratio(value: float | None) -> str:
    if value is None:
        return "-"
    colour = "green" if value < 1 else "red"
    return f"[{colour}]{value:.3f}[/{colour}]"


def _plain(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)
