import csv
import json
import re
import warnings

import numpy as np
import pytest
from assertions import assert_user_error

from charmony.corpora.household_load import household_load
from charmony.corpora.series import SeriesCorpus
from charmony.pipeline.series.settings import SeriesOptions
from charmony.pipeline.series.csv_columns import read_columns
from charmony.pipeline.series.values import Bins, Scaling, dequantise, mae, mse, persistence, seasonal_persistence
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.system.errors import ConfigError, CorpusError
from charmony.pipeline.run.config import ForecastConfig
from charmony.pipeline.series.forecast import forecast, write_forecast
from charmony.pipeline.run.config import ForecastScoreConfig
from charmony.pipeline.series.score import held_out_windows, score_forecasts
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.train import train

FORECAST_TRAIN = TrainConfig().with_settings(layers=1, hidden=48, embedding=16, seq_len=48, batch_size=8, lr=1e-2, max_steps=200,
                                            eval_every=100, save_every=200, log_every=50, warmup_steps=10, device="cpu")


def test_the_generated_load_is_deterministic_with_a_daily_and_weekly_pattern():
    load = household_load(56, seed=3)
    assert np.array_equal(load, household_load(56, seed=3))
    assert not np.array_equal(load, household_load(56, seed=4))
    assert np.array_equal(household_load(57, seed=3)[:len(load)], load), "a longer series starts the same"
    days = load.reshape(56, 24)
    weekdays, weekends = days[[d for d in range(56) if d % 7 < 5]], days[[d for d in range(56) if d % 7 >= 5]]
    by_hour = weekdays.mean(axis=0)
    night, morning, evening = by_hour[2:5].mean(), by_hour[6:9].mean(), by_hour[18:22].mean()
    assert morning > 2 * night and evening > 2 * night and evening > by_hour[13]
    assert weekends.mean(axis=0)[7] < by_hour[7], "weekends rise later"
    assert weekends.mean(axis=0)[13] > by_hour[13], "and use more at midday"
    assert 0.3 < np.corrcoef(load[:-1] - np.tile(by_hour, 56)[:-1], load[1:] - np.tile(by_hour, 56)[1:])[0, 1]


@pytest.mark.parametrize("method", ["mean", "minmax"])
def test_quantised_values_come_back_within_half_a_bin(method):
    values = household_load(10)
    scaling = Scaling.fit(values, method)
    bins = Bins.for_options(SeriesOptions(scale=method, bins=128))
    back = dequantise(bins.quantise(scaling.apply(values)), scaling, bins)
    half_bin = (bins.high - bins.low) / bins.count / 2 * scaling.scale
    assert np.max(np.abs(back - values)) <= half_bin + 1e-12
    assert scaling.scale == pytest.approx(np.mean(np.abs(values)) if method == "mean" else np.ptp(values))


def test_values_beyond_the_range_go_to_the_outer_bins():
    bins = Bins(4, -1.0, 1.0)
    assert bins.quantise(np.array([-9.0, -0.9, 0.1, 0.99, 7.0])).tolist() == [0, 0, 2, 3, 3]
    assert bins.centres(np.array([0, 3])).tolist() == [-0.75, 0.75]


def test_baselines_and_errors():
    context = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert persistence(context, 3).tolist() == [5.0, 5.0, 5.0]
    assert seasonal_persistence(context, 5, 2).tolist() == [4.0, 5.0, 4.0, 5.0, 4.0]
    assert mse([1, 2, 3], [1, 4, 0]) == pytest.approx((0 + 4 + 9) / 3)
    assert mae([1, 2, 3], [1, 4, 0]) == pytest.approx(5 / 3)
    with pytest.raises(ValueError, match="at least 24 values"):
        seasonal_persistence(context, 3, 24)


def uci_file(path, rows):
    """The UCI ElectricityLoadDiagrams layout: `;`, decimal commas, a timestamp column, one column per client."""
    lines = ['"";"MT_001";"MT_002"'] + [f'"2011-01-01 {i // 4:02d}:{i % 4 * 15:02d}:00";{a};{b}' for i, (a, b) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_uci_layout_reads_with_decimal_commas(tmp_path):
    path = uci_file(tmp_path / "LD2011_2014.txt", [("0", "2,5"), ("1,25", "3"), ("2", "")])
    with pytest.warns(CorpusWarning, match=r"skipped 1 empty or NaN cells of column 'MT_002'"):
        first, second = read_columns(path, ("MT_001", "MT_002"))
    assert first.values.tolist() == [0.0, 1.25, 2.0]
    assert second.values.tolist() == [2.5, 3.0] and second.skipped == 1
    assert read_columns(path, None)[0].name == "MT_001", "the first numeric column by default"


def test_nan_and_empty_cells_are_skipped_and_counted(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("time,load\nmon,0.5\ntue,\nwed,NaN\nthu,0.7\nfri,nan\n")
    with pytest.warns(CorpusWarning, match="skipped 3 empty or NaN cells of column 'load'"):
        (column,) = read_columns(path, None)
    assert column.values.tolist() == [0.5, 0.7]


@pytest.mark.parametrize(("cell", "shown"), [
    ("inf", "'inf'"), ("-Infinity", "'-Infinity'"), ("1e308", "'1e308'"), ("-2e100", "'-2e100'"),
    ("9" * 100_000, "(100,000 characters)"),
])
def test_an_infinite_or_enormous_cell_is_refused_with_its_row(tmp_path, cell, shown):
    path = tmp_path / "load.csv"
    rows = [f"{hour},{hour % 24 / 10}" for hour in range(2000)]
    rows[1499] = f"1499,{cell}"
    path.write_text("hour,load\n" + "\n".join(rows) + "\n")
    with pytest.raises(CorpusError) as caught:
        read_columns(path, ("load",))
    message = str(caught.value)
    assert message.startswith(f"{path}: column 'load', data row 1500: ") and shown in message, message
    assert "not a finite number of at most 1e+100" in message and "\n" not in message and len(message) < 300


def test_values_just_inside_the_limit_are_read(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("load\n1e100\n-1e100\n0.5\n")
    assert read_columns(path, None)[0].values.tolist() == [1e100, -1e100, 0.5]


def test_prepare_refuses_an_infinite_cell_and_leaves_no_run(tmp_path, invoke):
    path = tmp_path / "load.csv"
    path.write_text("hour,load\n" + "\n".join(f"{hour},{'inf' if hour == 7 else hour % 5}" for hour in range(200)) + "\n")
    runs = tmp_path / "runs"
    result = invoke("prepare", "series", "--source", path, "--option", "column=load", "--run", "inf", "--runs-dir", runs)
    assert_user_error(result, "column 'load', data row 8: 'inf' is not a finite number")
    assert "Warning" not in result.output and not (runs / "inf").exists()


def test_an_all_missing_column_is_one_line(tmp_path, invoke):
    path = tmp_path / "load.csv"
    path.write_text("hour,load\n1,\n2,NaN\n3,n/a\n")
    result = invoke("prepare", "series", "--source", path, "--option", "column=load", "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "column 'load' holds no numbers")
    assert result.output.count("\n") == 1, result.output


def test_a_series_from_any_source_must_be_finite(tmp_path):
    from charmony.pipeline.series.values import Series

    class Broken(SeriesCorpus):
        def series(self, sources, options):
            return [Series("sensor", np.array([1.0, 2.0, np.inf, 4.0]))]

    with pytest.raises(CorpusError, match=r"series 'sensor': value 3 is inf; every value must be a finite number"):
        list(Broken().documents([], {}))


@pytest.mark.parametrize(("option", "message"), [
    ("bins=100001", "give a whole number from 2 to 100,000"), (f"days={2**63}", "from 1 to 36,525"),
    (f"seed={2**63}", "to 9,223,372,036,854,775,807"), ("limit=1e300", "a positive number up to 1e+06"),
    ("window=100000000", "from 0 to 10,000,000"),
])
def test_series_options_have_upper_bounds(option, message):
    key, _, value = option.partition("=")
    with pytest.raises(CorpusError, match=re.escape(f"--option {option}: ") + ".*" + re.escape(message)):
        SeriesOptions.parse({key: value})


def test_bad_columns_are_one_line_errors_naming_the_columns(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("time,load\n2020-01-01,1.5\n2020-01-02,2.5\n")
    with pytest.raises(CorpusError, match=r"has no column 'kw'; its columns: time, load$"):
        read_columns(path, ("kw",))
    with pytest.raises(CorpusError, match=r"column 'time' is not numeric .*its numeric columns: load"):
        read_columns(path, ("time",))
    words = tmp_path / "words.csv"
    words.write_text("name,town\nann,york\n")
    with pytest.raises(CorpusError, match=r"has no numeric column; its columns: name, town"):
        read_columns(words, None)


def test_documents_are_series_or_windows_of_value_tokens(tmp_path):
    corpus = SeriesCorpus()
    (whole,) = corpus.documents([], {"days": "3", "bins": "16"})
    tokens = corpus.tokenize(whole.text)
    assert "".join(tokens) == whole.text and len(tokens) == 72
    assert all(re.fullmatch(r"\d+ ", token) and int(token) < 16 for token in tokens)
    windows = list(corpus.documents([], {"days": "3", "window": "24"}))
    assert len(windows) == 3 and all(len(corpus.tokenize(w.text)) == 24 for w in windows)
    with pytest.raises(CorpusError, match="fewer than --option window=100"):
        list(corpus.documents([], {"days": "3", "window": "100"}))
    with pytest.raises(CorpusError, match="--option scale=log: choose one of mean, minmax"):
        list(corpus.documents([], {"scale": "log"}))


@pytest.fixture(scope="module")
def load_run(tmp_path_factory):
    """A small model of 100 generated days, trained to forecast the next."""
    run = Run(tmp_path_factory.mktemp("series") / "runs" / "load")
    prepare(run, PrepareConfig("series", options={"days": "100", "bins": "64"}))
    train(run, FORECAST_TRAIN)
    return run


def test_a_trained_forecast_beats_persistence_on_the_next_day(load_run, tmp_path):
    full = household_load(101)
    context = tmp_path / "context.csv"
    context.write_text("load\n" + "\n".join(map(str, full[:-24])) + "\n")
    result = forecast(load_run, ForecastConfig(horizon=24, num_samples=40, context=context, seed=1, device="cpu"))
    truth = full[-24:]
    assert result.paths.shape == (40, 24)
    median = result.quantile(50)
    assert mae(median, truth) < 0.75 * mae(persistence(full[:-24], 24), truth)
    assert np.corrcoef(median, truth)[0, 1] > 0.7, "the median follows the day: low at night, peaks morning and evening"
    again = forecast(load_run, ForecastConfig(horizon=24, num_samples=40, context=context, seed=1, device="cpu"))
    assert np.array_equal(result.paths, again.paths), "the same seed gives the same forecast"


def test_forecast_writes_csv_svg_and_json(load_run, tmp_path):
    result = forecast(load_run, ForecastConfig(horizon=6, num_samples=20, seed=2, device="cpu"))
    assert result.metadata["context"].startswith("the end of run 'load'") and len(result.history) == 2400
    written = write_forecast(result, tmp_path / "out")
    rows = list(csv.DictReader((tmp_path / "out" / "forecast.csv").open()))
    assert [row["step"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    for row in rows:
        assert float(row["p10"]) <= float(row["median"]) <= float(row["p90"])
    svg = (tmp_path / "out" / "forecast.svg").read_text()
    assert svg.startswith("<svg") and all(f'class="{part}"' in svg for part in ("band", "history", "median"))
    assert json.loads(written[2].read_text())["seed"] == 2


def test_forecast_command_and_its_bad_input(load_run, invoke, tmp_path):
    runs = load_run.dir.parent
    out = tmp_path / "fc"
    result = invoke("forecast", "load", "--horizon", "3", "--num-samples", "5", "--seed", "1", "--device", "cpu", "--out", out, "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    assert "forecast of 3 steps" in result.output and (out / "forecast.svg").exists()
    zero = invoke("forecast", "load", "--horizon", "0", "--out", out, "--runs-dir", runs)
    assert_user_error(zero, "Invalid value for '--horizon'", "0 is not in the range 1<=x<=10000000")
    with pytest.raises(ConfigError, match="--horizon must be from 1 to 10,000,000, not 0"):
        ForecastConfig(horizon=0)
    huge = invoke("forecast", "load", "--horizon", str(2**63), "--out", out, "--runs-dir", runs)
    assert_user_error(huge, "Invalid value for '--horizon'", f"{2**63} is not in the range")
    with pytest.raises(ConfigError, match=r"--num-samples 10,000 x --horizon 1,000,000 is over 100,000,000 tokens"):
        ForecastConfig(horizon=1_000_000, num_samples=10_000)
    words = tmp_path / "words.csv"
    words.write_text("name\nann\n")
    bad = invoke("forecast", "load", "--horizon", "3", "--context", words, "--out", out, "--runs-dir", runs)
    assert bad.exit_code == 1 and bad.output.count("\n") == 1 and "has no numeric column; its columns: name" in bad.output


def test_forecast_needs_a_series_run(trained_run):
    with pytest.raises(ConfigError, match="forecast needs a run of the series corpus; run 'rhymes' is of corpus 'text'"):
        forecast(trained_run, ForecastConfig(horizon=3, device="cpu"))


def test_held_out_windows_start_every_horizon_steps_inside_each_document():
    eod = 99
    ids = np.array([*range(10), eod, *range(20, 27), eod, *range(30, 34)])  # documents of 10, 7 and 4 values
    windows = held_out_windows(ids, eod, context=3, horizon=2, limit=100)
    assert [w.tolist() for w in windows] == [
        [0, 1, 2, 3, 4], [2, 3, 4, 5, 6], [4, 5, 6, 7, 8],  # the first document: origins 3, 5, 7 (9 + 2 runs past it)
        [20, 21, 22, 23, 24], [22, 23, 24, 25, 26],  # none crosses an <eod>; the 4 values of the last are too few
    ]
    spread = held_out_windows(ids, eod, context=3, horizon=2, limit=3)
    assert [w[0] for w in spread] == [0, 4, 22], "a limit keeps the first, the last and windows evenly between"


def _scaled_windows(run, context, horizon):
    """The held-out windows in scaled units, read straight from val.bin and the vocabulary."""
    vocab = run.vocabulary()
    bins = Bins.for_options(SeriesOptions.parse(run.manifest().options))
    tokens = [vocab.tokens[i] for i in run.tokens("val")]
    assert tokens[-1] == "<eod>" and "<eod>" not in tokens[:-1], "one series: its end is held out"
    values = np.array([int(token) for token in tokens[:-1]])
    origins = range(context, len(values) - horizon + 1, horizon)
    return [bins.centres(values[o - context:o + horizon]) for o in origins]


def test_evaluate_scores_median_forecasts_of_held_out_windows_against_both_baselines(load_run):
    score = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    windows = _scaled_windows(load_run, 168, 24)
    assert (score.windows, score.context, score.horizon, score.period) == (len(windows), 168, 24, 24) and len(windows) == 2
    truth = np.stack([w[168:] for w in windows])
    assert score.persistence.mse == pytest.approx(mse(np.stack([np.full(24, w[167]) for w in windows]), truth))
    assert score.seasonal.mae == pytest.approx(mae(np.stack([w[144:168] for w in windows]), truth))
    assert score.model.mse < 0.6 * score.persistence.mse, "a trained model knows the day's shape; persistence does not"
    assert score.model.mse < 1.5 * score.seasonal.mse
    again = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    assert again == score, "the same seed gives the same figures"
    assert score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu", seed=5)).model != score.model


def test_an_untrained_model_scores_far_worse(load_run, tmp_path):
    run = Run(tmp_path / "runs" / "untrained")
    prepare(run, PrepareConfig("series", options={"days": "100", "bins": "64"}))
    train(run, FORECAST_TRAIN.with_settings(max_steps=1, lr=1e-9, warmup_steps=0))
    untrained = score_forecasts(run, ForecastScoreConfig(num_samples=20, device="cpu"))
    trained = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    assert untrained.persistence == trained.persistence, "the same held-out windows"
    assert untrained.model.mse > 3 * trained.model.mse and untrained.model.mse > untrained.persistence.mse


def test_evaluate_command_on_a_series_run_and_its_bad_input(load_run, trained_run, invoke):
    runs = load_run.dir.parent
    result = invoke("evaluate", "--run", "load", "--horizon", "12", "--num-samples", "5", "--device", "cpu", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    line = result.output.strip()
    assert line.startswith("evaluate: 5 held-out windows, 12 steps after 168 of context, median of 5 forecasts")
    assert re.search(r"persistence MSE [\d.e-]+, MAE [\d.e-]+ \(model [\d.]+x\); seasonal persistence \(24 steps\)", line)
    long = invoke("evaluate", "--run", "load", "--context-steps", "1000", "--runs-dir", runs)
    assert_user_error(long, "run 'load' holds out too few values for one window of 1000 + 24 (239 values)", "--val-fraction")
    short = invoke("evaluate", "--run", "load", "--context-steps", "12", "--runs-dir", runs)
    assert_user_error(short, "--context-steps must be at least the period (24)")
    text = invoke("evaluate", "--run", "rhymes", "--horizon", "3", "--runs-dir", trained_run.dir.parent)
    assert_user_error(text, "--horizon: only for scoring a series run's forecasts")


def test_prepare_warns_once_per_pass_about_clipped_values(tmp_path):
    path = tmp_path / "spiky.csv"
    path.write_text("v\n" + "\n".join(["1"] * 50 + ["100"]) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        prepare(Run(tmp_path / "runs" / "spiky"), PrepareConfig("series", [path], val_fraction=0.2))
    assert any("beyond 4 times the mean absolute value" in str(w.message) for w in caught)
