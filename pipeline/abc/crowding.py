"""Bars and tunes too crowded to render in time: grace notes, overlays and decorations per bar, and voices."""

from __future__ import annotations

from itertools import accumulate

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.tune import Bar, Event, Tune
from charmony.pipeline.plugin.verdict import Problem


def crowding_problems(tune: Tune) -> list[Problem]:
    """A problem for a tune with more voices than MIDI has channels, and for each bar holding more grace notes,
    `&` overlays or decorations than the renderers draw in time (the limits are in theory.py)."""
    problems = []
    if len(tune.voices) > theory.MOST_VOICES:
        problems.append(Problem(tune.line, 1, f"the tune has {len(tune.voices)} voices; the renderers take at most "
                                f"{theory.MOST_VOICES}, one MIDI channel each"))
    for voice in tune.voices.values():
        for bar in voice.bars:
            problems.extend(bar_crowding(bar, voice.id))
    return problems


def bar_crowding(bar: Bar, voice_id: str) -> list[Problem]:
    """The problems of one bar holding too much, each at the event that passes the limit; see crowding_problems."""
    problems = []
    overlays = len(bar.layers) - 1
    if overlays > theory.MOST_OVERLAYS_IN_BAR:
        passing = next(iter(bar.layers[theory.MOST_OVERLAYS_IN_BAR + 1]), bar)
        problems.append(_crowded(passing, voice_id, overlays, theory.MOST_OVERLAYS_IN_BAR, "& overlays"))
    events = [event for layer in bar.layers for event in layer]
    for what, most in (("grace", theory.MOST_GRACE_NOTES_IN_BAR), ("decorations", theory.MOST_DECORATIONS_IN_BAR)):
        counts = [len(getattr(event, what, ())) for event in events]
        if sum(counts) > most:
            passing = next(event for event, total in zip(events, accumulate(counts)) if total > most)
            problems.append(_crowded(passing, voice_id, sum(counts), most, "grace notes" if what == "grace" else what))
    return problems


def _crowded(where: Event | Bar, voice_id: str, count: int, most: int, what: str) -> Problem:
    return Problem(where.line, where.column, f"voice {voice_id}: a bar with {count} {what}; the renderers take at most {most} in a bar")
