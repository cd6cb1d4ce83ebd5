"""How far a series forecast's median moves toward the model's untrained reference, chosen on the validation part.

Every target but the level is the value less a reference (the last season, the mean of several, the recent
level moved as the seasons before moved), so an untrained model forecasts the reference itself. On a short
series the best validation loss can come a few dozen steps into training, from a model that has learned
little of the series and whose median drifts away from the reference as each sampled step is added onto the
last. So forecasts from origins whose whole horizon lies in the validation part (after training's values, and
before the held-out ones `evaluate` scores) choose one share of the way from the model's median to the
reference: none, a quarter, a half, three quarters or all of it, whichever forecast those values best (as
trained on a tie). Every sample of a step moves by the same amount, so the band keeps its width and skew.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.series.history import Document
from charmony.pipeline.series.target import integrate
from charmony.pipeline.series.windows import Parts, WindowPlan

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
ORIGINS = 32  # at most, spread evenly over the validation part


def reference_forecasts(plan: WindowPlan, histories: list[np.ndarray], horizon: int) -> np.ndarray:
    """(histories, horizon): what the run's reference forecasts after each history, as an untrained model would."""
    weights = plan.reference.forecast_weights()
    return np.stack([integrate(np.asarray(history[-len(weights):], dtype=np.float64), np.zeros(horizon), weights)
                     for history in histories])


def toward(paths: np.ndarray, references: np.ndarray, share: float) -> np.ndarray:
    """`paths` (..., samples, horizon) with every sample of each step moved `share` of the way from the step's
    median to its reference (..., horizon); exactly as drawn for share 0."""
    if not share:
        return paths
    return paths + share * (references - np.median(paths, axis=-2))[..., None, :]


def validation_origins(documents: list[Document], holdout: float, horizon: int, history: int) -> list[tuple[int, int]]:
    """(document, origin) pairs whose `horizon` values all lie in the validation part, after `history` values; at
    most ORIGINS, spread evenly."""
    found = []
    for index, document in enumerate(documents):
        parts = Parts.of(len(document.values), holdout)
        found += [(index, origin) for origin in range(max(parts.validation, history), parts.held_out - horizon + 1)]
    if len(found) > ORIGINS:
        found = [found[i] for i in np.linspace(0, len(found) - 1, ORIGINS).round().astype(int)]
    return found


def errors_by_share(medians: np.ndarray, references: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The mean absolute error, in each history's seasonal `scales`, of the medians moved by each of SHARES (NaN
    where no value after a history of positive scale was known)."""
    usable = (scales > 0)[:, None] & ~np.isnan(truth)
    if not usable.any():
        return np.full(len(SHARES), np.nan)
    scaled = np.where(usable, 1 / np.where(scales > 0, scales, 1.0)[:, None], 0.0)
    known = np.where(usable, truth, 0.0)
    return np.array([float((np.abs(medians + share * (references - medians) - known) * scaled).sum() / usable.sum())
                     for share in SHARES])


def best_share(errors: np.ndarray) -> float:
    """The share whose forecasts erred least, the model's own (0) first of equals; 0 where none was scored."""
    if np.isnan(errors).all():
        return 0.0
    return SHARES[int(np.nanargmin(errors))]
