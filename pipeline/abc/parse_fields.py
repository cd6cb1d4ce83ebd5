"""Reading the fields of an ABC tune: the header up to K:, and fields in the body, on their own lines or inline."""

from __future__ import annotations

import re

from charmony.pipeline.abc.fields import (
    FieldError,
    Key,
    default_unit,
    parse_key,
    parse_meter,
    parse_tempo,
    parse_unit,
    parse_voice,
    read_number,
)
from charmony.pipeline.abc.parse_state import MusicLine, TuneState

FIELD_LINE = re.compile(r"([A-Za-z+]):(?![|:])(.*)")
HEADER_FIELDS = set("ABCDFGHILMNOPQRSTUVWXZKmrsw+")
BODY_FIELDS = set("IKLMmNPQRrsTUVWw+")
INLINE_FIELDS = set("IKLMmNPQRrTUV")


class FieldReader(TuneState):
    """Reads header fields into the tune and body fields into the voice being written."""

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

    def on_inline_field(self, music: MusicLine, match: re.Match) -> None:
        """`[K:D]` among the notes."""
        if music.chord is not None:
            self.problem(music.index, match.start(), "an inline field cannot stand inside a chord")
        self.body_field(music.index, match.start(), match.group("field_letter"), match.group("field_value"), inline=True)
        music.state = self.state()

    def on_open_field(self, music: MusicLine, match: re.Match) -> bool:
        """`[K:D` with no `]`: a problem that ends the line."""
        self.problem(music.index, match.start(), f"inline field {match.group()} is not closed with ']'")
        return True
