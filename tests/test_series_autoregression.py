"""The autoregression on a series' steps: its fit, its forecast, and how calibration.json keeps it."""

import json
import re
from dataclasses import asdict

import numpy as np
import pytest

from charmony.pipeline.series.autoregression import GROWTH, Autoregression, fit_autoregression, highest_order
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.config import ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.series.calibration import FILE, Calibration, Forecasts
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.training.train import train


def wandering(length: int, seed: int = 0, drift: float = 0.3) -> np.ndarray:
    """A level whose steps follow an AR(2) with a drift: each step 0.6 of the last, less 0.3 of the one before."""
    noise = np.random.default_rng(seed).normal(0, 1, length)
    steps = np.zeros(length)
    for t in range(2, length):
        steps[t] = drift + 0.6 * steps[t - 1] - 0.3 * steps[t - 2] + noise[t]
    return 100 + np.cumsum(steps)


def test_the_fit_finds_the_steps_weights_and_drift_and_forecasts_better_than_the_last_value():
    values = wandering(3000)
    fitted = fit_autoregression([values[:2500]], 1)
    assert fitted is not None and len(fitted.weights) == 2, "AICc weighs the orders: no weight on steps that do not matter"
    np.testing.assert_allclose(fitted.weights, (0.6, -0.3), atol=0.06)
    noise = fit_autoregression([np.cumsum(np.random.default_rng(7).normal(0.5, 1, 2000))], 1)
    assert noise is not None and noise.weights == () and "with no weight on the steps before" in noise.text()
    scale = np.mean(np.abs(np.diff(values[:2500])))
    assert fitted.drift * scale == pytest.approx(0.3, abs=0.08), "the drift, in the series' own units"
    origins = range(2500, 2990, 10)
    forecast = fitted.forecast([values[:origin] for origin in origins], 1)[:, 0]
    truth = np.array([values[origin] for origin in origins])
    last = np.array([values[origin - 1] for origin in origins])
    assert np.abs(forecast - truth).mean() < 0.9 * np.abs(last - truth).mean()


def test_a_forecast_worked_by_hand():
    fitted = Autoregression(drift=0.5, weights=(0.5,), period=1)
    history = np.array([0.0, 1.0, 3.0])  # steps 1 and 2: the seasonal scale is their mean, 1.5
    # the next step: 0.5 * 1.5 + 0.5 * 2 = 1.75; the one after: 0.75 + 0.5 * 1.75 = 1.625
    np.testing.assert_allclose(fitted.forecast([history], 2)[0], [4.75, 6.375])
    flat = Autoregression(drift=0.0, weights=(), period=1)
    np.testing.assert_allclose(flat.forecast([history, np.array([2.0, 2.0])], 3), [[3.0] * 3, [2.0] * 3])


def test_histories_forecast_together_as_each_alone_and_missing_values_count_as_no_step():
    values = wandering(400, seed=1)
    fitted = fit_autoregression([values], 1)
    histories = [values[:300], values[:250], values[:377]]
    together = fitted.forecast(histories, 5)
    for row, history in enumerate(histories):
        np.testing.assert_allclose(together[row], fitted.forecast([history], 5)[0])
    np.testing.assert_allclose(fitted.forecast([1000 * values[:300]], 5), 1000 * together[:1], err_msg="each in its own units")
    walk = 1000 * np.cumsum(np.random.default_rng(6).normal(0, 1, 400))  # steps that follow nothing, 1000 times larger
    pooled = fit_autoregression([values, walk], 1)
    assert pooled is not None and len(pooled.weights) and 0.15 < pooled.weights[0] < 0.45, "each series weighs alike"
    gapped = values[:300].copy()
    gapped[-1] = np.nan
    after_gap = fitted.forecast([gapped], 1)[0, 0]
    steps = np.nan_to_num(np.diff(gapped)[::-1][:len(fitted.weights)])
    scale = np.nanmean(np.abs(np.diff(gapped)))
    assert after_gap == pytest.approx(gapped[-2] + fitted.drift * scale + steps @ np.array(fitted.weights))


def test_a_series_with_a_gap_every_week_is_still_fitted_and_forecasts_better_than_its_last_value():
    values = wandering(3000, seed=8)
    gapped = values.copy()
    gapped[::7] = np.nan  # two of every seven steps missing: no row of nine steps is whole
    fitted = fit_autoregression([gapped[:2500]], 1)
    assert fitted is not None and fitted.weights[0] > 0.3, "the steps before still carry the next"
    origins = [origin for origin in range(2500, 2990, 5) if origin % 7 > 1]  # after two known values
    forecast = fitted.forecast([gapped[:origin] for origin in origins], 1)[:, 0]
    truth, last = values[origins], values[np.array(origins) - 1]
    assert np.abs(forecast - truth).mean() < 0.95 * np.abs(last - truth).mean()


def test_a_short_series_is_not_fitted_and_the_order_follows_the_season():
    values = wandering(400, seed=2)
    assert fit_autoregression([values[:40]], 1) is None, "too few steps for the highest order's weights"
    assert fit_autoregression([values[:40], values], 1) is not None, "the long series is fitted alone"
    assert (highest_order(1), highest_order(12), highest_order(336)) == (8, 13, 24)
    assert fit_autoregression([np.full(200, 5.0)], 1) is None, "a flat series has no scale to fit in"


def test_calibration_json_holds_the_autoregression_and_refuses_a_damaged_one():
    fitted = Autoregression(0.1, (0.5, -0.2), 4)
    kept = asdict(Calibration(0.5, 40, 0.7, Forecasts("best.pt", 100, 1, 1.0, 4), toward_reference=0.75, reference_windows=9,
                              validation_errors=(1.0,) * 5, anchor="autoregression", autoregression=fitted,
                              autoregression_errors=(0.5,) * 5))
    found = Calibration.of_json(kept)
    assert found.autoregression == fitted and found.anchor == "autoregression"
    np.testing.assert_allclose(found.anchor_forecasts(None, [np.arange(12.0)], 3), fitted.forecast([np.arange(12.0)], 3))
    for damaged in ({"autoregression_errors": []}, {"autoregression": None}, {"autoregression": {**kept["autoregression"], "period": 0}},
                    {"autoregression": {**kept["autoregression"], "weights": [float("inf")]}}):
        with pytest.raises(ValueError):
            Calibration.of_json({**kept, **damaged})
    with pytest.raises(KeyError):  # from before the autoregression: found again
        Calibration.of_json({key: value for key, value in kept.items() if key != "autoregression_errors"})


def test_on_a_wandering_series_the_median_moves_to_the_autoregression_and_beats_the_last_value(tmp_path):
    source = tmp_path / "beats.csv"
    source.write_text("v\n" + "\n".join(f"{value:.6g}" for value in wandering(1500, seed=3, drift=0.0)) + "\n")
    run = Run(tmp_path / "runs" / "beats")
    prepare(run, PrepareConfig("series", [source], options={"period": "1", "bins": "64"}))
    train(run, TrainConfig().with_settings(layers=1, hidden=48, embedding=16, seq_len=48, batch_size=8, lr=1e-2, max_steps=200,
                                           eval_every=100, save_every=200, log_every=100, warmup_steps=10, device="cpu"))
    score = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=16, device="cpu"))
    assert score.anchor == "autoregression" and score.toward_reference >= 0.5, score.text()
    assert score.figures["model"].mae < 0.9 * score.figures["persistence"].mae, score.text()
    assert re.search(r"each alone there: [^)]*for the autoregression\)", score.text())
    assert len(score.validation_errors) == 5 and score.validation_errors[-1] > score.autoregression_errors[-1], "the last value lost"
    kept = json.loads((run.dir / FILE).read_text())
    (run.dir / FILE).write_text(json.dumps({**kept, "anchor": "reference", "toward_reference": 1.0}))
    persisted = score_forecasts(run, ForecastScoreConfig(num_samples=20, origins=16, device="cpu"))
    assert persisted.figures["model"].mae == pytest.approx(persisted.figures["persistence"].mae, rel=1e-9), "a level's reference"
    assert "moved 100% of the way to its reference (the last value)" in persisted.text()


def growth(weights: tuple[float, ...]) -> float:
    """The largest root of the steps' companion matrix."""
    if not weights:
        return 0.0
    companion = np.eye(len(weights), k=-1)
    companion[0] = weights
    return float(np.abs(np.linalg.eigvals(companion)).max())


def test_a_fit_whose_steps_would_swamp_the_forecast_is_never_taken_but_a_season_carried_on_is():
    steps = 1.05 ** np.arange(300)  # each step 1.05 times the last: weight 1.05 on it fits it exactly
    fitted = fit_autoregression([np.cumsum(steps)], 1)
    assert fitted is not None and growth(fitted.weights) <= GROWTH < 1.05
    season = np.tile([0.0, 3.0, 1.0, -2.0], 100) + np.random.default_rng(5).normal(0, 0.05, 400)
    carried = fit_autoregression([season], 4)
    assert carried is not None and growth(carried.weights) > 0.97, "the season's unit roots are allowed"
    forecast = carried.forecast([season[:396]], 4)[0]
    assert np.abs(forecast - season[396:]).mean() < 0.3, "the season goes on"
    rising = Autoregression(0.0, (0.0, 0.0, 0.0, 1.015), 4)  # a season whose steps grow 1.5% a season: root 1.0037
    assert rising.holds_for(12) and not rising.holds_for(400), "weighed for three seasons, not for a hundred"
    assert Autoregression(0.1, (), 1).holds_for(10_000)
