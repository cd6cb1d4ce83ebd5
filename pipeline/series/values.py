"""A series' values as bin tokens and back: scaling, quantising, and the baselines and errors a forecast is scored by.

Kept apart from the series corpora (series/corpus_base.py), which import this (and numpy) only when
they read documents, so that listing the plugins stays fast.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.system.errors import CorpusError

if TYPE_CHECKING:
    from charmony.pipeline.series.settings import SeriesOptions
    from charmony.pipeline.series.time_column import Spacing


# The largest size of a value: sums, ranges and squares of such values stay finite in float64.
VALUE_LIMIT = 1e100


def out_of_range(value: float) -> bool:
    """Whether `value` is infinite or larger in size than VALUE_LIMIT (NaN is not: it marks a missing value)."""
    return abs(value) > VALUE_LIMIT


def check_values(series: Series) -> None:
    """A CorpusError naming the first value of `series` that is NaN, infinite or beyond VALUE_LIMIT."""
    bad = ~(np.abs(series.values) <= VALUE_LIMIT)  # NaN compares false, so it counts as bad
    if bad.any():
        index = int(np.argmax(bad))
        where = f" of {series.source}" if series.source is not None else ""
        raise CorpusError(f"series {series.name!r}{where}: value {index + 1:,} is {series.values[index]}; "
                          f"every value must be a finite number of at most {VALUE_LIMIT:g} in size")


def check_periods(series: Series, settings: SeriesOptions) -> None:
    """A CorpusError when a period is as long as the series: no season of it could be repeated."""
    longest = max(settings.periods)
    if longest >= len(series.values):
        raise CorpusError(f"--option period={longest} is not shorter than series {series.name!r} "
                          f"({len(series.values):,} values); give a shorter period")


def warn_of_season(all_series: list[Series], period: int) -> None:
    """Warn, once a file, where its rows are spaced for another season than the default `period` (one that fits
    twice into the series: no season is named where none could be seen)."""
    warned: set[Path | None] = set()
    for series in all_series:
        spacing = series.spacing
        if spacing is None or spacing.period == period or 2 * spacing.period > len(series.values) or series.source in warned:
            continue
        warned.add(series.source)
        warnings.warn(f"{series.source}: its rows are {spacing.words} apart, but the season is {period} steps (the default: "
                      f"a day of hourly values); prepare it with --option period={spacing.period} ({spacing.season})",
                      CorpusWarning, stacklevel=3)


@dataclass(frozen=True)
class Series:
    """One series of values and where it came from."""

    name: str
    values: np.ndarray
    source: Path | None = None
    missing: np.ndarray | None = None  # True where a value was missing and is filled in; None: none was
    spacing: Spacing | None = None  # how far apart its rows are, where its file's time column says so
    trimmed: int = 0  # missing values left out before its first number and after its last


@dataclass(frozen=True)
class Scaling:
    """Values scaled as (value - offset) / scale."""

    offset: float
    scale: float

    @classmethod
    def fit(cls, values: np.ndarray, method: str) -> Scaling:
        """The mean absolute value (method "mean"), the minimum and range ("minmax"), or the mean and the mean
        absolute deviation from it ("standard") of `values`."""
        if method == "minmax":
            low, high = float(np.min(values)), float(np.max(values))
            return cls(low, high - low or 1.0)
        if method == "standard":
            middle = float(np.mean(values))
            return cls(middle, float(np.mean(np.abs(values - middle))) or 1.0)
        return cls(0.0, float(np.mean(np.abs(values))) or 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Values in scaled units."""
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale

    def invert(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled values back in the series' own units."""
        return np.asarray(scaled, dtype=np.float64) * self.scale + self.offset


@dataclass(frozen=True)
class Bins:
    """`count` equal bins from `low` to `high` in scaled units (series/windows.py chooses them)."""

    count: int
    low: float
    high: float

    def quantise(self, scaled: np.ndarray) -> np.ndarray:
        """The bin of each scaled value; values beyond the range go to the outer bins."""
        position = (np.asarray(scaled, dtype=np.float64) - self.low) / (self.high - self.low) * self.count
        return np.clip(np.floor(position), 0, self.count - 1).astype(np.int64)

    def centres(self, ids: np.ndarray) -> np.ndarray:
        """The middle of each bin, in scaled units."""
        return self.low + (np.asarray(ids, dtype=np.float64) + 0.5) * (self.high - self.low) / self.count

    def outside(self, scaled: np.ndarray) -> int:
        """How many scaled values lie beyond the bins' range."""
        return int(np.sum((scaled < self.low) | (scaled > self.high)))


def tokens_text(ids: np.ndarray) -> str:
    """The text of a document of bin ids: each bin number followed by a space."""
    return "".join(f"{int(i)} " for i in ids)


def token_bin(token: str) -> int | None:
    """The bin a vocabulary token stands for, or None for `<eod>`, `<unk>` and anything else."""
    text = token.strip()
    return int(text) if text.isdigit() else None


def dequantise(ids: np.ndarray, scaling: Scaling, bins: Bins) -> np.ndarray:
    """Values in the series' own units for bin ids: each bin's centre, scaled back."""
    return scaling.invert(bins.centres(ids))


def persistence(context: np.ndarray, horizon: int) -> np.ndarray:
    """The baseline that repeats the last value."""
    return np.full(horizon, float(np.asarray(context)[-1]))


def seasonal_persistence(context: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The baseline that repeats the last season (the last day of hourly values, for period 24)."""
    context = np.asarray(context, dtype=np.float64)
    if len(context) < period:
        raise ValueError(f"seasonal persistence needs at least {period} values of context, not {len(context)}")
    return np.resize(context[-period:], horizon)


def mse(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean squared error."""
    return float(np.mean((np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64)) ** 2))


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64))))
