"""The check that no value of a series run dwarfs the rest: bins stretched to reach it would put the rest in one.

Each window is scaled by its own context, so the check is on the scaled values: the middle half of the
scaled training values must span at least one bin of bins reaching every scaled value of the training and
validation parts; the held-out part, which training may not read, is never read here (a value such as 1e99
among values near 10 fails it; so does a context of near-zero values before ordinary ones). A differenced
target (series/target.py) is spikier than its series and is not refused: its bins are narrowed to where the
middle half spans a few of them, and the rare values beyond are clipped to the outer bins.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from charmony.pipeline.series.values import Series
from charmony.pipeline.system.errors import CorpusError

QUARTILE_SAMPLE = 1 << 20  # training values whose quartiles are computed; windows come in random order
SPANNED = 16  # bins the middle half of a differenced target's values spans where its rare spikes are clipped


@dataclass
class ScaledSpread:
    """The lowest and highest scaled values seen and where they are, and a sample of the scaled training values."""

    lowest: float = math.inf
    lowest_at: tuple[int, int] = (0, 0)  # (series index, value index)
    highest: float = -math.inf
    highest_at: tuple[int, int] = (0, 0)
    sample: list[np.ndarray] = field(default_factory=list)
    sampled: int = 0
    _quartiles: tuple[float, float] | None = field(default=None, repr=False)  # of `sample`, once asked for

    def add(self, scaled: np.ndarray, series: int, start: int, sample: bool) -> None:
        """Take in a window's scaled values, whose first is value `start` of series `series`."""
        if not len(scaled):
            return
        low, high = int(np.argmin(scaled)), int(np.argmax(scaled))
        if scaled[low] < self.lowest:
            self.lowest, self.lowest_at = float(scaled[low]), (series, start + low)
        if scaled[high] > self.highest:
            self.highest, self.highest_at = float(scaled[high]), (series, start + high)
        if sample and self.sampled < QUARTILE_SAMPLE:
            self.sample.append(scaled)
            self.sampled += len(scaled)
            self._quartiles = None

    def flat(self) -> bool:
        """Whether the middle half of the sampled training values is one value."""
        if not self.sample:
            return True
        first, third = self.quartiles()
        return first == third

    def quartiles(self) -> tuple[float, float]:
        """The first and third quartiles of the sampled training values."""
        if self._quartiles is None:
            first, third = np.percentile(np.concatenate(self.sample), [25, 75])
            self._quartiles = float(first), float(third)
        return self._quartiles

    def bin_width(self, bins: int, stretch: float) -> float:
        """The width of each of `bins` bins over `stretch` times the range of every value seen."""
        return (self.highest - self.lowest) * stretch / bins

    def too_wide(self, bins: int, stretch: float) -> bool:
        """Whether the middle half of the sampled training values, not all equal, spans less than one of `bins` bins
        over `stretch` times the range of every value seen."""
        if not self.sample:
            return False
        first, third = self.quartiles()
        return 0 < third - first < self.bin_width(bins, stretch)

    def farthest(self, all_series: list[Series], reach: int = 0) -> tuple[str, str]:
        """(its series, 'value N (V)'): the value farthest from the middle half; each scaled value was read from one
        of `all_series` and the `reach` before it."""
        first, third = self.quartiles()
        middle = (first + third) / 2
        index, position = self.highest_at if self.highest - middle >= middle - self.lowest else self.lowest_at
        series, position = all_series[index], position + reach
        where = f" of {series.source}" if series.source is not None else ""
        return f"series {series.name!r}{where}", f"value {position + 1:,} ({series.values[position]:g})"

    def check(self, all_series: list[Series], bins: int, stretch: float, unit: str, reach: int = 0) -> None:
        """A CorpusError naming the value farthest from the rest when the middle half of the sampled training values
        spans less than one bin (`too_wide`).

        `all_series` are the series' own values; each scaled value was read from one and the `reach` before it.
        """
        if not self.too_wide(bins, stretch):
            return
        first, third = self.quartiles()
        width = self.bin_width(bins, stretch)
        series, value = self.farthest(all_series, reach)
        raise CorpusError(
            f"{series}: the middle half of its scaled values ({first:.3g} to {third:.3g} {unit}) "
            f"spans less than one of the {bins} bins that would reach its farthest value, each {width:.3g} wide; "
            f"correct or remove values far from the rest, such as {value}")

    def clipped(self, bins: int, stretch: float) -> tuple[float, float, float]:
        """(low, high, share): the range over which `bins` bins give the middle half of the sampled training values
        SPANNED bins, and the share of those values beyond it, which quantising clips to the outer bins."""
        first, third = self.quartiles()
        half = bins * (third - first) / (SPANNED * stretch) / 2
        low, high = (first + third) / 2 - half, (first + third) / 2 + half
        sample = np.concatenate(self.sample)
        return low, high, float(np.mean((sample < low) | (sample > high)))
