"""Holt-Winters fitted on a run's training part, the second forecast a series median may move toward."""

from dataclasses import asdict

import numpy as np
import pytest

from charmony.pipeline.series.calibration import Calibration, Forecasts
from charmony.pipeline.series.smoothing import Smoothing, fit_smoothing


def seasonal_trend(length: int, seed: int = 0, noise: float = 0.3) -> np.ndarray:
    steps = np.arange(length)
    return 50 + 0.3 * steps + 5 * np.sin(2 * np.pi * steps / 12) + np.random.default_rng(seed).normal(0, noise, length)


def test_fitted_holt_winters_follows_a_trend_the_seasonal_naive_forecast_lags_behind():
    values = seasonal_trend(300)
    smoothing = fit_smoothing([values[:240]], 12)
    assert smoothing is not None and smoothing.period == 12
    origins = range(240, 288, 4)
    forecasts = smoothing.forecast([values[:origin] for origin in origins], 12)
    truth = np.stack([values[origin:origin + 12] for origin in origins])
    naive = np.stack([values[origin - 12:origin] for origin in origins])
    assert np.abs(forecasts - truth).mean() < 0.3 * np.abs(naive - truth).mean(), "a year's trend is 3.6, the noise 0.3"
    assert np.abs(forecasts - truth).mean() < 0.5


def test_the_fit_weighs_the_level_by_how_much_it_wanders():
    random = np.random.default_rng(1)
    wandering = fit_smoothing([np.cumsum(random.normal(0, 1, 400))], 4)
    steady = fit_smoothing([random.normal(0, 1, 400)], 4)
    assert wandering is not None and steady is not None
    assert wandering.level >= 0.7, "a random walk's best forecast is its last value"
    assert steady.level <= 0.1 and steady.trend == 0.0, "noise about a constant is best averaged"


def test_histories_forecast_together_as_each_alone():
    values = seasonal_trend(200, seed=2)
    smoothing = Smoothing(0.3, 0.05, 0.2, 0.9, 12)
    histories = [values[:150], values[:97], values[:200], values[:18], values[:7]]  # the last two: under 2 and 1 seasons
    together = smoothing.forecast(histories, 30)
    for row, history in enumerate(histories):
        np.testing.assert_allclose(together[row], smoothing.forecast([history], 30)[0], rtol=1e-12)
    undamped = Smoothing(0.3, 0.05, 0.2, 1.0, 12).forecast(histories[:1], 24)[0]
    assert np.ptp(undamped[12:] - undamped[:12]) < 1e-9, "a season on, the same shape, moved by a season's trend"


def test_a_missing_value_moves_the_level_along_and_a_short_series_is_not_fitted():
    values = seasonal_trend(200, seed=3, noise=0.0)
    gapped = values.copy()
    gapped[150:153] = np.nan
    smoothing = Smoothing(0.3, 0.05, 0.2, 1.0, 12)
    forecast = smoothing.forecast([gapped], 12)[0]
    assert np.isfinite(forecast).all()
    long = seasonal_trend(20_000, seed=4)
    fitted = fit_smoothing([long], 12)
    assert fitted is not None and np.abs(fitted.forecast([long], 12)[0] - (50 + 0.3 * 20_006)).max() < 10, (
        "a grid row that diverges over many values is never the fit")
    assert np.abs(forecast - smoothing.forecast([values], 12)[0]).max() < 1.0
    assert fit_smoothing([values[:35]], 12) is None, "fewer than three seasons"
    assert fit_smoothing([values[:40], gapped], 12) is not None, "the series long enough are fitted"


def test_calibration_json_holds_the_fit_and_refuses_a_damaged_one():
    smoothing = Smoothing(0.3, 0.05, 0.2, 0.9, 12)
    kept = asdict(Calibration(0.5, 40, 0.7, Forecasts("best.pt", 100, 1, 1.0, 12), toward_reference=1.0, reference_windows=9,
                              validation_errors=(1.0,) * 5, anchor="smoothing", smoothing=smoothing, smoothing_errors=(0.5,) * 5))
    assert Calibration.of_json(kept).smoothing == smoothing
    for damaged in ({"smoothing_errors": []}, {"smoothing": None}, {"smoothing": {**kept["smoothing"], "period": 0}},
                    {"smoothing": {**kept["smoothing"], "level": float("nan")}}, {"anchor": "mean"}):
        with pytest.raises(ValueError):
            Calibration.of_json({**kept, **damaged})
