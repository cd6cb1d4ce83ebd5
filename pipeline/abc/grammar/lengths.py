"""Note lengths as the grammar counts them: tuplet signs, and the fewest characters of notes and rests for a duration.

Durations are in ticks (whole numbers; see `compiled.CompiledGrammar.whole`); the lengths a tune may fill
a bar with come as `fill_lengths`, pairs (length factor, characters of a note or rest of that length).
"""

from __future__ import annotations

import re
from fractions import Fraction
from math import gcd

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.grammar.symbols import INF

TUPLET = re.compile(r"\((\d)(?::(\d?)(?::(\d?))?)?")  # the tuplets the constraint writes: (3, (3:2, (3:2:3...
FillLengths = tuple[tuple[Fraction, int], ...]


def tuplet_notes(text: str, compound: bool) -> tuple[int, tuple[int, int]] | None:
    """How many notes a tuplet sign such as `(3` or `(3:2:3` spans and the factor of their lengths, read as
    the checker reads it (in compound meter or not); None for a sign the constraint does not write."""
    match = TUPLET.fullmatch(text)
    if match is None:
        return None
    p = int(match.group(1))
    q = int(match.group(2)) if match.group(2) else theory.tuplet_time(p, compound)
    r = int(match.group(3)) if match.group(3) else p
    if p < 2 or q < 1 or r < 1:
        return None
    factor = Fraction(q, p)
    return r, (factor.numerator, factor.denominator)


def one_token(fill_lengths: FillLengths, unit: int, most: int | None) -> tuple[tuple[int, int], ...]:
    """The single notes or rests (ticks, characters) that last at most `most` ticks, against a unit of `unit` ticks."""
    return tuple((int(unit * factor), chars) for factor, chars in fill_lengths if most is None or unit * factor <= most)


def fewest_tokens(fill_lengths: FillLengths, unit: int, duration: int) -> int:
    """The fewest characters of notes and rests that last exactly `duration`, worked out for each multiple of
    the lengths' common step up to it."""
    if duration <= 0:
        return 0 if duration == 0 else INF
    lengths = [(ticks, chars) for ticks, chars in one_token(fill_lengths, unit, duration) if ticks > 0]
    step = gcd(*(ticks for ticks, _ in lengths)) if lengths else 0
    if not step or duration % step:
        return INF
    steps = [(ticks // step, chars) for ticks, chars in lengths]
    best = [0] + [INF] * (duration // step)
    for total in range(1, len(best)):
        best[total] = min((best[total - k] + chars for k, chars in steps if k <= total), default=INF)
    return best[-1]
