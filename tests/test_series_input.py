"""Series input and output: missing values kept at their time, the time column, bad input in one line, the chart."""

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
import warnings
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest
from assertions import assert_user_error

from charmony.corpora.series import SeriesCorpus
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.plugin.options import list_option
from charmony.pipeline.run.config import ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.series.csv_columns import read_columns
from charmony.pipeline.series.gaps import fill_gaps
from charmony.pipeline.series.history import Document, held_out_documents, run_documents
from charmony.pipeline.series.metrics import Figures
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.series.svg import forecast_svg
from charmony.pipeline.series.ticks import round_ticks
from charmony.pipeline.system.errors import ConfigError, CorpusError
from charmony.pipeline.training.train import train

SEASON = [10.0, 20.0, 30.0, 40.0]


def test_gaps_are_filled_linearly_between_neighbours_and_by_the_nearest_value_at_the_ends():
    filled, missing = fill_gaps(np.array([np.nan, 1.0, np.nan, np.nan, 4.0, np.nan]))
    assert filled.tolist() == [1.0, 1.0, 2.0, 3.0, 4.0, 4.0]
    assert missing.tolist() == [True, False, True, True, False, True]


def test_a_gap_keeps_every_later_value_in_its_place_in_the_season(tmp_path):
    rows = [str(SEASON[i % 4]) for i in range(40)]
    rows[5], rows[6], rows[13], rows[22] = "", "NaN", "n/a", ""  # two blank lines in a one-column file
    path = tmp_path / "load.csv"
    path.write_text("\n\nload\n" + "\n".join(rows) + "\n\n\n")  # blank lines before the header and at the end are no rows
    with pytest.warns(CorpusWarning) as caught:
        (column,) = read_columns(path, None)
    assert len(column.values) == 40 and np.flatnonzero(column.missing).tolist() == [5, 6, 13, 22]
    kept = ~column.missing
    assert np.array_equal(column.values[kept], np.array([SEASON[i % 4] for i in range(40)])[kept]), "each at its time"
    assert column.values[[5, 6, 13]] == pytest.approx([20.0, 30.0, 20.0]), "between the neighbours 10 and 40, 10 and 30"
    (message,) = [str(w.message) for w in caught]
    assert "column 'load' misses 4 of its 40 values" in message and "linear interpolation" in message
    assert "never scored" in message


def test_the_corpus_keeps_missing_values_in_its_series_and_tokens(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("hour,load\n" + "\n".join(f"{hour},{'' if hour in (3, 50) else SEASON[hour % 4]}" for hour in range(60)) + "\n")
    corpus = SeriesCorpus()
    with pytest.warns(CorpusWarning, match="misses 2 of its 60 values"):
        (series,) = corpus.series([path], {"column": "load"})
    assert np.flatnonzero(series.missing).tolist() == [3, 50]
    assert series.values[[3, 50]].tolist() == [20.0, 30.0] and len(series.values) == 60, "filled at their time"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        documents = list(corpus.documents([path], {"column": "load", "period": "4"}))
    assert [str(w.message).split(": ", 1)[1][:32] for w in caught] == ["column 'load' misses 2 of its 60"], "once, exact"
    assert documents and all(re.fullmatch(r"(\d+ )+", document.text) for document in documents)


def test_a_row_too_short_and_a_missing_cell_both_count(tmp_path):
    path = tmp_path / "two.csv"
    path.write_text("a;b\n1;2\n3\n;4\n5;6\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first, second = read_columns(path, ("a", "b"))
    assert first.missing.tolist() == [False, False, True, False] and second.missing.tolist() == [False, True, False, False]
    (message,) = [str(w.message) for w in caught]
    assert message.split(": ", 1)[1].startswith("columns 'a' and 'b' each miss 1 of their 4 values"), "one warning a file"


def test_missing_values_at_the_ends_are_left_out_so_a_series_ends_with_its_last_number(tmp_path):
    path = tmp_path / "rates.csv"
    rows = [("", "1"), ("NaN", "2"), ("3", "3"), ("", "4"), ("5", "5"), ("6", ""), ("", ""), ("", "8")]
    path.write_text("year,a,b\n" + "".join(f"{1990 + i},{x},{y}\n" for i, (x, y) in enumerate(rows)))
    with pytest.warns(CorpusWarning) as caught:
        first, second = read_columns(path, ("a", "b"))
    assert first.values.tolist() == [3.0, 4.0, 5.0, 6.0] and first.missing.tolist() == [False, True, False, False]
    assert second.values.tolist() == [1, 2, 3, 4, 5, 6, 7, 8] and second.missing.tolist() == [False] * 5 + [True] * 2 + [False]
    (message,) = [str(w.message) for w in caught]
    assert ("column 'a' misses 5 of its 8 values (empty or NaN cells, blank lines): 1 between numbers filled in by linear "
            "interpolation between their neighbours and never scored; 4 before the first number or after the last left "
            "out") in message
    assert "column 'b' misses 2 of its 8 values (empty or NaN cells, blank lines): 2 between numbers filled" in message


def test_columns_missing_alike_share_one_clause_of_one_warning(tmp_path):
    path = tmp_path / "wide.csv"
    names = [f"c{i}" for i in range(6)]
    lines = [",".join(names)] + [",".join("" if row == 9 or (name == "c5" and row == 3) else str(row + 1) for name in names)
                                 for row in range(10)]
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(CorpusWarning) as caught:
        columns = read_columns(path, tuple(names))
    (message,) = [str(w.message) for w in caught]
    assert "columns 'c0', 'c1', 'c2' and 2 more each miss 1 of their 10 values" in message, message
    assert "column 'c5' misses 2 of its 10 values" in message
    assert [len(column.values) for column in columns] == [9] * 6
    path.write_text("\n".join([",".join(names)] + [",".join("" if row >= 9 - index else "1" for index in range(6))
                                                   for row in range(10)]) + "\n")
    with pytest.warns(CorpusWarning) as caught:
        read_columns(path, tuple(names))
    (message,) = [str(w.message) for w in caught]
    assert message.count("misses") == 4 and message.endswith("; 2 more columns miss values otherwise"), message


def test_a_column_whose_name_holds_a_comma_is_named_in_double_quotes(invoke, tmp_path):
    text = 'year,"Bahamas, The",Chile\n' + "".join(f"{1960 + i},{i % 3 + 1},{i % 4 + 2}\n" for i in range(40))
    path = tmp_path / "load.csv"
    path.write_text(text)
    (column, other) = read_columns(path, list_option({"column": '"Bahamas, The", Chile'}, "column"))
    assert column.name == "Bahamas, The" and column.values[:4].tolist() == [1, 2, 3, 1] and other.name == "Chile"
    assert list_option({"column": 'a, "b, c",d'}, "column") == ("a", "b, c", "d"), "a space before a quote"
    result, run = prepared(invoke, tmp_path, text, "column=Bahamas")
    assert_user_error(result, "has no column 'Bahamas'; its columns: year, \"Bahamas, The\", Chile; a name with a comma "
                              "goes in double quotes: --option 'column=\"Bahamas, The\"'")
    result, run = prepared(invoke, tmp_path, text, 'column="Bahamas, The')
    assert_user_error(result, "double quotes must enclose a whole name")
    assert not run.exists()


def test_figures_never_count_a_forecast_of_a_missing_value():
    truth = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [2.0, 2.0, np.nan]])
    point = np.array([[2.0, 100.0, 3.0], [50.0, 50.0, 50.0], [1.0, 4.0, -99.0]])
    samples = point[:, None, :] + np.linspace(-1, 1, 5)[None, :, None]
    figures = Figures.of(point, truth, np.array([1.0, 1.0, 2.0]), samples)
    errors = np.array([1.0, 0.0, 1.0, 2.0])  # the four values that are there
    assert figures.mae == pytest.approx(errors.mean()) and figures.mse == pytest.approx((errors**2).mean())
    assert figures.mase == pytest.approx((0.5 / 1 + 1.5 / 2) / 2), "a window with nothing to score is left out"
    assert figures.coverage == pytest.approx(1 / 4), "the band is each point +-0.8: only the exact 3.0 lies inside"
    assert np.isfinite(figures.crps)
    document = Document("a", np.array([1.0, 2.0, 3.0]), 1, np.array([False, True, False]))
    assert np.isnan(document.truth(0, 3)).tolist() == [False, True, False]


def test_evaluate_scores_nothing_against_missing_held_out_values(tmp_path):
    values = [SEASON[i % 4] + i / 100 for i in range(200)]
    cells = [str(v) for v in values]
    for gap in (170, 171, 185):
        cells[gap] = ""
    cells[198] = "NaN"
    path = tmp_path / "load.csv"
    path.write_text("load\n" + "\n".join(cells) + "\n")
    run = Run(tmp_path / "runs" / "gaps")
    with pytest.warns(CorpusWarning, match="misses 4 of its 200"):
        prepare(run, PrepareConfig("series", [path], options={"period": "4", "bins": "16"}))
        train(run, TrainConfig().with_settings(layers=1, hidden=8, embedding=4, seq_len=8, batch_size=2, max_steps=1,
                                               eval_every=1, save_every=1, log_every=1, warmup_steps=0, device="cpu"))
        score = score_forecasts(run, ForecastScoreConfig(num_samples=2, horizon=4, device="cpu"))
    origins = range(160, 197, 4)  # the held-out part: the last 20% (--option holdout), from value 160
    missing = {170, 171, 185, 198}
    filled = np.array(values)
    filled[170], filled[171] = np.interp([170, 171], [169, 172], [values[169], values[172]])
    filled[185], filled[198] = (values[184] + values[186]) / 2, (values[197] + values[199]) / 2
    errors = [abs(filled[o - 1] - values[o + k]) for o in origins for k in range(4) if o + k not in missing]
    assert score.windows == len(origins)
    assert score.figures["persistence"].mae == pytest.approx(np.mean(errors)), "the filled history, only real truth"


def test_a_run_whose_series_would_read_another_length_is_prepared_again(tmp_path):
    cells = [str(SEASON[i % 4] + i / 100) for i in range(120)] + ["", "NaN"]
    path = tmp_path / "load.csv"
    path.write_text("load\n" + "\n".join(cells) + "\n")
    run = Run(tmp_path / "runs" / "ends")
    how = ForecastScoreConfig(num_samples=2, horizon=4, device="cpu")
    with pytest.warns(CorpusWarning, match="2 before the first number or after the last left out"):
        prepare(run, PrepareConfig("series", [path], options={"period": "4", "bins": "16"}))
        train(run, TrainConfig().with_settings(layers=1, hidden=8, embedding=4, seq_len=8, batch_size=2, max_steps=1,
                                               eval_every=1, save_every=1, log_every=1, warmup_steps=0, device="cpu"))
        assert score_forecasts(run, how).windows == 6, "a run prepared now scores"
    profile = json.loads(run.profile_path.read_text())
    assert profile["lengths"] == [120]
    for lengths, message in ((None, "was prepared when missing values at a series' ends were filled in"),
                             ([122], "series 'load' now reads 120 values, where prepare read 122: its held-out part")):
        run.profile_path.write_text(json.dumps({**{k: v for k, v in profile.items() if k != "lengths"},
                                                **({"lengths": lengths} if lengths else {})}))
        with pytest.warns(CorpusWarning), pytest.raises(ConfigError, match=message):
            score_forecasts(run, how)


def test_each_series_length_is_kept_and_checked(tmp_path):
    rows = [(str(SEASON[i % 4] + i / 50), "" if i < 6 else str(SEASON[i % 4] - i / 50)) for i in range(150)]
    path = tmp_path / "two.csv"
    path.write_text("a,b\n" + "".join(f"{x},{y}\n" for x, y in rows))
    run = Run(tmp_path / "runs" / "two")
    with pytest.warns(CorpusWarning, match="column 'b' misses 6 of its 150 values"):
        prepare(run, PrepareConfig("series", [path], options={"column": "a,b", "period": "4", "bins": "16"}))
    profile = json.loads(run.profile_path.read_text())
    assert profile["lengths"] == [150, 144], "each series' own length"
    corpus = SeriesCorpus()
    with pytest.warns(CorpusWarning):
        assert [len(document.values) for document in held_out_documents(run, corpus, "")] == [150, 144]
    for lengths, message in (([144, 150], "series 'a' now reads 150 values, where prepare read 144"),
                             ([150, 144, 10], "now reads 2 series, where prepare read 3"),
                             ([], "was prepared when missing values at a series' ends were filled in")):
        run.profile_path.write_text(json.dumps({**profile, "lengths": lengths}))
        with pytest.warns(CorpusWarning), pytest.raises(ConfigError, match=message):
            run_documents(run, corpus, "")


def prepared(invoke, tmp_path, text, *options):
    path = tmp_path / "load.csv"
    path.write_text(text)
    runs = tmp_path / "runs"
    args = [arg for option in options for arg in ("--option", option)]
    return invoke("prepare", "series", "--source", path, *args, "--run", "r", "--runs-dir", runs), runs / "r"


@pytest.mark.parametrize(("times", "message"), [
    ([f"2020-01-01 {h:02d}:00" for h in range(20)][:16] + ["2020-01-01 03:00"] + [f"2020-01-02 {h:02d}:00" for h in range(3)],
     "the time column 'date' goes backwards at data row 17 ('2020-01-01 03:00' after '2020-01-01 15:00'): "
     "sort the file by time"),
    ([str(h) for h in range(10)] + ["9"] + [str(h) for h in range(11, 20)],
     "the time column 'date' repeats '9' at data row 11 (first at data row 10); keep one row per time"),
])
def test_a_time_column_that_does_not_increase_is_one_line_and_nothing_is_written(invoke, tmp_path, times, message):
    text = "date,load\n" + "\n".join(f"{time},{i % 4}" for i, time in enumerate(times)) + "\n"
    result, run = prepared(invoke, tmp_path, text)
    assert_user_error(result, message)
    assert result.output.count("\n") == 1 and not run.exists()


def test_the_time_column_is_found_by_name_or_option_and_left_out_of_the_values(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("ds,load,stamp\n" + "\n".join(f"{i},{i % 4 + 10},{100 - i}" for i in range(12)) + "\n")
    (column,) = read_columns(path, None)
    assert column.name == "load", "ds is the time column, not the first numeric one"
    with pytest.raises(CorpusError, match="the time column 'stamp' goes backwards at data row 2 "):
        read_columns(path, None, time="stamp")
    assert read_columns(path, ("ds",))[0].values.tolist() == list(range(12)), "asked for as values, it is not the time"
    with pytest.raises(CorpusError, match=r"--option time=when: the file has no such column; its columns: ds, load, stamp$"):
        read_columns(path, None, time="when")
    with pytest.raises(CorpusError, match=r"--option time=load is also a value column"):
        read_columns(path, ("load",), time="load")


def test_a_time_column_of_words_is_left_out_with_a_warning_that_its_order_is_unchecked(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("time,load\nmon,0.5\ntue,0.6\nwed,0.7\n")
    with pytest.warns(CorpusWarning, match="the time column 'time' holds 'mon' at data row 1, neither a number nor an ISO date"):
        assert read_columns(path, None)[0].values.tolist() == [0.5, 0.6, 0.7]


@pytest.mark.parametrize(("header", "rows", "expected"), [
    ("year,volume", [f"{1871 + i},{1000 + i % 7}" for i in range(12)], "volume"),  # statsmodels' Nile, as a user writes it
    (",value", [f"{i},{5 + i % 3}" for i in range(12)], "value"),  # pandas' to_csv with its index
    ("Year;Month;kWh", [f"{1990 + i // 12};{i % 12 + 1};{i % 5},5" for i in range(24)], "kWh"),  # neither increases
])
def test_label_columns_are_not_taken_for_the_values(tmp_path, header, rows, expected):
    path = tmp_path / "series.csv"
    path.write_text(header + "\n" + "\n".join(rows) + "\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a month that starts again each year is no time going backwards
        (column,) = read_columns(path, None)
    assert column.name == expected
    assert column.values.tolist() == [float(row.split(header[-len(expected) - 1])[-1].replace(",", ".")) for row in rows]


@pytest.mark.parametrize(("text", "name"), [
    ("day\n3\n1\n2\n", "day"),
    (",name\n3,a\n1,b\n2,c\n", "column 1"),  # an unnamed first column of numbers beside one of words
    ("Year,Country\n3,a\n1,b\n2,c\n", "Year"),
])
def test_a_label_that_is_the_only_number_is_still_the_values(tmp_path, text, name):
    path = tmp_path / "series.csv"
    path.write_text(text)
    (column,) = read_columns(path, None)
    assert column.name == name and column.values.tolist() == [3.0, 1.0, 2.0]


def test_a_named_calendar_column_tells_the_spacing_before_pandas_index(tmp_path):
    path = tmp_path / "air.csv"
    path.write_text(",Month,Passengers\n" + "\n".join(f"{i},{1949 + i // 12}-{i % 12 + 1:02d},{100 + i}" for i in range(36)) + "\n")
    (column,) = read_columns(path, None)
    assert column.name == "Passengers" and column.spacing is not None and column.spacing.period == 12


def _spaced(start: str, step: timedelta, count: int) -> list[str]:
    first = datetime.fromisoformat(start)
    return [(first + step * index).isoformat(sep=" ") for index in range(count)]


@pytest.mark.parametrize(("times", "options", "advice"), [
    ([f"{1871 + i}" for i in range(120)], {}, re.escape("its rows are a year apart, but the season is 24 steps (the default: "
                                                     "a day of hourly values); prepare it with --option period=1 (no season)")),
    ([f"{1990 + i // 12}-{i % 12 + 1:02d}-01" for i in range(120)], {}, "a month apart, [^;]*; prepare it with --option period=12 "
                                                                        r"\(a season of a year\)"),
    ([f"{2000 + i // 4}-{1 + 3 * (i % 4):02d}-01" for i in range(120)], {}, r"a quarter apart, .*period=4 \(a season of a year\)"),
    (_spaced("2020-01-01", timedelta(minutes=2), 2000), {}, r"2 minutes apart, .*period=720 \(a season of a day\)"),
    (_spaced("2020-01-01", timedelta(seconds=10), 2000), {}, None),  # a day of rows 10 s apart fits no twice: nothing to name
    ([f"{1990 + i // 12}-{i % 12 + 1:02d}-01" for i in range(120)], {"period": "12"}, None),  # given: no advice
    (_spaced("2020-01-01", timedelta(hours=1), 120), {}, None),  # hourly: the default fits
])
def test_prepare_says_which_season_the_rows_spacing_suggests(tmp_path, times, options, advice):
    path = tmp_path / "series.csv"
    path.write_text(("year" if len(times[0]) == 4 else "date") + ",load\n"
                    + "\n".join(f"{time},{i % 4 + 1 + i / 100}" for i, time in enumerate(times)) + "\n")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        series = SeriesCorpus().series([path], options)
    assert not caught, "read again by evaluate or forecast, the file says nothing more"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        list(SeriesCorpus().documents([path], {"bins": "16", **options}))  # as prepare reads it
    said = [str(warning.message) for warning in caught if issubclass(warning.category, CorpusWarning)]
    if advice is None:
        assert not said
    else:
        assert len(said) == 1 and re.search(advice, said[0]), said
        assert series[0].spacing is not None and f"period={series[0].spacing.period} " in said[0]


def test_iso_times_with_a_blank_row_read_in_order(tmp_path):
    path = tmp_path / "load.csv"
    path.write_text("Date;kW\n2011-01-01 00:15:00;1,5\n\n2011-01-01 00:45:00;2,5\n2011-01-01T01:00:00;3\n")
    with pytest.warns(CorpusWarning, match="misses 1 of its 4 values"):
        (column,) = read_columns(path, None)
    assert column.values.tolist() == [1.5, 2.0, 2.5, 3.0]


@pytest.mark.parametrize(("text", "options", "message"), [
    ("hour,load,kw\n1,,1\n2,NaN,2\n3,n/a,3\n\n", ("column=kw,load",),
     "column 'load' holds no numbers, only missing values"),
    ("load\n" + "1\n" * 30, ("period=30",), "--option period=30 is not shorter than series 'load' (30 values)"),
])
def test_bad_input_is_one_line_and_nothing_is_written(invoke, tmp_path, text, options, message):
    result, run = prepared(invoke, tmp_path, text, *options)
    assert_user_error(result, message)
    assert result.output.count("\n") == 1 and not run.exists()


@pytest.mark.parametrize(("low", "high"), [(0.13, 0.87), (-3.2, 41.0), (998.0, 1003.0), (1.2e6, 9.9e6), (5.0, 5.0), (-0.004, 0.0)])
def test_ticks_are_round_and_cover_the_range(low, high):
    ticks = round_ticks(low, high)
    values = ticks.values()
    assert values[0] <= low and values[-1] >= high and 3 <= len(values) <= 12
    assert ticks.mantissa in (1, 2, 5)
    for value, label in zip(values, ticks.labels()):
        assert float(label) == pytest.approx(value, abs=ticks.step * 1e-6)
        assert abs(float(label) / ticks.step - round(float(label) / ticks.step)) < 1e-6, "a whole number of round steps"
    assert ticks.labels()[:3] != [ticks.labels()[0]] * 3


def _texts(root, group_class):
    (group,) = [g for g in root.iter("{http://www.w3.org/2000/svg}g") if g.get("class") == group_class]
    return [t.text for t in group.iter("{http://www.w3.org/2000/svg}text")]


def test_the_chart_has_round_ticks_on_both_axes_and_a_legend():
    history = 100 + 37 * np.sin(np.arange(200) / 4)
    median = np.linspace(90, 120, 24)
    truth = median + 3
    truth[5] = np.nan
    root = ElementTree.fromstring(forecast_svg(history, median, median - 9.3, median + 11.7, "load.csv", truth=truth))
    y_labels = [float(text) for text in _texts(root, "y-ticks")]
    step = y_labels[1] - y_labels[0]
    mantissa = step / 10 ** np.floor(np.log10(step))
    assert round(mantissa, 9) in (1, 2, 5) and np.allclose(np.diff(y_labels), step)
    shown = np.concatenate([history[-96:], median - 9.3, median + 11.7])
    assert y_labels[0] <= shown.min() and y_labels[-1] >= shown.max(), "the ticks cover the data"
    x_labels = [int(text) for text in _texts(root, "x-ticks")]
    assert 0 in x_labels and x_labels[0] >= -95 and x_labels[-1] <= 24
    assert len(set(np.diff(x_labels))) == 1 and np.diff(x_labels)[0] in (10, 20, 50)
    assert _texts(root, "legend") == ["history", "median forecast", "80% band (10th to 90th percentile)", "truth"]
    (line,) = [p for p in root.iter("{http://www.w3.org/2000/svg}polyline") if p.get("class") == "truth"]
    assert len(line.get("points").split()) == 23, "no point where the truth is missing"
    without = ElementTree.fromstring(forecast_svg(history, median, median - 1, median + 1))
    assert "truth" not in _texts(without, "legend")
    assert re.fullmatch(r"-?\d+", _texts(without, "x-ticks")[0])


def test_forecast_finds_a_csv_runs_source_from_another_folder_or_asks_for_a_context(tmp_path, monkeypatch, invoke):
    (tmp_path / "data").mkdir()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "data" / "load.csv").write_text("load\n" + "\n".join(str(SEASON[i % 4]) for i in range(120)) + "\n")
    monkeypatch.chdir(tmp_path / "data")
    run = Run(tmp_path / "runs" / "csv")
    prepare(run, PrepareConfig("series", [Path("load.csv")], options={"period": "4", "bins": "16"}))
    train(run, TrainConfig().with_settings(layers=1, hidden=8, embedding=4, seq_len=8, batch_size=2, max_steps=1,
                                           eval_every=1, save_every=1, log_every=1, warmup_steps=0, device="cpu"))
    monkeypatch.chdir(tmp_path / "elsewhere")
    args = ("forecast", "csv", "--horizon", "4", "--num-samples", "3", "--device", "cpu", "--runs-dir", tmp_path / "runs")
    result = invoke(*args, "--out", "fc")
    assert result.exit_code == 0, result.output
    assert "the end of run 'csv''s series 'load' (120 values)" in result.output and (tmp_path / "elsewhere" / "fc").is_dir()
    (tmp_path / "data" / "load.csv").unlink()
    gone = invoke(*args, "--out", "fc2")
    assert_user_error(gone, f"was prepared from {tmp_path / 'data' / 'load.csv'}, which is not there from "
                            f"{tmp_path / 'elsewhere'}; give --context FILE.csv")
    assert not (tmp_path / "elsewhere" / "fc2").exists()
