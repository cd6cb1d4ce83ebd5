"""Missing values kept at their time: filled in by linear interpolation and marked, so that nothing scores against
them; those before a series' first number or after its last are left out, so that it starts and ends with one."""

from __future__ import annotations

import numpy as np

FILLING = "filled in by linear interpolation between their neighbours and never scored"
TRIMMING = "left out (a series starts and ends with a number: a forecast starts after its last)"
SHOWN = 3  # columns named in a warning before "and N more"


def fill_gaps(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The values with each NaN filled in by linear interpolation between the values either side of its gap
    (the nearest value for a gap at an end, which a CSV column no longer has: `known_span` leaves its ends out
    first), and where the NaNs were. At least one value must be a number."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if not missing.any():
        return values, missing
    positions = np.flatnonzero(~missing)
    filled = values.copy()
    filled[missing] = np.interp(np.flatnonzero(missing), positions, values[positions])
    return filled, missing


def known_span(values: np.ndarray) -> slice:
    """From the first number of `values` to the last (NaN: missing); at least one must be a number."""
    known = np.flatnonzero(~np.isnan(values))
    return slice(int(known[0]), int(known[-1]) + 1)


def missing_text(names: list[str], filled: int, trimmed: int, length: int) -> str:
    """What was missing from the columns `names`, each alike: `filled` values between numbers and `trimmed` at the
    ends, of `length` rows; and what was done with them."""
    missed = filled + trimmed
    who = (f"column {names[0]!r} misses {missed:,} of its {length:,} values" if len(names) == 1 else
           f"columns {_some(names)} each miss {missed:,} of their {length:,} values")
    done = [f"{count:,} {where} {what}" for count, where, what in
            ((filled, "between numbers", FILLING), (trimmed, "before the first number or after the last", TRIMMING))
            if count]
    return f"{who} (empty or NaN cells, blank lines): {'; '.join(done)}"


def _some(names: list[str]) -> str:
    """Two or more names: the first SHOWN of them, and how many more."""
    shown = [repr(name) for name in names[:SHOWN]]
    if len(names) > SHOWN:
        return f"{', '.join(shown)} and {len(names) - SHOWN:,} more"
    return f"{', '.join(shown[:-1])} and {shown[-1]}"
