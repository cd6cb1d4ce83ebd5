"""Round tick values for a chart's axis: steps of 1, 2 or 5 times a power of ten, and labels without float noise."""

from __future__ import annotations

import math
from dataclasses import dataclass

ROUND_STEPS = (1, 2, 5, 10)


@dataclass(frozen=True)
class Ticks:
    """Tick values `first`, `first + step`, ... `last`, where step = mantissa x 10**exponent."""

    mantissa: int  # 1, 2 or 5
    exponent: int
    first: int  # in steps
    last: int  # in steps

    @property
    def step(self) -> float:
        """The distance between two ticks."""
        return self.mantissa * 10.0**self.exponent

    def values(self) -> list[float]:
        """Every tick's value."""
        return [self.value(count) for count in range(self.first, self.last + 1)]

    def value(self, count: int) -> float:
        """The value of the tick `count` steps from zero, as exact as float allows (no 0.30000000000000004)."""
        whole = count * self.mantissa
        return whole * 10.0**self.exponent if self.exponent >= 0 else whole / 10.0**-self.exponent

    def labels(self) -> list[str]:
        """Each tick's value written with just the decimals its step needs."""
        decimals = max(0, -self.exponent)
        if decimals > 6 or max(abs(self.first), abs(self.last)) * self.step >= 1e9:
            return [f"{value:.3g}" for value in self.values()]
        return [f"{value:.{decimals}f}" for value in self.values()]


def round_ticks(low: float, high: float, target: int = 5, cover: bool = True) -> Ticks:
    """About `target` round ticks over low..high: the first at or below `low` and the last at or above `high`
    with `cover`, else the round values inside low..high."""
    if not high > low:
        low, high = low - 1, high + 1
    raw = (high - low) / target
    exponent = math.floor(math.log10(raw))
    mantissa = next(m for m in ROUND_STEPS if m * 10.0**exponent >= raw * (1 - 1e-9))
    if mantissa == 10:
        mantissa, exponent = 1, exponent + 1
    step = mantissa * 10.0**exponent
    first, last = low / step, high / step
    if cover:
        return Ticks(mantissa, exponent, math.floor(first + 1e-9), math.ceil(last - 1e-9))
    return Ticks(mantissa, exponent, math.ceil(first - 1e-9), math.floor(last + 1e-9))
