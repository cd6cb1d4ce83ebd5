"""Counting where a voice of a tune starts a note above the voice written before it, as `--option crossing=no` forbids."""

from __future__ import annotations

from fractions import Fraction

from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.tune import Change, Note


def crossings(text: str) -> int:
    """The notes a voice starts above the note the voice before it sounds at that moment (a chord, a rest or a tied
    note's continuation not counted), as the parser reads the pitches (a tenor's octave= counted)."""
    timelines = []
    for voice in parse_tune(text).voices.values():
        notes, tied = [], False
        for number, bar in enumerate(voice.bars):
            start = Fraction(0)
            for event in (event for event in bar.events if not isinstance(event, Change)):
                length = event.length
                written = event.midi if isinstance(event, Note) else None
                notes.append((number, start, start + length, written, tied))
                tied = isinstance(event, Note) and event.tie_start
                start += length
        timelines.append(notes)
    count = 0
    for upper, lower in zip(timelines, timelines[1:]):
        for number, start, _, pitch, tied in lower:
            above = [p for n, s, e, p, _ in upper if n == number and s <= start < e and p is not None]
            count += pitch is not None and not tied and bool(above) and pitch > above[0]
    return count
