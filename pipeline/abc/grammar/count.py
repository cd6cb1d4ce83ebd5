"""abc2midi's count of a voice's bars, as its genmidi.c keeps it, so that the grammar writes no bar it warns about.

abc2midi adds each bar's time to what it carries. At `|` it checks the sum against the meter's bar; at `||`,
`|:`, `:|`, `::` and `|]` (its soft check) it carries a sum short of a bar into the next bar instead, except
before it has checked a bar with music (the first bar, a pickup). It warns of a sum that is not a bar, and
only warnings on its first pass through the music count here (a warning on a repeat ends "in repeat", as for
the pickups that repeats complete, which players accept). A `:|` sends it back to the section's start for a
second pass, which lasts until the next `|:`; a `::` sends it back and then starts a first pass after it.
Without a `|:` before them, they send it back to the last `||` (its fixreps turns that `||` into `|:`).
"""

from __future__ import annotations

from typing import NamedTuple

REPEATS = (":|", "::")


class Count(NamedTuple):
    """Where abc2midi's count of the first voice's bars stands."""

    carry: int | None = 0  # ticks it counts into the open bar from bars before; None: it depends on the repeat
    strict: bool = True  # on its first pass: a bar of the wrong length draws a warning that counts
    reset: bool = False  # since the section began, it checked a bar alike on both passes (at `|`, or the first bar)


def after_bar(count: Count, duration: int, bar: int | None, barline: str, counted: bool,
              repeat_open: bool) -> Count | None:
    """The count after a bar lasting `duration` ticks (0: a barline opening a line) is closed by `barline`;
    `bar`: the meter's bar in ticks (None: no meter, no check); `counted`: a bar with music was checked before;
    `repeat_open`: a `|:` or `::` opened the section. None where abc2midi would warn on its first pass, or
    the count would then depend on how a repeat played."""
    if bar is None:
        return count
    if count.carry is None:  # only on a second pass, which a `|` ends the doubt of and a `|:` must not
        if barline in ("|:", *REPEATS):
            return None
        return count._replace(carry=0 if barline == "|" else None)
    total = count.carry + duration
    if barline == "|" or not counted or total >= bar:
        if count.strict and counted and total not in (0, bar):
            return None  # (an empty bar it lets pass)
        carry = 0
    else:
        carry = total
    reset = count.reset or barline == "|" or not counted
    if barline == "|:" or (barline == "||" and not repeat_open):
        return Count(carry, count.strict or barline == "|:", False)
    if barline in REPEATS:
        if not count.strict:
            return None  # the grammar opens a second repeated section with `|:`
        carry = carry if reset else None  # the second pass ends as the first only if a check in between aligned them
        if barline == "::":
            return None if carry is None else Count(carry, True, False)
        return Count(carry, False, False)
    return Count(carry, count.strict, reset)


def owes(count: Count) -> bool:
    """Whether the open bar must complete what abc2midi carries into it (it warns otherwise)."""
    return count.strict and bool(count.carry)
