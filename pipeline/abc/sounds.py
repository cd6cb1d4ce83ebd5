"""What a voice sounds, in order: its notes (tied notes merged, a chord by its top note) and rests, with the key's tonic.

Grace notes take no time and are left out, and so are `&` overlays. The evaluation's histograms, copying events,
melody and harmony figures are all read from these sounds.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from charmony.pipeline.abc.fields import Key
from charmony.pipeline.abc.theory import STEP_SEMITONES
from charmony.pipeline.abc.tune import Change, Chord, Note, Rest, Voice


@dataclass(frozen=True)
class Sound:
    """One element of a melody: a note (its MIDI key) or a rest (`midi` None), its length, and the tonic's pitch class."""

    midi: int | None
    length: Fraction  # in whole notes
    tonic: int | None  # pitch class 0-11 of the key in force; None for K:none and keys without a tonic


def tonic_class(key: Key | None) -> int | None:
    """The pitch class of a key's tonic (C is 0), or None when the key names none."""
    if key is None or not key.tonic:
        return None
    return (STEP_SEMITONES[key.tonic[0]] + {"#": 1, "b": -1}.get(key.tonic[1:], 0)) % 12


def top_note(event: Note | Chord) -> Note:
    """A note itself, or a chord's highest note."""
    return event if isinstance(event, Note) else max(event.notes, key=lambda note: note.midi)


def melody(voice: Voice) -> list[Sound]:
    """What a voice sounds, in order (the main layer of each bar; `&` overlays are left out)."""
    sounds: list[Sound] = []
    tonic = tonic_class(voice.key)
    tied = False  # the last note holds on into the next one
    for bar in voice.bars:
        for event in bar.events:
            if isinstance(event, Change):
                if event.kind == "key":
                    tonic = tonic_class(event.value)
            elif isinstance(event, Rest):
                sounds.append(Sound(None, event.length, tonic))
                tied = False
            elif isinstance(event, Note | Chord):
                top = top_note(event)
                if tied and sounds and sounds[-1].midi == top.midi:
                    sounds[-1] = Sound(top.midi, sounds[-1].length + event.length, sounds[-1].tonic)
                else:
                    sounds.append(Sound(top.midi, event.length, tonic))
                tied = top.tie_start
    return sounds


def last_note(sounds: list[Sound]) -> Sound | None:
    """The last sound that is a note, not a rest; None when there is none."""
    return next((sound for sound in reversed(sounds) if sound.midi is not None), None)


def ends_on_tonic(sounds: list[Sound]) -> bool | None:
    """Whether the last note is the tonic of the key in force; None without a note or a tonic."""
    last = last_note(sounds)
    if last is None or last.tonic is None:
        return None
    return last.midi % 12 == last.tonic
