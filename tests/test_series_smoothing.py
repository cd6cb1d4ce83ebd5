"""Holt-Winters fitted on a run's training part, the second forecast a series median may move toward."""

from dataclasses import asdict

import numpy as np
import pytest

from charmony.pipeline.series.calibration import Calibration, Forecasts
from charmony.pipeline.series import smoothing as smoothing_module
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
    walk = np.cumsum(random.normal(0, 1, 3000))
    fitted = fit_smoothing([walk], 1)
    assert fitted is not None and fitted.level == 1.0, "a long random walk, no season: its last value as the level"
    ahead = fitted.forecast([walk], 5)[0]
    assert np.abs(ahead - walk[-1]).max() < 0.2 * np.mean(np.abs(np.diff(walk))), "... carried on with little drift"
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


def plain_forecast(values: np.ndarray, smoothing: Smoothing, horizon: int) -> np.ndarray:
    """ETS(A,Ad,A) written out step by step: the reference the batched filter must match."""
    period, phi = smoothing.period, smoothing.damping
    level = np.nanmean(values[:period])
    second = values[period:2 * period]
    trend = (np.nanmean(second) - level) / period if len(values) >= 2 * period and not np.isnan(second).all() else 0.0
    season = list(values[:period] - level)
    for t in range(period, len(values)):
        place = t % period
        error = values[t] - (level + phi * trend + season[place]) if not np.isnan(values[t]) else 0.0
        level, trend = level + phi * trend + smoothing.level * error, phi * trend + smoothing.trend * error
        season[place] += smoothing.season * error
    return np.array([level + sum(phi ** j for j in range(1, h + 1)) * trend + season[(len(values) + h - 1) % period]
                     for h in range(1, horizon + 1)])


def test_the_batched_filter_is_holt_winters_step_by_step():
    random = np.random.default_rng(5)
    for period in (1, 4, 12):
        values = seasonal_trend(9 * period + 7, seed=period)
        values[random.choice(np.arange(period, len(values)), 3, replace=False)] = np.nan
        smoothing = Smoothing(*random.uniform(0, 0.5, 3), 0.85, period)
        histories = [values[:length] for length in (len(values), 2 * period + 1, 5 * period + 3)]
        together = smoothing.forecast(histories, 2 * period + 1)
        for row, history in enumerate(histories):
            np.testing.assert_allclose(together[row], plain_forecast(history, smoothing, 2 * period + 1), rtol=1e-10)


def test_a_history_starts_its_trend_from_its_own_second_season_alone():
    stepped = np.array([0.0] * 4 + [4.0] * 4)  # the level rises by 4 over a season: a trend of 1 a step
    still = Smoothing(0.0, 0.0, 0.0, 1.0, 4)
    both = still.forecast([stepped, stepped[:7]], 4)
    np.testing.assert_allclose(both[0], [5, 6, 7, 8], err_msg="the trend of its first two seasons, carried on")
    np.testing.assert_allclose(both[1], [0, 0, 0, 0], err_msg="under two seasons: no trend, whatever its batch holds")
    damped = Smoothing(0.0, 0.0, 0.0, 0.5, 4).forecast([stepped], 3)[0]
    assert np.diff(damped).tolist() == pytest.approx([0.5 ** 6, 0.5 ** 7]), "each step ahead adds half the last's trend"


def test_a_missing_value_moves_the_level_along_and_a_short_series_is_not_fitted():
    values = seasonal_trend(200, seed=3, noise=0.0)
    gapped = values.copy()
    gapped[-3:] = np.nan
    smoothing = Smoothing(0.3, 0.05, 0.2, 1.0, 12)
    forecast = smoothing.forecast([gapped], 12)[0]
    assert np.abs(forecast - smoothing.forecast([values], 12)[0]).max() < 0.5, "the last three values missing"
    assert fit_smoothing([values[:35]], 12) is None, "fewer than three seasons"
    assert fit_smoothing([values[:40], gapped], 12) is not None, "the series long enough are fitted"
    assert fit_smoothing([values], 1).season == 0.0, "with no season, no season weight"


def test_a_grid_row_that_diverges_over_a_long_series_is_never_the_fit(monkeypatch):
    monkeypatch.setattr(smoothing_module, "FIT_VALUES", 30_000)
    long = seasonal_trend(30_000, seed=4, noise=1.0)
    fitted = fit_smoothing([long], 24)
    assert fitted is not None and np.abs(fitted.forecast([long], 12)[0] - (50 + 0.3 * 30_006)).max() < 10


def test_calibration_json_holds_the_fit_and_refuses_a_damaged_one():
    smoothing = Smoothing(0.3, 0.05, 0.2, 0.9, 12)
    kept = asdict(Calibration(0.5, 40, 0.7, Forecasts("best.pt", 100, 1, 1.0, 12), toward_reference=1.0, reference_windows=9,
                              validation_errors=(1.0,) * 5, anchor="smoothing", smoothing=smoothing, smoothing_errors=(0.5,) * 5))
    assert Calibration.of_json(kept).smoothing == smoothing
    for damaged in ({"smoothing_errors": []}, {"smoothing": None}, {"smoothing": {**kept["smoothing"], "period": 0}},
                    {"smoothing": {**kept["smoothing"], "level": float("nan")}}, {"anchor": "mean"}):
        with pytest.raises(ValueError):
            Calibration.of_json({**kept, **damaged})
