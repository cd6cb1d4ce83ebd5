"""The tune model the ABC parser builds: header, voices, bars and the events in them.

Lengths are Fractions of a whole note, with unit length, broken rhythm and tuplets already applied.
Pitches are resolved against the key signature and earlier accidentals in the bar.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from charmony.pipeline.abc.bars import closes_section
from charmony.pipeline.abc.fields import Key, Meter
from charmony.pipeline.abc.theory import midi_number
from charmony.pipeline.plugin.verdict import Problem


@dataclass
class Note:
    """A pitched note as written (`accidental` is None when none is written) and as it sounds (`alter`)."""

    step: str  # C D E F G A B
    octave: int  # scientific octave: ABC `C` is C4, middle C
    alter: int  # semitones from the natural step after key signature and bar accidentals
    accidental: str | None  # ^ ^^ _ __ = as written, or None
    length: Fraction
    line: int
    column: int
    tie_start: bool = False  # a `-` follows: tied to the next note of the same pitch
    tie_stop: bool = False  # tied from the previous note
    decorations: tuple[str, ...] = ()
    grace: tuple[Note, ...] = ()  # grace notes written before it

    @property
    def midi(self) -> int:
        """The MIDI key number it sounds."""
        return midi_number(self.step, self.octave, self.alter)


@dataclass
class Chord:
    """Notes sounding together, `[CEG]`; ties are marked on its notes."""

    notes: list[Note]
    length: Fraction
    line: int
    column: int
    decorations: tuple[str, ...] = ()
    grace: tuple[Note, ...] = ()


@dataclass
class Rest:
    """A rest, `z` (or `x`, invisible); a whole-bar rest `Z4` becomes one such rest a bar (see Bar.whole_rest_bars)."""

    length: Fraction
    line: int
    column: int
    invisible: bool = False
    decorations: tuple[str, ...] = ()


@dataclass
class Change:
    """A key, meter, clef or tempo change in the music (an inline field or a field line).

    A unit length change (L:) is no event: the parser applies it to the lengths of the notes that follow.
    """

    kind: str  # "key", "meter", "tempo", "clef"
    value: Any  # a Key, Meter, tempo tuple or clef name, as `kind` says
    line: int
    column: int
    length: Fraction = Fraction(0)


Event = Note | Chord | Rest | Change


@dataclass
class Bar:
    """One bar of one voice: its events (per `&` overlay layer), barlines and repeat marks."""

    meter: Meter  # in force at the start of the bar
    line: int
    column: int
    layers: list[list[Event]] = field(default_factory=lambda: [[]])
    number: int = 0  # as musicians count: a pickup is bar 0
    start_repeat: bool = False  # `|:` before it
    end_repeat: bool = False  # `:|` after it
    ending: tuple[int, ...] = ()  # an ending (`[1`, `|2`, `[1,3`) starts at this bar
    barline: str = "|"  # the barline that closes it ("" when the tune ends without one)
    whole_rest_bars: int = 0  # `Z4` written alone: a rest of this many bars
    has_music: bool = False  # whether it holds notes or rests, not only changes or nothing

    @property
    def events(self) -> list[Event]:
        """The events of the main layer."""
        return self.layers[0]

    def duration(self, layer: int = 0) -> Fraction:
        """How long one layer of the bar lasts, in whole notes."""
        return sum((event.length for event in self.layers[layer]), Fraction(0))

    @property
    def section_end(self) -> bool:
        """Whether its closing barline ends a section: a repeat, `||`, `|]` or the end of the tune."""
        return closes_section(self.barline, self.end_repeat)


@dataclass
class Voice:
    """One voice, `V:id`, or the single voice of a tune without V: fields."""

    id: str
    name: str | None
    clef: str | None
    octave: int
    line: int
    key: Key
    meter: Meter
    unit: Fraction
    bars: list[Bar] = field(default_factory=list)


@dataclass
class Tune:
    """A parsed tune; `problems` holds every syntax and header problem found while reading it."""

    number: int | None  # X:
    title: str | None
    fields: list[tuple[str, str]]  # header fields in order, (letter, value)
    key: Key | None
    meter: Meter
    unit: Fraction
    tempo: tuple[Fraction, int, str | None] | None  # beat in whole notes, beats per minute, text
    voices: dict[str, Voice]
    problems: list[Problem] = field(default_factory=list)
    line: int = 1  # the line of the file the tune starts on

    @property
    def readable(self) -> bool:
        """Whether the tune has the X: and K: it needs to be read at all."""
        return self.key is not None and self.number is not None
