"""Pitches as the grammar reads them: a note's MIDI key from its text, the key signature and the accidentals
written earlier in its bar (which hold for that step in that octave to the bar's end)."""

from __future__ import annotations

from functools import lru_cache

from charmony.pipeline.abc.fields import Key
from charmony.pipeline.abc.sounds import tonic_class
from charmony.pipeline.abc.theory import ACCIDENTALS, STEP_SEMITONES

STEPS = "CDEFGAB"
Accidentals = tuple[tuple[str, int, int], ...]  # (step, octave, alteration) written in the open bar


def signature(key: Key | None) -> tuple[tuple[int, ...], int | None]:
    """A key's alteration of each step (C to B) and its tonic's pitch class (None for K:none)."""
    if key is None:
        return (0,) * 7, None
    return tuple(key.alters.get(step, 0) for step in STEPS), tonic_class(key)


@lru_cache(maxsize=65536)
def note_pitch(text: str, keysig: tuple[int, ...], written: Accidentals) -> tuple[int, Accidentals]:
    """The MIDI key of a note written `text` (accidental, letter, octave marks), and the bar's accidentals after it."""
    at = next(i for i, c in enumerate(text) if c.isalpha())
    sign, letter, marks = text[:at], text[at], len(text) - at - 1
    step = letter.upper()
    octave = 5 + marks if letter.islower() else 4 - marks  # ABC's `C` is middle C, C4
    if sign:
        alter = ACCIDENTALS[sign]
        written = tuple(entry for entry in written if entry[:2] != (step, octave)) + ((step, octave, alter),)
    else:
        alter = next((a for s, o, a in written if (s, o) == (step, octave)), keysig[STEPS.index(step)])
    return 12 * (octave + 1) + STEP_SEMITONES[step] + alter, written


@lru_cache(maxsize=65536)
def heard_alike(text: str, keysig: tuple[int, ...], written: Accidentals) -> bool:
    """Whether abc2midi plays the note written `text` at the pitch `note_pitch` gives: it holds a bar's accidental
    for its step in every octave, where the standard holds it in its own octave only."""
    at = next(i for i, c in enumerate(text) if c.isalpha())
    if at:
        return True
    step = text[at].upper()
    octave = 5 + len(text) - 1 if text[at].islower() else 4 - (len(text) - 1)
    standard = next((a for s, o, a in written if (s, o) == (step, octave)), keysig[STEPS.index(step)])
    return next((a for s, _, a in reversed(written) if s == step), keysig[STEPS.index(step)]) == standard


@lru_cache(maxsize=4096)
def fewest_characters(pitch: int, letters: frozenset[str], signs: frozenset[str], low: int, high: int,
                      keysig: tuple[int, ...], written: Accidentals) -> int | None:
    """The fewest characters of a note (accidental, letter, octave marks) that sounds `pitch`; None for none."""
    best = None
    for sign in ("", *signs):
        for letter in letters:
            for marks in range(1 + (low if letter.isupper() else high)):
                text = sign + letter + ("," if letter.isupper() else "'") * marks
                if ((best is None or len(text) < best) and note_pitch(text, keysig, written)[0] == pitch
                        and heard_alike(text, keysig, written)):
                    best = len(text)
    return best
