"""The figures a forecast is scored by, in the series' own units: MAE, MSE, MASE, interval coverage and CRPS."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INTERVAL = (10, 90)  # percentiles of the central 80% interval
RESAMPLES = 1000  # draws of the windows, with replacement, for the coverage's range
RANGE = (2.5, 97.5)  # percentiles of the resampled coverages that bound its range


def seasonal_scale(history: np.ndarray, period: int) -> float:
    """The in-sample MAE of the seasonal naive forecast over `history`: MASE's denominator."""
    history = np.asarray(history, dtype=np.float64)
    if len(history) <= period:
        raise ValueError(f"the seasonal scale needs more than {period} values, not {len(history)}")
    return float(np.mean(np.abs(history[period:] - history[:-period])))


def known_scale(values: np.ndarray, period: int) -> float:
    """`seasonal_scale` over the known values (NaN: missing); 0 where there is no change to measure."""
    if len(values) <= period:
        return 0.0
    changes = np.abs(values[period:] - values[:-period])
    found = float(np.nanmean(changes)) if (~np.isnan(changes)).any() else 0.0
    return found if found > 0 else 0.0


def sample_crps(samples: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """The CRPS of the samples' distribution at each point: E|X - y| - E|X - X'| / 2.

    `samples` is (..., num_samples, horizon) and `truth` (..., horizon); E|X - X'| comes from the sorted
    samples in O(n log n): 2 / n² * sum over i of (2i - n - 1) x_(i).
    """
    samples = np.asarray(samples, dtype=np.float64)
    n = samples.shape[-2]
    spread = np.abs(samples - np.asarray(truth, dtype=np.float64)[..., None, :]).mean(axis=-2)
    ordered = np.sort(samples, axis=-2)
    weights = (2 * np.arange(1, n + 1) - n - 1).reshape(-1, 1)
    pairs = 2 * (weights * ordered).sum(axis=-2) / n**2
    return spread - pairs / 2


@dataclass(frozen=True)
class Figures:
    """One method's figures over every step of every window; coverage only for forecasts with samples."""

    mae: float
    mse: float
    mase: float | None  # None when no window's history varies at its period
    crps: float  # for a point forecast, its MAE
    coverage: float | None = None  # of the 80% interval
    coverage_range: tuple[float, float] | None = None  # the coverage's 95% range over resampled windows (`coverage_range`)

    @classmethod
    def of(cls, point: np.ndarray, truth: np.ndarray, scales: np.ndarray, samples: np.ndarray | None = None) -> Figures:
        """The figures of point forecasts (windows, horizon) against `truth`, MASE scaled by each window's `scales`.

        A NaN in `truth` is a missing value: no figure counts the forecast of it. Some value must be there.
        """
        truth = np.asarray(truth, dtype=np.float64)
        scored = ~np.isnan(truth)
        errors = np.where(scored, np.asarray(point, dtype=np.float64) - np.where(scored, truth, 0.0), 0.0)
        counts = scored.sum(axis=1)
        window_mae = np.abs(errors).sum(axis=1) / np.maximum(counts, 1)
        usable = (scales > 0) & (counts > 0)
        mase = float(np.mean(window_mae[usable] / scales[usable])) if usable.any() else None
        mae, mse = float(np.abs(errors[scored]).mean()), float(np.mean(errors[scored] ** 2))
        if samples is None:
            return cls(mae, mse, mase, mae)
        low, high = np.percentile(samples, INTERVAL, axis=1)
        inside = (low <= truth) & (truth <= high)
        return cls(mae, mse, mase, float(sample_crps(samples, np.where(scored, truth, 0.0))[scored].mean()),
                   float(inside[scored].mean()), coverage_range((inside & scored).sum(axis=1), counts))

    def cells(self) -> str:
        """The figures as a short phrase."""
        parts = [f"MAE {self.mae:.4g}", f"MSE {self.mse:.4g}", f"MASE {_number(self.mase)}", f"CRPS {self.crps:.4g}"]
        if self.coverage is not None:
            spread = "" if self.coverage_range is None else " ({:.0%}-{:.0%} over resampled origins)".format(*self.coverage_range)
            parts.append(f"80% coverage {self.coverage:.0%}{spread}")
        return ", ".join(parts)


def coverage_range(inside: np.ndarray, counts: np.ndarray, seed: int = 0) -> tuple[float, float] | None:
    """The range within which the coverage of 95% of RESAMPLES redraws of the windows lies: each redraw takes as
    many windows as there are, with replacement, and its coverage is the share of their values inside the
    interval (`inside` and `counts`: per window, the values inside and the values scored). Windows are drawn
    whole, as the steps of one window err together; the range says how far the coverage of so few windows can
    stray by chance (neighbouring windows overlap, so it is, if anything, too narrow). None where fewer than two
    windows have a value scored."""
    if (counts > 0).sum() < 2:
        return None
    drawn = np.random.default_rng(seed).integers(0, len(counts), size=(RESAMPLES, len(counts)))
    totals = counts[drawn].sum(axis=1)
    scored = totals > 0  # a redraw of windows with no value scored has no coverage
    low, high = np.percentile(inside[drawn].sum(axis=1)[scored] / totals[scored], RANGE)
    return float(low), float(high)


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
