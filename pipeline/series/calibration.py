"""Series forecasts calibrated on a run's values before its held-out part: the median moved toward the reference,
or toward Holt-Winters or an autoregression fitted on the training part, whichever forecast the training and
validation parts best, by the share the validation part chose (`reference_share`), then the 80% interval,
conformal-style.

The model's band (the samples' 10th to 90th percentile) is widened where it is too narrow: at each step, the
samples' deviations from their median are scaled so that the band's narrower side reaches at least `floor`
times the history's seasonal scale (MASE's denominator, the in-sample error of the seasonal naive forecast).
Where it holds more than 80% of the true values as drawn, it is narrowed instead, where it is wide: at each
step, the deviations are scaled so that the band's wider side reaches at most `ceiling` seasonal scales
from the median (never below LOWEST of its width). The median and the band's skew are always kept.

The floor is the least, and the ceiling the most, that puts 80% of the true values inside, over forecasts from
origins spread across the training and validation parts (both lie before the held-out part `evaluate` scores).
Both are in the series' own scale, not factors on the model's width: the model's width is not the same
from one part of a series to the next, and a factor found where it was wide (or narrow) did not hold where
it was not. A factor found on the validation part left the band at 58-67% where the held-out part swung
wider than any before; one found on the training and validation parts narrowed bands that were already
narrow on the held-out part, to 31-61% on four series (benchmarks/README.md). The share and the floor or
ceiling are kept in the run's calibration.json, for the checkpoint, temperature and horizon it was found for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np
import torch

from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import Vocabulary
from charmony.pipeline.series.autoregression import Autoregression, fit_autoregression
from charmony.pipeline.series.history import Document
from charmony.pipeline.series.metrics import INTERVAL, seasonal_scale
from charmony.pipeline.series.paths import Drawing, draw_paths
from charmony.pipeline.series.reference_share import (ANCHORS, SHARES, choose, errors_by_share, reference_forecasts,
                                                      scaled_error, share_origins, toward, validation_truth)
from charmony.pipeline.series.smoothing import Smoothing, fit_smoothing
from charmony.pipeline.series.target import Reference
from charmony.pipeline.series.windows import Parts, WindowPlan, spread_evenly
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.system.errors import ConfigError

FILE = "calibration.json"
NOMINAL = (INTERVAL[1] - INTERVAL[0]) / 100  # the share of values the band should hold
HIGHEST = 10.0  # the floor at most, in seasonal scales
LOWEST = 0.25  # a band is narrowed to no less than this share of its width
ORIGINS = 128  # at most, spread evenly over the training and validation parts
SAMPLES = 50
SEED = 0  # calibration draws from a generator of its own: the forecasts' seeded draws stay as they were


@dataclass(frozen=True)
class Forecasts:
    """What a calibration holds for: forecasts of one checkpoint at one temperature, `horizon` steps ahead."""

    checkpoint: str  # the checkpoint file's name
    step: int
    written: int  # the checkpoint file's modification time in ns: a run trained again from scratch is another model
    temperature: float
    horizon: int


@dataclass(frozen=True)
class Fits:
    """The forecasts fitted on the training part that a median may move toward; None where a series is too short."""

    smoothing: Smoothing | None
    autoregression: Autoregression | None


@dataclass(frozen=True)
class Calibration:
    """The median's anchor and share, and the band's floor or ceiling, found for some forecasts; how they did."""

    floor: float  # in seasonal scales of each forecast's history; 0: the band as drawn
    windows: int  # origins it was found on; 0: none fitted
    coverage: float | None  # of the band as drawn (its median moved), on those windows
    forecasts: Forecasts
    ceiling: float | None = None  # in seasonal scales, where the band as drawn held too many; None: not narrowed
    # the share of the way each step's median moves to its anchor (reference_share): the reference, Holt-Winters or
    # the autoregression;
    # named when the reference was the only anchor, as calibration.json and forecast.json still call it
    toward_reference: float = 0.0
    reference_windows: int = 0  # validation origins the share was chosen on; 0: none (the model's median kept)
    validation_errors: tuple[float, ...] = ()  # there, in seasonal scales, for each of SHARES toward the reference
    anchor: str = "reference"  # or "smoothing" or "autoregression": what the median moves toward
    smoothing: Smoothing | None = None  # Holt-Winters as fitted on the training part; None: no series long enough
    smoothing_errors: tuple[float, ...] = ()  # on the validation origins, for each of SHARES toward it
    autoregression: Autoregression | None = None  # as fitted on the training part; None: no series long enough
    autoregression_errors: tuple[float, ...] = ()  # on the validation origins, for each of SHARES toward it
    # each anchor's own error (in seasonal scales) on the `windows` training and validation origins, which chose it
    anchor_errors: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of_json(cls, data: dict) -> Calibration:
        """The calibration calibration.json holds (a KeyError, TypeError or ValueError when it is damaged or older)."""
        share, errors = float(data["toward_reference"]), tuple(float(error) for error in data["validation_errors"])
        smoothed = tuple(float(error) for error in data["smoothing_errors"])
        regressed = tuple(float(error) for error in data["autoregression_errors"])
        smoothing, autoregression = _smoothing_of(data["smoothing"]), _autoregression_of(data["autoregression"])
        fitted = {"smoothing": (smoothing, smoothed), "autoregression": (autoregression, regressed)}.get(data["anchor"])
        if (share not in SHARES or any(len(found) not in (0, len(SHARES)) for found in (errors, smoothed, regressed))
                or data["anchor"] not in ANCHORS or (fitted and (fitted[0] is None or not fitted[1]))):
            raise ValueError("a share or anchor that calibration does not choose")
        ceiling = None if data["ceiling"] is None else float(data["ceiling"])
        if ceiling is not None and not ceiling >= 0:
            raise ValueError("a ceiling that calibration does not find")
        if not isinstance(data["anchor_errors"], dict):
            raise TypeError("anchor errors that are not a mapping")
        chosen_by = {str(anchor): float(error) for anchor, error in data["anchor_errors"].items()}
        if (not set(chosen_by) <= set(ANCHORS) or not np.isfinite(list(chosen_by.values())).all()
                or (chosen_by and data["anchor"] not in chosen_by)):
            raise ValueError("anchor errors that calibration does not weigh")
        return cls(float(data["floor"]), int(data["windows"]), data["coverage"], Forecasts(**data["forecasts"]),
                   ceiling, share, int(data["reference_windows"]), errors, str(data["anchor"]),
                   smoothing, smoothed, autoregression, regressed, chosen_by)

    def anchor_forecasts(self, reference: Reference, histories: list[np.ndarray], horizon: int) -> np.ndarray:
        """(histories, horizon): what the median moves toward after each history: the reference's, Holt-Winters' or
        the autoregression's forecast."""
        if self.anchor == "smoothing" and self.smoothing is not None:
            return self.smoothing.forecast(histories, horizon)
        if self.anchor == "autoregression" and self.autoregression is not None:
            return self.autoregression.forecast(histories, horizon)
        return reference_forecasts(reference, histories, horizon)

    def apply(self, paths: np.ndarray, scales: np.ndarray | float, anchors: np.ndarray) -> np.ndarray:
        """`paths` (..., samples, horizon) after histories of seasonal `scales` (one per leading index, or one for
        all) and with these `anchors` (..., horizon; `anchor_forecasts`): the median moved toward the anchors,
        then the band narrowed to the ceiling or widened to the floor."""
        return self.fit_band(toward(paths, anchors, self.toward_reference), scales)

    def fit_band(self, paths: np.ndarray, scales: np.ndarray | float) -> np.ndarray:
        """`paths` whose median was already moved (`apply`'s second half): the band narrowed to the ceiling or
        widened to the floor."""
        scales = np.asarray(scales, dtype=np.float64)
        if self.ceiling is not None:  # not after a history with no seasonal scale: none was found on such histories
            return narrow(paths, np.where(scales > 0, self.ceiling * scales, np.inf))
        return widen(paths, self.floor * scales)


def _smoothing_of(data) -> Smoothing | None:
    """The Holt-Winters fit calibration.json holds (None: none was fitted), or a ValueError where it is damaged."""
    if data is None:
        return None
    level, trend, season, damping = (float(data[name]) for name in ("level", "trend", "season", "damping"))
    if not np.isfinite([level, trend, season, damping]).all() or not isinstance(data["period"], int) or data["period"] < 1:
        raise ValueError("a Holt-Winters fit that calibration does not make")
    return Smoothing(level, trend, season, damping, data["period"])


def _autoregression_of(data) -> Autoregression | None:
    """The autoregression calibration.json holds (None: none was fitted), or a ValueError where it is damaged."""
    if data is None:
        return None
    drift, weights = float(data["drift"]), tuple(float(weight) for weight in data["weights"])
    if not np.isfinite([drift, *weights]).all() or not isinstance(data["period"], int) or data["period"] < 1:
        raise ValueError("an autoregression that calibration does not fit")
    return Autoregression(drift, weights, data["period"])


def history_scale(history: np.ndarray, period: int) -> float:
    """MASE's denominator over `history` (`seasonal_scale`); 0 when the history holds no full season to compare
    with, or is missing some (NaN)."""
    if len(history) <= period:
        return 0.0
    scale = seasonal_scale(history, period)
    return scale if np.isfinite(scale) else 0.0


def _band(paths: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(median, reach above it, reach below it, the narrower reach with any spread; 0 where neither has) at each
    step of `paths` (..., samples, horizon), each (..., horizon)."""
    median = np.median(paths, axis=-2)
    low, high = np.percentile(paths, INTERVAL, axis=-2)
    up, down = high - median, median - low
    narrower = np.minimum(np.where(up > 0, up, np.inf), np.where(down > 0, down, np.inf))
    return median, up, down, np.where(np.isfinite(narrower), narrower, 0.0)


@dataclass(frozen=True)
class Needs:
    """What each known true value after a history of positive scale needs of the band (`needed`), flat."""

    floors: np.ndarray  # the least floor (in seasonal scales) that puts it inside the band `widen` makes; 0: held as drawn
    ceilings: np.ndarray  # the least ceiling that keeps it inside the band `narrow` makes; inf: not held as drawn

    def held(self) -> float | None:
        """The share of the values the band as drawn holds; None where there are none."""
        return float(np.mean(self.floors == 0)) if len(self.floors) else None


def needed(paths: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> Needs:
    """What each known true value (`truth`, NaN where missing) needs of the band of `paths` after histories of
    these seasonal `scales` (one per history) to be inside it; inf where its side of the band has no spread."""
    median, up, down, narrower = _band(paths)
    scales = np.asarray(scales, dtype=np.float64)[:, None]
    counted = ~np.isnan(truth) & (scales > 0)
    gap = np.abs(np.where(counted, truth, median) - median)
    reach = np.where(truth >= median, up, down)
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = np.where(gap == 0, 0.0, np.where(reach > 0, gap / reach, np.inf))  # on its side's deviations
        reachable = np.isfinite(stretch) & (narrower > 0)
        floors = np.where(stretch <= 1, 0.0, np.where(reachable, stretch * narrower / scales, np.inf))
        ceilings = np.where(stretch <= LOWEST, 0.0, np.where(stretch <= 1, stretch * np.maximum(up, down) / scales, np.inf))
    return Needs(floors[counted], ceilings[counted])


def band_floor(floors: np.ndarray) -> float:
    """The floor that makes a band hold 80% of the true values, from each one's floor (`needed`)."""
    if not len(floors):
        return 0.0
    return float(np.clip(np.quantile(floors, NOMINAL, method="higher"), 0.0, HIGHEST))


def band_ceiling(ceilings: np.ndarray) -> float | None:
    """The ceiling that makes a band that holds more than 80% of the true values hold 80%, from each one's ceiling
    (`needed`); None where it holds 80% or fewer."""
    if not len(ceilings) or np.mean(np.isfinite(ceilings)) <= NOMINAL:
        return None
    return float(np.quantile(ceilings, NOMINAL, method="higher"))


def widen(paths: np.ndarray, least: np.ndarray | float) -> np.ndarray:
    """`paths` (..., samples, horizon) with each step's deviations from the median scaled by the least factor (at
    least 1) that makes the band's narrower side reach `least` from the median (series' units; one per leading
    index, or one for all). Each step's median, the order of its samples and the band's skew are kept."""
    median, _, _, narrower = _band(paths)
    least = np.asarray(least, dtype=np.float64).reshape(np.shape(least) + (1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(narrower > 0, np.maximum(1.0, least / narrower), 1.0)
    return _scaled(paths, median, factor)


def narrow(paths: np.ndarray, most: np.ndarray | float) -> np.ndarray:
    """`paths` (..., samples, horizon) with each step's deviations from the median scaled by the factor (at most 1,
    at least LOWEST) that makes the band's wider side reach at most `most` from the median (series' units; one
    per leading index, or one for all; inf: as drawn). Each step's median, the order of its samples and the
    band's skew are kept."""
    median, up, down, _ = _band(paths)
    wider = np.maximum(up, down)
    most = np.asarray(most, dtype=np.float64).reshape(np.shape(most) + (1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(wider > 0, np.clip(most / wider, LOWEST, 1.0), 1.0)
    return _scaled(paths, median, factor)


def _scaled(paths: np.ndarray, median: np.ndarray, factor: np.ndarray) -> np.ndarray:
    """`paths` (..., samples, horizon) with each step's deviations from its `median` (..., horizon) scaled by
    `factor` (broadcast against the median); exactly as drawn where the factor is 1."""
    return paths + (paths - median[..., None, :]) * (factor[..., None, :] - 1)


def calibration_origins(documents: list[Document], holdout: float, horizon: int, history: int) -> list[tuple[int, int]]:
    """(document, origin) pairs whose `horizon` values lie in the training or validation part, after `history`
    values; at most ORIGINS, spread evenly."""
    found = []
    for index, document in enumerate(documents):
        parts = Parts.of(len(document.values), holdout)
        found += [(index, origin) for origin in range(history, parts.held_out - horizon + 1)]
    return spread_evenly(found, ORIGINS)


def calibrate(model, plan: WindowPlan, vocab: Vocabulary, documents: list[Document], holdout: float, period: int,
              forecasts: Forecasts, device: torch.device) -> Calibration:
    """The calibration of `forecasts` on `documents`: the anchor (the reference, or Holt-Winters or the
    autoregression, both fitted on the training parts) that forecast the training and validation parts best, and
    the share of the way toward it from forecasts over the validation part; then, with the medians so moved, from
    forecasts over the training and validation parts, a floor where the band as drawn holds 80% of the true values
    or fewer, else a ceiling."""
    history, horizon = max(plan.reach + 1, plan.context // 2, period + 1), forecasts.horizon
    chosen = Calibration(0.0, 0, None, forecasts)
    origins = calibration_origins(documents, holdout, horizon, history)
    if not origins:
        return chosen
    histories, chosen_on = _histories(documents, origins), share_origins(documents, holdout, history)
    truth = np.stack([documents[index].truth(origin, origin + horizon) for index, origin in origins])
    scales = _scales(histories, period)
    fits = _fitted(documents, holdout, period) if chosen_on else Fits(None, None)
    candidates = anchor_candidates(plan.reference, fits, histories, horizon)
    if chosen_on:
        weighed = weigh_anchors(candidates, truth, scales)
        chosen = _chosen_share(model, plan, vocab, documents, chosen_on, holdout, period, chosen, fits, weighed, device)
    paths = _forecasts(model, plan, vocab, histories, forecasts, device)
    anchors = candidates[chosen.anchor]  # the anchor's forecasts, as `Calibration.anchor_forecasts` makes them
    needs = needed(toward(paths, anchors, chosen.toward_reference), truth, scales)
    ceiling = band_ceiling(needs.ceilings)
    return replace(chosen, floor=band_floor(needs.floors) if ceiling is None else 0.0, windows=len(origins),
                   coverage=needs.held(), ceiling=ceiling)


def _fitted(documents: list[Document], holdout: float, period: int) -> Fits:
    """Holt-Winters and the autoregression fitted on the training parts of `documents` (missing values NaN, not
    filled)."""
    training = [document.truth(0, Parts.of(len(document.values), holdout).validation) for document in documents]
    return Fits(fit_smoothing(training, period), fit_autoregression(training, period))


def weigh_anchors(candidates: dict[str, np.ndarray], truth: np.ndarray, scales: np.ndarray) -> dict[str, float]:
    """Each anchor's own mean absolute error (`candidates`: its forecasts, `anchor_candidates`) against `truth`
    (histories, horizon), in the seasonal `scales` of each history; only those it could be scored on
    (`scaled_error`)."""
    found = {anchor: scaled_error(forecasts, truth, scales) for anchor, forecasts in candidates.items()}
    return {anchor: error for anchor, error in found.items() if np.isfinite(error)}


def anchor_candidates(reference: Reference, fits: Fits, histories: list[np.ndarray], horizon: int) -> dict[str, np.ndarray]:
    """Each anchor's forecasts (histories, horizon) after `histories`: the reference's, and Holt-Winters' and the
    autoregression's where they were fitted (the autoregression only for a horizon it holds for)."""
    found = {"reference": reference_forecasts(reference, histories, horizon)}
    if fits.smoothing is not None:
        found["smoothing"] = fits.smoothing.forecast(histories, horizon)
    if fits.autoregression is not None and fits.autoregression.holds_for(horizon):
        found["autoregression"] = fits.autoregression.forecast(histories, horizon)
    return found


def _chosen_share(model, plan: WindowPlan, vocab: Vocabulary, documents: list[Document], chosen_on: list[tuple[int, int]],
                  holdout: float, period: int, unfitted: Calibration, fits: Fits, weighed: dict[str, float],
                  device: torch.device) -> Calibration:
    """`unfitted` (no band yet) with the anchor that erred least as `weighed` (`weigh_anchors`), and the share of the
    way toward it that forecast the validation origins `chosen_on` best; each anchor's errors by share kept."""
    horizon = unfitted.forecasts.horizon
    histories = _histories(documents, chosen_on)
    paths, scales = _forecasts(model, plan, vocab, histories, unfitted.forecasts, device), _scales(histories, period)
    medians, truth = np.median(paths, axis=1), validation_truth(documents, chosen_on, horizon, holdout)
    errors = {anchor: errors_by_share(medians, found, truth, scales)
              for anchor, found in anchor_candidates(plan.reference, fits, histories, horizon).items()}
    if all(np.isnan(found).all() for found in errors.values()):
        return unfitted
    anchor, share = choose(weighed, errors, len(chosen_on))
    listed = {name: tuple(float(error) for error in found) for name, found in errors.items()}
    return replace(unfitted, toward_reference=share, reference_windows=len(chosen_on),
                   validation_errors=listed["reference"], anchor=anchor,
                   smoothing=fits.smoothing, smoothing_errors=listed.get("smoothing", ()),
                   autoregression=fits.autoregression, autoregression_errors=listed.get("autoregression", ()),
                   anchor_errors=weighed)


def _histories(documents: list[Document], origins: list[tuple[int, int]]) -> list[np.ndarray]:
    """The values before each (document, origin)."""
    return [documents[index].values[:origin] for index, origin in origins]


def _forecasts(model, plan: WindowPlan, vocab: Vocabulary, histories: list[np.ndarray], forecasts: Forecasts,
               device: torch.device) -> np.ndarray:
    """Paths (histories, samples, horizon) of forecasts after `histories`, drawn from calibration's own generator."""
    how = Drawing(SAMPLES, forecasts.horizon, forecasts.temperature, torch.Generator(device=device).manual_seed(SEED), device)
    return draw_paths(model, plan, vocab, histories, how)


def _scales(histories: list[np.ndarray], period: int) -> np.ndarray:
    """The seasonal scale of each history (`history_scale`)."""
    return np.array([history_scale(history, period) for history in histories])


def run_calibration(run: Run, model, plan: WindowPlan, forecasts: Forecasts, documents: Callable[[], list[Document]],
                    holdout: float, period: int, device: torch.device) -> Calibration:
    """The run's calibration for `forecasts`: kept in calibration.json, or found now on the run's `documents` and
    kept there (a ConfigError when they cannot be read, unless a calibration from before the share holds)."""
    path = run.dir / FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or damaged: found again
        data = None
    kept = _kept(data)
    if kept is not None and kept.forecasts == forecasts:
        return kept
    try:
        read = documents()
    except ConfigError:
        older = _kept(data, before_share=True)
        if older is not None and older.forecasts == forecasts:  # its band was found on medians as drawn
            return older
        raise
    found = calibrate(model, plan, run.vocabulary(), read, holdout, period, forecasts, device)
    try:
        write_json(path, asdict(found))
    except OSError:  # a run folder that cannot be written to: found again next time
        pass
    return found


def _kept(data, before_share: bool = False) -> Calibration | None:
    """The calibration `data` holds, or None where it is damaged, or from before the floor (or, unless
    `before_share`, the share and its anchor, or the ceiling; one that narrowed the band otherwise is not kept)."""
    try:
        if before_share and isinstance(data, dict):  # the share, its anchors and the ceiling were not found then
            older = ({"toward_reference": 0.0, "reference_windows": 0, "validation_errors": [], "anchor": "reference",
                      "smoothing": None, "smoothing_errors": [], "ceiling": None} if data.get("shrink", 1.0) == 1.0 else {})
            data = {**older, "autoregression": None, "autoregression_errors": [], "anchor_errors": {}, **data}
        return Calibration.of_json(data)
    except (KeyError, TypeError, ValueError):
        return None
