"""Comparing two music21 scores voice by voice: the same pitches at the same times for the same lengths."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from music21 import chord, stream


@dataclass(frozen=True, order=True)
class Sounding:
    """One pitch of one voice: when it starts, what it is, how long it lasts, whether it is tied on."""

    offset: Fraction  # quarter notes from the start of the part
    pitch: str  # spelt, with octave: F#4, B-3
    quarters: Fraction  # 0 for a grace note
    tied: bool  # tied to the next note
    bar: int  # the bar number it is in, for messages only; not compared

    def key(self) -> tuple:
        """What must match."""
        return self.offset, self.pitch, self.quarters, self.tied


def _fraction(value) -> Fraction:
    return Fraction(value).limit_denominator(10_000)


def soundings(part: stream.Stream) -> list[Sounding]:
    """Every pitch of a part (chords taken apart, overlay layers merged), in time order."""
    found = []
    for element in part.recurse().notes:
        offset = _fraction(element.getOffsetInHierarchy(part))
        quarters = _fraction(element.duration.quarterLength)
        notes = element.notes if isinstance(element, chord.Chord) else [element]
        for member in notes:
            tied = member.tie is not None and member.tie.type in ("start", "continue")
            spelt = member.pitch.name + str(member.pitch.implicitOctave)
            found.append(Sounding(offset, spelt, quarters, tied, element.measureNumber or 0))
    return sorted(found)


def _describe(sounding: Sounding | None) -> str:
    if sounding is None:
        return "nothing"
    tie = " tied" if sounding.tied else ""
    return f"{sounding.pitch} for {sounding.quarters} quarters{tie} at quarter {sounding.offset} (bar {sounding.bar})"


def differences(source: stream.Score, copy: stream.Score) -> list[str]:
    """One line per voice that differs between the scores (empty when they match), naming the first difference."""
    source_parts, copy_parts = list(source.parts), list(copy.parts)
    found = []
    if len(source_parts) != len(copy_parts):
        found.append(f"{len(source_parts)} voices written, {len(copy_parts)} read back")
    for number, (original, returned) in enumerate(zip(source_parts, copy_parts), start=1):
        before, after = soundings(original), soundings(returned)
        if [s.key() for s in before] == [s.key() for s in after]:
            continue
        index = next((i for i, (a, b) in enumerate(zip(before, after)) if a.key() != b.key()), min(len(before), len(after)))
        first = before[index] if index < len(before) else None
        second = after[index] if index < len(after) else None
        found.append(
            f"voice {number} ({original.partName or 'unnamed'}): {len(before)} pitches written, {len(after)} read back; "
            f"first difference: {_describe(first)} became {_describe(second)}"
        )
    return found
