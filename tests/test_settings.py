from __future__ import annotations

import pytest

from rnncast.errors import ConfigError
from rnncast.settings import (
    ModelConfig,
    ReadOptions,
    TrainConfig,
    WindowConfig,
    from_dict,
    to_dict,
)


@pytest.mark.parametrize(
    ("factory", "message"),
    [
        (lambda: ModelConfig(cell="tcn"), "--cell must be one of rnn, lstm, gru, esn, got 'tcn'"),
        (lambda: ModelConfig(hidden_size=0), "--hidden-size must be at least 1, got 0"),
        (lambda: ModelConfig(num_layers=0), "--num-layers must be at least 1, got 0"),
        (lambda: ModelConfig(dropout=1.0), "--dropout must be in [0, 1), got 1.0"),
        (lambda: ModelConfig(segment=0), "--segment must be at least 1, got 0"),
        (
            lambda: ModelConfig(scaling="minmax"),
            "--scaling must be one of window, series, none, got 'minmax'",
        ),
        (
            lambda: ModelConfig(activation="gelu"),
            "--activation must be one of tanh, relu, got 'gelu'",
        ),
        (
            lambda: ModelConfig(cell="lstm", activation="relu"),
            "--activation relu is for --cell rnn only (lstm has its own nonlinearities): drop "
            "--activation or use --cell rnn",
        ),
        (
            lambda: ModelConfig(attention=True, decoder="direct"),
            "--attention is for --decoder seq2seq only, not direct: add --decoder seq2seq or "
            "drop --attention",
        ),
        (
            lambda: ModelConfig(bidirectional=True, decoder="recursive"),
            "--decoder recursive does not take --bidirectional: it continues the encoder's "
            "recurrence step by step, which a backward reading cannot; use --decoder direct or "
            "seq2seq",
        ),
        (
            lambda: ModelConfig(bidirectional=True, checkpoint_activations=True),
            "--checkpoint-activations does not take --bidirectional: a backward reading cannot "
            "be cut into chunks; drop one of them",
        ),
        (
            lambda: ModelConfig(cell="esn", decoder="seq2seq"),
            "--cell esn does not take --decoder seq2seq: its one reservoir is fixed and only its "
            "linear readout to the whole horizon is fitted; drop it or use --cell rnn, lstm or gru",
        ),
        (
            lambda: ModelConfig(cell="esn", num_layers=2),
            "--cell esn does not take --num-layers 2: its one reservoir is fixed and only its "
            "linear readout to the whole horizon is fitted; drop it or use --cell rnn, lstm or gru",
        ),
        (
            lambda: ModelConfig(cell="esn", spectral_radius=1.0),
            "--spectral-radius must be in (0, 1) for the echo state property, got 1.0",
        ),
        (lambda: ModelConfig(cell="esn", leak_rate=0), "--leak-rate must be in (0, 1], got 0"),
        (lambda: ModelConfig(cell="esn", ridge=0), "--ridge must be positive, got 0"),
        (
            lambda: ModelConfig(cell="esn", reservoir_size=0),
            "--reservoir-size must be at least 1, got 0",
        ),
        (
            lambda: ModelConfig(cell="gru", leak_rate=0.5),
            "--leak-rate is for --cell esn only: add --cell esn or drop it",
        ),
        (lambda: WindowConfig(0, 5, 5), "--lookback must be at least 1, got 0"),
        (lambda: WindowConfig(5, 0, 0), "--horizon must be at least 1, got 0"),
        (
            lambda: WindowConfig(5, 6, 3),
            "--val-size 3 is shorter than the horizon 6: use 0 (no validation) or at least 6",
        ),
        (lambda: TrainConfig(max_epochs=0), "--max-epochs must be at least 1, got 0"),
        (
            lambda: TrainConfig(lr=0),
            "--lr must be above 0 and at most 1 (the networks read windows scaled to about 1), "
            "got 0",
        ),
        (  # 1e38 overflowed float32 inside AdamW: a RuntimeError traceback
            lambda: TrainConfig(lr=1e38),
            "--lr must be above 0 and at most 1 (the networks read windows scaled to about 1), "
            "got 1e+38",
        ),
        (  # 1e30 made every window's scale infinite: forecasts of inf, exit 0
            lambda: ModelConfig(scale_floor=1e30),
            "--scale-floor must be from 0 to 10 (a fraction of a series' typical window spread), "
            "got 1e+30",
        ),
        (lambda: TrainConfig(batch_size=0), "--batch-size must be at least 1, got 0"),
        (lambda: TrainConfig(loss="mape"), "--loss must be one of mae, mse, huber, got 'mape'"),
        (lambda: ModelConfig(clip="0"), "--clip must be one of auto, none, zero, got '0'"),
        (lambda: TrainConfig(ema=1.0), "--ema must be at least 0 and below 1, got 1.0"),
        (
            lambda: ModelConfig(anchor="first"),
            "--anchor must be one of none, last, linear, got 'first'",
        ),
        (
            lambda: ModelConfig(anchor="last", decoder="seq2seq"),
            "--decoder seq2seq does not take --anchor last yet: use --decoder direct or "
            "parallel with --cell rnn, lstm or gru, or drop it",
        ),
        (
            lambda: TrainConfig(schedule="step"),
            "--schedule must be one of plateau, cosine, got 'step'",
        ),
        (
            lambda: TrainConfig(data_on="disk"),
            "--data-on must be one of auto, device, host, got 'disk'",
        ),
        (lambda: ReadOptions(id_col=" "), "--id-col is empty: give a column name"),
        (lambda: ReadOptions(sep=";;"), "--sep must be one character, e.g. ';' or tab, got ';;'"),
        (lambda: ReadOptions(decimal=";"), "--decimal must be '.' or ',', got ';'"),
        (
            lambda: ReadOptions(sep=",", decimal=","),
            "--sep and --decimal are both ',': the separator and the decimal mark must differ",
        ),
        (
            lambda: ReadOptions(target=("a", "")),
            "--target has an empty column name: give names separated by commas, e.g. --target a,b",
        ),
        *(
            (
                lambda given=given: ModelConfig(**given, future_covariate_count=2),
                f"{which} does not take --future-covariates yet: use --decoder direct or "
                "parallel with --cell rnn, lstm or gru, or drop it",
            )
            for given, which in (
                ({"cell": "esn"}, "--cell esn"),
                ({"decoder": "seq2seq"}, "--decoder seq2seq"),
                ({"decoder": "recursive"}, "--decoder recursive"),
            )
        ),
    ],
)
def test_bad_values_name_the_option(factory, message):
    with pytest.raises(ConfigError) as e:
        factory()
    assert str(e.value) == message


def test_dict_round_trip_and_unknown_keys():
    config = TrainConfig(max_epochs=7, lr=0.01)
    data = to_dict(config)
    assert from_dict(TrainConfig, data) == config
    assert from_dict(TrainConfig, {**data, "added_in_a_later_version": 1}) == config
    options = ReadOptions(target=("a", "b"))
    assert to_dict(options)["target"] == ["a", "b"]
    assert from_dict(ReadOptions, to_dict(options)) == options


def test_read_options_of_older_model_files_default_sep_and_decimal():
    older = {k: v for k, v in to_dict(ReadOptions(fill="zero")).items()
             if k not in ("sep", "decimal")}  # fmt: skip
    assert from_dict(ReadOptions, older) == ReadOptions(fill="zero")
    assert ReadOptions(sep="\\t").sep == ReadOptions(sep="tab").sep == "\t"


def test_window_width():
    assert WindowConfig(lookback=12, horizon=4, val_size=4).width == 16


def test_quantiles_parse_sort_and_check():
    from rnncast.settings import check_together, parse_quantiles

    assert parse_quantiles("0.9, 0.1,0.9") == (0.1, 0.9)
    assert parse_quantiles([0.5, 0.25]) == (0.25, 0.5)
    assert parse_quantiles(None) == ()
    with pytest.raises(ConfigError) as bad:
        parse_quantiles("0.1,x")
    assert str(bad.value) == (
        "--quantiles must be numbers between 0 and 1 separated by commas, e.g. 0.1,0.5,0.9; "
        "got '0.1,x'"
    )
    with pytest.raises(ConfigError) as bad:
        ModelConfig(quantiles=(0.0, 0.5))
    assert str(bad.value) == "--quantiles must all be strictly between 0 and 1, got 0, 0.5"
    with pytest.raises(ConfigError) as bad:
        ModelConfig(quantiles=(0.9, 0.1))
    assert str(bad.value) == "--quantiles must be distinct and in increasing order, got 0.9, 0.1"
    assert ModelConfig(quantiles=(0.1, 0.9)).levels == (0.1, 0.5, 0.9)
    assert ModelConfig(quantiles=(0.5,)).levels == (0.5,)
    assert ModelConfig().levels == ()
    with pytest.raises(ConfigError) as bad:
        check_together(ModelConfig(quantiles=(0.1, 0.9)), TrainConfig(loss="mse"))
    assert str(bad.value) == (
        "--loss mse does not apply with --quantiles: a quantile model trains on the pinball "
        "loss (whose median term is the MAE); leave out --loss"
    )
    check_together(ModelConfig(), TrainConfig(loss="mse"))  # a point model takes any loss
    assert from_dict(ModelConfig, to_dict(ModelConfig(quantiles=(0.1, 0.9)))).quantiles == (
        0.1,
        0.9,
    )


@pytest.mark.parametrize(
    "options",
    [
        {"cell": "rnn", "activation": "relu", "bidirectional": True},
        {"decoder": "seq2seq", "attention": True, "bidirectional": True},
        {"decoder": "recursive", "checkpoint_activations": True},
        {"decoder": "parallel", "checkpoint_activations": True},
        {"cell": "esn", "reservoir_size": 50, "spectral_radius": 0.5, "leak_rate": 0.3},
        {"decoder": "parallel", "future_covariate_count": 2, "calendar": (24.0,)},
        {"cell": "lstm", "future_covariate_count": 1, "covariate_count": 1},
    ],
)
def test_architectures_that_go_together(options):
    config = ModelConfig(**options)
    assert from_dict(ModelConfig, to_dict(config)) == config


WINDOW_OPTIONS = {"horizon", "lookback", "lookbacks", "val_size", "segment", "holdout",
                  "calendar"}  # what rnncast.plan reads from the request itself  # fmt: skip


def test_every_option_of_the_request_reaches_a_config_or_the_plan():
    """A field added to TrainRequest but to no config (nor read by the plan) would be
    silently dropped by `configs`."""
    import dataclasses

    from rnncast.settings import RESOLVED, ReadOptions, TrainConfig, TrainRequest

    consumed = set(WINDOW_OPTIONS) | {"init_from"}  # read by rnncast.jobs.updating
    for cls in (ReadOptions, ModelConfig, TrainConfig):
        consumed |= {f.name for f in dataclasses.fields(cls)} - RESOLVED
    assert set(TrainRequest.names()) == consumed


def test_the_request_parses_what_people_type_and_splits_into_the_configs():
    from rnncast.settings import ReadOptions, TrainRequest

    request = TrainRequest.of(target="a, b", covariates=["x"], lookbacks="24,48",
                              quantiles=(0.9, 0.1), cell="lstm", max_epochs=3,
                              future_covariates="price, promo")  # fmt: skip
    assert (request.target, request.covariates, request.lookbacks, request.quantiles) == (
        ("a", "b"), ("x",), (24, 48), (0.1, 0.9),
    )  # fmt: skip
    assert request.future_covariates == ("price", "promo")
    read, model, train = request.configs()
    assert read == ReadOptions(target=("a", "b"), covariates=("x",),
                               future_covariates=("price", "promo"))  # fmt: skip
    assert (model.cell, model.quantiles, train.max_epochs) == ("lstm", (0.1, 0.9), 3)
    with pytest.raises(ConfigError) as e:
        TrainRequest.of(target="a,,b").configs()
    assert str(e.value) == (
        "--target has an empty column name: give names separated by commas, e.g. --target a,b"
    )
    with pytest.raises(ConfigError) as e:
        TrainRequest.of(quantiles=(0.1,), loss="mse").configs()
    assert str(e.value).startswith("--loss mse does not apply with --quantiles")


def test_misspelt_options_name_the_closest():
    from rnncast.settings import TrainRequest

    with pytest.raises(TypeError) as e:
        TrainRequest.of(hiden_size=4)
    assert str(e.value) == (
        "train() got an unexpected option 'hiden_size'; did you mean 'hidden_size'?"
    )
    TrainRequest.check_names(["threads"], also=("threads",))  # the caller's own
    with pytest.raises(TypeError):
        TrainRequest.check_names(["ids"])  # chosen from the data, not an option


def test_spelling_names_options_for_each_caller():
    from rnncast.settings import CLI, PYTHON

    assert (CLI("skip_short"), PYTHON("skip_short")) == ("--skip-short", "skip_short=True")
    assert (CLI("horizon", 7), PYTHON("horizon", 7)) == ("--horizon 7", "horizon=7")
    assert PYTHON("transform", "none") == "transform='none'"
    assert (CLI.name("val_size"), PYTHON.name("val_size")) == ("--val-size", "val_size")
    assert (CLI.data, PYTHON.data) == ("DATA", "data")


@pytest.mark.parametrize("seed", [-1, 2**63])
def test_a_seed_numpy_and_torch_cannot_take_is_refused(seed):
    with pytest.raises(ConfigError) as e:
        TrainConfig(seed=seed)
    assert str(e.value) == f"--seed must be 0 or more and below 2**63, got {seed}"
    TrainConfig(seed=2**63 - 1)


def test_esn_refuses_the_gradient_training_options_it_would_ignore():
    from rnncast.settings import check_together

    esn = ModelConfig(cell="esn")
    check_together(esn, TrainConfig(seed=3, ensemble=2, epoch_size=64, loss="mse"))  # it reads
    with pytest.raises(ConfigError) as bad:
        check_together(esn, TrainConfig(lr=0.01, max_epochs=5, ema=0.9, precision="bf16"))
    assert str(bad.value) == (
        "--cell esn does not take --max-epochs, --lr, --precision, --ema: the echo state "
        "network's readout is fitted in closed form, with no epochs, batches or optimiser; "
        "drop them or use --cell rnn, lstm or gru"
    )
    check_together(ModelConfig(cell="gru"), TrainConfig(lr=0.01, max_epochs=5))


# ---- an update's request (--init-from) ----------------------------------------------------


def _trained(**model):
    """The options of a model trained with the defaults on hourly data (logs chosen, three
    lookbacks), with `model`'s settings."""
    from rnncast.settings import trained_options

    window = WindowConfig(144, 48, 48, (144, 240, 288))
    config = ModelConfig(segment=24, transform="log", **model)
    return trained_options(ReadOptions(id_col="store"), window, config, TrainConfig(lr=0.003))


def test_an_update_keeps_the_models_settings_and_shortens_its_training():
    from rnncast.settings import TrainRequest

    request = TrainRequest.of(init_from="m.rnncast", device="cpu", max_epochs=5)
    given = ["init_from", "device", "max_epochs"]
    update = request.updating(given, _trained(hidden_size=64), "the model")
    assert (update.hidden_size, update.segment, update.lookbacks) == (64, 24, (144, 240, 288))
    assert (update.horizon, update.val_size, update.transform) == (48, 48, "log")
    assert update.id_col == "store"  # read as the model read its data
    assert (update.lr, update.patience, update.max_epochs, update.device) == (0.0001, 3, 5, "cpu")
    assert update.init_from == "m.rnncast"
    request = TrainRequest.of(lr=0.01, patience=5, transform="auto", hidden_size=64)
    update = request.updating(["lr", "patience", "transform", "hidden_size"],
                              _trained(hidden_size=64), "m")  # fmt: skip
    assert (update.lr, update.patience, update.max_epochs, update.transform) == (0.01, 5, 20, "log")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(cell="lstm"), "init_from='m.rnncast' was trained with cell='gru'; cell='lstm' "
         "conflicts: drop cell or train from scratch"),
        (dict(transform="none"), "init_from='m.rnncast' was trained with transform='log'; "
         "transform='none' conflicts: drop transform or train from scratch"),
        (dict(lookbacks=(144, 240)), "init_from='m.rnncast' was trained with lookbacks=(144, "
         "240, 288); lookbacks=(144, 240) conflicts: drop lookbacks or train from scratch"),
        (dict(quantiles=(0.1, 0.9)), "init_from='m.rnncast' was trained with quantiles=(); "
         "quantiles=(0.1, 0.9) conflicts: drop quantiles or train from scratch"),
        (dict(covariates=("price",)), "init_from='m.rnncast' was trained with covariates=(); "
         "covariates=('price',) conflicts: drop covariates or train from scratch"),
    ],
)  # fmt: skip
def test_an_update_refuses_options_that_would_change_the_networks(options, message):
    from rnncast.settings import PYTHON, TrainRequest

    with pytest.raises(ConfigError) as e:
        TrainRequest.of(**options).updating(options, _trained(), "init_from='m.rnncast'", PYTHON)
    assert str(e.value) == message
    # the same lookbacks, said another way, are no conflict
    same = TrainRequest.of(lookbacks="144,240,288", transform="auto")
    assert same.updating(["lookbacks", "transform"], _trained(), "m").lookbacks == (144, 240, 288)
