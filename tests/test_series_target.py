"""The series targets (the values, their seasonal difference, their residual from the seasons' mean) and the 80%
band's floor kept in the run and applied alike by evaluate and forecast."""

import json
import os

import numpy as np
import pytest
from assertions import assert_user_error

from charmony.corpora.series import SeriesCorpus
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.config import ForecastConfig, ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.series.calibration import FILE
from charmony.pipeline.series.forecast import forecast
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.series.target import choose_target, from_target, target_context, to_target
from charmony.pipeline.series.windows import Parts
from charmony.pipeline.system.errors import ConfigError, CorpusError
from charmony.pipeline.training.train import train

QUICK = TrainConfig().with_settings(layers=1, hidden=48, embedding=16, seq_len=48, batch_size=8, lr=1e-2, max_steps=300,
                                    eval_every=100, save_every=300, log_every=100, warmup_steps=10, device="cpu")


def trending_season(length: int = 2400, seed: int = 3) -> np.ndarray:
    """A daily season on a trend that steepens, so that the held-out part rises faster than any training window."""
    steps = np.arange(length)
    pattern = np.array([0, 0, 1, 2, 4, 5, 4, 2, 1, 1, 2, 3, 4, 4, 3, 2, 1, 0, 0, 0, 0, 0, 0, 0], dtype=float)
    return 50 + (steps / 300) ** 2 + pattern[steps % 24] + np.random.default_rng(seed).normal(0, 0.1, length)


def test_the_target_is_the_seasonal_difference_and_samples_are_added_back_path_by_path():
    values = trending_season(200)
    differenced = to_target(values, 24)
    assert len(differenced) == 176 and differenced[0] == values[24] - values[0]
    history, future = values[:150], values[150:200]
    paths = np.stack([differenced[126:176], np.zeros(50)])  # the true differences, and an untrained model's zeros
    restored = from_target(history, paths, 24)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    np.testing.assert_allclose(restored[1], np.resize(history[-24:], 50), atol=1e-9)  # zeros: the seasonal naive
    np.testing.assert_allclose(target_context(history, 100, 24), differenced[26:126])
    with pytest.raises(ConfigError, match="the context has 24 values; the run forecasts each value less the one 24 steps before it, so give at least 25"):
        target_context(values[:24], 100, 24)


def test_the_seasonal_mean_target_is_each_value_less_the_mean_of_its_seasons_and_comes_back():
    values = 5 + np.tile(np.arange(12.0), 20) + np.random.default_rng(1).normal(0, 1, 240)
    residual = to_target(values, 12, 3)
    assert len(residual) == 240 - 36
    assert residual[0] == pytest.approx(values[36] - (values[24] + values[12] + values[0]) / 3)
    history, future = values[:200], values[200:240]
    paths = np.stack([residual[164:204], np.zeros(40)])
    restored = from_target(history, paths, 12, 3)
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    np.testing.assert_allclose(restored[1][:12], history[-36:].reshape(3, 12).mean(axis=0), atol=1e-9)  # zeros: the mean
    assert restored[1][12] == pytest.approx((restored[1][0] + history[-12] + history[-24]) / 3), "its own forecast, a season on"
    with pytest.raises(ConfigError, match="so give at least 37"):
        target_context(values[:36], 50, 12, 3)


def test_the_seasonal_shape_target_is_the_seasons_mean_at_the_last_ones_level_and_comes_back():
    values = 5 + np.tile(np.arange(12.0), 20) + np.random.default_rng(1).normal(0, 1, 240)
    values[120:] += 30  # the level steps up: the mean of three seasons lags it, their shape at the last level does not
    residual = to_target(values, 12, 3, "seasonal-shape")
    seasons = values[0:36].reshape(3, 12)
    assert residual[0] == pytest.approx(values[36] - (seasons[:, 0].mean() + seasons[2].mean() - seasons.mean()))
    history, future = values[:200], values[200:240]
    paths = np.stack([residual[164:204], np.zeros(40)])
    restored = from_target(history, paths, 12, 3, "seasonal-shape")
    np.testing.assert_allclose(restored[0], future, atol=1e-9)
    written = list(history)  # zeros: each step the seasons' mean at the last season's level, its own forecasts read
    for _ in range(40):
        written.append(np.mean(written[-36::12]) + np.mean(written[-12:]) - np.mean(written[-36:]))
    np.testing.assert_allclose(restored[1], written[200:], atol=1e-9)
    np.testing.assert_allclose(target_context(history, 50, 12, 3, "seasonal-shape"), residual[114:164], atol=1e-9)
    straddling = values[108:144]  # three seasons, the step after the first: the next value's level is 5.5 + 35
    shape = from_target(straddling, np.zeros(12), 12, 3, "seasonal-shape")
    mean = from_target(straddling, np.zeros(12), 12, 3)
    assert abs(shape[0] - values[144]) < 3 < 8 < abs(mean[0] - values[144]), "the shape follows the new level, the mean lags"


def test_auto_takes_the_seasons_shape_where_the_level_wanders_under_a_noisy_season():
    steps = np.arange(2400)
    noise = np.random.default_rng(4).normal(0, 2, 2400)
    level = np.cumsum(np.random.default_rng(5).normal(0, 0.2, 2400))  # a random walk under the season
    values = 20 + level + 5 * np.sin(2 * np.pi * steps / 24) + noise
    parts = Parts.of(len(values), 0.2)
    target, seasons, why = choose_target([(values, parts.held_out)], 24, 24, 8)
    assert (target, seasons) == ("seasonal-shape", 8) and why.startswith("seasonal-shape over 8 seasons")
    assert choose_target([(values - level, parts.held_out)], 24, 24, 8)[0] == "seasonal-mean", "a steady level: the mean"
    corpus = SeriesCorpus()
    list(corpus.documents([], {"days": "60", "bins": "64", "target": "seasonal-shape"}))
    assert (corpus.plan.target, corpus.plan.lag, corpus.plan.seasons) == ("seasonal-shape", 24, 5)
    assert "moved to the level of the last season" in corpus.plan.note


def test_auto_differences_a_drifting_season_and_averages_a_steady_one():
    drifting = trending_season()
    steady = 5 + np.tile(np.arange(24.0), 100) % 7 + np.random.default_rng(0).normal(0, 1, 2400)
    for values, wanted in ((drifting, "seasonal-difference"), (steady, "seasonal-mean")):
        parts = Parts.of(len(values), 0.2)
        target, seasons, why = choose_target([(values, parts.held_out)], 24, 24, 5)
        assert target == wanted and why.startswith(wanted) and "chosen on the training and validation parts" in why
        assert seasons == (1 if wanted == "seasonal-difference" else 5), "noise around a steady season: averaged over all"
    corpus = SeriesCorpus()
    list(corpus.documents([], {"days": "40", "bins": "64", "target": "seasonal-difference"}))
    assert (corpus.plan.target, corpus.plan.lag) == ("seasonal-difference", 24)
    assert corpus.plan.to_json()["lag"] == 24 and "less the one 24 steps before" in corpus.plan.note
    list(corpus.documents([], {"days": "40", "bins": "16", "target": "level"}))
    assert (corpus.plan.target, corpus.plan.lag) == ("level", 0)


def test_a_bad_target_is_one_line(tmp_path, invoke):
    result = invoke("prepare", "series", "--option", "target=trend", "--run", "r", "--runs-dir", tmp_path / "runs")
    assert_user_error(result, "--option target=trend: choose one of auto, level, seasonal-difference, seasonal-mean, seasonal-shape")
    assert result.output.count("\n") == 1 and not (tmp_path / "runs" / "r").exists()
    with pytest.raises(CorpusError, match="too few for windows"):
        list(SeriesCorpus().documents([], {"days": "2", "holdout": "0.5", "target": "seasonal-difference"}))
    for target in ("seasonal-difference", "seasonal-mean", "seasonal-shape"):  # no period fits the context: said, not a level model
        with pytest.raises(CorpusError, match=f"target={target} needs a period no longer than the context"):
            list(SeriesCorpus().documents([], {"days": "60", "period": "168", "context": "100", "target": target}))


def _trained(tmp_path, values: np.ndarray, target: str) -> Run:
    path = tmp_path / "trend.csv"
    path.write_text("v\n" + "\n".join(f"{value:.6g}" for value in values) + "\n")
    run = Run(tmp_path / "runs" / target)
    prepare(run, PrepareConfig("series", [path], options={"period": "24", "bins": "64", "target": target}))
    train(run, QUICK)
    return run


def test_the_seasonal_difference_beats_the_level_on_a_steepening_trend(tmp_path):
    values = trending_season()
    scores = {target: score_forecasts(_trained(tmp_path, values, target),
                                      ForecastScoreConfig(num_samples=20, origins=16, device="cpu", checkpoint="latest"))
              for target in ("level", "seasonal-difference")}
    level, difference = (scores[target].figures["model"] for target in ("level", "seasonal-difference"))
    naive = scores["level"].figures["seasonal naive 24"]
    assert difference.mae < 0.5 * level.mae, "the level model cannot follow a rate it never saw"
    assert difference.mase < 0.3 * naive.mase, "it learns the drift, not only the season before (untrained: 0.8x)"
    [result] = forecast(Run(tmp_path / "runs" / "seasonal-difference"), ForecastConfig(horizon=60, num_samples=10, seed=0, device="cpu"))
    assert result.metadata["target"] == "seasonal-difference" and result.metadata["lag"] == 24
    assert result.quantile(50)[-24:].mean() > values[-24:].mean(), "beyond a season each path goes on from its own forecast"


def test_evaluate_and_forecast_apply_the_floor_kept_in_the_run(tmp_path):
    run = _trained(tmp_path, trending_season(seed=4), "seasonal-difference")
    (run.dir / FILE).write_text(json.dumps({"factor": 5.0, "windows": 3, "coverage": 0.5, "forecasts": {}}))  # before the floor
    score = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=8, device="cpu"))
    kept = json.loads((run.dir / FILE).read_text())
    assert kept["floor"] == score.interval_floor and kept["windows"] == score.calibration_windows > 0
    assert kept["forecasts"]["horizon"] == 24 and kept["forecasts"]["checkpoint"] == "best.pt"
    kept["floor"] = 5.0
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
