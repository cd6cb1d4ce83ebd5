"""Missing values kept at their time: filled in by linear interpolation, and marked so that nothing scores against them."""

from __future__ import annotations

import numpy as np

FILLING = "filled in by linear interpolation between their neighbours (the nearest value at an end) and never scored"


def fill_gaps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values with each NaN filled in by linear interpolation between the values either side of its gap
    (the nearest value for a gap at an end), and where the NaNs were. At least one value must be a number."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if not missing.any():
        return values, missing
    positions = np.flatnonzero(~missing)
    filled = values.copy()
    filled[missing] = np.interp(np.flatnonzero(missing), positions, values[positions])
    return filled, missing
