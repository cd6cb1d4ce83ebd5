"""What reading one ABC tune keeps: the header so far, the voices, each voice's reading state and the problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from charmony.pipeline.abc.fields import FREE_METER, Key, Meter, VoiceField, default_unit
from charmony.pipeline.abc.tune import Bar, Change, Chord, Note, Rest, Voice
from charmony.pipeline.plugin.verdict import Problem


@dataclass
class VoiceState:
    """What reading one voice carries from token to token: key, meter, unit, the open bar and pending marks."""

    voice: Voice
    key: Key
    meter: Meter
    unit: Fraction
    octave: int
    bar: Bar
    bar_accidentals: dict[tuple[str, int], int] = field(default_factory=dict)
    layer: int = 0
    last: Note | Chord | Rest | None = None  # the last note, chord or rest, for `-` and `>`
    tied: list[Note] = field(default_factory=list)  # notes whose `-` waits for the next note
    broken: Fraction | None = None  # the factor `>` or `<` left for the next note
    broken_at: tuple[int, int] = (0, 0)  # where that `>` or `<` is
    tuplet: tuple[int, int, int, Fraction, int, int] | None = None  # p, q, notes left, factor, line, column
    slurs: list[tuple[int, int]] = field(default_factory=list)  # where each open slur started
    repeat_open: tuple[int, int] | None = None  # where the open `|:` is
    decorations: list[str] = field(default_factory=list)
    grace: list[Note] = field(default_factory=list)


@dataclass
class MusicLine:
    """What reading one music line carries from token to token: the voice, and the chord and grace notes still open."""

    index: int  # the line's index in the tune (0-based)
    text: str
    state: VoiceState  # the voice being written; an inline [V:...] changes it
    chord: list[Note] | None = None
    chord_start: tuple[int, int] = (0, 0)
    grace: list[Note] | None = None
    grace_start: tuple[int, int] = (0, 0)


class TuneState:
    """The tune being read: its header values, voices and problems; the readers of fields, bars and notes build on it."""

    def __init__(self, text: str, first_line: int = 1) -> None:
        self.lines = text.split("\n")
        self.first_line = first_line
        self.problems: list[Problem] = []
        self.fields: list[tuple[str, str]] = []
        self.number: int | None = None
        self.title: str | None = None
        self.key: Key | None = None
        self.key_clef: str | None = None
        self.key_octave = 0
        self.meter: Meter = FREE_METER
        self.unit: Fraction | None = None
        self.tempo: tuple[Fraction, int, str | None] | None = None
        self.voices: dict[str, Voice] = {}
        self.states: dict[str, VoiceState] = {}
        self.current: VoiceState | None = None
        self.user_decorations: dict[str, str] = {}
        self.rest_bars = 0  # bars of Z and X rests so far, up to theory.MOST_REST_BARS

    def problem(self, index: int, column: int, message: str) -> None:
        """Note a problem at line `index` of the tune (0-based) and 0-based `column`."""
        self.problems.append(Problem(self.first_line + index, column + 1, message))

    def define_voice(self, index: int, voice_field: VoiceField) -> Voice:
        """Create or update the voice a V: field names."""
        voice = self.voices.get(voice_field.id)
        if voice is None:
            voice = Voice(voice_field.id, voice_field.name, voice_field.clef, voice_field.octave, self.first_line + index,
                          self.key or Key("C", "maj", {}), self.meter, self.unit or default_unit(self.meter))
            self.voices[voice.id] = voice
        else:
            voice.name = voice_field.name or voice.name
            voice.clef = voice_field.clef or voice.clef
            if "octave" in voice_field.properties:
                voice.octave = voice_field.octave
        return voice

    def state(self) -> VoiceState:
        """The voice being written, creating the default voice for music that names none."""
        if self.current is None:
            voice_id = next(iter(self.voices), "1")
            self.current = self.switch_voice(voice_id, None)
        return self.current

    def switch_voice(self, voice_id: str, position: tuple[int, int] | None) -> VoiceState:
        """Continue with voice `voice_id`, starting it with the header's key, meter and unit."""
        if voice_id not in self.voices:
            line = self.first_line + (position[0] if position else 0)
            self.voices[voice_id] = Voice(voice_id, None, None, 0, line, self.key, self.meter, self.unit or default_unit(self.meter))
        voice = self.voices[voice_id]
        if voice_id not in self.states:
            voice.key, voice.meter, voice.unit = self.key, self.meter, self.unit or default_unit(self.meter)
            if voice.clef is None:
                voice.clef = self.key_clef
            line, column = position if position else (0, 0)
            bar = Bar(self.meter, self.first_line + line, column + 1)
            self.states[voice_id] = VoiceState(voice, self.key, self.meter, voice.unit, voice.octave + self.key_octave, bar)
        self.current = self.states[voice_id]
        return self.current

    def add_change(self, state: VoiceState, kind: str, value, index: int, column: int) -> None:
        """Put a change of key, clef, meter or tempo into the voice's open bar, where it stands among the notes."""
        state.bar.layers[state.layer].append(Change(kind, value, self.first_line + index, column + 1))

    def check_tuplet_done(self, state: VoiceState, what: str) -> None:
        """Report a tuplet still waiting for notes when `what` comes, and drop it."""
        if state.tuplet is not None:
            p, _, left, _, index, column = state.tuplet
            self.problem(index, column, f"tuplet ({p} is cut short by {what}: {left} of its notes are missing")
            state.tuplet = None
