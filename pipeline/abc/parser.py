"""Reading one ABC tune into the tune model, noting every syntax and header problem with its line and column."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from fractions import Fraction

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.fields import (
    FREE_METER,
    FieldError,
    Key,
    Meter,
    default_unit,
    parse_key,
    parse_meter,
    parse_tempo,
    parse_unit,
    parse_voice,
    read_number,
)
from charmony.pipeline.abc.tokens import describe_other, length_factor, tokens
from charmony.pipeline.abc.tune import Bar, Change, Chord, Note, Rest, Tune, Voice
from charmony.pipeline.plugin.verdict import Problem

FIELD_LINE = re.compile(r"([A-Za-z+]):(?![|:])(.*)")
HEADER_FIELDS = set("ABCDFGHILMNOPQRSTUVWXZKmrsw+")
BODY_FIELDS = set("IKLMmNPQRrsTUVWw+")
INLINE_FIELDS = set("IKLMmNPQRrTUV")
SHORT_DECORATIONS = {".": "staccato", "~": "roll", "H": "fermata", "L": "accent", "M": "lowermordent",
                     "O": "coda", "P": "uppermordent", "S": "segno", "T": "trill", "u": "upbow", "v": "downbow"}
DECORATIONS = set(SHORT_DECORATIONS.values()) | {
    "trill(", "trill)", "mordent", "pralltriller", "turn", "turnx", "invertedturn", "invertedturnx", "arpeggio",
    ">", "^", "accent", "emphasis", "marcato", "invertedfermata", "tenuto", "0", "1", "2", "3", "4", "5", "+",
    "plus", "snap", "slide", "wedge", "open", "thumb", "breath", "pppp", "ppp", "pp", "p", "mp", "mf", "f", "ff",
    "fff", "ffff", "sfz", "crescendo(", "<(", "crescendo)", "<)", "diminuendo(", ">(", "diminuendo)", ">)",
    "D.S.", "D.C.", "dacoda", "dacapo", "fine", "shortphrase", "mediumphrase", "longphrase", "editorial",
    "courtesy", "/", "//", "///", "////", "invisible", "beamon", "dot", "xstem", "slap", "trem1", "trem2",
    "trem3", "trem4", "ped", "ped-up", "fermata", "staccato", "sf", "sfp", "fp", "rfz", "8va(", "8va)", "8vb(", "8vb)",
}


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


class TuneParser:
    """Reads one tune's text; `parse()` returns the Tune with its problems."""

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

    # ----- problems and positions
    def problem(self, index: int, column: int, message: str) -> None:
        """Note a problem at line `index` of the tune (0-based) and 0-based `column`."""
        self.problems.append(Problem(self.first_line + index, column + 1, message))

    def parse(self) -> Tune:
        """Read the header, then the body."""
        body_start = self.parse_header()
        if self.key is not None:
            for index in range(body_start, len(self.lines)):
                line = self.lines[index]
                if not line.strip():
                    break  # a blank line ends the tune; what follows is free text
                self.parse_body_line(index, line)
            self.finish()
        self.voices = {voice_id: voice for voice_id, voice in self.voices.items() if voice.bars}
        return Tune(
            number=self.number, title=self.title, fields=self.fields, key=self.key, meter=self.meter,
            unit=self.unit or default_unit(self.meter), tempo=self.tempo, voices=self.voices,
            problems=sorted(self.problems, key=lambda p: (p.line, p.column)), line=self.first_line,
        )

    # ----- header
    def parse_header(self) -> int:
        """Read the header fields up to K:; return the index of the first body line."""
        saw_x = False
        for index, line in enumerate(self.lines):
            stripped = line.strip()
            if stripped.startswith("%"):
                continue
            if not stripped:
                if saw_x or index > 0:
                    break
                continue
            match = FIELD_LINE.match(line)
            if not saw_x and not (match and match.group(1) == "X"):
                self.problem(index, 0, "no X: field: a tune starts with a line such as X:1")
                saw_x = True
            if match is None:
                self.problem(index, 0, "music before the K: field that ends the header; add a line such as K:C")
                return len(self.lines)
            letter, value = match.group(1), match.group(2)
            saw_x = True
            if letter not in HEADER_FIELDS:
                self.problem(index, 0, f"unknown field {letter}:")
                continue
            self.fields.append((letter, value.strip()))
            self.header_field(index, letter, value)
            if letter == "K":
                return index + 1
        last = len(self.lines) - 1
        while last > 0 and not self.lines[last].strip():
            last -= 1
        self.problem(last, 0, "no K: field: the header must end with a line such as K:C")
        return len(self.lines)

    def header_field(self, index: int, letter: str, value: str) -> None:
        """Take in one header field."""
        column = 2
        try:
            if letter == "X":
                if self.number is not None:
                    self.problem(index, 0, "a second X: field in one tune; start each tune with its own X: line")
                elif not re.fullmatch(r"\s*\d+\s*", value.split("%")[0]) or read_number(value.split("%")[0].strip()) == 0:
                    self.problem(index, column, f"X:{value.strip()} is not a tune number such as X:1")
                    self.number = 0
                else:
                    self.number = read_number(value.split("%")[0].strip())
            elif letter == "T" and self.title is None:
                self.title = value.strip()
            elif letter == "M":
                self.meter = parse_meter(value)
            elif letter == "L":
                self.unit = parse_unit(value)
            elif letter == "Q":
                self.tempo = parse_tempo(value, self.unit or default_unit(self.meter))
            elif letter == "U":
                self.define_decoration(index, value)
            elif letter == "V":
                self.define_voice(index, parse_voice(value))
            elif letter == "K":
                key_field = parse_key(value)
                self.key = key_field.key or Key("C", "maj", {})
                self.key_clef, self.key_octave = key_field.clef, key_field.octave
        except FieldError as error:
            self.problem(index, column, str(error))
            if letter == "K":
                self.key = Key("C", "maj", {})

    def define_decoration(self, index: int, value: str) -> None:
        """U: T = !trill!: a letter standing for a decoration."""
        match = re.fullmatch(r"\s*([H-Wh-w~])\s*=\s*[!+]?([^!+\s]*)[!+]?\s*", value.split("%")[0])
        if not match:
            self.problem(index, 2, f"U:{value.strip()} is not a definition such as U: T = !trill!")
            return
        self.user_decorations[match.group(1)] = match.group(2)

    def define_voice(self, index: int, voice_field) -> Voice:
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

    # ----- body
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

    def parse_body_line(self, index: int, line: str) -> None:
        """One line of the body: a comment, a field or music."""
        if line.lstrip().startswith("%"):
            return
        match = FIELD_LINE.match(line)
        if match:
            self.body_field(index, 0, match.group(1), match.group(2), inline=False)
            return
        self.parse_music(index, line)

    def body_field(self, index: int, column: int, letter: str, value: str, inline: bool) -> None:
        """A field in the body, on its own line or inline as [K:D]."""
        allowed = INLINE_FIELDS if inline else BODY_FIELDS
        if letter not in allowed:
            where = f"[{letter}:...] cannot be an inline field" if inline else f"field {letter}: does not belong in the tune body"
            if letter not in HEADER_FIELDS:
                where = f"unknown field {letter}:"
            self.problem(index, column, where)
            return
        try:
            if letter == "V":
                voice_field = parse_voice(value)
                self.define_voice(index, voice_field)
                self.switch_voice(voice_field.id, (index, column))
            elif letter == "K":
                key_field = parse_key(value)
                state = self.state()
                if key_field.key is not None:
                    state.key = key_field.key
                    self.add_change(state, "key", key_field.key, index, column)
                if key_field.clef is not None:
                    self.add_change(state, "clef", key_field.clef, index, column)
                if "octave" in key_field.properties:
                    state.octave = state.voice.octave + key_field.octave
            elif letter == "M":
                meter = parse_meter(value)
                state = self.state()
                state.meter = meter
                if not state.bar.has_music:
                    state.bar.meter = meter
                self.add_change(state, "meter", meter, index, column)
            elif letter == "L":
                self.state().unit = parse_unit(value)
            elif letter == "Q":
                state = self.state()
                self.add_change(state, "tempo", parse_tempo(value, state.unit), index, column)
            elif letter == "U":
                self.define_decoration(index, value)
        except FieldError as error:
            self.problem(index, column + 2, str(error))

    def add_change(self, state: VoiceState, kind: str, value, index: int, column: int) -> None:
        state.bar.layers[state.layer].append(Change(kind, value, self.first_line + index, column + 1))

    def parse_music(self, index: int, line: str) -> None:
        """Read the tokens of one music line."""
        state = self.state()
        chord: list[Note] | None = None
        chord_start = (0, 0)
        grace: list[Note] | None = None
        grace_start = (0, 0)
        for match in tokens(line):
            kind = match.lastgroup
            column = match.start()
            if kind in ("space", "comment", "ignored", "continuation"):
                continue
            if kind == "field":
                letter = match.group("field_letter")
                if chord is not None:
                    self.problem(index, column, "an inline field cannot stand inside a chord")
                self.body_field(index, column, letter, match.group("field_value"), inline=True)
                state = self.state()
                continue
            if kind == "open_field":
                self.problem(index, column, f"inline field {match.group()} is not closed with ']'")
                return
            if kind == "symbol":
                continue
            if kind == "other":
                if match.group() == "!" and not line[column + 1:].strip():
                    continue  # ABC 2.0's line break
                self.problem(index, column, describe_other(match.group()))
                if match.group() == '"':
                    return
                continue
            if chord is not None and kind not in ("note", "tie", "decoration", "short_decoration", "chord_close"):
                self.unclosed_chord(state, chord, chord_start)
                chord = None
            if grace is not None and kind not in ("note", "grace_close", "chord_open", "chord_close", "decoration", "short_decoration"):
                if kind == "bar":
                    self.problem(grace_start[0], grace_start[1], "unclosed grace notes: '{' without '}'")
                else:
                    self.problem(index, column, "only notes belong in grace notes {...}")
                grace = None
            if kind == "note":
                note = self.read_note(state, match, index, column)
                if grace is not None:
                    grace.append(note)
                elif chord is not None:
                    chord.append(note)
                else:
                    self.place(state, note, index, column)
            elif kind == "chord_open":
                if grace is not None:
                    continue  # chords among grace notes: their notes are kept as graces
                chord, chord_start = [], (index, column)
            elif kind == "chord_close":
                if grace is not None:
                    continue
                if chord is None:
                    self.problem(index, column, "']' without '['")
                    continue
                if not chord:
                    self.problem(chord_start[0], chord_start[1], "empty chord []")
                    chord = None
                    continue
                factor = length_factor(match.group("chord_length"))
                if factor is None:
                    self.problem(index, column, f"bad chord length {match.group('chord_length')!r}")
                    factor = Fraction(1)
                length = chord[0].length * factor
                for note in chord:
                    note.length = length
                event = Chord(chord, length, self.first_line + chord_start[0], chord_start[1] + 1)
                chord = None
                self.place(state, event, index, column)
            elif kind == "tie":
                target = chord[-1:] if chord is not None else self.tie_targets(state)
                if not target:
                    self.problem(index, column, "'-' ties nothing: a tie follows a note, as in C-C")
                for note in target:
                    note.tie_start = True
                if chord is None:
                    state.tied = list(target)
            elif kind in ("rest", "bar_rest"):
                self.read_rest(state, match, index, column)
            elif kind == "broken":
                self.read_broken(state, match.group(), index, column)
            elif kind == "tuplet":
                self.read_tuplet(state, match, index, column)
            elif kind == "slur_open":
                state.slurs.append((index, column))
            elif kind == "slur_close":
                if state.slurs:
                    state.slurs.pop()
                else:
                    self.problem(index, column, "')' closes no slur")
            elif kind == "grace_open":
                if grace is not None:
                    self.problem(index, column, "'{' inside grace notes")
                grace = []
                grace_start = (index, column)
            elif kind == "grace_close":
                if grace is None:
                    self.problem(index, column, "'}' without '{'")
                    continue
                if not grace:
                    self.problem(index, column, "empty grace notes {}")
                state.grace.extend(grace)
                grace = None
            elif kind == "decoration":
                name = match.group()[1:-1]
                if name.lower() not in DECORATIONS:
                    self.problem(index, column, f"unknown decoration {match.group()}")
                elif chord is None and grace is None:
                    state.decorations.append(name.lower())
            elif kind == "short_decoration":
                symbol = match.group()
                name = self.user_decorations.get(symbol, SHORT_DECORATIONS.get(symbol))
                if name is None:
                    self.problem(index, column, f"unexpected character {symbol!r} in the music")
                elif chord is None and grace is None:
                    state.decorations.append(name)
            elif kind == "overlay":
                self.check_tuplet_done(state, "the & overlay")
                state.layer = len(state.bar.layers)
                state.bar.layers.append([])
                state.last, state.broken, state.tied = None, None, []
            elif kind == "bar":
                self.read_barline(state, match, index, column)
            elif kind == "ending":
                self.start_ending(state, match.group("ending_numbers"), index, column)
        if chord is not None:
            self.unclosed_chord(state, chord, chord_start)
        if grace is not None:
            self.problem(grace_start[0], grace_start[1], "unclosed grace notes: '{' without '}'")

    def unclosed_chord(self, state: VoiceState, notes: list[Note], start: tuple[int, int]) -> None:
        """Report a chord without `]`, and keep its notes as a chord so that its bar still counts."""
        self.problem(start[0], start[1], "unclosed chord: '[' without ']'")
        if notes:
            for note in notes:
                note.length = notes[0].length
            self.place(state, Chord(notes, notes[0].length, self.first_line + start[0], start[1] + 1), *start)

    def tie_targets(self, state: VoiceState) -> list[Note]:
        last = state.last
        if isinstance(last, Note):
            return [last]
        if isinstance(last, Chord):
            return last.notes
        return []

    def read_note(self, state: VoiceState, match: re.Match, index: int, column: int) -> Note:
        """A note with its pitch resolved against the key, the bar's accidentals and a tie into it."""
        letter = match.group("letter")
        marks = match.group("octave")
        step = letter.upper()
        octave = (4 if letter.isupper() else 5) - marks.count(",") + marks.count("'") + state.octave
        accidental = match.group("accidental")
        if accidental is not None:
            alter = theory.ACCIDENTALS[accidental]
            state.bar_accidentals[(step, octave)] = alter
        elif (step, octave) in state.bar_accidentals:
            alter = state.bar_accidentals[(step, octave)]
        else:
            tied_from = next((n for n in state.tied if n.step == step and n.octave == octave), None)
            alter = tied_from.alter if tied_from is not None else state.key.alters.get(step, 0)
        factor = length_factor(match.group("length"))
        if factor is None:
            self.problem(index, column, f"bad note length {match.group('length')!r}")
            factor = Fraction(1)
        beyond = theory.pitch_problem(theory.midi_number(step, octave, alter))
        if beyond is not None:
            self.problem(index, column, f"this note {beyond}")
        return Note(step, octave, alter, accidental, state.unit * factor, self.first_line + index, column + 1)

    def read_rest(self, state: VoiceState, match: re.Match, index: int, column: int) -> None:
        """A rest `z`/`x` with its length, or `Z`/`X` counting whole bars."""
        if match.lastgroup == "bar_rest":
            count = read_number(match.group("bar_count") or "1")
            if count == 0:
                self.problem(index, column, "Z0 is no rest: Z counts whole bars")
                return
            self.rest_bars += count
            if self.rest_bars > theory.MOST_REST_BARS:
                self.problem(index, column, f"{match.group()} makes the whole-bar rests of the tune more than "
                             f"{theory.MOST_REST_BARS} bars, the most the checker and the renderers take")
                count = 1
            bar_length = state.meter.length or Fraction(1)
            rest = Rest(bar_length, self.first_line + index, column + 1)
            state.bar.whole_rest_bars = count
            self.place(state, rest, index, column)
            return
        factor = length_factor(match.group("rest_length"))
        if factor is None:
            self.problem(index, column, f"bad rest length {match.group('rest_length')!r}")
            factor = Fraction(1)
        rest = Rest(state.unit * factor, self.first_line + index, column + 1, invisible=match.group("rest_letter") == "x")
        self.place(state, rest, index, column)

    def place(self, state: VoiceState, event: Note | Chord | Rest, index: int, column: int) -> None:
        """Add a note, chord or rest to the open bar, applying broken rhythm, tuplet, ties, graces and decorations."""
        if state.broken is not None:
            event.length *= state.broken
            state.broken = None
        if state.tuplet is not None:
            p, q, left, factor, line, col = state.tuplet
            event.length *= factor
            state.tuplet = (p, q, left - 1, factor, line, col) if left > 1 else None
        if isinstance(event, Chord):
            for note in event.notes:
                note.length = event.length
        notes = [event] if isinstance(event, Note) else event.notes if isinstance(event, Chord) else []
        for note in notes:
            if any(t.step == note.step and t.octave == note.octave and t.alter == note.alter for t in state.tied):
                note.tie_stop = True
        state.tied = [note for note in notes if note.tie_start]
        if not isinstance(event, Rest):
            event.grace = tuple(state.grace)
            state.grace = []
        event.decorations = tuple(state.decorations)
        state.decorations = []
        if not state.bar.has_music:
            state.bar.line, state.bar.column = event.line, event.column
            state.bar.has_music = True
        state.bar.layers[state.layer].append(event)
        state.last = event

    def read_broken(self, state: VoiceState, text: str, index: int, column: int) -> None:
        """`>` lengthens the note before and shortens the one after; `<` the other way round."""
        if state.last is None:
            self.problem(index, column, f"{text!r} needs a note on each side, as in A{text}B")
            return
        longer, shorter = theory.BROKEN_RHYTHM[len(text)]
        first, second = (longer, shorter) if text[0] == ">" else (shorter, longer)
        state.last.length *= first
        if isinstance(state.last, Chord):
            for note in state.last.notes:
                note.length = state.last.length
        state.broken, state.broken_at = second, (index, column)

    def read_tuplet(self, state: VoiceState, match: re.Match, index: int, column: int) -> None:
        """(p:q:r: the next r notes take the time of q for p of them."""
        p = read_number(match.group("p"))
        q_text, r_text = match.group("q"), match.group("r")
        if p < 2:
            self.problem(index, column, f"bad tuplet {match.group()}: it needs at least 2 notes, as in (3abc")
            return
        q = read_number(q_text) if q_text else theory.tuplet_time(p, state.meter.compound)
        r = read_number(r_text) if r_text else p
        if q == 0 or r == 0:
            self.problem(index, column, f"bad tuplet {match.group()}")
            return
        if p > theory.MOST_TUPLET_NOTES or q > theory.MOST_TUPLET_NOTES:
            self.problem(index, column, f"tuplet {match.group()}: the renderers take tuplets of at most "
                         f"{theory.MOST_TUPLET_NOTES} notes in the time of at most {theory.MOST_TUPLET_NOTES}")
            return
        self.check_tuplet_done(state, "another tuplet")
        state.tuplet = (p, q, r, Fraction(q, p), index, column)

    def check_tuplet_done(self, state: VoiceState, what: str) -> None:
        if state.tuplet is not None:
            p, _, left, _, index, column = state.tuplet
            self.problem(index, column, f"tuplet ({p} is cut short by {what}: {left} of its notes are missing")
            state.tuplet = None

    def read_barline(self, state: VoiceState, match: re.Match, index: int, column: int) -> None:
        """Close the open bar at a barline and open the next one."""
        text = match.group("bar_text")
        if "|" not in text and text != "::":
            self.problem(index, column, describe_other(":"))
            return
        self.check_tuplet_done(state, "the bar line")
        if state.broken is not None:
            self.problem(*state.broken_at, "'>' or '<' needs a note on each side within the bar")
            state.broken = None
        end_repeat, start_repeat = text.startswith(":"), text.endswith(":")
        if start_repeat and state.repeat_open is not None and not end_repeat:
            line, col = state.repeat_open
            self.problem(index, column, f"'|:' starts a repeat while the one at line {line}:{col} is still open")
        old = state.bar
        kept = self.close_bar(state, text.strip(":") or "|", end_repeat)
        if end_repeat:
            state.repeat_open = None
        if start_repeat:
            state.repeat_open = (self.first_line + index, column + 1)
        state.bar = Bar(state.meter, self.first_line + index, match.end() + 1, start_repeat=start_repeat)
        if not kept:  # an empty bar passes its repeat sign, ending and changes on
            state.bar.start_repeat |= old.start_repeat
            state.bar.ending = old.ending
            state.bar.layers[0].extend(event for layer in old.layers for event in layer)
        if match.group("bar_ending"):
            self.start_ending(state, match.group("bar_ending"), index, column)

    def start_ending(self, state: VoiceState, numbers: str, index: int, column: int) -> None:
        if state.bar.has_music:
            self.problem(index, column, f"ending [{numbers} must follow a bar line")
            return
        values: list[int] = []
        for part in numbers.split(","):
            first, _, last = part.partition("-")
            low = read_number(first)
            high = read_number(last) if last else low
            if not 1 <= low <= high <= theory.MOST_ENDINGS:
                self.problem(index, column, f"ending [{numbers}: endings are numbered from 1 to {theory.MOST_ENDINGS}, "
                             "as in [1, [2 or [1,3")
                return
            values.extend(range(low, high + 1))
        state.bar.ending = tuple(values)

    def close_bar(self, state: VoiceState, barline: str, end_repeat: bool) -> bool:
        """End the open bar and keep it if it holds music; an empty one merges its barline into the bar before."""
        bar = state.bar
        bars = state.voice.bars
        state.bar_accidentals = {}
        state.layer = 0
        state.last = None
        if bar.has_music:
            bar.barline, bar.end_repeat = barline, end_repeat
            self.check_lengths(bar)
            if bar.whole_rest_bars:
                self.expand_whole_rests(state, bar)
            else:
                bars.append(bar)
            return True
        if bars:  # `| |:`, `:| |`
            bars[-1].end_repeat |= end_repeat
            if barline != "|":
                bars[-1].barline = barline
        return False

    def check_lengths(self, bar: Bar) -> None:
        """A problem for each note, chord, rest or grace note of the bar that is too long or too short to render."""
        for layer in bar.layers:
            for event in layer:
                if isinstance(event, Change):
                    continue
                what = "note" if isinstance(event, Note) else "chord" if isinstance(event, Chord) else "rest"
                for item, name in ((event, what), *((grace, "grace note") for grace in getattr(event, "grace", ()))):
                    beyond = theory.note_length_problem(item.length)
                    if beyond is not None:
                        self.problems.append(Problem(item.line, item.column, f"this {name} {beyond}"))

    def expand_whole_rests(self, state: VoiceState, bar: Bar) -> None:
        """Z4 alone in its bar becomes four bars of rest; with other music in its bar it is a problem and one bar."""
        music = [event for layer in bar.layers for event in layer if not isinstance(event, Change)]
        if len(music) > 1 or len(bar.layers) > 1:
            self.problem(bar.line - self.first_line, bar.column - 1, "Z (a rest of whole bars) must stand alone in its bar")
            state.voice.bars.append(bar)
            return
        count = bar.whole_rest_bars
        for number in range(count):
            copy = Bar(bar.meter, bar.line, bar.column, [list(bar.layers[0])] if number == 0 else [[Rest(music[0].length, bar.line, bar.column)]], has_music=True)
            copy.start_repeat = bar.start_repeat and number == 0
            copy.ending = bar.ending if number == 0 else ()
            if number == count - 1:
                copy.barline, copy.end_repeat = bar.barline, bar.end_repeat
            state.voice.bars.append(copy)

    def finish(self) -> None:
        """Close every voice's last bar and report what was left open."""
        for state in self.states.values():
            self.check_tuplet_done(state, "the end of the tune")
            if state.bar.has_music:
                self.close_bar(state, "", False)
            for line, column in state.slurs:
                self.problem(line, column, "slur '(' is never closed with ')'")
            if state.repeat_open is not None:
                line, column = state.repeat_open
                self.problems.append(Problem(line, column, "repeat '|:' is never closed with ':|'"))


def parse_tune(text: str, first_line: int = 1) -> Tune:
    """The tune model of one tune's text, with its problems; lines are counted from `first_line`."""
    return TuneParser(text, first_line).parse()
