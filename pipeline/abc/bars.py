"""When a bar's duration is right: the rules the checker judges bars by and the constraint writes them by.

A bar lasts its meter's bar. Shorter bars are right in four places only: the first bar (a pickup), the
last bar, a bar that closes a section and with the pickup (or its section's opening bar) makes a whole
bar, and the bar that opens a section after such a short closing bar.
"""

from __future__ import annotations

from fractions import Fraction

from charmony.pipeline.abc.fields import Meter

SECTION_BARLINES = ("||", "|]", "[|", ":|", "::", "|:")


def is_short(duration: Fraction, meter: Meter) -> bool:
    """Whether a bar with music lasts less than its meter's bar."""
    return meter.length is not None and 0 < duration < meter.length


def closes_section(barline: str, end_repeat: bool = False) -> bool:
    """Whether a bar closed by `barline` ends a section: a repeat sign, `||`, `|]`, or a repeat starting after it."""
    return end_repeat or barline in SECTION_BARLINES or barline == "" or barline.endswith("]") or barline.startswith(":")


def completes(first: Fraction, first_meter: Meter, second: Fraction, second_meter: Meter) -> bool:
    """Whether two short bars in the same meter add up to one whole bar, as a pickup and the bar that ends its section."""
    return (first_meter == second_meter and is_short(first, first_meter) and is_short(second, second_meter)
            and first + second == first_meter.length)
