"""The 80% interval calibrated on a series run's validation part, conformal-style.

Forecasts from origins in the validation part (which lies before the held-out part `evaluate` scores) show
how far the truth falls from the samples' median, in units of the band's own half-width; the factor that
brings 80% of those values inside the band, drawn towards 1 where the part holds few horizons, scales every
sample's deviation from its median in `forecast` and `evaluate`; it only ever widens the band. The factor is kept in the run's calibration.json, for the
checkpoint, temperature and horizon it was found for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, astuple, dataclass

import numpy as np
import torch

from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import Vocabulary
from charmony.pipeline.series.history import Document
from charmony.pipeline.series.metrics import INTERVAL
from charmony.pipeline.series.paths import Drawing, draw_paths
from charmony.pipeline.series.windows import Parts, WindowPlan
from charmony.pipeline.system.atomic import write_json

FILE = "calibration.json"
NOMINAL = (INTERVAL[1] - INTERVAL[0]) / 100  # the share of values the band should hold
# The factor is kept within these: never below 1, since best.pt was chosen on the validation part, whose errors
# are therefore smaller than those of forecasts after it.
LOWEST, HIGHEST = 1.0, 10.0
ORIGINS = 64  # at most, spread evenly over the validation part
# The factor is drawn towards 1 as if this many windows had shown the band right: a validation part of few
# horizons gives a noisy factor (overlapping origins are not independent).
PRIOR_WINDOWS = 10
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
class Calibration:
    """The factor found for some forecasts, and how their band did before it."""

    factor: float
    windows: int  # validation origins it was found on; 0: none fitted, factor 1
    coverage: float | None  # of the band before scaling, on those windows
    forecasts: Forecasts

    @classmethod
    def of_json(cls, data: dict) -> Calibration:
        """The calibration calibration.json holds (a TypeError or ValueError when it is damaged)."""
        return cls(float(data["factor"]), int(data["windows"]), data["coverage"], Forecasts(**data["forecasts"]))


def needed_factors(paths: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """For each known true value, the least factor on the samples' deviations from their median that puts it
    inside the band: its distance from the median over the band's half on its side."""
    median = np.median(paths, axis=-2)
    low, high = np.percentile(paths, INTERVAL, axis=-2)
    known = ~np.isnan(truth)
    gap = np.abs(np.where(known, truth, median) - median)
    reach = np.where(truth >= median, high - median, median - low)
    with np.errstate(divide="ignore", invalid="ignore"):
        needed = np.where(reach > 0, gap / reach, np.where(gap > 0, np.inf, 0.0))
    return needed[known]


def spread_factor(needed: np.ndarray) -> float:
    """The factor that makes a band hold 80% of the true values, from each one's `needed_factors`."""
    if not len(needed):
        return 1.0
    return float(np.clip(np.quantile(needed, NOMINAL, method="higher"), LOWEST, HIGHEST))


def widen(paths: np.ndarray, factor: float) -> np.ndarray:
    """`paths` (..., samples, horizon) with each sample's deviation from the median scaled by `factor`."""
    median = np.median(paths, axis=-2, keepdims=True)
    return median + (paths - median) * factor


def shrunk(factor: float, horizons: float) -> float:
    """`factor` drawn towards 1 by PRIOR_WINDOWS against the validation part's `horizons` (its length over the horizon)."""
    return 1 + (factor - 1) * horizons / (horizons + PRIOR_WINDOWS)


def validation_origins(documents: list[Document], holdout: float, horizon: int, history: int) -> list[tuple[int, int]]:
    """(document, origin) pairs whose `horizon` values lie in the validation part, after `history` values."""
    found = []
    for index, document in enumerate(documents):
        parts = Parts.of(len(document.values), holdout)
        found += [(index, origin) for origin in range(max(parts.validation, history), parts.held_out - horizon + 1)]
    if len(found) > ORIGINS:
        found = [found[i] for i in np.linspace(0, len(found) - 1, ORIGINS).round().astype(int)]
    return found


def calibrate(model, plan: WindowPlan, vocab: Vocabulary, documents: list[Document], holdout: float,
              horizon: int, temperature: float, device: torch.device) -> tuple[float, int, float | None]:
    """(factor, windows, coverage before) from forecasts over the validation part of `documents`."""
    origins = validation_origins(documents, holdout, horizon, max(plan.reach + 1, plan.context // 2))
    if not origins:
        return 1.0, 0, None
    histories = [documents[index].values[:origin] for index, origin in origins]
    truth = np.stack([documents[index].truth(origin, origin + horizon) for index, origin in origins])
    how = Drawing(SAMPLES, horizon, temperature, torch.Generator(device=device).manual_seed(SEED), device)
    paths = draw_paths(model, plan, vocab, histories, how)
    needed = needed_factors(paths, truth)
    horizons = sum(np.diff(astuple(Parts.of(len(document.values), holdout)))[0] for document in documents) / horizon
    return shrunk(spread_factor(needed), horizons), len(origins), float(np.mean(needed <= 1)) if len(needed) else None


def run_calibration(run: Run, model, plan: WindowPlan, forecasts: Forecasts, documents: Callable[[], list[Document]],
                    holdout: float, device: torch.device) -> Calibration:
    """The run's calibration for `forecasts`: kept in calibration.json, or found now on the run's `documents` and
    kept there."""
    path = run.dir / FILE
    try:
        kept = Calibration.of_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, KeyError, TypeError, ValueError):  # none yet, or damaged: found again
        kept = None
    if kept is not None and kept.forecasts == forecasts:
        return kept
    factor, windows, coverage = calibrate(model, plan, run.vocabulary(), documents(), holdout, forecasts.horizon,
                                          forecasts.temperature, device)
    found = Calibration(factor, windows, coverage, forecasts)
    try:
        write_json(path, asdict(found))
    except OSError:  # a run folder that cannot be written to: found again next time
        pass
    return found
