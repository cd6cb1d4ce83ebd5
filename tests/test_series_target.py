"""The series targets (the values, their seasonal difference, their residual from the seasons' mean) and the 80%
band's floor kept in the run and applied alike by evaluate and forecast."""

import json
import os
import re

import numpy as np
import pytest
from assertions import assert_user_error

from charmony.corpora.series import SeriesCorpus
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.config import ForecastConfig, ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.series.calibration import FILE, Fits, anchor_candidates, calibration_origins, history_scale, weigh_anchors
from charmony.pipeline.series.forecast import forecast, series_corpus
from charmony.pipeline.series.history import held_out_documents, window_plan
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.series.autoregression import Autoregression
from charmony.pipeline.series.smoothing import Smoothing
from charmony.pipeline.series.target import (COMBINED, NEAR, Reference, choose_target, from_target, rank_references,
                                             target_context, to_target)
from charmony.pipeline.series.windows import Parts
from charmony.pipeline.system.errors import ConfigError, CorpusError
from charmony.pipeline.training.train import train

LAST_DAY = Reference("seasonal-difference", 24)
MEAN = Reference("seasonal-mean", 12, 3)
SHAPE = Reference("seasonal-shape", 12, 3)
QUICK = TrainConfig().with_settings(layers=1, hidden=48, embedding=16, seq_len=48, batch_size=8, lr=1e-2, max_steps=300,
                                    eval_every=100, save_every=300, log_every=100, warmup_steps=10, device="cpu")


def trending_season(length: int = 2400, seed: int = 3) -> np.ndarray:
    """A daily season on a trend that steepens, so that the held-out part rises faster than any training window."""
    steps = np.arange(length)
    pattern = np.array([0, 0, 1, 2, 4, 5, 4, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    return 50 + (steps / 300) ** 2 + pattern[steps % 24] + np.random.default_rng(seed).normal(0, 0.1, length)


def test_the_target_is_the_seasonal_difference_and_samples_are_added_back_path_by_path():
    values = trending_season(200)
    differenced = to_target(values, LAST_DAY)
    assert len(differenced) == 176 and differenced[0] == values[24] - values[0]
    history, future = values[:150], values[150:200]
    paths = np.stack([differenced[126:176], np.zeros(50)])  # the true differences, and an untrained model's zeros
    restored = from_target(history, paths, LAST_DAY)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    np.testing.assert_allclose(restored[1], np.resize(history[-24:], 50), atol=1e-9)  # zeros: the seasonal naive
    np.testing.assert_allclose(target_context(history, 100, LAST_DAY), differenced[26:126])
    with pytest.raises(ConfigError, match="the context has 24 values; the run forecasts each value less the one 24 steps before it, so give at least 25"):
        target_context(values[:24], 100, LAST_DAY)


def test_the_seasonal_mean_target_is_each_value_less_the_mean_of_its_seasons_and_comes_back():
    values = 5 + np.tile(np.arange(12.0), 20) + np.random.default_rng(1).normal(0, 1, 240)
    residual = to_target(values, MEAN)
    assert len(residual) == 240 - 36
    assert residual[0] == pytest.approx(values[36] - (values[24] + values[12] + values[0]) / 3)
    history, future = values[:200], values[200:240]
    paths = np.stack([residual[164:204], np.zeros(40)])
    restored = from_target(history, paths, MEAN)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    np.testing.assert_allclose(restored[1][:12], history[-36:].reshape(3, 12).mean(axis=0), atol=1e-9)  # zeros: the mean
    assert restored[1][12] == pytest.approx((restored[1][0] + history[-12] + history[-24]) / 3), "its own forecast, a season on"
    with pytest.raises(ConfigError, match="so give at least 37"):
        target_context(values[:36], 50, MEAN)


def test_the_seasonal_shape_target_is_the_seasons_mean_at_the_last_ones_level_and_comes_back():
    values = 5 + np.tile(np.arange(12.0), 20) + np.random.default_rng(1).normal(0, 1, 240)
    values[120:] += 30  # the level steps up: the mean of three seasons lags it, their shape at the last level does not
    residual = to_target(values, SHAPE)
    seasons = values[0:36].reshape(3, 12)
    assert residual[0] == pytest.approx(values[36] - (seasons[:, 0].mean() + seasons[2].mean() - seasons.mean()))
    history, future = values[:200], values[200:240]
    paths = np.stack([residual[164:204], np.zeros(40)])
    restored = from_target(history, paths, SHAPE)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    written = list(history)  # zeros: each step the seasons' mean at the last season's level, its own forecasts read
    for _ in range(40):
        written.append(np.mean(written[-36::12]) + np.mean(written[-12:]) - np.mean(written[-36:]))
    np.testing.assert_allclose(restored[1], written[200:], atol=1e-9)
    np.testing.assert_allclose(target_context(history, 50, SHAPE), residual[114:164], atol=1e-9)
    straddling = values[108:144]  # three seasons, the step after the first: the next value's level is 5.5 + 35
    shape = from_target(straddling, np.zeros(12), SHAPE)
    mean = from_target(straddling, np.zeros(12), MEAN)
    assert abs(shape[0] - values[144]) < 3 < 8 < abs(mean[0] - values[144]), "the shape follows the new level, the mean lags"


def test_auto_takes_the_seasons_shape_where_the_level_wanders_under_a_noisy_season():
    steps = np.arange(2400)
    noise = np.random.default_rng(4).normal(0, 2, 2400)
    level = np.cumsum(np.random.default_rng(5).normal(0, 0.2, 2400))  # a random walk under the season
    values = 20 + level + 5 * np.sin(2 * np.pi * steps / 24) + noise
    parts = Parts.of(len(values), 0.2)
    chosen, why = choose_target([(values, parts.held_out)], 24, 24, 8, combined=1)
    assert (chosen.target, chosen.seasons) == ("seasonal-shape", 8) and why.startswith("seasonal-shape over 8 seasons")
    steady = choose_target([(values - level, parts.held_out)], 24, 24, 8, combined=1)[0]
    assert steady.target == "seasonal-mean", "a steady level: the mean"
    corpus = SeriesCorpus()
    list(corpus.documents([], {"days": "60", "bins": "64", "target": "seasonal-shape"}))
    assert (corpus.plan.target, corpus.plan.lag, corpus.plan.seasons) == ("seasonal-shape", 24, 5)
    assert "moved to the level of the last season" in corpus.plan.note


def test_the_seasonal_change_target_moves_the_last_level_as_the_seasons_before_moved_and_comes_back():
    steps = np.arange(240)
    values = 3 + 0.5 * steps + np.tile(np.arange(12.0), 20) ** 1.5 + np.random.default_rng(1).normal(0, 1, 240)
    change = Reference("seasonal-change", 12, 2, 3)
    residual = to_target(values, change)
    assert change.reach == 27 and len(residual) == 240 - 27
    moved = np.mean([values[27 - 12 * k] - values[27 - 12 * k - 3:27 - 12 * k].mean() for k in (1, 2)])
    assert residual[0] == pytest.approx(values[27] - (values[24:27].mean() + moved))
    history, future = values[:200], values[200:240]
    paths = np.stack([residual[173:213], np.zeros(40)])
    restored = from_target(history, paths, change)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    written = list(history)  # zeros: each step the last 3 values' mean moved as in the two seasons before
    for _ in range(40):
        at = len(written)
        written.append(np.mean(written[-3:]) + np.mean([written[at - 12 * k] - np.mean(written[at - 12 * k - 3:at - 12 * k])
                                                        for k in (1, 2)]))
    np.testing.assert_allclose(restored[1], written[200:], atol=1e-9)
    straight = 3 + 0.5 * steps + np.tile(np.arange(12.0), 20) ** 1.5  # a trend under an exact season
    trend = from_target(straight[:200], np.zeros(40), Reference("seasonal-change", 12, 1, 1))
    last_season = from_target(straight[:200], np.zeros(40), Reference("seasonal-difference", 12))
    np.testing.assert_allclose(trend, straight[200:], atol=1e-9)
    assert np.abs(last_season - straight[200:]).min() >= 6 - 1e-9, "the last season lags the trend by 12 steps of it"
    with pytest.raises(ConfigError, match="less the mean of the 3 values before it plus the mean change in the 2 seasons"):
        target_context(values[:27], 50, change)


def test_a_combined_reference_is_the_mean_of_its_parts_and_comes_back():
    combined = Reference("combined", 12, parts=(Reference(), Reference("seasonal-mean", 12, 1), MEAN))
    weights = np.zeros(36)
    weights[0] += 1 / 3  # the last value
    weights[11] += 1 / 3  # the last season
    weights[[11, 23, 35]] += 1 / 9  # the mean of 3 seasons
    np.testing.assert_allclose(combined.weights(), weights)
    assert combined.reach == 36 and combined.name() == "the mean of 3 references"
    values = 10 + np.sin(np.arange(200) / 3) + np.random.default_rng(8).normal(0, 0.5, 200)
    residual = to_target(values, combined)
    assert residual[12] == pytest.approx(values[48] - (values[47] + values[36] + values[[36, 24, 12]].mean()) / 3)
    paths = np.stack([residual[164 - 36:164 - 36 + 30], np.zeros(30)])
    restored = from_target(values[:164], paths, combined)
    np.testing.assert_allclose(restored[0], values[164:194], atol=1e-9)
    first = np.mean([values[163], values[152], values[[152, 140, 128]].mean()])
    assert restored[1, 0] == pytest.approx(first), "untrained, its first step is the mean of the parts' forecasts"
    with pytest.raises(ConfigError, match="less the mean of 3 references: the last value; the last season; the mean of 3"):
        target_context(values[:36], 50, combined)


def test_auto_takes_the_mean_of_the_references_within_near_of_the_best_and_the_last_value_alone():
    values = trending_season(seed=9) + np.random.default_rng(10).normal(0, 2, 2400)
    parts = Parts.of(len(values), 0.2)
    ranked = rank_references([(values, parts.held_out)], 24, 24, 6)
    mean, why = choose_target([(values, parts.held_out)], 24, 24, 6)
    near = tuple(reference for reference, error in ranked[:COMBINED] if error <= ranked[0][1] * NEAR)
    assert mean == Reference("combined", 24, parts=near) and 1 < len(near) <= COMBINED, why
    assert ranked[len(near)][1] > ranked[0][1] * NEAR or len(near) == COMBINED
    assert why.startswith(f"combined: the mean of the {len(near)} references") and f"{near[0].name()} 1.00x" in why
    assert choose_target([(values, parts.held_out)], 24, 24, 6, combined=1)[0] == near[0]
    walk = 100 + np.cumsum(np.random.default_rng(2).normal(0, 1, 2400))
    level = rank_references([(walk, parts.held_out)], 24, 24, 5)
    assert level[0][0] == Reference() and level[1][1] <= level[0][1] * NEAR, "a season near the last value ..."
    assert choose_target([(walk, parts.held_out)], 24, 24, 5)[0] == Reference(), "... is left out: it adds only noise"


def test_the_last_value_is_scored_as_a_forecast_where_it_is_the_only_candidate_that_fits():
    walk = 100 + np.cumsum(np.random.default_rng(3).normal(0, 1, 300))
    (only, error), = rank_references([(walk, 240)], 1, 12, 4, longest_reach=5)  # no seasonal reference reads so few
    assert only == Reference() and error == pytest.approx(float(np.abs(np.diff(walk[:240])).sum()), rel=1e-9)
    (only, ahead), = rank_references([(walk, 240)], 12, 12, 4, longest_reach=5)  # the last value held 12 steps
    assert only == Reference() and ahead > error


def test_auto_moves_a_trend_as_the_seasons_before_moved_and_averages_a_steady_season():
    drifting = trending_season()
    steady = 5 + np.tile(np.arange(24.0), 100) % 7 + np.random.default_rng(0).normal(0, 1, 2400)
    for values, wanted in ((drifting, "seasonal-change"), (steady, "seasonal-mean")):
        parts = Parts.of(len(values), 0.2)
        chosen, why = choose_target([(values, parts.held_out)], 24, 24, 5, combined=1)
        assert chosen.target == wanted and why.startswith(wanted) and "chosen on the training and validation parts" in why
        assert chosen.seasons == 5, "the noise averaged over every season"
    corpus = SeriesCorpus()
    list(corpus.documents([], {"days": "40", "bins": "64", "target": "seasonal-difference"}))
    assert (corpus.plan.target, corpus.plan.lag) == ("seasonal-difference", 24)
    assert corpus.plan.to_json()["lag"] == 24 and "less the one 24 steps before" in corpus.plan.note
    list(corpus.documents([], {"days": "40", "bins": "64", "target": "seasonal-change"}))
    assert (corpus.plan.reference, corpus.plan.to_json()["recent"]) == (Reference("seasonal-change", 24, 1, 1), 1)
    assert "less the value before it plus the change over the same steps 24 steps apart" in corpus.plan.note
    list(corpus.documents([], {"days": "40", "bins": "16", "target": "level"}))
    assert (corpus.plan.target, corpus.plan.lag) == ("level", 0)


def test_a_bad_target_is_one_line(tmp_path, invoke):
    result = invoke("prepare", "series", "--option", "target=trend", "--run", "r", "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "--option target=trend: choose one of auto, level, seasonal-difference, seasonal-mean, seasonal-shape, seasonal-change")
    assert result.output.count("\n") == 1 and not (tmp_path / "runs" / "r").exists()
    with pytest.raises(CorpusError, match="too few for windows"):
        list(SeriesCorpus().documents([], {"days": "2", "holdout": "0.5", "target": "seasonal-difference"}))
    for target in ("seasonal-difference", "seasonal-mean", "seasonal-shape", "seasonal-change"):  # no period fits the context: said, not a level model
        with pytest.raises(CorpusError, match=f"target={target} needs a period no longer than the context"):
            list(SeriesCorpus().documents([], {"days": "60", "period": "168", "context": "100", "target": target}))


def _trained(tmp_path, values: np.ndarray, target: str) -> Run:
    path = tmp_path / "trend.csv"
    path.write_text("v\n" + "\n".join(f"{value:.6g}" for value in values) + "\n")
    run = Run(tmp_path / "runs" / target)
    prepare(run, PrepareConfig("series", [path], options={"period": "24", "bins": "64", "target": target}))
    train(run, QUICK)
    return run


def test_the_seasonal_difference_and_change_beat_the_level_on_a_steepening_trend(tmp_path):
    values = trending_season()
    scores = {target: score_forecasts(_trained(tmp_path, values, target),
                                      ForecastScoreConfig(num_samples=20, origins=16, device="cpu", checkpoint="latest"))
              for target in ("level", "seasonal-difference", "seasonal-change", "auto")}
    level, difference, change = (scores[target].figures["model"] for target in ("level", "seasonal-difference", "seasonal-change"))
    naive = scores["level"].figures["seasonal naive 24"]
    as_trained = {target: scores[target].validation_errors[0] for target in scores}
    assert as_trained["seasonal-difference"] < 0.5 * as_trained["level"], "the level model cannot follow a rate it never saw"
    assert scores["level"].anchor == "smoothing" and scores["level"].toward_reference >= 0.5, "Holt-Winters carries it instead"
    persisted = scores["level"].validation_errors
    assert len(persisted) == 5 and persisted[-1] > min(scores["level"].smoothing_errors), "the last value, weighed and beaten"
    assert level.mae < 0.5 * scores["level"].figures["persistence"].mae
    assert re.search(r"each alone there: [^)]*for Holt-Winters", scores["level"].text())
    assert difference.mase < 0.3 * naive.mase, "it learns the drift, not only the season before (untrained: 0.8x)"
    [result] = forecast(Run(tmp_path / "runs" / "seasonal-difference"), ForecastConfig(horizon=60, num_samples=10, seed=0, device="cpu"))
    assert result.metadata["target"] == "seasonal-difference" and result.metadata["lag"] == 24
    assert result.quantile(50)[-24:].mean() > values[-24:].mean(), "beyond a season each path goes on from its own forecast"
    assert change.mase < 0.3 * naive.mase, "the last value moved as the day before moved carries the trend (untrained: 0.12x)"
    [moved] = forecast(Run(tmp_path / "runs" / "seasonal-change"), ForecastConfig(horizon=60, num_samples=10, seed=0, device="cpu"))
    assert (moved.metadata["target"], moved.metadata["lag"], moved.metadata["recent"]) == ("seasonal-change", 24, 1)
    assert moved.quantile(50)[-24:].mean() > values[-24:].mean() + 1, "two days on, the trend is carried"
    assert scores["auto"].figures["model"].mase < 0.3 * naive.mase, "the mean of the references carries the trend too"
    [mean] = forecast(Run(tmp_path / "runs" / "auto"), ForecastConfig(horizon=24, num_samples=10, seed=0, device="cpu"))
    assert mean.metadata["target"] == "combined" and mean.metadata["reference"].startswith("the mean of 5 references: the last 12")
    assert [part["lag"] for part in mean.metadata["parts"]] == [24] * 5 and mean.metadata["parts"][0]["recent"] == 12


def test_evaluate_and_forecast_apply_the_floor_kept_in_the_run(tmp_path):
    run = _trained(tmp_path, trending_season(seed=4), "seasonal-difference")
    (run.dir / FILE).write_text(json.dumps({"factor": 5.0, "windows": 3, "coverage": 0.5, "forecasts": {}}))  # before the floor
    score = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu"))
    kept = json.loads((run.dir / FILE).read_text())
    assert kept["floor"] == score.interval_floor and kept["windows"] == score.calibration_windows > 0
    assert kept["forecasts"]["horizon"] == 24 and kept["forecasts"]["checkpoint"] == "best.pt"
    kept["floor"], kept["ceiling"] = 5.0, None  # a band widened, not narrowed
    (run.dir / FILE).write_text(json.dumps(kept))
    [wide] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    kept["floor"] = 0.0
    (run.dir / FILE).write_text(json.dumps(kept))
    [drawn] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert wide.metadata["interval_floor"] == 5.0 and drawn.metadata["interval_floor"] == 0.0
    scale = wide.metadata["seasonal_scale"]
    assert scale == pytest.approx(np.mean(np.abs(np.diff(wide.history.reshape(-1, 24), axis=0)))) and scale > 0
    median, reaches = wide.quantile(50), np.stack([wide.quantile(50) - wide.quantile(10), wide.quantile(90) - wide.quantile(50)])
    np.testing.assert_allclose(median, drawn.quantile(50))
    np.testing.assert_allclose(reaches.min(axis=0), np.maximum(5 * scale, np.stack([drawn.quantile(50) - drawn.quantile(10),
                               drawn.quantile(90) - drawn.quantile(50)]).min(axis=0)), rtol=1e-6)
    kept["floor"] = 5.0
    (run.dir / FILE).write_text(json.dumps(kept))
    best = run.dir / "best.pt"
    os.utime(best, ns=(best.stat().st_atime_ns, best.stat().st_mtime_ns + 10**9))  # as if trained again, same step
    [again] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert again.metadata["interval_floor"] == score.interval_floor != 5.0, "a stale floor was reused"
    kept = json.loads((run.dir / FILE).read_text())
    drawn_reach = np.maximum(drawn.quantile(90) - drawn.quantile(50), drawn.quantile(50) - drawn.quantile(10))
    ceiling = float(np.median(drawn_reach)) / scale  # in seasonal scales: about half the steps' bands reach farther
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": ceiling}))
    [capped] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert capped.metadata["interval_ceiling"] == ceiling and capped.metadata["interval_floor"] == 0.0
    np.testing.assert_allclose(capped.quantile(50), drawn.quantile(50))
    reach = np.maximum(capped.quantile(90) - capped.quantile(50), capped.quantile(50) - capped.quantile(10))
    np.testing.assert_allclose(reach, np.minimum(drawn_reach, np.maximum(ceiling * scale, 0.25 * drawn_reach)), rtol=1e-6)
    assert (reach < drawn_reach - 1e-9).any() and (reach == drawn_reach).any(), "only the wider bands narrowed"
    del kept["ceiling"]  # from before the band was narrowed to a ceiling: found again
    (run.dir / FILE).write_text(json.dumps(kept))
    [found] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert found.metadata["interval_ceiling"] == json.loads((run.dir / FILE).read_text())["ceiling"]
    kept = json.loads((run.dir / FILE).read_text())
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": 0.01}))
    narrow = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu"))
    assert narrow.interval_ceiling == 0.01 and narrow.figures["model"].mase == pytest.approx(score.figures["model"].mase, rel=1e-12)
    assert narrow.figures["model"].coverage < narrow.uncalibrated_coverage, "evaluate scores the narrowed band"
    assert "band narrowed to reach at most 0.01 seasonal scales (MASE's denominator) from its median" in narrow.text()
    assert narrow.reference_windows > 0 and len(narrow.validation_errors) == 5 and "validation part best" in narrow.text()
    assert kept["smoothing"]["period"] == 24 and len(kept["smoothing_errors"]) == 5, "Holt-Winters was weighed too"
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": None, "toward_reference": 1.0, "anchor": "reference"}))
    [pulled] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert pulled.metadata["toward_reference"] == 1.0 and pulled.metadata["anchor"] == "reference"
    np.testing.assert_allclose(pulled.quantile(50), pulled.history[-24:], err_msg="the seasonal difference's reference")
    naive = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu"))
    assert naive.figures["model"].mase == pytest.approx(naive.figures["seasonal naive 24"].mase, rel=1e-9)
    assert "moved 100% of the way to its reference (the last season)" in naive.text()
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": None, "toward_reference": 1.0, "anchor": "smoothing"}))
    [smoothed] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    fitted = Smoothing(**kept["smoothing"])
    np.testing.assert_allclose(smoothed.quantile(50), fitted.forecast([smoothed.history], 24)[0], err_msg="Holt-Winters' forecast")
    assert smoothed.metadata["smoothing"] == kept["smoothing"]
    assert "moved 100% of the way to Holt-Winters' forecast (smoothing weights: level" in score_forecasts(
        run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu")).text()
    assert kept["autoregression"]["period"] == 24 and len(kept["autoregression_errors"]) == 5, "the autoregression too"
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": None, "toward_reference": 1.0, "anchor": "autoregression"}))
    [regressed] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    fitted = Autoregression(**{**kept["autoregression"], "weights": tuple(kept["autoregression"]["weights"])})
    np.testing.assert_allclose(regressed.quantile(50), fitted.forecast([regressed.history], 24)[0], err_msg="the autoregression's forecast")
    assert regressed.metadata["autoregression"]["weights"] == fitted.weights and regressed.metadata["anchor"] == "autoregression"
    assert f"moved 100% of the way to an autoregression on the last {len(fitted.weights)} steps with a drift" in score_forecasts(
        run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu")).text()
    weighed = kept["anchor_errors"]
    documents, plan = held_out_documents(run, series_corpus(run), ""), window_plan(run)
    origins = calibration_origins(documents, 0.2, 24, max(plan.reach + 1, plan.context // 2, 25))
    histories = [documents[index].values[:origin] for index, origin in origins]
    truth = np.stack([documents[index].truth(origin, origin + 24) for index, origin in origins])
    fits = Fits(Smoothing(**kept["smoothing"]), Autoregression(**{**kept["autoregression"], "weights": tuple(kept["autoregression"]["weights"])}))
    training = Parts.of(len(documents[0].values), 0.2).validation
    assert len(origins) == kept["windows"] and sum(origin + 24 <= training for _, origin in origins) > kept["reference_windows"]
    scales = np.array([history_scale(history, 24) for history in histories])
    candidates = anchor_candidates(plan.reference, fits, histories, 24)
    assert weighed == pytest.approx(weigh_anchors(candidates, truth, scales)), "each anchor alone, on those origins"
    assert kept["anchor"] == min(weighed, key=weighed.get), "the anchor that erred least over the training and validation parts"
    assert (f"forecast the {kept['windows']} origins in the training and validation parts best (in seasonal scales: "
            f"{weighed['reference']:.3f} for the reference, ") in narrow.text()
    fourteenth = {key: value for key, value in kept.items() if key != "anchor_errors"}
    (run.dir / FILE).write_text(json.dumps({**fourteenth, "floor": 3.0, "ceiling": None}))  # anchor chosen on validation
    [again] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert again.metadata["interval_floor"] != 3.0 and again.metadata["anchor_errors"] == weighed, "found again"
    twelfth = {key: value for key, value in fourteenth.items() if key not in ("autoregression", "autoregression_errors")}
    (run.dir / FILE).write_text(json.dumps({**twelfth, "floor": 3.0, "ceiling": None}))  # from before the autoregression
    [again] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert again.metadata["interval_floor"] != 3.0 and "autoregression" in json.loads((run.dir / FILE).read_text()), "found again"
    (run.dir / FILE).write_text(json.dumps({**kept, "floor": 0.0, "ceiling": None, "toward_reference": 0.0}))
    [own] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert not np.allclose(own.quantile(50), pulled.quantile(50)), "the model's own median is not its reference"
    np.testing.assert_allclose(pulled.quantile(90) - pulled.quantile(10), own.quantile(90) - own.quantile(10), rtol=1e-6)
    (run.dir / FILE).write_text(json.dumps({**kept, "toward_reference": 0.3}))  # no share calibration chooses: found again
    [found] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert json.loads((run.dir / FILE).read_text())["toward_reference"] == found.metadata["toward_reference"] != 0.3
    tenth = {key: value for key, value in twelfth.items() if key not in ("anchor", "smoothing", "smoothing_errors")}
    (run.dir / FILE).write_text(json.dumps({**tenth, "floor": 3.0}))  # from before Holt-Winters: found again
    [again] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert again.metadata["interval_floor"] != 3.0 and "anchor" in json.loads((run.dir / FILE).read_text())
    older = {key: value for key, value in tenth.items() if key not in ("toward_reference", "reference_windows", "validation_errors")}
    (run.dir / FILE).write_text(json.dumps({**older, "floor": 3.0}))  # from before the share: found again
    [again] = forecast(run, ForecastConfig(horizon=24, num_samples=40, seed=0, device="cpu"))
    assert again.metadata["interval_floor"] != 3.0 and "toward_reference" in json.loads((run.dir / FILE).read_text())
    (run.dir / FILE).write_text(json.dumps({**older, "floor": 3.0, "shrink": 1.0}))
    source, context = tmp_path / "trend.csv", tmp_path / "context.csv"
    context.write_text("v\n" + "\n".join(f"{value:.6g}" for value in own.history) + "\n")
    source.rename(tmp_path / "moved.csv")  # its sources gone: a calibration from before the share still holds
    [kept_older] = forecast(run, ForecastConfig(contexts=(context,), horizon=24, num_samples=40, seed=0, device="cpu"))
    assert kept_older.metadata["interval_floor"] == 3.0 and kept_older.metadata["toward_reference"] == 0.0
    (run.dir / FILE).write_text(json.dumps({**fourteenth, "floor": 3.0, "ceiling": None, "toward_reference": 0.75}))
    [kept_fourteenth] = forecast(run, ForecastConfig(contexts=(context,), horizon=24, num_samples=40, seed=0, device="cpu"))
    assert kept_fourteenth.metadata["interval_floor"] == 3.0 and kept_fourteenth.metadata["toward_reference"] == 0.75
    assert kept_fourteenth.metadata["anchor_errors"] == {}, "its anchor chosen on the validation part, and kept"
    (run.dir / FILE).write_text(json.dumps({**older, "floor": 0.0, "shrink": 0.5}))  # a band narrowed as no longer done
    [as_drawn] = forecast(run, ForecastConfig(contexts=(context,), horizon=24, num_samples=40, seed=0, device="cpu"))
    assert as_drawn.metadata["calibration_windows"] == 0 and as_drawn.metadata["interval_ceiling"] is None
    (tmp_path / "moved.csv").rename(source)
