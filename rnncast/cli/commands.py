"""The commands, thin: each builds its request, calls a job (`rnncast.jobs`), writes its
outputs and renders what happened. The options are declared in `rnncast.cli.options`; the
run's life cycle (errors, signals, locks) is `rnncast.cli.run`; what people see is
`rnncast.cli.render`. Heavy modules are imported inside the commands, so that
`rnncast --help` stays fast.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from rnncast.cli import options as o
from rnncast.cli import render
from rnncast.cli import run as runs
from rnncast.cli.console import LogFormat, Reporter, out_console
from rnncast.errors import ConfigError
from rnncast.settings import TrainRequest, split_names

if TYPE_CHECKING:
    from rnncast.cli.run import Run
    from rnncast.data.series import SeriesSet
    from rnncast.jobs import Source, Trained
    from rnncast.plan import Plan
    from rnncast.store.artifact import Artifact
    from rnncast.store.checkpoint import Checkpoint as Saved
    from rnncast.tracking import Tracker, Tracking

R = TrainRequest()  # the option defaults are the request's, which are the settings' own


# ---- train --------------------------------------------------------------------------------


def train(
    ctx: typer.Context,
    data: o.TrainData,
    id_col: o.IdCol = R.id_col,
    time_col: o.TimeCol = R.time_col,
    target: o.Target = None,
    freq: o.Freq = R.freq,
    time_format: o.TimeFormat = R.time_format,
    sep: o.Sep = R.sep,
    decimal: o.Decimal = R.decimal,
    dayfirst: o.Dayfirst = R.dayfirst,
    fill: o.Fill = o.Fills(R.fill),
    covariates: o.Covariates = None,
    future_covariates: o.FutureCovariates = None,
    skip_short: o.SkipShort = R.skip_short,
    horizon: o.Horizon = R.horizon,
    lookback: o.Lookback = R.lookback,
    lookbacks: o.Lookbacks = None,
    val_size: o.ValSize = R.val_size,
    segment: o.Segment = R.segment,
    holdout: o.Holdout = R.holdout,
    calendar: o.Calendar = R.calendar,
    cell: o.Cell = o.Cells(R.cell),
    hidden_size: o.HiddenSize = R.hidden_size,
    num_layers: o.NumLayers = R.num_layers,
    dropout: o.Dropout = R.dropout,
    decoder: o.Decoder = o.Decoders(R.decoder),
    activation: o.Activation = o.Activations(R.activation),
    bidirectional: o.Bidirectional = R.bidirectional,
    attention: o.Attention = R.attention,
    scaling: o.Scaling = o.Scalings(R.scaling),
    transform: o.Transform = o.Transforms(R.transform),
    clip: o.Clip = o.Clips(R.clip),
    anchor: o.Anchor = o.Anchors(R.anchor),
    blend: o.Blend = o.Blends(R.blend),
    scale_floor: o.ScaleFloor = R.scale_floor,
    quantiles: o.Quantiles = None,
    id_embedding: o.IdEmbedding = R.id_embedding,
    checkpoint_activations: o.CheckpointActivations = R.checkpoint_activations,
    reservoir_size: o.ReservoirSize = R.reservoir_size,
    spectral_radius: o.SpectralRadius = R.spectral_radius,
    leak_rate: o.LeakRate = R.leak_rate,
    ridge: o.Ridge = R.ridge,
    init_from: o.InitFrom = None,
    loss: o.Loss = o.Losses(R.loss),
    max_epochs: o.MaxEpochs = R.max_epochs,
    max_steps: o.MaxSteps = R.max_steps,
    epoch_size: o.EpochSize = R.epoch_size,
    batch_size: o.BatchSize = R.batch_size,
    lr: o.Lr = R.lr,
    weight_decay: o.WeightDecay = R.weight_decay,
    grad_clip: o.GradClip = R.grad_clip,
    patience: o.Patience = R.patience,
    ensemble: o.Ensemble = R.ensemble,
    ema: o.Ema = R.ema,
    schedule: o.Schedule = o.Schedules(R.schedule),
    seed: o.Seed = R.seed,
    precision: o.Precision = o.Precisions(R.precision),
    data_on: o.DataOn = o.Places(R.data_on),
    device: o.TrainDevice = R.device,
    threads: o.TrainThreads = None,
    checkpoint: o.Checkpoint = None,
    resume: o.Resume = None,
    wait: o.Wait = 0.0,
    quiet: o.Quiet = False,
    log_format: o.Logs = LogFormat.text,
    config: o.ConfigFile = None,
    out: o.ModelOut = Path(o.DEFAULT_MODEL),
    mlflow: o.TrainMlflow = False,
    print_config: o.PrintConfig = False,
) -> None:
    """Train a model on DATA and save it to one file.

    Under torchrun (`torchrun --nproc_per_node=N -m rnncast train ...`) the processes train
    one network together; only rank 0 reports and writes."""
    report = Reporter("train", quiet, log_format.value, silent=runs.other_rank())
    report.start(data=str(data), out=str(out))
    kept, saved = checkpoint or resume, []  # the checkpoint file; `saved`: where it stands
    with runs.running(report, lambda: render.interrupted_training(kept, saved)) as run:
        run.use_threads(threads)
        option = "--checkpoint" if checkpoint else "--resume"
        outputs = _train_outputs(data, out, (option, kept, init_from), print_config)
        request, tracking = _request(ctx.params), _tracking(mlflow and not print_config)
        with runs.locked(outputs, wait, reads=[init_from] if init_from else []):
            resumed = _resumed(resume, saved)
            request, source = _updating(ctx, request)
            plan = _plan(report, data, request)
            if print_config:
                _print_config(ctx, plan, request if source else None, source)
                return
            _starting(report, plan, source, (resume, resumed))
            trained = _fit(run, report, plan, data, out, (kept, resumed, saved), (tracking, source))
    render.trained(report, trained, plan.series, out)


def _starting(report: Reporter, plan: Plan, source: Source | None,
              resuming: tuple[Path | None, Saved | None]) -> None:  # fmt: skip
    """What the run starts from: the window, the model it updates, the checkpoint it resumes."""
    render.window(report, plan)
    render.updating(report, source, plan)
    resume, resumed = resuming
    if resumed is not None:
        report.info(f"resuming from {resume}: {resumed.describe()}")


def _train_outputs(data: Path, out: Path, checkpointing: tuple[str, Path | None, Path | None],
                   print_config: bool) -> list[Path]:  # fmt: skip
    """The files this run writes (none with --print-config, none in torchrun processes
    other than rank 0), each checked writable before any work. The model file may be the
    --init-from one (an update in place), the checkpoint may not."""
    from rnncast.engine.distributed import world
    from rnncast.store.atomic import check_writable

    main = world().main  # a broken torchrun environment is refused before anything else
    if print_config:
        return []
    option, kept, init_from = checkpointing
    check_writable(out, "--out", inputs=(("the input data file", data),))
    if kept is not None:
        inputs = (("the input data file", data), ("--out", out),
                  *((("--init-from", init_from),) if init_from else ()))  # fmt: skip
        check_writable(kept, option, inputs=inputs)
    return ([out] + ([kept] if kept else [])) if main else []


def _request(params: dict[str, Any]) -> TrainRequest:
    """The command's options as a training request, checked before any data is read (the
    precision the device can run first)."""
    from rnncast.engine.devices import autocast_dtype, resolve_device

    names = set(TrainRequest.names())
    given = {k: getattr(v, "value", v) for k, v in params.items() if k in names}  # choices
    autocast_dtype(given["precision"], resolve_device(given["device"]))
    request = TrainRequest.of(**given)
    request.configs()
    return request


def _tracking(asked: bool) -> Tracking | None:
    """--mlflow: the tracking server MLflow is set up for, checked to answer before any data
    is read (under torchrun rank 0 alone logs)."""
    if not asked or runs.other_rank():
        return None
    from rnncast import tracking

    return tracking.connect()


def _updating(ctx: typer.Context, request: TrainRequest) -> tuple[TrainRequest, Source | None]:
    """With --init-from: the model file it names, and the request with that model's settings
    (`jobs.updating`; an option given on the command line or in --config may not conflict)."""
    from rnncast import jobs

    # given: on the command line or in --config, not a default (typer's click's enum, by name)
    sources = {name: ctx.get_parameter_source(name) for name in TrainRequest.names()}
    given = [
        name for name, where in sources.items() if getattr(where, "name", "DEFAULT") != "DEFAULT"
    ]
    return jobs.updating(request, given)


def _resumed(resume: Path | None, saved: list[str]) -> Saved | None:
    """The checkpoint --resume names, loaded (and where it stands, noted in `saved`)."""
    if resume is None:
        return None
    from rnncast.store import checkpoint

    resumed = checkpoint.load(resume)
    saved.append(resumed.describe())
    return resumed


def _plan(report: Reporter, data: Path, request: TrainRequest) -> Plan:
    """Read DATA, say what was read, plan the training and say what the plan decided."""
    from rnncast import plan
    from rnncast.data.readers import load

    read, _, _ = request.configs()
    series = load(data, read)
    render.read(report, series)
    planned = plan.make(request, series)
    render.notes(report, planned)
    return planned


def _print_config(ctx: typer.Context, plan: Plan, update: TrainRequest | None = None,
                  source: Source | None = None) -> None:  # fmt: skip
    """--print-config: the options, with those the data decided (and those an `update` took
    from its `source` model), as a config file, once the plan passes every check training
    would make before its first step."""
    from rnncast import jobs
    from rnncast.engine.distributed import world

    jobs.check(plan, source=source)
    taken = {} if update is None else render.as_options(update, ctx.params)
    if world().main:
        runs.to_stdout(render.config_text(ctx, taken | plan.resolved()), "the configuration")


def _fit(run: Run, report: Reporter, plan: Plan, data: Path, out: Path,
         checkpointing: tuple[Path | None, Saved | None, list[str]],
         updating: tuple[Tracking | None, Source | None]) -> Trained:  # fmt: skip
    """Train as planned (with every torchrun process, each epoch checkpointed where asked;
    an update from its source), stopping at a safe point on a signal; rank 0 writes the
    model file, and with --mlflow logs the run (settings, each epoch's losses, the summary,
    the model file)."""
    from rnncast import jobs
    from rnncast.engine import distributed
    from rnncast.tracking import training

    (path, resumed, saved), (tracking, source) = checkpointing, updating
    with distributed.session(plan.train.device), training(tracking, plan, str(data)) as tracker:
        with report.training(plan.model) as progress, run.signals.deferred():
            trained = jobs.train(
                plan, str(data), on_event=tracker.hearing(progress),
                should_stop=run.signals.requested, checkpoint_path=path, resume=resumed,
                on_saved=saved.append, source=source,
            )  # fmt: skip
        if distributed.world().main:
            with run.writing():
                run.write(out, trained.artifact.save)
        with _after_writing(run, tracker):
            tracker.trained(trained, out)
    render.tracked(report, tracker)
    return trained


def _after_writing(run: Run, tracker: Tracker, stdout: str = "") -> AbstractContextManager[None]:
    """--mlflow's logging after the outputs were written: its failure's line says what was
    (`stdout`: what went to standard output, e.g. 'the metrics')."""
    return tracker.after(render.written(run.written, stdout))


# ---- predict ------------------------------------------------------------------------------


def predict(
    data: o.PredictData = None,
    model: o.ModelPath = Path(o.DEFAULT_MODEL),
    out: o.ForecastOut = Path("forecast.csv"),
    horizon: o.PredictHorizon = None,
    fill: o.PredictFill = None,
    skip_short: o.PredictSkipShort = None,
    plot: o.Plot = None,
    plot_series: o.PlotSeries = None,
    device: o.Device = "auto",
    threads: o.Threads = None,
    wait: o.Wait = 0.0,
    quiet: o.Quiet = False,
    log_format: o.Logs = LogFormat.text,
    config: o.ConfigFile = None,
) -> None:
    """Forecast the next steps after the end of every series."""
    other = runs.other_rank()  # under torchrun: every process forecasts a share, rank 0 writes
    report = Reporter("predict", quiet, log_format.value, silent=other)
    report.start(data=None if data is None else str(data), model=str(model), out=str(out))
    to_stdout = str(out) == "-"
    with runs.running(report) as run:
        written = _check_outputs(run, (model, data), None if to_stdout else out, plot,
                                 (plot_series, device, threads))  # fmt: skip
        with runs.locked([] if other else written, wait, reads=[model]):
            artifact, series = _model_and_data(report, model, data, fill,
                                               {"--out": None if to_stdout else out,
                                                "--plot": plot}, horizon)  # fmt: skip
            prediction = _forecast(artifact, series, (horizon, device, skip_short), report)
            if other:
                return
            image = _plot(plot, plot_series, prediction, artifact, model)
            with run.writing():
                _write_forecast(run, prediction.frame, out if not to_stdout else None)
                _write_plot(run, image, plot)
    render.forecast_done(report, prediction.frame, prediction.series, out, to_stdout)


def _check_outputs(
    run: Run, reads: tuple[Path, Path | None], out: Path | None, plot: Path | None,
    more: tuple[str | None, str, int | None],
) -> list[Path]:  # fmt: skip
    """The device, the threads, and the outputs (`out`, None for stdout; `plot`), checked
    before any work; returns the files to write. The outputs are checked in every torchrun
    process, so that all fail alike before they meet; so is DATA '-', which they cannot
    all read."""
    from rnncast.engine.devices import resolve_device
    from rnncast.engine.distributed import world
    from rnncast.store.atomic import FRAME_SUFFIXES, check_writable

    if str(reads[1]) == runs.STDIN and world().many:
        raise ConfigError(
            "DATA '-' cannot be read under torchrun: every process reads the data, and "
            "standard input reaches one of them; give a file"
        )
    plot_series, device, threads = more
    resolve_device(device)
    run.use_threads(threads)
    inputs = runs.inputs(*reads)
    if out is not None:
        check_writable(out, "--out", FRAME_SUFFIXES, inputs=inputs)
    runs.check_plot(plot, plot_series, inputs + (() if out is None else (("--out", out),)))
    return ([] if out is None else [out]) + ([plot] if plot else [])


def _model_and_data(report: Reporter, model: Path, data: Path | None, fill: Any,
                    outputs: dict[str, Path | None],
                    horizon: int | None = None) -> tuple[Artifact, SeriesSet]:  # fmt: skip
    """The model file, and DATA (or the training data the model records) read as the model
    was trained; no output may be the data read."""
    from rnncast import jobs
    from rnncast.store.artifact import load

    fill = getattr(fill, "value", fill)  # a choice
    artifact = load(model)
    runs.check_recorded_data(artifact, data, outputs)
    jobs.check_horizon(artifact, horizon)  # before reading the data
    series = jobs.load_data_for(artifact, runs.data_from(data), fill)
    render.read(report, series)
    return artifact, series


def _forecast(artifact: Artifact, series: SeriesSet,
              asked: tuple[int | None, str, bool | None], report: Reporter) -> Any:  # fmt: skip
    """`jobs.predict` (`asked`: horizon, device, skip-short), in every torchrun process (each
    forecasts its share); series left out are warned of as they are."""
    from rnncast import jobs
    from rnncast.engine import distributed

    horizon, device, skip_short = asked
    with distributed.session(device):
        return jobs.predict(artifact, series, horizon, device, skip_short=skip_short,
                            warn=report.warning)  # fmt: skip


def _plot(plot: Path | None, plot_series: str | None, prediction: Any, artifact: Artifact,
          model: Path) -> bytes | None:  # fmt: skip
    """--plot of a forecast: a few series' history and forecast, as image bytes."""
    if plot is None:
        return None
    from rnncast.data.remote import shown, suffix_of
    from rnncast.forecast import plots

    series = prediction.series
    picks = plots.pick_series(series, split_names(plot_series))
    return plots.forecast_figure(
        series, prediction.frame, picks, suffix_of(plot)[1:].lower(),
        f"rnncast forecast ({shown(model)})",
        artifact.model.quantiles,
    )  # fmt: skip


def _write_forecast(run: Run, frame: Any, out: Path | None) -> None:
    """The forecast file (by its extension), or CSV on stdout when `out` is None."""
    from rnncast.store.atomic import write_frame

    if out is None:
        runs.to_stdout(frame.to_csv(index=False), "the forecast", "write a file with --out PATH")
    else:
        run.write(out, lambda path: write_frame(frame, path))


def _write_plot(run: Run, image: bytes | None, plot: Path | None) -> None:
    from rnncast.store.atomic import write_bytes

    if image is not None and plot is not None:
        run.write(plot, lambda path: write_bytes(image, path))


# ---- evaluate -----------------------------------------------------------------------------


def evaluate(
    data: o.EvaluateData = None,
    model: o.ModelPath = Path(o.DEFAULT_MODEL),
    out: o.MetricsOut = Path("metrics.json"),
    forecasts: o.BacktestForecasts = None,
    windows: o.Windows = 1,
    mlflow: o.EvaluateMlflow = False,
    fill: o.PredictFill = None,
    plot: o.Plot = None,
    plot_series: o.PlotSeries = None,
    device: o.Device = "auto",
    threads: o.Threads = None,
    wait: o.Wait = 0.0,
    quiet: o.Quiet = False,
    log_format: o.Logs = LogFormat.text,
    config: o.ConfigFile = None,
) -> None:
    """Backtest the model over the last N horizons of each series, against naive baselines."""
    if runs.other_rank():
        return  # under torchrun rank 0 alone backtests (and writes)
    report = Reporter("evaluate", quiet, log_format.value)
    metrics_out = _start_evaluate(report, data, model, out, forecasts)
    with runs.running(report) as run:
        written = _check_evaluate_outputs(run, (model, data), (metrics_out, forecasts, plot),
                                          (plot_series, device, threads))  # fmt: skip
        tracking = _tracking(mlflow)
        with runs.locked(written, wait, reads=[model]):
            artifact, series = _model_and_data(report, model, data, fill, {
                "--out": metrics_out, "--forecasts": forecasts, "--plot": plot})  # fmt: skip
            with _evaluation(tracking, artifact, windows, data, model) as tracker:
                result = _backtest(artifact, series, windows, device)
                metrics = {**result.report, "model": runs.shown(model)}
                image = _backtest_plot(plot, plot_series, series, result, metrics, model)
                frame = None if forecasts is None else _backtest_frame(result, series)
                with run.writing():
                    _write_metrics(run, metrics, metrics_out)
                    _write_backtest_frame(run, frame, forecasts)
                    _write_plot(run, image, plot)
                with _after_writing(run, tracker, "" if metrics_out else "the metrics"):
                    tracker.evaluated(result, metrics_out, forecasts, metrics)
    render.tracked(report, tracker)
    render.evaluated(report, metrics, metrics_out, forecasts)


def _start_evaluate(report: Reporter, data: Path | None, model: Path, out: Path,
                    forecasts: Path | None) -> Path | None:  # fmt: skip
    """The `start` event; returns the metrics file (None: `-o -`, the JSON on stdout)."""
    report.start(data=None if data is None else str(data), model=str(model), out=str(out),
                 **({"forecasts": str(forecasts)} if forecasts else {}))  # fmt: skip
    return None if str(out) == "-" else out


def _check_evaluate_outputs(run: Run, reads: tuple[Path, Path | None],
                            outputs: tuple[Path | None, Path | None, Path | None],
                            more: tuple[str | None, str, int | None]) -> list[Path]:  # fmt: skip
    """The metrics file (None: stdout), the forecasts file and the plot, checked before any
    work; then the device and the threads. Returns the files to write."""
    from rnncast.engine.devices import resolve_device
    from rnncast.store.atomic import FRAME_SUFFIXES, check_writable

    out, forecasts, plot = outputs
    plot_series, device, threads = more
    inputs = runs.inputs(*reads)
    if out is not None:
        check_writable(out, "--out", (".json",), inputs=inputs)
        inputs = (*inputs, ("--out", out))
    if forecasts is not None:
        check_writable(forecasts, "--forecasts", FRAME_SUFFIXES, inputs=inputs)
        inputs = (*inputs, ("--forecasts", forecasts))
    runs.check_plot(plot, plot_series, inputs)
    resolve_device(device)
    run.use_threads(threads)
    return [p for p in outputs if p is not None]


def _evaluation(tracking: Tracking | None, artifact: Artifact, windows: int, data: Path | None,
                model: Path) -> AbstractContextManager[Tracker]:  # fmt: skip
    """--mlflow: the run this backtest logs to (one that logs nothing without it)."""
    from rnncast.tracking import evaluation

    return evaluation(tracking, artifact, windows, None if data is None else str(data), str(model))


def _backtest(artifact: Artifact, series: SeriesSet, windows: int, device: str) -> Any:
    from rnncast import jobs

    return jobs.backtest(artifact, series, windows, device)


def _backtest_frame(result: Any, series: SeriesSet) -> Any:
    """--forecasts: every window's forecasts, a row per series, window and step."""
    from rnncast.forecast.backtest import forecasts_frame

    return forecasts_frame(result, series)


def _backtest_plot(plot: Path | None, plot_series: str | None, series: SeriesSet, result: Any,
                   metrics: dict[str, Any], model: Path) -> bytes | None:  # fmt: skip
    """--plot of a backtest: each chosen series' latest window, as image bytes."""
    if plot is None:
        return None
    from rnncast.data.remote import shown, suffix_of
    from rnncast.forecast import plots

    scores = plots.model_mase(series, metrics)
    picks = plots.pick_series(series, split_names(plot_series), scores)
    return plots.backtest_figure(series, result, picks, suffix_of(plot)[1:].lower(),
                                 f"rnncast backtest ({shown(model)})")  # fmt: skip


def _write_metrics(run: Run, metrics: dict[str, Any], out: Path | None) -> None:
    """The metrics file, or JSON on stdout when `out` is None."""
    from rnncast.store.atomic import json_text, write_json

    if out is None:
        runs.to_stdout(json_text(metrics), "the metrics", "write a file with --out PATH")
    else:
        run.write(out, lambda path: write_json(metrics, path))


def _write_backtest_frame(run: Run, frame: Any, path: Path | None) -> None:
    from rnncast.store.atomic import write_frame

    if frame is not None and path is not None:
        run.write(path, lambda p: write_frame(frame, p))


# ---- info ---------------------------------------------------------------------------------


def info(model: o.InfoModel = Path(o.DEFAULT_MODEL), as_json: o.AsJson = False) -> None:
    """Describe a model file: versions, configuration, data, training."""
    with runs.running(Reporter("info")):
        from rnncast.store.artifact import load

        description = load(model, "MODEL").describe()
        if as_json:
            runs.to_stdout(
                json.dumps(description, indent=2, default=str) + "\n", "the model's description"
            )
            return
    out_console().print(render.info_table(model, description))


# ---- export -------------------------------------------------------------------------------


def export(
    model: o.ExportModel = Path(o.DEFAULT_MODEL),
    out: o.OnnxOut = Path("model.onnx"),
    wait: o.Wait = 0.0,
    quiet: o.Quiet = False,
    log_format: o.Logs = LogFormat.text,
) -> None:
    """Write the model as one ONNX graph: raw lookback windows in, forecasts out (needs
    the onnx extra: pip install 'rnncast[onnx]'; see docs/onnx.md)."""
    report = Reporter("export", quiet, log_format.value)
    report.start(model=str(model), out=str(out))
    with runs.running(report) as run:
        from rnncast import jobs
        from rnncast.store.artifact import load

        jobs.check_export(model, out)
        with runs.locked([out], wait, reads=[model]):
            artifact = load(model, "MODEL")
            with run.writing():
                exported = jobs.export(artifact, out)
                run.wrote(out)
    render.exported(report, exported, out)
