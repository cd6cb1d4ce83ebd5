import csv
from collections import Counter
import json
import re
from pathlib import Path

import numpy as np
import pytest
from assertions import assert_user_error

from charmony.corpora.household_load import household_load
from charmony.corpora.series import SeriesCorpus
from charmony.pipeline.series.settings import SeriesOptions
from charmony.pipeline.series.csv_columns import read_columns
from charmony.pipeline.series.values import Bins, Scaling, Series, dequantise, mae, mse, persistence, seasonal_persistence
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.system.errors import ConfigError, CorpusError, RunError
from charmony.pipeline.run.config import ForecastConfig
from charmony.pipeline.series.forecast import forecast, write_forecast
from charmony.pipeline.run.config import ForecastScoreConfig
from charmony.pipeline.series.score import rolling_origins, score_forecasts
from charmony.pipeline.series.history import Document
from charmony.pipeline.series.metrics import Figures, coverage_range, sample_crps, seasonal_scale
from charmony.pipeline.series.baselines import statsforecast_baselines
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare, prepared_line
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.train import train
from charmony.pipeline.series.windows import (
    MIN_TOKENS, VALIDATION_WINDOWS, Parts, augment, training_starts, validation_origins, windows,
)

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
    bins = Bins(128, -0.5, 4.0)
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
    with pytest.warns(CorpusWarning, match=r"column 'MT_002' misses 1 of its 3 values"):
        first, second = read_columns(path, ("MT_001", "MT_002"))
    assert first.values.tolist() == [0.0, 1.25, 2.0] and first.missing is None
    assert second.values.tolist() == [2.5, 3.0] and second.missing is None, "its missing last value left out"
    assert read_columns(path, None)[0].name == "MT_001", "the first numeric column by default"


def test_nan_and_empty_cells_are_filled_at_their_place_and_counted(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("time,load\n1,0.5\n2,\n3,NaN\n4,0.8\n5,nan\n")
    with pytest.warns(CorpusWarning, match="column 'load' misses 3 of its 5 values"):
        (column,) = read_columns(path, None)
    assert column.values.tolist() == pytest.approx([0.5, 0.6, 0.7, 0.8]), "the last, missing, left out"
    assert column.missing.tolist() == [False, True, True, False]


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


@pytest.mark.parametrize(("scale", "position"), [("mean", 1499), ("minmax", 1499), ("standard", 999)],
                         ids=["mean, validation part", "minmax, validation part", "standard, training part"])
def test_one_value_that_dwarfs_the_rest_is_refused_rather_than_collapsing_them_into_one_bin(tmp_path, invoke, scale,
                                                                                            position):
    path = tmp_path / "load.csv"
    rows = [f"{hour},{10 + hour % 24 / 4}" for hour in range(2000)]
    rows[position] = f"{position},1e99"  # within VALUE_LIMIT, yet it would make every other value the same token
    path.write_text("hour,load\n" + "\n".join(rows) + "\n")
    runs = tmp_path / "runs"
    level = ("--option", "target=level")  # a differenced target clips rare spikes instead (test_series_auto.py)
    result = invoke("prepare", "series", "--source", path, "--option", "column=load", "--option", f"scale={scale}",
                    *level, "--run", "r", "--runs-dir", runs)
    assert_user_error(result, "the middle half of its scaled values (", "spans less than one of the 256 bins",
                      f"such as value {position + 1:,} (1e+99)")
    assert result.output.count("\n") == 1 and not (runs / "r").exists()
    # Bins span the scaled training values, so an outlier of 1e3 among values near 12 would leave the rest about
    # one bin wide and is refused as well; one of 100 leaves them dozens of bins.
    rows[position] = f"{position},100"
    path.write_text("hour,load\n" + "\n".join(rows) + "\n")
    result = invoke("prepare", "series", "--source", path, "--option", "column=load", "--option", f"scale={scale}",
                    *level, "--run", "r", "--runs-dir", runs)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(("values", "tokens"), [([5.0] * 30 + [7.0], 1), ([1000 + hour % 24 * 10 for hour in range(48)], 24)],
                         ids=["nearly constant", "far from zero"])
def test_series_whose_middle_half_is_one_value_or_spread_over_bins_are_prepared(tmp_path, values, tokens):
    path = tmp_path / "load.csv"
    path.write_text("load\n" + "".join(f"{value}\n" for value in values))
    documents = list(SeriesCorpus().documents([path], {}))
    used = {token for document in documents for token in document.text.split()}
    assert len(used) == tokens if tokens == 1 else len(used) >= tokens, "constant: one token; else spread over bins"


def test_an_all_missing_column_is_one_line(tmp_path, invoke):
    path = tmp_path / "load.csv"
    path.write_text("hour,load\n1,\n2,NaN\n3,n/a\n")
    result = invoke("prepare", "series", "--source", path, "--option", "column=load", "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "column 'load' holds no numbers, only missing values")
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
    (f"seed={2**63}", "to 9,223,372,036,854,775,807"), ("holdout=0.9", "a number from 0.01 to 0.5"),
    ("jitter=nan", "from 0 to 1"), ("context=100000000", "from 0 to 65,536"),
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


def test_documents_are_windows_of_value_tokens_before_the_held_out_part():
    corpus = SeriesCorpus()
    documents = list(corpus.documents([], {"days": "40", "bins": "16"}))
    plan = corpus.plan
    assert (plan.context, plan.horizon) == (128, 24), "four days, at least 128 values; a day ahead"
    train_docs = [d for d in documents if d.split == "train"]
    val_docs = [d for d in documents if d.split == "val"]
    assert documents == train_docs + val_docs and len(train_docs) == -(-MIN_TOKENS // 152)
    assert not any(d.continues for d in train_docs) and all(d.scored for d in train_docs)
    for document in documents:
        tokens = corpus.tokenize(document.text)
        assert "".join(tokens) == document.text
        assert all(re.fullmatch(r"\d+ ", token) and int(token) < 16 for token in tokens)
    assert {len(corpus.tokenize(d.text)) for d in train_docs} == {152}
    parts = Parts.of(960, 0.2)
    assert (parts.validation, parts.held_out) == (672, 768), "the last 20% held out, 10% before it for validation"
    contexts, forecasts = val_docs[::2], val_docs[1::2]
    assert all(d.continues and not d.scored for d in contexts) and all(not d.continues and d.scored for d in forecasts)
    assert {len(corpus.tokenize(d.text)) for d in contexts} == {128}, "each origin's context, read and not scored"
    scored = [len(corpus.tokenize(d.text)) for d in forecasts]
    assert max(scored) == 24 and min(scored) == 1, "a day ahead, cut at the held-out part"
    assert len(forecasts) == VALIDATION_WINDOWS, "at most 64 origins, evenly spaced over the 96 validation values"
    assert documents == list(corpus.documents([], {"days": "40", "bins": "16"})), "the same windows every reading"
    with pytest.raises(CorpusError, match="--option scale=log: choose one of mean, minmax"):
        list(corpus.documents([], {"scale": "log"}))
    with pytest.raises(CorpusError, match="too few for windows"):
        list(corpus.documents([], {"days": "1", "holdout": "0.5"}))


def test_short_series_share_the_corpus_minimum_of_training_windows():
    settings, random = SeriesOptions.parse({"period": "4"}), np.random.default_rng(0)
    short = [Series(f"s{index}", 10 + random.normal(size=60), None) for index in range(8)]
    long = Series("long", 10 + random.normal(size=60_000), None)

    def drawn(all_series):
        return Counter(window.series for window in windows(all_series, settings, 20, 4) if window.split == "train")

    def training(series):
        return Parts.of(len(series.values), settings.holdout).validation

    alone, together = drawn(short[:1]), drawn(short)
    assert sum(alone.values()) == -(-MIN_TOKENS // 24), "one short series: the minimum, in windows of 24 values"
    assert sorted(together) == list(range(8)) and abs(sum(together.values()) - sum(alone.values())) <= 8, \
        "eight share it: as many windows in all, not eight times as many"
    mixed = drawn([short[0], long])
    assert mixed[1] == -(-4 * training(long) // 24), "a long series: its training values four times over, beyond its share"
    assert mixed[0] == -(-4 * training(short[0]) // 24) < alone[0] / 100, "a short one beside it: its small share"


def test_windows_never_read_the_validation_or_held_out_part():
    random = np.random.default_rng(0)
    parts = Parts.of(1000, 0.2)
    starts = training_starts(parts.validation, 150, random)
    assert starts.min() >= 0 and starts.max() + 150 <= parts.validation and len(set(starts.tolist())) > 50
    val = validation_origins(parts, 150)
    assert val.min() == parts.validation and val.max() == parts.held_out - 1 and len(set(val.tolist())) == 64
    wide = validation_origins(Parts.of(10_000, 0.2), 150)
    assert wide.min() == 7000 and wide.max() == 7999 and len(wide) == 64 and np.all(np.diff(wide) > 10)


@pytest.mark.parametrize(("target", "factor"), [("level", 50), ("auto", 1.02)])
def test_the_held_out_part_reaches_no_token_file(tmp_path, target, factor):
    values = 2 + np.sin(np.arange(1200) * 2 * np.pi / 24) + 0.1 * np.random.default_rng(1).normal(size=1200)
    changed = values.copy()
    changed[Parts.of(1200, 0.2).held_out:] *= factor  # what evaluate scores may be anything (within what bins reach)
    runs = []
    for name, series in (("a", values), ("b", changed)):
        (tmp_path / name).mkdir()
        path = tmp_path / name / "series.csv"  # one name: prepare's note names the file
        path.write_text("v\n" + "\n".join(map(str, series)) + "\n")
        runs.append(Run(tmp_path / "runs" / name))
        prepare(runs[-1], PrepareConfig("series", [path], options={"period": "24", "target": target}))
    for split in ("train.bin", "val.bin", "vocab.json", "profile.json"):
        assert (runs[0].dir / split).read_bytes() == (runs[1].dir / split).read_bytes(), split
    changed[Parts.of(1200, 0.2).held_out - 1] *= factor
    (tmp_path / "b.csv").write_text("v\n" + "\n".join(map(str, changed)) + "\n")
    prepare(runs[1], PrepareConfig("series", [tmp_path / "b.csv"], options={"period": "24", "target": target}))
    assert (runs[0].dir / "val.bin").read_bytes() != (runs[1].dir / "val.bin").read_bytes(), "the value before it is validation's"


def test_augmentation_keeps_half_the_windows_and_the_level_of_the_rest():
    settings = SeriesOptions(jitter=0.05, stretch=0.2)
    window = 5 + np.sin(np.arange(200) * 2 * np.pi / 24)
    random = np.random.default_rng(3)
    augmented = [augment(window, 150, settings, random) for _ in range(200)]
    kept = sum(np.array_equal(a, window) for a in augmented)
    assert 70 < kept < 130
    for a in augmented:
        assert abs(a[:150].mean() - 5) < 0.05
        assert 0.75 < np.ptp(a) / np.ptp(window) < 1.35


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
    [result] = forecast(load_run, ForecastConfig(horizon=24, num_samples=40, contexts=(context,), seed=1, device="cpu"))
    truth = full[-24:]
    assert result.paths.shape == (40, 24)
    median = result.quantile(50)
    assert mae(median, truth) < 0.75 * mae(persistence(full[:-24], 24), truth)
    assert np.corrcoef(median, truth)[0, 1] > 0.7, "the median follows the day: low at night, peaks morning and evening"
    [again] = forecast(load_run, ForecastConfig(horizon=24, num_samples=40, contexts=(context,), seed=1, device="cpu"))
    assert np.array_equal(result.paths, again.paths), "the same seed gives the same forecast"


def test_forecast_writes_csv_svg_and_json(load_run, tmp_path):
    [result] = forecast(load_run, ForecastConfig(horizon=6, num_samples=20, seed=2, device="cpu"))
    assert result.metadata["context"].startswith("the end of run 'load'") and len(result.history) == 2400
    written = write_forecast(result, tmp_path / "out", samples_csv=True)
    rows = list(csv.DictReader((tmp_path / "out" / "forecast.csv").open()))
    assert [row["step"] for row in rows] == ["1", "2", "3", "4", "5", "6"]
    for step, row in enumerate(rows):
        assert float(row["p10"]) <= float(row["median"]) <= float(row["p90"])
        drawn = [float(row[f"sample_{i}"]) for i in range(1, 21)]
        assert drawn == pytest.approx(result.paths[:, step], rel=1e-5), "every sample, in the series' own units"
        assert float(row["median"]) == pytest.approx(np.median(drawn), rel=1e-5)
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


def test_rolling_origins_lie_in_the_held_out_part_after_enough_history():
    documents = [Document("a", np.arange(100.0), held_out=70), Document("b", np.arange(40.0), held_out=40),
                 Document("c", np.arange(30.0), held_out=0)]
    found = rolling_origins(documents, horizon=10, history=25, origins=None, limit=100)
    assert found == [(0, 70), (0, 80), (0, 90)], "b holds nothing out; c's 30 values leave no room for 25 + 10"
    spread = rolling_origins(documents, horizon=10, history=25, origins=3, limit=100)
    assert spread == [(0, 70), (0, 80), (0, 90)], "--origins spreads over every step, first and last kept"
    assert rolling_origins(documents, horizon=10, history=25, origins=None, limit=2) == [(0, 70), (0, 90)]


def test_crps_from_samples_matches_its_definition_and_a_point_forecast_gives_its_error():
    rng = np.random.default_rng(0)
    samples, truth = rng.normal(size=(3, 7, 5)), rng.normal(size=(3, 5))
    brute = np.abs(samples - truth[:, None]).mean(axis=1) - 0.5 * np.abs(samples[:, :, None] - samples[:, None]).mean(axis=(1, 2))
    assert sample_crps(samples, truth) == pytest.approx(brute)
    same = np.repeat(truth[:, None], 4, axis=1)
    assert sample_crps(same + 1.5, truth) == pytest.approx(np.full((3, 5), 1.5))
    assert seasonal_scale(np.array([1.0, 2, 4, 3, 6]), 2) == pytest.approx((3 + 1 + 2) / 3)
    figures = Figures.of(truth + 1, truth, np.array([2.0, 0.0, 4.0]), samples=truth[:, None] + np.linspace(-2, 2, 11)[None, :, None])
    assert figures.mae == pytest.approx(1) and figures.mse == pytest.approx(1)
    assert figures.mase == pytest.approx((1 / 2 + 1 / 4) / 2), "a window whose history never varies is left out"
    assert figures.coverage == 1.0 and figures.coverage_range == (1.0, 1.0), "every redraw of the windows holds all"


def test_the_coverage_range_redraws_whole_windows():
    counts = np.full(20, 10)
    inside = np.where(np.arange(20) % 2 == 0, 10, 0)  # half the windows held every value, half none
    low, high = coverage_range(inside, counts)
    # 20 windows drawn whole: a standard error of sqrt(0.5 * 0.5 / 20), so a 95% range about 0.44 wide; 200 steps
    # drawn one by one would give one about 0.14 wide
    assert low < 0.5 < high and high - low == pytest.approx(3.92 * np.sqrt(0.25 / 20), abs=0.08)
    assert coverage_range(np.full(20, 7), counts) == pytest.approx((0.7, 0.7)), "every window alike: no spread"
    assert coverage_range(inside, counts) == (low, high), "the same redraws each time"
    assert coverage_range(np.array([3]), np.array([4])) is None, "one window cannot be redrawn"
    assert coverage_range(np.array([0, 5]), np.array([0, 10])) is None, "nor one window with values scored"
    assert coverage_range(np.array([0, 5, 5]), np.array([0, 10, 10])) == (0.5, 0.5), "a window with none counts for nothing"


def test_evaluate_scores_rolling_origins_in_the_series_own_units(load_run):
    score = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    values = household_load(100)
    origins = range(1920, 2400 - 24 + 1, 24)  # the held-out part: the last 480 values
    assert (score.windows, score.horizon, score.periods, score.checkpoint) == (len(origins), 24, (24,), "best")
    truth = np.stack([values[o:o + 24] for o in origins])
    persistence_mae = mae(np.stack([np.full(24, values[o - 1]) for o in origins]), truth)
    assert score.figures["persistence"].mae == pytest.approx(persistence_mae), "raw values, not bin centres"
    assert score.figures["seasonal naive 24"].mse == pytest.approx(mse(np.stack([values[o - 24:o] for o in origins]), truth))
    model = score.figures["model"]
    assert model.mae < 0.75 * score.figures["persistence"].mae, "a trained model knows the day's shape"
    assert 0.4 <= model.coverage <= 1.0 and 0 < model.crps < model.mae
    assert score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu")) == score, "same seed, same figures"
    assert score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu", seed=5)).figures["model"] != model
    two = score_forecasts(load_run, ForecastScoreConfig(num_samples=4, origins=3, horizon=12, periods=(24, 48), device="cpu"))
    assert two.windows == 3 and list(two.figures) == ["model", "persistence", "seasonal naive 24", "seasonal naive 48"]


def test_evaluate_with_other_periods_keeps_the_band_of_the_prepared_one(load_run):
    prepared = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    other = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, periods=(48,), horizon=24, device="cpu"))
    assert prepared.interval_floor > 0, "a band widened somewhere, so that a floor in other units would show"
    assert other.interval_floor == prepared.interval_floor
    assert other.figures["model"].coverage == prepared.figures["model"].coverage, "the same band: in the prepared scales"
    assert other.figures["model"].mase != prepared.figures["model"].mase, "MASE is scaled by the period asked for"
    assert score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu")) == prepared


def test_an_untrained_model_forecasts_far_worse_and_its_median_is_moved_to_its_reference(load_run, tmp_path):
    run = Run(tmp_path / "runs" / "untrained")
    prepare(run, PrepareConfig("series", options={"days": "100", "bins": "64"}))
    train(run, FORECAST_TRAIN.with_settings(max_steps=1, lr=1e-9, warmup_steps=0))
    untrained = score_forecasts(run, ForecastScoreConfig(num_samples=20, device="cpu"))
    trained = score_forecasts(load_run, ForecastScoreConfig(num_samples=20, device="cpu"))
    assert untrained.figures["persistence"] == trained.figures["persistence"], "the same held-out windows"
    # untrained, the model's residuals are noise about the target's reference (here the seasons' mean shape), whose
    # median drifts as each step is added onto the last: the validation part sees it and moves it to the reference
    as_trained, reference = untrained.validation_errors[0], untrained.validation_errors[-1]
    assert as_trained > 1.5 * trained.validation_errors[0] and untrained.toward_reference == 1.0
    assert trained.validation_errors[0] < reference == pytest.approx(trained.validation_errors[-1]), "learned: beats it"
    assert trained.toward_reference <= 0.25, "the trained model's median is kept, or nearly"
    assert "moved 100% of the way to its reference" in untrained.text()


def test_evaluate_command_on_a_series_run_and_its_bad_input(load_run, trained_run, invoke):
    runs = load_run.dir.parent
    result = invoke("evaluate", "--run", "load", "--horizon", "12", "--num-samples", "5", "--device", "cpu",
                    "--option", "period=24,168", "--runs-dir", runs)
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("evaluate: 40 rolling origins over the held-out values") and "checkpoint best" in lines[0]
    assert [line.split()[0] for line in lines[1:5]] == ["model", "persistence", "seasonal", "seasonal"]
    assert re.search(r"model +MAE [\d.e-]+, MSE [\d.e-]+, MASE [\d.]+, CRPS [\d.e-]+, 80% coverage \d+% \(\d+%-\d+% over resampled origins\)", lines[1])
    assert re.fullmatch(r"the model's 80% band widened to reach at least [\d.]+ seasonal scales \(MASE's denominator\) "
                        r"from its median, as forecasts from \d+ origins in the training and validation parts needed; "
                        r"80% coverage before it \d+%", lines[5])
    latest = invoke("evaluate", "--run", "load", "--num-samples", "2", "--origins", "2", "--checkpoint", "latest", "--json",
                    "--device", "cpu", "--runs-dir", runs)
    data = json.loads(latest.output)
    assert data["windows"] == 2 and data["checkpoint"] == "latest" and set(data["mae_vs"]) == {"persistence", "seasonal naive 24"}
    assert "note" not in data, "best.pt is no longer chosen on the values scored"
    long = invoke("evaluate", "--run", "load", "--option", "period=5000", "--runs-dir", runs)
    assert_user_error(long, "--option period=5000 is longer than the series (2,400 values); give a shorter period")
    missing = invoke("evaluate", "--run", "load", "--baseline", "ets,mstl", "--runs-dir", runs)
    assert_user_error(missing, "--baseline ets,mstl needs statsforecast, which is not installed")
    unknown = invoke("evaluate", "--run", "load", "--baseline", "prophet", "--runs-dir", runs)
    assert_user_error(unknown, "--baseline prophet: statsforecast has no method by that name here; choose from ets")
    text = invoke("evaluate", "--run", "rhymes", "--horizon", "3", "--runs-dir", trained_run.dir.parent)
    assert_user_error(text, "--horizon: only for scoring a series run's forecasts")


def test_statsforecast_baselines_go_through_the_library_when_it_is_there(monkeypatch):
    import sys
    import types

    monkeypatch.setitem(sys.modules, "statsforecast", None)
    with pytest.raises(ConfigError, match="needs statsforecast, which is not installed"):
        statsforecast_baselines(("ets",), (24,))
    fitted = []

    class AutoETS:
        def __init__(self, season_length):
            fitted.append(season_length)

        def forecast(self, y, h):
            return {"mean": np.full(h, y.mean())}

    package, models = types.ModuleType("statsforecast"), types.ModuleType("statsforecast.models")
    models.AutoETS = AutoETS
    monkeypatch.setitem(sys.modules, "statsforecast", package)
    monkeypatch.setitem(sys.modules, "statsforecast.models", models)
    [ets] = statsforecast_baselines(("ets",), (24, 168))
    assert ets.name == "ets" and ets.forecast(np.array([1.0, 3.0]), 3).tolist() == [2.0, 2.0, 2.0] and fitted == [24]
    with pytest.raises(ConfigError, match="this statsforecast has no MSTL"):
        statsforecast_baselines(("mstl",), (24,))
    models.MSTL = AutoETS
    statsforecast_baselines(("mstl",), (1, 7, 365))[0].forecast(np.ones(3), 1)
    assert fitted[-1] == [7, 365], "MSTL's seasons are the periods longer than one step"
    with pytest.raises(ConfigError, match="--baseline mstl needs a season longer than one step; this evaluation's periods are 1: "):
        statsforecast_baselines(("mstl",), (1,))


def test_a_csv_run_finds_its_source_from_another_folder(tmp_path, monkeypatch):
    from charmony.pipeline.series.forecast import context_values, series_corpus

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "load.csv").write_text("v\n" + "\n".join(str(1 + (i % 24) / 10) for i in range(300)) + "\n")
    monkeypatch.chdir(tmp_path / "data")
    run = Run(tmp_path / "runs" / "csv")
    manifest = prepare(run, PrepareConfig("series", [Path("load.csv")], options={"period": "24,48"}))
    assert manifest.sources[0].path == str(tmp_path / "data" / "load.csv"), "recorded by its absolute path"
    monkeypatch.chdir(tmp_path)
    values, origin = context_values(run, series_corpus(run), None)
    assert len(values) == 300 and "series 'v'" in origin
    (tmp_path / "data" / "load.csv").unlink()
    with pytest.raises(ConfigError, match="which is not there from .*; give --context FILE.csv"):
        context_values(run, series_corpus(run), None)
    with pytest.raises(CorpusError, match="--option period=500 is not shorter than series 'v' \\(300 values\\)"):
        (tmp_path / "data" / "load.csv").write_text("v\n" + "1\n" * 300)
        prepare(Run(tmp_path / "runs" / "long"), PrepareConfig("series", [tmp_path / "data" / "load.csv"], options={"period": "500"}))
    assert not (tmp_path / "runs" / "long").exists(), "nothing written"


def test_several_contexts_are_forecast_in_one_call(load_run, invoke, tmp_path):
    full = household_load(101)
    for name, end in (("monday", -48), ("tuesday", -24)):
        (tmp_path / f"{name}.csv").write_text("load\n" + "\n".join(map(str, full[:end])) + "\n")
    out = tmp_path / "fc"
    result = invoke("forecast", "load", "--context", tmp_path / "monday.csv", "--context", tmp_path / "tuesday.csv",
                    "--horizon", "4", "--num-samples", "3", "--seed", "1", "--device", "cpu", "--out", out, "--runs-dir", load_run.dir.parent)
    assert result.exit_code == 0, result.output
    assert result.output.count("forecast of 4 steps") == 2
    for name, length in (("monday", 2376), ("tuesday", 2400)):
        meta = json.loads((out / name / "forecast.json").read_text())
        assert meta["context_values"] == length and meta["seed"] == 1


def test_a_rising_series_is_forecast_above_its_training_maximum(tmp_path):
    steps = np.arange(2400)
    values = (1 + steps / 600) * (2 + np.sin(steps * 2 * np.pi / 24))  # the level rises fivefold
    path = tmp_path / "rising.csv"
    path.write_text("v\n" + "\n".join(map(str, values)) + "\n")
    run = Run(tmp_path / "runs" / "rising")
    prepare(run, PrepareConfig("series", [path], options={"bins": "64"}))
    train(run, FORECAST_TRAIN.with_settings(max_steps=120, eval_every=40))
    seen = values[:Parts.of(2400, 0.2).validation].max()
    [result] = forecast(run, ForecastConfig(horizon=24, num_samples=20, seed=1, device="cpu"))
    assert result.quantile(50).max() > 1.15 * seen, "values are relative to the context's level"
    assert 0.5 < result.quantile(50).max() / values[-24:].max() < 1.5


def test_a_model_beats_seasonal_naive_on_a_noisy_season_after_seconds(tmp_path):
    steps = np.arange(3000)
    pattern = np.array([1, 1, 1, 2, 4, 6, 5, 3, 2, 2, 3, 5, 7, 8, 6, 3, 2, 1, 1, 1, 1, 1, 1, 1], dtype=float)
    values = 5 + pattern[steps % 24] + np.random.default_rng(2).normal(0, 0.8, len(steps))
    path = tmp_path / "season.csv"
    path.write_text("v\n" + "\n".join(map(str, values)) + "\n")
    run = Run(tmp_path / "runs" / "season")
    prepare(run, PrepareConfig("series", [path], options={"bins": "64"}))
    train(run, FORECAST_TRAIN.with_settings(max_steps=900, eval_every=300, save_every=900))
    score = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=16, device="cpu", checkpoint="latest"))
    assert score.figures["model"].mase < 0.85 * score.figures["seasonal naive 24"].mase, "it learns the day, not its noise"


def test_a_run_prepared_before_windows_were_scaled_one_by_one_asks_to_prepare_again(load_run, tmp_path):
    import shutil

    old = Run(tmp_path / "runs" / "old")
    shutil.copytree(load_run.dir, old.dir)
    old.profile_path.unlink()
    with pytest.raises(RunError, match="prepared before series windows were scaled by their own level .*; prepare it again"):
        forecast(old, ForecastConfig(horizon=3, device="cpu"))
    with pytest.raises(RunError, match="prepare it again"):
        score_forecasts(old, ForecastScoreConfig(device="cpu"))


def test_prepare_says_in_one_line_how_it_cut_the_windows(load_run):
    line = prepared_line(load_run, load_run.manifest()).splitlines()[1]
    assert line.startswith("series: 'household load (kW)' (2,400 values), a season of 24 steps; windows of 128 values of "
                           "context and 24 ahead, each scaled by its own context; 987 training windows")
    assert "validation on the 240 values before the last 480 (held out for evaluate)" in line


def test_contexts_of_several_lengths_read_together_as_each_alone(load_run):
    import torch

    from charmony.pipeline.sampling.sample import load_model
    from charmony.pipeline.series.continuation import read_contexts

    model, _, _ = load_model(load_run, "best", torch.device("cpu"))
    rows = [[0, 3, 4, 5], [0, 7], [0, 5, 5, 5], [0, 9, 9]]
    together = read_contexts(model, rows, torch.device("cpu"), batch=1)
    for index, row in enumerate(rows):
        alone = read_contexts(model, [row], torch.device("cpu"))
        assert torch.allclose(together.logits[index], alone.logits[0], atol=1e-5)
        assert all(torch.allclose(a[:, index], b[:, 0], atol=1e-5) for a, b in zip(together.state, alone.state))


def test_val_fraction_given_for_a_series_run_is_refused_in_one_line_naming_holdout(tmp_path, invoke):
    path = tmp_path / "load.csv"
    path.write_text("load\n" + "".join(f"{1 + hour % 24 / 10}\n" for hour in range(300)))
    runs = tmp_path / "runs"
    result = invoke("prepare", "series", "--source", path, "--val-fraction", "0.1", "--run", "r", "--runs-dir", runs)
    assert_user_error(result, "--val-fraction does not apply to corpus 'series'", "--option holdout=SHARE")
    assert result.output.count("\n") == 1 and not (runs / "r").exists()
    with pytest.raises(ConfigError, match="--val-fraction does not apply"):
        prepare(Run(runs / "api"), PrepareConfig("series", [path], val_fraction=0.2))
    manifest = prepare(Run(runs / "api"), PrepareConfig("series", [path], options={"holdout": "0.3"}))
    assert manifest.split == "corpus" and manifest.documents["val"] > 0
