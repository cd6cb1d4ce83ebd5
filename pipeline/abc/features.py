"""Musical features of parsed ABC tunes, for evaluation: the melodies of their voices, their histograms, and
each tune's melody and harmony figures (`abc/melody.py`, `abc/harmony.py`).

A voice's melody is what it sounds, in order (`abc/sounds.py`): its notes, with tied notes merged into one note
of their summed length and a chord reduced to its top note, and its rests. The histograms (see `TuneFeatures`)
and the copying events (`copy_events`) are read from melodies.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from typing import Any

from charmony.pipeline.abc.harmony import HarmonyFigures, harmony_figures
from charmony.pipeline.abc.melody import MelodyFigures, melody_figures
from charmony.pipeline.abc.sounds import Sound, melody
from charmony.pipeline.abc.tune import Tune

INTERVAL_LIMIT = 12  # melodic intervals beyond an octave fall into the end bins, -12 and +12
BAR_BIN = 4  # bars per tune are binned 1-4, 5-8, ...
BAR_BIN_LAST = 64  # ... up to 61-64, and one bin for longer tunes


# Raise when a feature is computed differently, so that features saved before (evaluation caches) are rebuilt.
FEATURES_VERSION = 2
# How the keys of each histogram are read back from JSON.
COUNTER_KEYS = {"pitch_classes": int, "intervals": int, "durations": Fraction, "bars": int}
# The lists of per-tune figures, and the dataclass each item is read back into.
RECORD_TYPES = {"melody_figures": MelodyFigures, "harmony_figures": HarmonyFigures}


@dataclass
class TuneFeatures:
    """The histograms of one tune or many, and their melodies.

    - `pitch_classes`: each note's pitch class counted from the key's tonic, 0-11;
    - `intervals`: semitones from each note to the next note of the same voice (rests between them do not
      count), clipped to -12..+12;
    - `durations`: each note's length in quarter notes, by exact value;
    - `bars`: each tune's number of bars (of its first voice; 0 for a tune without music), binned by `bar_bin`;
    - `melody_figures` and `harmony_figures`: each tune's own figures, for the musical evaluation.
    """

    pitch_classes: Counter = field(default_factory=Counter)
    intervals: Counter = field(default_factory=Counter)
    durations: Counter = field(default_factory=Counter)
    bars: Counter = field(default_factory=Counter)
    bar_counts: list[int] = field(default_factory=list)  # each tune's bars
    notes: int = 0
    melodies: list[list[Sound]] = field(default_factory=list)  # one per voice of each tune
    melody_figures: list[MelodyFigures] = field(default_factory=list)  # one per tune with music
    harmony_figures: list[HarmonyFigures] = field(default_factory=list)  # one per four-part tune

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
            if isinstance(value, Counter):
                data[item.name] = [[str(key), count] for key, count in sorted(value.items())]
            elif item.name in RECORD_TYPES:
                data[item.name] = [asdict(record) for record in value]
            else:
                data[item.name] = value
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
            if read:
                values[item.name] = Counter({read(key): int(count) for key, count in data[item.name]})
            elif item.name in RECORD_TYPES:
                values[item.name] = [RECORD_TYPES[item.name](**record) for record in data[item.name]]
            else:
                values[item.name] = type(empty)(data[item.name])
        return cls(**values)


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
    tune_melody, tune_harmony = melody_figures(tune), harmony_figures(tune)
    if tune_melody is not None:
        features.melody_figures.append(tune_melody)
    if tune_harmony is not None:
        features.harmony_figures.append(tune_harmony)
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
