"""What a series forecast's median moves toward (the target's reference, Holt-Winters or an autoregression), chosen
on the training and validation parts, and how far, chosen on the validation part.

Every target but the level is the value less a reference (the last season, the mean of several, the recent
level moved as the seasons before moved): a forecast of zero residuals is the reference itself. The level's
reference is its last value (persistence), the forecast it is judged against. On a short
series the best validation loss can come a few dozen steps into training, from a model that has learned
little of the series and whose median drifts away from the reference as each sampled step is added onto the
last. Holt-Winters (`smoothing`) and an autoregression on the series' steps (`autoregression`), both fitted on the
training part, are two more forecasts the median may move toward. Which of the three it moves toward does not
depend on the model, so it is chosen on forecasts from up to 128 origins over the training and validation parts
(the origins the band is calibrated on): the one that erred least there (the reference, then Holt-Winters, wins
a tie); a choice made on the validation part alone rested on a few dozen origins (benchmarks/README.md, the
fifteenth round). Most of those origins lie in the training part, where Holt-Winters and the autoregression were
fitted, so they are scored partly in-sample; the later half of the origins alone did no better there. How far the
median moves toward it does depend on the model, which has learned the training part: so forecasts from origins
in the validation part alone, scored on its values (after training's values, and before the held-out
ones `evaluate` scores; best.pt was chosen on the same part), choose the share of the way: none, a quarter, a
half, three quarters or all of it, whichever erred least there (the least share on a tie). A short series has
only a few validation origins, too few to trust the model's median over the anchor's: there the share is at least
a half, the plain mean of the two (forecasting competitions found such equal weights hard to beat with weights
estimated on little data). Every sample of a step moves by the same amount, so the band keeps its width and skew.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.series.history import Document
from charmony.pipeline.series.target import Reference, integrate
from charmony.pipeline.series.windows import Parts, spread_evenly

SHARES = (0.0, 0.25, 0.5, 0.75, 1.0)
ANCHORS = ("reference", "smoothing", "autoregression")  # what the median may move toward, the first of equals first
SHARE_ORIGINS = 32  # at most, spread evenly over the validation part
HALF = 0.5  # the least share chosen on fewer than SHARE_ORIGINS validation origins


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


def scaled_error(forecasts: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> float:
    """The mean absolute error of `forecasts` (histories, horizon) in seasonal `scales` (one per history), over
    known values after histories of positive scale; NaN where there are none."""
    usable = (scales > 0)[:, None] & ~np.isnan(truth)
    if not usable.any():
        return float("nan")
    scaled = np.where(usable, 1 / np.where(scales > 0, scales, 1.0)[:, None], 0.0)
    return float((np.abs(forecasts - np.where(usable, truth, 0.0)) * scaled).sum() / usable.sum())


def errors_by_share(medians: np.ndarray, references: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Each of SHARES' mean absolute error in seasonal `scales`, over known values after histories of positive scale."""
    return np.array([scaled_error(medians + share * (references - medians), truth, scales) for share in SHARES])


def best_anchor(errors: dict[str, float]) -> str:
    """The anchor whose own forecasts erred least (`errors`: each anchor's `scaled_error`), the first of equals in
    ANCHORS' order; the reference where none was scored."""
    scored = [(error, ANCHORS.index(anchor), anchor) for anchor, error in errors.items() if not np.isnan(error)]
    return min(scored)[2] if scored else "reference"


def best_share(errors: np.ndarray, origins: int) -> float:
    """The share of SHARES whose forecasts erred least on `origins` validation origins (`errors_by_share`), the least
    share of equals (the model's own first); on fewer than SHARE_ORIGINS, at least HALF; none where none was scored."""
    allowed = np.array(SHARES) >= (0.0 if origins >= SHARE_ORIGINS else HALF)
    found = np.where(np.isnan(errors) | ~allowed, np.inf, errors)
    return SHARES[int(np.argmin(found))] if np.isfinite(found).any() else 0.0


def choose(weighed: dict[str, float], by_share: dict[str, np.ndarray], origins: int) -> tuple[str, float]:
    """The anchor whose own forecasts erred least over the training and validation parts (`weighed`), and the share of
    the way toward it whose forecasts erred least on the `origins` validation origins (`by_share`: each anchor's
    `errors_by_share` there)."""
    anchor = best_anchor(weighed)
    return anchor, best_share(by_share[anchor], origins)
