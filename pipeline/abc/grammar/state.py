"""Where a tune stands under the ABC grammar: the header's decisions (`Frame`), the first voice's bars of a
block (`Target`, `Block`) and the state itself (`AbcState`), values the grammar copies and never changes."""

from __future__ import annotations

import math
from dataclasses import dataclass

from charmony.pipeline.abc.fields import Meter
from charmony.pipeline.abc.grammar.count import Count
from charmony.pipeline.abc.grammar.symbols import H_LETTER, ITEM, ONE

Heard = tuple[tuple[int, int, int | None], ...]  # a voice's notes: (start, end in ticks, MIDI key or None for a rest or chord)


@dataclass(frozen=True, eq=False)
class Frame:
    """What the header decided for the body: meter, unit length and the voices' line prefixes.

    Frames are made once per distinct header (see `header.Header`), so each is its own key.
    """

    meter: Meter
    unit: int  # in ticks
    prefixes: tuple[str, ...]  # "[V:1] ", "[V:2] "... or ("",) for a tune without V: lines
    octaves: tuple[int, ...] = (0,)  # by voice, the semitones it sounds from its written pitch (V:... octave=-1: -12)

    @property
    def voices(self) -> int:
        """How many voices each block holds."""
        return len(self.prefixes)

    def after(self, voice: int) -> int:
        """The characters of the line prefixes of the voices after `voice`."""
        return sum(len(prefix) for prefix in self.prefixes[voice + 1:])


@dataclass(frozen=True)
class Target:
    """One bar the first voice wrote in a block, which every other voice writes alike."""

    duration: int  # in ticks
    barline: str
    field: str | None  # an inline meter change at its start, as `[M:3/4]`
    meter: Meter  # in force for the bar
    cost: int  # the fewest characters another voice needs for it

    @property
    def key(self) -> tuple:
        """What tells two targets apart, cheap to hash."""
        return (self.duration, self.barline, self.field, self.meter.text)


@dataclass(frozen=True, eq=False)
class Block:
    """A block as the first voice wrote it, and where the first voice stands after it (its own key: made once)."""

    targets: tuple[Target, ...]
    suffix: tuple[int, ...]  # suffix[j]: the characters of targets j and after
    final: bool  # it ends with |]
    meter: Meter  # in force at its start
    resume: tuple  # the first voice's state after the block (see bars.Bars.voice_zero)

    @property
    def total(self) -> int:
        """The fewest characters another voice needs for the whole block."""
        return self.suffix[0]


@dataclass(eq=False)
class AbcState:
    """Where a tune stands; a value the constraint copies (`but`), never changes in place.

    The header fields are set while the header is written, the body fields from K: on; until then they
    keep their defaults.
    """

    # the header
    phase: int = H_LETTER  # H_LETTER, H_COLON, H_VALUE, BODY or END
    letters: str = ""  # the header's field letters so far
    slot: str = ""  # the header slot being written (see profile.slot_name)
    value: str = ""  # its value so far
    values: tuple[tuple[str, str], ...] = ()  # the header fields written, (letter, value)
    # the tune and the first voice's progress through it
    frame: Frame | None = None
    voice: int = 0  # which voice's line is being written, from 0
    block: Block | None = None  # for the later voices, the block the first voice wrote
    built: tuple[Target, ...] = ()  # the first voice's bars of this block so far
    block_cost: int = 0  # what the later voices need for them
    bar_index: int = 0  # the first voice's bars closed so far
    pickup: int | None = None  # the first bar's duration in ticks, when it was short
    first_meter: Meter | None = None  # the first bar's meter
    short_close: tuple[int, Meter] | None = None  # the last bar, when it was short and closed a section
    count: Count = Count()  # abc2midi's count of its bars (a short bar it carries into the next must be completed there)
    repeat: bool = False  # a |: is open
    section_meter: Meter | None = None  # in force where the open section began: abc2midi plays its repeat in it
    repeated: bool = False  # a :| closed a section and no |: opened one since (abc2midi would repeat from that :|)
    line_meter: Meter | None = None  # in force at the start of the first voice's line
    unit: int = 0  # the unit note length, in ticks
    doubles: int = 0  # the first voice's bars closed by `||`
    rest_bars: int = 0  # ... and its bars of rests only
    last_ok: bool = True  # its last note is on a degree the corpus' tunes end on (or it need not be)
    first_degree: int | None = None  # with --option harmony: the degree of the first voice's last note, so far
    # pitches, for the first voice's last note
    keysig: tuple[int, ...] = (0,) * 7  # K:'s alteration of each step, C to B, in the voice being written
    keys: tuple[tuple[int, ...], ...] = ()  # ... by voice, as each voice's last line left it
    tonic: int | None = None  # K:'s tonic as a pitch class; None for K:none
    bar_accidentals: tuple[tuple[str, int, int], ...] = ()  # (step, octave, alteration) written in the open bar
    # with --option harmony or crossing=no, in a tune of several voices: what each voice sounds (see `voicing`, `ceiling`)
    pitch: int | None = None  # the MIDI key of the note being written, as the standard reads it
    clock: int = 0  # the first voice's ticks from the tune's start to its open bar
    beat_offset: int | None = None  # the first bar's duration modulo a quarter note: the beats fall on it, once known
    heard: tuple[Heard, ...] = ()  # by voice, its notes from the beat before the block's first on
    continues: bool = False  # the note being written continues a tie
    # ties, in the voice being written
    last_pitch: int | None = None  # the MIDI key of its last note
    tied: int | None = None  # the MIDI key a tie holds: the next note must sound it
    held: tuple[int | None, ...] = ()  # by voice, the tie its last line left open (its next line starts with the note)
    # the open line and bar
    pending: str = ""  # the line prefix still to write
    j: int = 0  # for a later voice, the index of the bar being written among the block's
    meter: Meter | None = None  # in force now
    bar_meter: Meter | None = None  # the open bar's
    bar_field: str | None = None  # the inline meter change at its start
    elapsed: int = 0  # how long its music lasts so far, in ticks
    music: bool = False  # whether it holds a note or rest
    rests_only: bool = False  # whether its music so far is rests only
    deco: int = 0  # decorations waiting for their note
    bare_deco: bool = False  # ... the last a one-character decoration: abc2midi reads only notes and rests after it
    ornament: bool = False  # ... among them a roll or trill (see lexer.ORNAMENTS)
    played: bool = False  # ... among them one abc2midi plays for the whole note (lexer.PLAYED_ORNAMENTS)
    staccato: bool = False  # ... among them `.` and none played: abc2midi plays a shorter note and a rest, so no tie or `>` follows
    grace: bool = False  # grace notes waiting for their note (abc2midi wants a note between two groups)
    paired: str | None = None  # after a broken rhythm, the first note's length as written: the second's must match it
    owed: int = 0  # notes still to come of an open tuplet, or the one after a broken rhythm
    factor: tuple[int, int] = ONE  # what their lengths are multiplied by, as (numerator, denominator)
    slur: int = 0  # 0: no slur open; 1: one opened, without a note yet; 2: one open over a note
    line_start: bool = False  # nothing written yet on this line of a one-voice tune
    blank_line: bool = False  # ... or nothing but spaces: no `\` may continue it (the corpus continues none)
    opening: bool = False  # the barline being written comes first on its line, with no music before it
    can_end: bool = False  # the tune may end here: a one-voice line just ended after a barline the corpus ends tunes with
    tie_ok: bool = False  # a tie may follow
    space: bool = False  # the last character was a space
    after_bar: bool = False  # the last token was a barline
    # the token being written
    pos: int = ITEM  # ITEM, ACC, OCT, LEN... (see symbols)
    buf: str = ""  # its text so far, where that matters
    kind: str | None = None  # of a length being written: note, rest or chord
    note_letter: str = ""
    marks: int = 0  # octave marks after the letter
    chord_notes: int = 0

    def but(self, **changes) -> AbcState:
        """A copy with some fields changed (the fields copied as one dict: this runs for every character)."""
        new = object.__new__(AbcState)
        new.__dict__ = {**self.__dict__, **changes}
        return new


def target_of(s: AbcState) -> Target | None:
    """The first voice's bar that a later voice's open bar copies; None for the first voice or past the block."""
    if s.voice == 0 or s.block is None or s.j >= len(s.block.targets):
        return None
    return s.block.targets[s.j]


def sounds_at(notes: Heard, time: int) -> int | None:
    """The MIDI key a voice sounds at `time`; None where it rests, holds a chord or has no note."""
    return next((midi for start, end, midi in notes if start <= time < end), None)


def bar_start(s: AbcState) -> int:
    """Ticks from the tune's start to the open bar of the voice being written."""
    if s.voice == 0 or s.block is None:
        return s.clock
    return _block_bar_start(s, s.j)


def _block_bar_start(s: AbcState, bar: int) -> int:
    """Ticks from the tune's start to bar `bar` of the block a later voice writes (`s`)."""
    return s.clock - sum(target.duration for target in s.block.targets[bar:])


def _notes_from(notes: Heard, start: int, end: float) -> Heard:
    """The `notes` that start from `start` and before `end`, in ticks from `start`."""
    return tuple((a - start, b - start, midi) for a, b, midi in notes if start <= a < end)


def ceiling(s: AbcState) -> int | None:
    """The MIDI key the voice written before this one sounds where this voice's next note starts (see `heard`);
    None where it rests, holds a chord, or nothing is recorded."""
    if s.voice == 0 or not s.heard:
        return None
    return sounds_at(s.heard[s.voice - 1], bar_start(s) + s.elapsed)


def in_bar(s: AbcState, voice: int, bar: int) -> Heard:
    """The notes `voice` sounds in bar `bar` of the block a later voice writes (`s`), in ticks from the bar's start."""
    start = _block_bar_start(s, bar)
    return _notes_from(s.heard[voice], start, start + s.block.targets[bar].duration)


def first_voice_bar(s: AbcState) -> Heard:
    """The notes the first voice sounds in its open bar (`s` in its line), in ticks from the bar's start."""
    return _notes_from(s.heard[0] if s.heard else (), s.clock, math.inf)


def line_end_cost(s: AbcState) -> int:
    """The first voice's newline, the other voices' prefixes and newlines."""
    return 1 + s.frame.after(0) + (s.frame.voices - 1)


def next_factor(s: AbcState) -> tuple[int, int]:
    """What the length of the next note, rest or chord is multiplied by."""
    return s.factor if s.owed else ONE
