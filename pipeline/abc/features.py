"""Musical features of parsed ABC tunes, for evaluation: the melodies of their voices and their histograms.

A voice's melody is what it sounds, in order: its notes, with tied notes merged into one note of their
summed length and a chord reduced to its top note, and its rests. Grace notes take no time and are left
out. The histograms (see `TuneFeatures`) and the copying events (`copy_events`) are read from melodies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from fractions import Fraction
from typing import Any

from charmony.pipeline.abc.fields import Key
from charmony.pipeline.abc.theory import STEP_SEMITONES
from charmony.pipeline.abc.tune import Change, Chord, Note, Rest, Tune, Voice

INTERVAL_LIMIT = 12  # melodic intervals beyond an octave fall into the end bins, -12 and +12
BAR_BIN = 4  # bars per tune are binned 1-4, 5-8, ...
BAR_BIN_LAST = 64  # ... up to 61-64, and one bin for longer tunes


@dataclass(frozen=True)
class Sound:
    """One element of a melody: a note (its MIDI key) or a rest (`midi` None), its length, and the tonic's pitch class."""

    midi: int | None
    length: Fraction  # in whole notes
    tonic: int | None  # pitch class 0-11 of the key in force; None for K:none and keys without a tonic


# Raise when a feature is computed differently, so that features saved before (evaluation caches) are rebuilt.
FEATURES_VERSION = 1
# How the keys of each histogram are read back from JSON.
COUNTER_KEYS = {"pitch_classes": int, "intervals": int, "durations": Fraction, "bars": int}


@dataclass
class TuneFeatures:
    """The histograms of one tune or many, and their melodies.

    - `pitch_classes`: each note's pitch class counted from the key's tonic, 0-11;
    - `intervals`: semitones from each note to the next note of the same voice (rests between them do not
      count), clipped to -12..+12;
    - `durations`: each note's length in quarter notes, by exact value;
    - `bars`: each tune's number of bars (of its first voice; 0 for a tune without music), binned by `bar_bin`.
    """

    pitch_classes: Counter = field(default_factory=Counter)
    intervals: Counter = field(default_factory=Counter)
    durations: Counter = field(default_factory=Counter)
    bars: Counter = field(default_factory=Counter)
    bar_counts: list[int] = field(default_factory=list)  # each tune's bars
    notes: int = 0
    melodies: list[list[Sound]] = field(default_factory=list)  # one per voice of each tune

    def add(self, other: TuneFeatures) -> None:
        """Add another tune's (or set's) features to these."""
        for item in fields(self):
            setattr(self, item.name, getattr(self, item.name) + getattr(other, item.name))

    def to_json(self) -> dict:
        """The features as JSON data, melodies aside (they are kept as event codes where needed)."""
        data: dict = {"version": FEATURES_VERSION}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "melodies":
                continue
            data[item.name] = [[str(key), count] for key, count in sorted(value.items())] if isinstance(value, Counter) else value
        return data

    @classmethod
    def from_json(cls, data: dict) -> TuneFeatures:
        """The features `to_json` gave; a ValueError for data of another version or shape."""
        if data.get("version") != FEATURES_VERSION:
            raise ValueError(f"features of version {data.get('version')!r}, not {FEATURES_VERSION}")
        values: dict[str, Any] = {}
        for item in fields(cls):
            if item.name == "melodies":
                continue
            empty = getattr(cls(), item.name)
            read = COUNTER_KEYS.get(item.name)
            values[item.name] = (Counter({read(key): int(count) for key, count in data[item.name]}) if read
                                 else type(empty)(data[item.name]))
        return cls(**values)


def tonic_class(key: Key | None) -> int | None:
    """The pitch class of a key's tonic (C is 0), or None when the key names none."""
    if key is None or not key.tonic:
        return None
    return (STEP_SEMITONES[key.tonic[0]] + {"#": 1, "b": -1}.get(key.tonic[1:], 0)) % 12


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
                top = event if isinstance(event, Note) else max(event.notes, key=lambda note: note.midi)
                if tied and sounds and sounds[-1].midi == top.midi:
                    sounds[-1] = Sound(top.midi, sounds[-1].length + event.length, sounds[-1].tonic)
                else:
                    sounds.append(Sound(top.midi, event.length, tonic))
                tied = top.tie_start
    return sounds


def bar_bin(bars: int) -> int:
    """The bin of a tune of `bars` bars, named by its smallest count: 0 (no music), 1 (1-4 bars), 5, 9, ... 61, and
    BAR_BIN_LAST + 1 for all longer tunes."""
    return min((bars - 1) // BAR_BIN, BAR_BIN_LAST // BAR_BIN) * BAR_BIN + 1 if bars > 0 else 0


def tune_features(tune: Tune) -> TuneFeatures:
    """The histograms and melodies of one parsed tune."""
    features = TuneFeatures()
    voices = list(tune.voices.values())
    for voice in voices:
        sounds = melody(voice)
        features.melodies.append(sounds)
        previous = None
        for sound in sounds:
            if sound.midi is None:
                continue
            features.notes += 1
            if sound.tonic is not None:
                features.pitch_classes[(sound.midi - sound.tonic) % 12] += 1
            if previous is not None:
                features.intervals[max(-INTERVAL_LIMIT, min(INTERVAL_LIMIT, sound.midi - previous))] += 1
            features.durations[sound.length * 4] += 1
            previous = sound.midi
    bars = len(voices[0].bars) if voices else 0
    features.bar_counts.append(bars)
    features.bars[bar_bin(bars)] += 1
    return features


def copy_events(sounds: list[Sound]) -> list[tuple[int | None, Fraction]]:
    """A melody as the events copying is measured on: (semitones from the previous note, length) per note,
    None for the voice's first note, and ("rest", length) per rest.

    Intervals rather than pitches, so that a melody copied in another key still counts as copied: the
    transposed runs hold every chorale in twelve keys, and a transposition is no new tune.
    """
    events: list[tuple] = []
    previous = None
    for sound in sounds:
        if sound.midi is None:
            events.append(("rest", sound.length))
        else:
            events.append((None if previous is None else sound.midi - previous, sound.length))
            previous = sound.midi
    return events
