"""The 80% interval calibrated on a series run's values before its held-out part, conformal-style.

The model's band (the samples' 10th to 90th percentile) is kept where it is wide enough and widened where
it is not: at each step, the samples' deviations from their median are scaled so that the band's narrower
side reaches at least `floor` times the history's seasonal scale (MASE's denominator, the in-sample error
of the seasonal naive forecast); the median and the band's skew are kept, and it only ever widens.

The floor is the least that puts 80% of the true values inside, over forecasts from origins spread across
the training and validation parts (both lie before the held-out part `evaluate` scores). A factor on the
model's own width, found on the validation part, did not hold where the errors outgrow that width (real
series whose held-out part swings wider than any before); a floor in the series' own scale did better
(benchmarks/README.md). The floor is kept in the run's calibration.json, for the checkpoint, temperature
and horizon it was found for.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import Vocabulary
from charmony.pipeline.series.history import Document
from charmony.pipeline.series.metrics import INTERVAL, seasonal_scale
from charmony.pipeline.series.paths import Drawing, draw_paths
from charmony.pipeline.series.windows import Parts, WindowPlan
from charmony.pipeline.system.atomic import write_json

FILE = "calibration.json"
NOMINAL = (INTERVAL[1] - INTERVAL[0]) / 100  # the share of values the band should hold
HIGHEST = 10.0  # the floor at most, in seasonal scales
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
class Calibration:
    """The floor found for some forecasts, and how their band did before it."""

    floor: float  # in seasonal scales of each forecast's history; 0: the band as drawn
    windows: int  # origins it was found on; 0: none fitted
    coverage: float | None  # of the band before widening, on those windows
    forecasts: Forecasts

    @classmethod
    def of_json(cls, data: dict) -> Calibration:
        """The calibration calibration.json holds (a KeyError, TypeError or ValueError when it is damaged or older)."""
        return cls(float(data["floor"]), int(data["windows"]), data["coverage"], Forecasts(**data["forecasts"]))


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


def needed_floors(paths: np.ndarray, truth: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """For each known true value after a history of positive scale, the least floor (in `scales`, one per history)
    that puts it inside the band `widen` makes: 0 when the samples' band already holds it; inf when its side has
    no spread to stretch."""
    median, up, down, narrower = _band(paths)
    scales = np.asarray(scales, dtype=np.float64)[:, None]
    counted = ~np.isnan(truth) & (scales > 0)
    gap = np.where(counted, truth, median) - median
    reach = np.where(gap >= 0, up, down)
    with np.errstate(divide="ignore", invalid="ignore"):
        stretch = np.where(np.abs(gap) <= reach, 1.0, np.where(reach > 0, np.abs(gap) / reach, np.inf))  # its side needs
        reachable = np.isfinite(stretch) & (narrower > 0)
        needed = np.where(stretch <= 1, 0.0, np.where(reachable, stretch * narrower / scales, np.inf))
    return needed[counted]


def band_floor(needed: np.ndarray) -> float:
    """The floor that makes a band hold 80% of the true values, from each one's `needed_floors`."""
    if not len(needed):
        return 0.0
    return float(np.clip(np.quantile(needed, NOMINAL, method="higher"), 0.0, HIGHEST))


def widen(paths: np.ndarray, least: np.ndarray | float) -> np.ndarray:
    """`paths` (..., samples, horizon) with each step's deviations from the median scaled by the least factor (at
    least 1) that makes the band's narrower side reach `least` from the median (series' units; one per leading
    index, or one for all). Each step's median, the order of its samples and the band's skew are kept."""
    median, _, _, narrower = _band(paths)
    least = np.asarray(least, dtype=np.float64).reshape(np.shape(least) + (1,))
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = np.where(narrower > 0, np.maximum(1.0, least / narrower), 1.0)
    return paths + (paths - median[..., None, :]) * (factor[..., None, :] - 1)  # exactly as drawn where the band holds


def calibration_origins(documents: list[Document], holdout: float, horizon: int, history: int) -> list[tuple[int, int]]:
    """(document, origin) pairs whose `horizon` values lie in the training or validation part, after `history`
    values; at most ORIGINS, spread evenly."""
    found = []
    for index, document in enumerate(documents):
        parts = Parts.of(len(document.values), holdout)
        found += [(index, origin) for origin in range(history, parts.held_out - horizon + 1)]
    if len(found) > ORIGINS:
        found = [found[i] for i in np.linspace(0, len(found) - 1, ORIGINS).round().astype(int)]
    return found


def calibrate(model, plan: WindowPlan, vocab: Vocabulary, documents: list[Document], holdout: float, period: int,
              horizon: int, temperature: float, device: torch.device) -> tuple[float, int, float | None]:
    """(floor, windows, coverage before) from forecasts over the training and validation parts of `documents`."""
    origins = calibration_origins(documents, holdout, horizon, max(plan.reach + 1, plan.context // 2, period + 1))
    if not origins:
        return 0.0, 0, None
    histories = [documents[index].values[:origin] for index, origin in origins]
    truth = np.stack([documents[index].truth(origin, origin + horizon) for index, origin in origins])
    how = Drawing(SAMPLES, horizon, temperature, torch.Generator(device=device).manual_seed(SEED), device)
    paths = draw_paths(model, plan, vocab, histories, how)
    needed = needed_floors(paths, truth, np.array([history_scale(history, period) for history in histories]))
    return band_floor(needed), len(origins), float(np.mean(needed == 0)) if len(needed) else None


def run_calibration(run: Run, model, plan: WindowPlan, forecasts: Forecasts, documents: Callable[[], list[Document]],
                    holdout: float, period: int, device: torch.device) -> Calibration:
    """The run's calibration for `forecasts`: kept in calibration.json, or found now on the run's `documents` and
    kept there."""
    path = run.dir / FILE
    try:
        kept = Calibration.of_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, KeyError, TypeError, ValueError):  # none yet, damaged, or a factor from before the floor: found again
        kept = None
    if kept is not None and kept.forecasts == forecasts:
        return kept
    floor, windows, coverage = calibrate(model, plan, run.vocabulary(), documents(), holdout, period, forecasts.horizon,
                                         forecasts.temperature, device)
    found = Calibration(floor, windows, coverage, forecasts)
    try:
        write_json(path, asdict(found))
    except OSError:  # a run folder that cannot be written to: found again next time
        pass
    return found
