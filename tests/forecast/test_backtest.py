from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from rnncast.data.build import from_frame
from rnncast.engine import models
from rnncast.errors import DataError
from rnncast.forecast import backtest, metrics
from rnncast.settings import ModelConfig, ReadOptions
from tests.conftest import make_long

L, H = 24, 6


@pytest.fixture
def network():
    torch.manual_seed(0)
    return models.RecurrentForecaster(
        ModelConfig(hidden_size=8, num_layers=1, segment=4), L, H
    ).eval()


@pytest.fixture
def series():
    return from_frame(make_long(n_series=3, length=60, lengths=[60, 40, 33]))


def test_windows_and_scores_match_a_loop(network, series):
    report = backtest.run(network, series, 3).report
    # series of 60, 40 and 33 values fit 3, 2 and 1 windows of 6 after a lookback of 24
    assert [s["windows"] for s in report["per_series"]] == [3, 2, 1]
    assert report["windows_scored"] == 6
    for i, row in enumerate(report["per_series"]):
        values = series.series(i).astype(np.float64)
        n = len(values)
        maes, naive_maes = [], []
        for k in range(1, row["windows"] + 1):
            origin = n - k * H
            x = torch.from_numpy(values[origin - L : origin].astype(np.float32))[None]
            from rnncast.engine import scaling

            floor = 0.1 * scaling.typical_spread(values, np.array([0, n]), L)
            stats = scaling.fit(x, "window", torch.tensor(floor, dtype=torch.float32))
            with torch.no_grad():
                yhat = scaling.inverse(network(scaling.transform(x, stats).unsqueeze(-1)), stats)
            y = values[origin : origin + H]
            maes.append(np.mean(np.abs(y - yhat[0].numpy())))
            naive_maes.append(np.mean(np.abs(y - values[origin - 1])))
        assert row["model"]["mae"] == pytest.approx(np.mean(maes), rel=1e-5)
        assert row["naive"]["mae"] == pytest.approx(np.mean(naive_maes))
    overall = report["overall"]["model"]["mae"]
    assert overall == pytest.approx(np.mean([r["model"]["mae"] for r in report["per_series"]]))
    ratio = report["skill"]["vs_naive"]["mase"]
    assert ratio == pytest.approx(
        report["overall"]["model"]["mase"] / report["overall"]["naive"]["mase"]
    )


def test_a_clipping_model_is_scored_on_its_clipped_forecasts():
    """Mostly zeros, now and then a few (no value below 0): the unclipped network forecasts
    below 0 in some windows; the same network clipping at 0 is scored on those forecasts
    raised to 0, which are nearer every actual value."""
    rng = np.random.default_rng(1)
    frame = make_long(n_series=2, length=60)
    few = rng.normal(4, 2, len(frame)).clip(0)
    frame["y"] = np.where(rng.random(len(frame)) < 0.9, 0.0, few)
    series = from_frame(frame)
    runs = {}
    for clip in ("none", "zero"):
        torch.manual_seed(0)
        config = ModelConfig(hidden_size=8, num_layers=1, segment=4, quantiles=(0.1,), clip=clip)
        runs[clip] = backtest.run(models.RecurrentForecaster(config, L, H).eval(), series, 3)
    free, clipped = runs["none"], runs["zero"]
    assert (free.forecasts["model"] < 0).any() and (free.outputs.at(0.1) < 0).any()
    np.testing.assert_array_equal(
        clipped.forecasts["model"], np.maximum(free.forecasts["model"], 0)
    )
    np.testing.assert_array_equal(clipped.outputs.quantiles, np.maximum(free.outputs.quantiles, 0))
    mae = metrics.mae(clipped.targets, clipped.forecasts["model"])
    per_series = [mae[clipped.which == i].mean() for i in range(2)]
    assert clipped.report["overall"]["model"]["mae"] == pytest.approx(np.mean(per_series))
    assert clipped.report["overall"]["model"]["mae"] < free.report["overall"]["model"]["mae"]
    assert clipped.report["overall"]["naive"] == free.report["overall"]["naive"]


def test_seasonal_naive_on_a_pure_season_is_perfect(network):
    t = np.arange(96)
    frame = make_long(n_series=1, length=96)
    frame["y"] = 10 + np.sin(2 * np.pi * t / 24)
    report = backtest.run(network, from_frame(frame), 2).report
    assert report["season_length"] == 24
    assert report["overall"]["seasonal_naive"]["mae"] == pytest.approx(0, abs=1e-9)
    # the in-sample seasonal differences are all zero: MASE has no scale and is left out
    assert report["overall"]["seasonal_naive"]["mase"] is None


def test_windows_inside_training_are_flagged(network, series):
    ends = {str(i): t.isoformat() for i, t in zip(series.ids, series.ends, strict=True)}
    report = backtest.run(network, series, 2, cutoffs=ends).report
    assert report["windows_in_training"] == report["windows_scored"]
    # a cut-off 7 steps before the end: only window 1 of each series (last 6 steps) is new
    earlier = {
        str(i): (t - 7 * series.axis.offset).isoformat()
        for i, t in zip(series.ids, series.ends, strict=True)
    }
    report = backtest.run(network, series, 2, cutoffs=earlier).report
    assert [s["in_training"] for s in report["per_series"]] == [1, 1, 0]
    unknown = backtest.run(network, series, 2, cutoffs={"other": "2024-01-01"}).report
    assert unknown["windows_in_training"] == 0


def test_integer_cutoffs(network):
    import pandas as pd

    series = from_frame(pd.DataFrame({"y": np.sin(np.arange(50.0))}))
    report = backtest.run(network, series, 3, cutoffs={"y": 43}).report
    # windows start at positions 44, 38, 32: the first starts after the cut-off
    assert report["per_series"][0]["in_training"] == 2


def test_series_too_short_are_skipped_or_fail(network, series):
    report = backtest.run(network, series, 1).report
    assert report["skipped_series"] == []
    short = from_frame(make_long(n_series=2, length=40, lengths=[40, 20]))
    report = backtest.run(network, short, 1).report
    assert report["skipped_series"] == ["s1"]
    tiny = from_frame(make_long(n_series=1, length=20))
    with pytest.raises(DataError) as e:
        backtest.run(network, tiny, 1)
    assert str(e.value) == (
        "no series in '<frame>' is long enough for one backtest window: that needs lookback 24 "
        "+ horizon 6 = 30 values, the longest has 20"
    )


def test_overall_scores_average_each_series_then_the_series(network, series):
    """As M4 does: a series' windows are averaged first, then the series, so a series with
    three windows counts as much as one with one (pooling the windows would differ here)."""
    result = backtest.run(network, series, 3)
    m = series.axis.season_length
    scale = metrics.seasonal_scales(series.values, series.offsets, result.origins, result.which, m)
    for method, forecasts in result.forecasts.items():
        scores = metrics.score(result.targets, forecasts, scale)
        for metric, per_window in scores.items():
            means = [per_window[result.which == i].mean() for i in np.unique(result.which)]
            want = result.report["overall"][method][metric]
            assert want == pytest.approx(np.mean(means)), (method, metric)
            assert want != pytest.approx(per_window.mean())  # not pooled
    skill = result.report["skill"]["vs_naive"]["mae"]
    overall = result.report["overall"]
    assert skill == pytest.approx(overall["model"]["mae"] / overall["naive"]["mae"])


def test_per_step_scores_match_a_loop_and_average_to_the_overall(network, series):
    """Step h's score averages each series' windows at step h, then the series; over the
    steps they average to the overall scores (MAE, sMAPE and MASE are means of per-value
    terms)."""
    result = backtest.run(network, series, 3)
    steps = backtest.per_step(result)
    assert set(steps) == {"mae", "smape", "mase"} and all(len(v) == H for v in steps.values())
    y, yhat, which = result.targets, result.forecasts["model"], result.which
    m = series.axis.season_length
    scale = metrics.seasonal_scales(series.values, series.offsets, result.origins, which, m)
    for h in range(H):
        means = {"mae": [], "smape": [], "mase": []}
        for i in np.unique(which):
            rows = np.flatnonzero(which == i)
            e = [abs(float(y[j, h]) - float(yhat[j, h])) for j in rows]
            s = [200 * e[k] / (abs(float(y[j, h])) + abs(float(yhat[j, h])))
                 for k, j in enumerate(rows)]  # fmt: skip
            means["mae"].append(np.mean(e))
            means["smape"].append(np.mean(s))
            means["mase"].append(np.mean([e[k] / scale[j] for k, j in enumerate(rows)]))
        for name, per_series in means.items():
            assert steps[name][h] == pytest.approx(np.mean(per_series), rel=1e-6), (name, h)
    for name in steps:
        overall = result.report["overall"]["model"][name]
        assert np.mean(steps[name]) == pytest.approx(overall, rel=1e-6), name


def test_zoned_cutoffs_compare_instants(network):
    frame = make_long(n_series=2, length=60, lengths=[60, 50], start="2024-03-30")
    frame["ds"] = pd.concat(  # hourly across the DST change, in local time
        [pd.Series(pd.date_range("2024-03-30", periods=n, freq="h", tz="Europe/Paris"))
         for n in (60, 50)], ignore_index=True,
    )  # fmt: skip
    series = from_frame(frame)
    cutoffs = {str(i): t.isoformat() for i, t in zip(series.ids, series.ends, strict=True)}
    report = backtest.run(network, series, 2, cutoffs=cutoffs).report
    assert report["windows_in_training"] == report["windows_scored"] == 4
    earlier = {k: (pd.Timestamp(v) - pd.Timedelta(hours=7)).isoformat() for k, v in cutoffs.items()}
    report = backtest.run(network, series, 2, cutoffs=earlier).report
    assert [s["in_training"] for s in report["per_series"]] == [1, 1]


def test_quantile_report_matches_a_loop(series):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.25, 0.75, 0.9))
    network = models.RecurrentForecaster(config, L, H).eval()
    result = backtest.run(network, series, 3)
    assert (
        "quantiles"
        not in backtest.run(
            models.RecurrentForecaster(ModelConfig(hidden_size=8, segment=4), L, H).eval(),
            series,
            1,
        ).report
    )
    report = result.report["quantiles"]
    assert list(report["levels"]) == ["q0.1", "q0.25", "q0.75", "q0.9"]
    assert list(report["intervals"]) == ["80%", "50%"]
    out, y = result.outputs, result.targets
    inside = (y >= out.at(0.1)) & (y <= out.at(0.9))
    assert report["intervals"]["80%"]["coverage"] == pytest.approx(inside.mean())
    loss = metrics.pinball(y, out.at(0.25), 0.25)
    per_series = [loss[result.which == i].mean() for i in np.unique(result.which)]
    assert report["levels"]["q0.25"]["pinball"] == pytest.approx(np.mean(per_series))
    assert report["levels"]["q0.75"]["below"] == pytest.approx((y <= out.at(0.75)).mean())
    np.testing.assert_array_equal(result.forecasts["model"], out.at(0.5))


def _earlier(series, steps):
    """Each series' cut-off `steps` steps before its end."""
    return {
        str(i): (t - steps * series.axis.offset).isoformat()
        for i, t in zip(series.ids, series.ends, strict=True)
    }


def test_in_and_out_of_sample_windows_are_scored_apart(network, series):
    """A cut-off 7 steps before the end: window 1 of each series (its last 6 steps) is
    out-of-sample, window 2 in-sample (series s2 has room for window 1 only)."""
    result = backtest.run(network, series, 2, cutoffs=_earlier(series, 7))
    assert list(result.samples) == ["out-of-sample", "in-sample"] * 2 + ["out-of-sample"]
    split = result.report["by_sample"]
    assert list(split) == ["out_of_sample", "in_sample"]
    assert (split["out_of_sample"]["windows"], split["out_of_sample"]["series"]) == (3, 3)
    assert (split["in_sample"]["windows"], split["in_sample"]["series"]) == (2, 2)
    m = series.axis.season_length
    scale = metrics.seasonal_scales(series.values, series.offsets, result.origins, result.which, m)
    for kind, key in (("out-of-sample", "out_of_sample"), ("in-sample", "in_sample")):
        for method, forecasts in result.forecasts.items():
            per_window = metrics.score(result.targets, forecasts, scale)["mase"]
            pick = result.samples == kind
            means = [per_window[pick & (result.which == i)].mean()
                     for i in np.unique(result.which[pick])]  # fmt: skip
            assert split[key]["overall"][method]["mase"] == pytest.approx(np.mean(means))
        overall = split[key]["overall"]
        assert split[key]["skill"]["vs_naive"]["mae"] == pytest.approx(
            overall["model"]["mae"] / overall["naive"]["mae"]
        )
    assert split["out_of_sample"]["overall"] != result.report["overall"]  # not pooled


def test_windows_of_one_kind_score_as_the_pooled_ones(network, series):
    ends = _earlier(series, 0)
    report = backtest.run(network, series, 2, cutoffs=ends).report
    split = report["by_sample"]
    assert split["in_sample"]["overall"] == report["overall"]  # the same numbers, to the bit
    assert split["in_sample"]["skill"] == report["skill"]
    empty = split["out_of_sample"]
    assert empty["windows"] == 0 and empty["series"] == 0
    assert empty["overall"]["model"]["mase"] is None and empty["skill"]["vs_naive"]["mae"] is None


def test_without_cutoffs_whether_windows_are_in_sample_is_unknown(network, series):
    result = backtest.run(network, series, 2)
    assert set(result.samples) == {"unknown"}
    split = result.report["by_sample"]
    assert list(split) == ["out_of_sample", "in_sample", "unknown"]
    assert (
        split["unknown"]["windows"] == 5
        and split["unknown"]["overall"] == (result.report["overall"])
    )
    assert split["in_sample"]["windows"] == split["out_of_sample"]["windows"] == 0
    assert result.report["windows_in_training"] == 0
    # a series the model never trained on: none of its values were seen
    other = backtest.run(network, series, 2, cutoffs={"other": "2024-01-01"})
    assert set(other.samples) == {"out-of-sample"}


def test_the_forecasts_frame_holds_the_numbers_the_scores_come_from(series):
    torch.manual_seed(0)
    config = ModelConfig(hidden_size=8, segment=4, quantiles=(0.1, 0.9))
    network = models.RecurrentForecaster(config, L, H).eval()
    result = backtest.run(network, series, 2, cutoffs=_earlier(series, 7))
    frame = backtest.forecasts_frame(result, series)
    assert list(frame.columns) == [
        "unique_id", "cutoff", "ds", "step", "actual", "y_hat", "q0.1", "q0.9", "naive",
        "seasonal_naive", "mase_scale", "sample",
    ]  # fmt: skip
    assert len(frame) == 5 * H
    # series by series, each one's windows oldest first, steps in order
    first = frame.iloc[:H]
    assert list(first["unique_id"]) == ["s0"] * H and list(first["step"]) == list(range(1, 7))
    assert first["sample"].iloc[0] == "in-sample"
    assert list(frame["unique_id"].drop_duplicates()) == ["s0", "s1", "s2"]
    s0 = series.series(0)
    assert first["cutoff"].iloc[0] == series.ends[0] - 12 * series.axis.offset
    assert list(first["ds"]) == [series.ends[0] - (12 - j) * series.axis.offset
                                 for j in range(1, 7)]  # fmt: skip
    np.testing.assert_array_equal(first["actual"].to_numpy(), s0[-12:-6])
    np.testing.assert_array_equal(first["naive"].to_numpy(), np.repeat(s0[-13], H))
    # the overall MASE and sMAPE again, from the file's columns alone
    frame["ae"] = (frame["actual"].astype(float) - frame["y_hat"]).abs()
    windows = frame.groupby(["unique_id", "cutoff"], sort=False)
    mase = (windows["ae"].mean() / windows["mase_scale"].first()).groupby(level=0).mean().mean()
    assert mase == pytest.approx(result.report["overall"]["model"]["mase"], rel=1e-12)
    a, f = frame["actual"].astype(float), frame["y_hat"].astype(float)
    frame["sape"] = 200 * (a - f).abs() / (a.abs() + f.abs())
    smape = frame.groupby(["unique_id", "cutoff"])["sape"].mean().groupby(level=0).mean().mean()
    assert smape == pytest.approx(result.report["overall"]["model"]["smape"], rel=1e-12)
    below = (frame["actual"] <= frame["q0.1"]).mean()
    assert below == result.report["quantiles"]["levels"]["q0.1"]["below"]


def test_the_forecasts_frame_keeps_zones_and_names_clashing_columns_its_own_way(network):
    frame = make_long(n_series=1, length=60)
    frame["ds"] = pd.date_range("2024-03-30", periods=60, freq="h", tz="Europe/Paris")
    zoned = from_frame(frame)
    out = backtest.forecasts_frame(backtest.run(network, zoned, 2), zoned)
    assert str(out["ds"].dt.tz) == str(out["cutoff"].dt.tz) == "Europe/Paris"
    assert out["ds"].iloc[-1] == zoned.ends[0]
    clash = from_frame(frame.rename(columns={"unique_id": "series", "ds": "step"}),
                       ReadOptions(id_col="series", time_col="step"))  # fmt: skip
    out = backtest.forecasts_frame(backtest.run(network, clash, 1), clash)
    assert list(out.columns[:4]) == ["unique_id", "cutoff", "ds", "step"]
    assert list(out["step"]) == list(range(1, H + 1))
