"""An autoregression on a series' steps, with a drift: a third forecast a series model's median may move toward.

Each step (a value less the one before) is forecast from the steps before it, as ARIMA(p, 1, 0) with a drift
does. The weights are fitted on the training part of at most FIT_SERIES series at once, each in its own
seasonal scale (so the drift is in seasonal scales, and a forecast moves by its history's own), by least
squares; the order p is the one of least AICc over the same rows, so orders are weighed on equal terms, of
those whose forecast steps do not grow by more than GROWTH a step (a season carried on, a root of about 1, is
allowed: a seasonal series' steps repeat; a fit whose steps would soon swamp the forecast is not). A missing
step is left out of the fit where it is the one forecast, and counts as none where it is read, as a forecast
reads it, so every order is fitted on the same rows and a series with gaps is still fitted. Where
a series has no season the model may learn, Holt-Winters forecasts a smoothed level; on a short series whose
level wanders (beats of a heart), the last few steps say more of the next than any level does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from charmony.pipeline.series.metrics import known_scale
from charmony.pipeline.series.smoothing import FIT_SERIES, FIT_VALUES
from charmony.pipeline.series.windows import spread_evenly

FEWEST_LAGS = 8  # the highest order tried: at least this, else the season and one step more ...
MOST_LAGS = 24  # ... but never more than this
ROWS_PER_WEIGHT = 4  # a series joins the fit only where it gives this many rows for each weight of the highest order
GROWTH = 1.02  # the most a fit's forecast steps may grow by in one step (its largest root)
HORIZON_GROWTH = 2.0  # ... and over a forecast's whole horizon, for the fit to be weighed for it


@dataclass(frozen=True)
class Autoregression:
    """The drift (in seasonal scales at `period`) and the weights on the last steps, latest first."""

    drift: float
    weights: tuple[float, ...]
    period: int

    def forecast(self, histories: list[np.ndarray], horizon: int) -> np.ndarray:
        """(histories, horizon): the forecast after each history, from its last known value on."""
        order = len(self.weights)
        starts, drifts, steps = np.zeros(len(histories)), np.zeros(len(histories)), np.zeros((len(histories), order))
        for row, history in enumerate(histories):
            values = np.asarray(history, dtype=np.float64)
            known = values[~np.isnan(values)]
            starts[row] = known[-1] if len(known) else 0.0
            drifts[row] = self.drift * known_scale(values, self.period)
            recent = np.nan_to_num(np.diff(values)[::-1][:order])  # a step next to a missing value counts as none
            steps[row, :len(recent)] = recent
        weights = np.array(self.weights, dtype=np.float64)
        forecast = np.empty((len(histories), horizon))
        for step in range(horizon):
            forecast[:, step] = drifts + steps @ weights
            steps = np.concatenate([forecast[:, step:step + 1], steps], axis=1)[:, :order]
        return starts[:, None] + np.cumsum(forecast, axis=1)

    def holds_for(self, horizon: int) -> bool:
        """Whether its forecast steps grow at most HORIZON_GROWTH times over `horizon` steps: a root a little above
        1 carries a season on for a year but would swamp a forecast of years, further than a validation part
        could show."""
        return _growth(np.array(self.weights, dtype=np.float64)) ** horizon <= HORIZON_GROWTH

    def text(self) -> str:
        """The fit in words, as `evaluate` prints it."""
        drift = f"a drift of {self.drift:.3g} seasonal scales"
        on = f"on the last {len(self.weights)} steps with {drift}" if self.weights else f"with no weight on the steps before: {drift}"
        return f"an autoregression {on} (fitted on the training part)"


def _growth(weights: np.ndarray) -> float:
    """How much steps that follow these weights (latest first) grow by in one step, in the long run: the largest
    root of the companion matrix; 0 with no weights."""
    if not len(weights):
        return 0.0
    companion = np.eye(len(weights), k=-1)
    companion[0] = weights
    return float(np.abs(np.linalg.eigvals(companion)).max())


def highest_order(period: int) -> int:
    """The highest order tried for a season of `period` steps."""
    return min(max(FEWEST_LAGS, period + 1), MOST_LAGS)


def fit_autoregression(series: list[np.ndarray], period: int) -> Autoregression | None:
    """The drift and weights of least AICc over the steps of `series` (missing values NaN; each in its own seasonal
    scale; the last FIT_VALUES of at most FIT_SERIES of them); None where no series is long enough."""
    most = highest_order(period)
    lagged = []
    for values in spread_evenly([np.asarray(one, dtype=np.float64)[-FIT_VALUES:] for one in series
                                 if len(one) > ROWS_PER_WEIGHT * (most + 1) + most], FIT_SERIES):
        scale = known_scale(values, period)
        if scale:
            rows = sliding_window_view(np.diff(values) / scale, most + 1)[:, ::-1]  # the step, then the steps before it
            lagged.append(np.nan_to_num(rows[~np.isnan(rows[:, 0])]))
    rows = np.concatenate(lagged) if lagged else np.empty((0, most + 1))
    if len(rows) <= ROWS_PER_WEIGHT * (most + 1):
        return None
    best, chosen = np.inf, None
    for order in range(most + 1):
        design = np.column_stack([np.ones(len(rows)), rows[:, 1:order + 1]])
        weights = np.linalg.lstsq(design, rows[:, 0], rcond=None)[0]
        if _growth(weights[1:]) > GROWTH:
            continue
        squared = float(np.mean((rows[:, 0] - design @ weights) ** 2))
        count, fitted = len(rows), order + 1
        score = count * np.log(max(squared, 1e-300)) + 2 * fitted + 2 * fitted * (fitted + 1) / (count - fitted - 1)
        if score < best:
            best, chosen = score, Autoregression(float(weights[0]), tuple(float(w) for w in weights[1:]), period)
    return chosen
