"""How far a series forecast's median moves toward the target's reference, chosen on the validation part.

Every target but the level is the value less a reference (the last season, the mean of several, the recent
level moved as the seasons before moved): a forecast of zero residuals is the reference itself. The level's
reference is its last value (persistence), the forecast it is judged against. On a short
series the best validation loss can come a few dozen steps into training, from a model that has learned
little of the series and whose median drifts away from the reference as each sampled step is added onto the
last. So forecasts from origins in the validation part, scored on its values alone (after training's values,
and before the held-out ones `evaluate` scores; best.pt was chosen on the same part), choose one share of the
way from the model's median to the reference: none, a quarter, a half, three quarters or all of it, whichever
erred least there (as trained on a tie). The same origins weigh two more forecasts to move toward, both fitted
on the training part: additive Holt-Winters (`smoothing`) and an autoregression on the series' steps
(`autoregression`), where a share of the way to one erred less still (the reference, then Holt-Winters, wins a
tie). Every sample of a step moves by the same amount, so the band keeps its width and skew.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.series.history import Document
from charmony.pipeline.series.target import Reference, integrate
from charmony.pipeline.series.windows import Parts, spread_evenly

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
ANCHORS = ("reference", "smoothing", "autoregression")  # what the median may move toward, the first of equals first
SHARE_ORIGINS = 32  # at most, spread evenly over the validation part


def reference_forecasts(reference: Reference, histories: list[np.ndarray], horizon: int) -> np.ndarray:
    """(histories, horizon): the reference's forecast after each history, each step read from the steps before."""
    weights = reference.forecast_weights()
    before = np.stack([np.asarray(history[-len(weights):], dtype=np.float64) for history in histories])
    return integrate(before, np.zeros((len(histories), horizon)), weights)


def toward(paths: np.ndarray, references: np.ndarray, share: float) -> np.ndarray:
    """`paths` (..., samples, horizon), each step's samples moved `share` of the way from their median to `references`."""
    if not share:
        return paths
    return paths + share * (references - np.median(paths, axis=-2))[..., None, :]


def share_origins(documents: list[Document], holdout: float, history: int) -> list[tuple[int, int]]:
    """(document, origin) pairs in each validation part after `history` values, at most SHARE_ORIGINS, evenly spread."""
    found = []
    for index, document in enumerate(documents):
        parts = Parts.of(len(document.values), holdout)
        found += [(index, origin) for origin in range(max(parts.validation, history), parts.held_out)]
    return spread_evenly(found, SHARE_ORIGINS)


def validation_truth(documents: list[Document], origins: list[tuple[int, int]], horizon: int, holdout: float) -> np.ndarray:
    """(origins, horizon): the values after each origin, NaN where missing or in the held-out part."""
    truth = np.stack([documents[index].truth(origin, origin + horizon) for index, origin in origins])
    held_out = np.array([Parts.of(len(documents[index].values), holdout).held_out - origin for index, origin in origins])
    return np.where(np.arange(horizon) < held_out[:, None], truth, np.nan)


def errors_by_share(medians: np.ndarray, references: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Each of SHARES' mean absolute error in seasonal `scales`, over known values after histories of positive scale."""
    usable = (scales > 0)[:, None] & ~np.isnan(truth)
    if not usable.any():
        return np.full(len(SHARES), np.nan)
    scaled = np.where(usable, 1 / np.where(scales > 0, scales, 1.0)[:, None], 0.0)
    known = np.where(usable, truth, 0.0)
    return np.array([float((np.abs(medians + share * (references - medians) - known) * scaled).sum() / usable.sum())
                     for share in SHARES])


def best_anchor(errors: dict[str, np.ndarray]) -> tuple[str, float]:
    """The anchor and share whose forecasts erred least (`errors`: each anchor's errors by share), the model's own
    (share 0) first of equals, then the anchors in ANCHORS' order; the reference's 0 where none was scored."""
    best, chosen = np.inf, ("reference", 0.0)
    for anchor in ANCHORS:
        for share, error in zip(SHARES, errors.get(anchor, ())):
            if error < best:  # NaN never is
                best, chosen = error, (anchor, share)
    return chosen
