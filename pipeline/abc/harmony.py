"""Four-part harmony as a music theorist hears it: chords, parallels, crossing, spacing, ranges and the final cadence.

A four-part tune has voices named Soprano, Alto, Tenor and Bass (V: name=..., case aside, the first word of the
name; a voice without a name by its id). Each voice is read at its written pitch, a chord by its top note.
The figures are taken on every quarter-note beat where all four voices sound: a voice sounds on a beat when
one of its notes (or a note tied over) starts at or before it and ends after it. Beats are counted from
the end of the first voice's first bar, so that a pickup's beats fall on the beats of the bars after it.

A beat's pitch classes fit a chord when they are one of these, on any root, with tones doubled at will:
- 1 or 2 pitch classes: part of a major, minor, diminished or augmented triad (a bare second does not fit);
- 3: such a triad, or a seventh chord without its fifth (root, third and seventh);
- 4: a dominant, major, minor, half-diminished or diminished seventh chord.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations

from charmony.pipeline.abc.sounds import ends_on_tonic, melody, top_note
from charmony.pipeline.abc.tune import Chord, Note, Rest, Tune, Voice

PARTS = ("soprano", "alto", "tenor", "bass")
BEAT = Fraction(1, 4)
# The usual range of each part, as MIDI keys: soprano C4-A5, alto G3-D5, tenor C3-A4, bass E2-D4. The upper
# ends are the generous ones (A5 and A4, not G5 and G4), which Bach's chorales reach now and then.
RANGES = {"soprano": (60, 81), "alto": (55, 74), "tenor": (48, 69), "bass": (40, 62)}
WIDEST_SPACING = 12  # semitones between soprano and alto, or alto and tenor; more is too wide
TRIADS = ((0, 4, 7), (0, 3, 7), (0, 3, 6), (0, 4, 8))  # major, minor, diminished, augmented
SEVENTHS = ((0, 4, 7, 10), (0, 4, 7, 11), (0, 3, 7, 10), (0, 3, 6, 10), (0, 3, 6, 9))  # dominant, major, minor, half-dim., dim.


def _fitting_sets() -> frozenset[frozenset[int]]:
    found: set[frozenset[int]] = set()
    for root in range(12):
        for triad in TRIADS:
            tones = [(root + tone) % 12 for tone in triad]
            found.update(frozenset(part) for size in (1, 2, 3) for part in combinations(tones, size))
        for seventh in SEVENTHS:
            tones = [(root + tone) % 12 for tone in seventh]
            found.add(frozenset(tones))
            found.add(frozenset(tones[:2] + tones[3:]))  # without the fifth
    return frozenset(found)


FITTING = _fitting_sets()


@dataclass
class HarmonyFigures:
    """One four-part tune's harmony figures: counts, so that tunes add up."""

    beats: int = 0  # quarter-note beats where all four voices sound
    chord_beats: int = 0  # of them, beats whose pitch classes fit one chord
    beat_pairs: int = 0  # two such beats in a row
    parallels: int = 0  # parallel perfect fifths and octaves (unisons, compound intervals) over those pairs
    crossed_beats: int = 0  # beats with a voice below the one under it
    wide_beats: int = 0  # beats with more than an octave between soprano and alto, or alto and tenor
    notes: int = 0  # notes of the four voices, tied notes as one
    notes_outside_range: int = 0
    bass_on_tonic: bool | None = None  # the bass's last note is the tonic; None without a note or a tonic


def fits_chord(pitches: list[int]) -> bool:
    """Whether the pitch classes of some pitches fit one triad or seventh chord (see the module docstring)."""
    return frozenset(pitch % 12 for pitch in pitches) in FITTING


def is_parallel(upper: tuple[int, int], lower: tuple[int, int]) -> bool:
    """Whether two voices, each from one pitch to the next, move in parallel perfect fifths or octaves.

    Both must move, in the same direction, and be a perfect fifth apart (or an octave or unison), compound
    intervals included, before and after.
    """
    (upper_from, upper_to), (lower_from, lower_to) = upper, lower
    moves = (upper_to - upper_from) * (lower_to - lower_from) > 0
    before, after = abs(upper_from - lower_from) % 12, abs(upper_to - lower_to) % 12
    return moves and before == after and before in (0, 7)


def is_crossed(pitches: tuple[int, ...]) -> bool:
    """Whether some voice (soprano, alto, tenor, bass in order) lies below the one written under it."""
    return any(higher < lower for higher, lower in zip(pitches, pitches[1:]))


def is_wide(pitches: tuple[int, ...]) -> bool:
    """Whether soprano and alto, or alto and tenor, lie more than an octave apart."""
    soprano, alto, tenor = pitches[:3]
    return soprano - alto > WIDEST_SPACING or alto - tenor > WIDEST_SPACING


def part_of(voice: Voice) -> str:
    """The first word of a voice's name (else its id), in lower case: "soprano" for `V:1 name="Soprano 1"`."""
    words = (voice.name or voice.id).lower().split()
    return words[0] if words else ""


def four_parts(tune: Tune) -> list[Voice] | None:
    """The tune's soprano, alto, tenor and bass voices, in that order; None unless it has all four."""
    found: dict[str, Voice] = {}
    for voice in tune.voices.values():
        if part_of(voice) in PARTS:
            found.setdefault(part_of(voice), voice)
    return [found[part] for part in PARTS] if len(found) == len(PARTS) else None


def note_spans(voice: Voice) -> tuple[list[Fraction], list[Fraction], list[int | None]]:
    """Each event's start and end, in whole notes from the tune's start, and its pitch (None for a rest)."""
    starts: list[Fraction] = []
    ends: list[Fraction] = []
    pitches: list[int | None] = []
    time = Fraction(0)
    for bar in voice.bars:
        for event in bar.events:
            if isinstance(event, Note | Chord | Rest) and event.length:
                starts.append(time)
                ends.append(time + event.length)
                pitches.append(None if isinstance(event, Rest) else top_note(event).midi)
                time += event.length
    return starts, ends, pitches


def pitches_on_beats(voice: Voice, beats: list[Fraction]) -> list[int | None]:
    """The pitch the voice sounds on each beat; None where it rests or has ended."""
    starts, ends, pitches = note_spans(voice)
    found: list[int | None] = []
    for beat in beats:
        index = bisect_right(starts, beat) - 1
        found.append(pitches[index] if index >= 0 and beat < ends[index] else None)
    return found


def beat_times(voices: list[Voice]) -> list[Fraction]:
    """The quarter-note beats of the tune, aligned with the first voice's bars (see the module docstring)."""
    first = voices[0].bars
    offset = first[0].duration() % BEAT if first else Fraction(0)
    end = max(sum((bar.duration() for bar in voice.bars), Fraction(0)) for voice in voices)
    count = int((end - offset) / BEAT) + 1 if end > offset else 0
    return [offset + number * BEAT for number in range(count)]


def harmony_figures(tune: Tune) -> HarmonyFigures | None:
    """The harmony figures of a four-part tune; None for a tune without the four voices."""
    voices = four_parts(tune)
    if voices is None:
        return None
    figures = HarmonyFigures()
    beats = beat_times(voices)
    columns = list(zip(*(pitches_on_beats(voice, beats) for voice in voices)))
    previous: tuple[int, ...] | None = None
    for column in columns:
        pitches = tuple(pitch for pitch in column if pitch is not None)
        if len(pitches) < len(PARTS):
            previous = None
            continue
        figures.beats += 1
        figures.chord_beats += fits_chord(list(pitches))
        figures.crossed_beats += is_crossed(pitches)
        figures.wide_beats += is_wide(pitches)
        if previous is not None:
            figures.beat_pairs += 1
            figures.parallels += sum(is_parallel((previous[upper], pitches[upper]), (previous[lower], pitches[lower]))
                                     for upper, lower in combinations(range(len(PARTS)), 2))
        previous = pitches
    for part, voice in zip(PARTS, voices):
        low, high = RANGES[part]
        notes = [sound.midi for sound in melody(voice) if sound.midi is not None]
        figures.notes += len(notes)
        figures.notes_outside_range += sum(not low <= pitch <= high for pitch in notes)
    figures.bass_on_tonic = ends_on_tonic(melody(voices[-1]))
    return figures
