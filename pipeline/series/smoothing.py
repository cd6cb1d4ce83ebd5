"""Additive Holt-Winters with a damped trend: a second forecast a series model's median may move toward.

The level, the trend and each place in the season are smoothed by their own weights, and the trend is
damped further ahead (ETS(A,Ad,A), as forecasting textbooks and statsforecast's AutoETS call it). The
weights are fitted on the training part of each series (with each calibration, always to the same weights), by the least one-step squared error
(in each series' own seasonal scale) over a fixed grid, so the fit is quick, the same on every machine, and
never reads a validation or held-out value. The training and validation parts then choose whether the model's
median moves toward this forecast, the target's reference or an autoregression, and the validation part how far
(`reference_share`).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from charmony.pipeline.series.metrics import known_scale
from charmony.pipeline.series.windows import spread_evenly

LEVEL = (0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0)  # 1: the last value as the level, as for a random walk
TREND = (0.0, 0.02, 0.05, 0.1, 0.2)
SEASON = (0.0, 0.05, 0.1, 0.2, 0.4)
DAMPING = (0.8, 0.9, 0.98, 1.0)
FIT_VALUES = 5_000  # the fit reads at most the last this many values of each series' training part ...
FIT_SERIES = 16  # ... of at most this many series, spread evenly


@dataclass(frozen=True)
class Smoothing:
    """Holt-Winters' smoothing weights for the level, trend and season, the trend's damping, and the season's length."""

    level: float
    trend: float
    season: float
    damping: float
    period: int

    def forecast(self, histories: list[np.ndarray], horizon: int) -> np.ndarray:
        """(histories, horizon): the forecast after each history, from its first value on."""
        grid = np.array([[self.level, self.trend, self.season, self.damping]])
        states = _filter(histories, grid.repeat(len(histories), axis=0), self.period)
        steps = np.arange(1, horizon + 1)
        damped = np.cumsum(self.damping ** steps)
        places = (np.array([len(history) for history in histories])[:, None] + steps - 1) % self.period
        return states.level[:, None] + damped * states.trend[:, None] + np.take_along_axis(states.season, places, axis=1)

    def text(self) -> str:
        """The fit in words, as `evaluate` prints it."""
        return (f"Holt-Winters' forecast (smoothing weights: level {self.level:g}, trend {self.trend:g}, "
                f"season {self.season:g}; damping {self.damping:g}; fitted on the training part)")


@dataclass
class _States:
    level: np.ndarray  # (rows,)
    trend: np.ndarray  # (rows,)
    season: np.ndarray  # (rows, period): the season's value at each place t % period
    squared: np.ndarray  # (rows,): the sum of squared one-step errors from `scored_from` on
    counted: int  # how many errors each sum holds


def _filter(series: list[np.ndarray], weights: np.ndarray, period: int, scored_from: int | None = None) -> _States:
    """Run Holt-Winters over each row's series (one per row of `weights`: level, trend, season, damping) to its end.

    The first season sets the level and the season's shape, the second (where the row holds one) the trend;
    each later value updates all three by its one-step error. A missing value (NaN) updates nothing but moves
    the level along its trend. With `scored_from`, the squared errors from that step on are summed (every row
    the same series, as the fit runs it).
    """
    lengths = np.array([len(one) for one in series])
    values = np.full((len(series), max(lengths.max(), 2 * period)), np.nan)
    for row, one in enumerate(series):
        values[row, :len(one)] = one
    level = _known_mean(values[:, :period])
    second = np.where(lengths >= 2 * period, _known_mean(values[:, period:2 * period]), level)
    trend = np.nan_to_num((second - level) / period)
    season = np.nan_to_num(values[:, :period] - level[:, None])
    level = np.nan_to_num(level)
    alpha, beta, gamma, phi = weights.T
    squared, counted = np.zeros(len(series)), 0
    with np.errstate(over="ignore", invalid="ignore"):  # a grid row that diverges is scored inf, never chosen
        for t in range(period, lengths.max()):
            place = t % period
            error = values[:, t] - (level + phi * trend + season[:, place])
            known = ~np.isnan(values[:, t])
            if scored_from is not None and t >= scored_from and known[0]:
                squared += error ** 2
                counted += 1
            error = np.where(known, error, 0.0)
            live = t < lengths
            level, trend, season[:, place] = (np.where(live, level + phi * trend + alpha * error, level),
                                              np.where(live, phi * trend + beta * error, trend),
                                              np.where(live, season[:, place] + gamma * error, season[:, place]))
    return _States(level, trend, season, squared, counted)


def _known_mean(block: np.ndarray) -> np.ndarray:
    """Each row's mean over its known values; NaN where none is known."""
    known = ~np.isnan(block)
    return np.where(known.any(axis=1), np.where(known, block, 0.0).sum(axis=1) / np.maximum(known.sum(axis=1), 1), np.nan)


def fit_smoothing(series: list[np.ndarray], period: int) -> Smoothing | None:
    """The grid's weights with the least mean squared one-step error over `series` (missing values NaN; each in
    its own seasonal scale, after its first two seasons; the last FIT_VALUES of at most FIT_SERIES of them); None
    where no series holds three seasons."""
    usable = [np.asarray(values, dtype=np.float64)[-FIT_VALUES:] for values in series if len(values) >= 3 * period]
    if not usable:
        return None
    seasons = SEASON if period > 1 else (0.0,)  # with no season, its weight would be the level's again
    grid = np.array(list(itertools.product(LEVEL, TREND, seasons, DAMPING)))
    total, counted = np.zeros(len(grid)), 0
    for values in spread_evenly(usable, FIT_SERIES):
        scale = known_scale(values, period)
        if not scale:
            continue
        states = _filter([values / scale] * len(grid), grid, period, scored_from=2 * period)
        total += states.squared
        counted += states.counted
    if not counted:
        return None
    total = np.where(np.isfinite(total), total, np.inf)
    level, trend, season, damping = grid[int(np.argmin(total))]
    return Smoothing(float(level), float(trend), float(season), float(damping), period)
