"""Reading one ABC tune into the tune model, noting every syntax and header problem with its line and column.

The header and body fields are read in `parse_fields`, barlines in `parse_bars`, notes, chords and rests in
`parse_notes`; here each music token goes to its reader through one table, `TOKEN_READERS`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from charmony.pipeline.abc.fields import default_unit
from charmony.pipeline.abc.parse_bars import BarReader
from charmony.pipeline.abc.parse_fields import FIELD_LINE, FieldReader
from charmony.pipeline.abc.parse_notes import NoteReader
from charmony.pipeline.abc.parse_state import MusicLine
from charmony.pipeline.abc.tokens import describe_other, tokens
from charmony.pipeline.abc.tune import Tune
from charmony.pipeline.plugin.verdict import Problem

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
SKIPPED_KINDS = frozenset({"space", "comment", "ignored", "continuation", "symbol"})
# Kinds read before the open chord and grace notes are checked: they neither close them nor belong in them.
BESIDE_CHORDS = frozenset({"field", "open_field", "other"})
IN_CHORD = frozenset({"note", "tie", "decoration", "short_decoration", "chord_close"})
IN_GRACE = frozenset({"note", "grace_close", "chord_open", "chord_close", "decoration", "short_decoration"})
# A token reader returns True when the rest of its line cannot be read.
TokenReader = Callable[["TuneParser", MusicLine, re.Match], bool | None]


class TuneParser(FieldReader, BarReader, NoteReader):
    """Reads one tune's text; `parse()` returns the Tune with its problems."""

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

    def parse_body_line(self, index: int, line: str) -> None:
        """One line of the body: a comment, a field or music."""
        if line.lstrip().startswith("%"):
            return
        match = FIELD_LINE.match(line)
        if match:
            self.body_field(index, 0, match.group(1), match.group(2), inline=False)
            return
        self.parse_music(index, line)

    def parse_music(self, index: int, line: str) -> None:
        """Read the tokens of one music line, each with the reader `TOKEN_READERS` gives its kind."""
        music = MusicLine(index, line, self.state())
        for match in tokens(line):
            kind = match.lastgroup
            if kind in SKIPPED_KINDS:
                continue
            if (music.chord is not None or music.grace is not None) and kind not in BESIDE_CHORDS:
                self.close_interrupted(music, kind, match.start())
            if TOKEN_READERS[kind](self, music, match):
                return
        if music.chord is not None:
            self.unclosed_chord(music.state, music.chord, music.chord_start)
        if music.grace is not None:
            self.problem(music.grace_start[0], music.grace_start[1], "unclosed grace notes: '{' without '}'")

    def close_interrupted(self, music: MusicLine, kind: str, column: int) -> None:
        """Report and drop an open chord or grace notes that a token of `kind` cannot stand in."""
        if music.chord is not None and kind not in IN_CHORD:
            self.unclosed_chord(music.state, music.chord, music.chord_start)
            music.chord = None
        if music.grace is not None and kind not in IN_GRACE:
            if kind == "bar":
                self.problem(music.grace_start[0], music.grace_start[1], "unclosed grace notes: '{' without '}'")
            else:
                self.problem(music.index, column, "only notes belong in grace notes {...}")
            music.grace = None

    def on_other(self, music: MusicLine, match: re.Match) -> bool:
        """A character that is no ABC here; after an unclosed `"` the rest of the line is not read."""
        column = match.start()
        if match.group() == "!" and not music.text[column + 1:].strip():
            return False  # ABC 2.0's line break
        self.problem(music.index, column, describe_other(match.group()))
        return match.group() == '"'

    def on_decoration(self, music: MusicLine, match: re.Match) -> None:
        """`!trill!` or `+trill+`, kept for the next note, chord or rest."""
        name = match.group()[1:-1]
        if name.lower() not in DECORATIONS:
            self.problem(music.index, match.start(), f"unknown decoration {match.group()}")
        elif music.chord is None and music.grace is None:
            music.state.decorations.append(name.lower())

    def on_short_decoration(self, music: MusicLine, match: re.Match) -> None:
        """`~`, `.`, `T` and the other letters standing for decorations (with those U: defines)."""
        symbol = match.group()
        name = self.user_decorations.get(symbol, SHORT_DECORATIONS.get(symbol))
        if name is None:
            self.problem(music.index, match.start(), f"unexpected character {symbol!r} in the music")
        elif music.chord is None and music.grace is None:
            music.state.decorations.append(name)

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


# Each music token's reader, by the token's kind. A class-wide table of plain functions: bound methods kept on
# the parser would tie it in a reference cycle, leaving every parsed tune to the garbage collector.
TOKEN_READERS: dict[str, TokenReader] = {
    "field": TuneParser.on_inline_field,
    "open_field": TuneParser.on_open_field,
    "other": TuneParser.on_other,
    "note": TuneParser.on_note,
    "chord_open": TuneParser.on_chord_open,
    "chord_close": TuneParser.on_chord_close,
    "tie": TuneParser.on_tie,
    "rest": TuneParser.on_rest,
    "bar_rest": TuneParser.on_rest,
    "broken": TuneParser.on_broken,
    "tuplet": TuneParser.on_tuplet,
    "slur_open": TuneParser.on_slur_open,
    "slur_close": TuneParser.on_slur_close,
    "grace_open": TuneParser.on_grace_open,
    "grace_close": TuneParser.on_grace_close,
    "decoration": TuneParser.on_decoration,
    "short_decoration": TuneParser.on_short_decoration,
    "overlay": TuneParser.on_overlay,
    "bar": TuneParser.on_barline,
    "ending": TuneParser.on_ending,
}


def parse_tune(text: str, first_line: int = 1) -> Tune:
    """The tune model of one tune's text, with its problems; lines are counted from `first_line`."""
    return TuneParser(text, first_line).parse()
