"""The figures a forecast is scored by, in the series' own units: MAE, MSE, MASE, interval coverage and CRPS."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

INTERVAL = (10, 90)  # percentiles of the central 80% interval


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
                   float(inside[scored].mean()))

    def cells(self) -> str:
        """The figures as a short phrase."""
        parts = [f"MAE {self.mae:.4g}", f"MSE {self.mse:.4g}", f"MASE {_number(self.mase)}", f"CRPS {self.crps:.4g}"]
        if self.coverage is not None:
            parts.append(f"80% coverage {self.coverage:.0%}")
        return ", ".join(parts)


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3f}"
