"""A generated household's electricity load: the `series` corpus' default source, the same for the same seed."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

HOURS = 24


def household_load(days: int = 1461, seed: int = 0) -> np.ndarray:
    """Hourly load in kW over `days` days from a Monday: low at night, peaks in the morning and evening.

    Weekends rise later and use more at midday; winter uses more than summer; the noise is
    autocorrelated from hour to hour, as a real household's is.
    """
    import numpy as np  # here, so that listing the plugins loads no numpy

    def _bump(hours: np.ndarray, centre: float, width: float) -> np.ndarray:
        return np.exp(-0.5 * ((hours - centre) / width) ** 2)

    random = np.random.default_rng(seed)
    hours = np.arange(days * HOURS) % HOURS
    day = np.arange(days * HOURS) // HOURS
    weekend = (day % 7) >= 5
    morning = np.where(weekend, 0.7 * _bump(hours, 9.5, 1.5), 1.0 * _bump(hours, 7.0, 1.0))
    midday = np.where(weekend, 0.6, 0.25) * _bump(hours, 13.0, 2.0)
    evening = 1.6 * _bump(hours, 19.5, 1.6)
    winter = 1.0 + 0.25 * np.cos(2 * np.pi * (day - 15) / 365.25)
    noise = np.empty(len(hours))
    shocks = random.normal(0.0, 0.08, len(hours))
    level = 0.0
    for index, shock in enumerate(shocks):  # AR(1): each hour keeps 60% of the last one's deviation
        level = 0.6 * level + shock
        noise[index] = level
    load = (0.3 + morning + midday + evening) * winter * (1.0 + noise)
    return np.round(np.maximum(load, 0.05), 3)
