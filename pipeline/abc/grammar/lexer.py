"""The body's lexer: each character of a voice's line, read as the checker's tokenizer reads it, in the
note letters, lengths, barlines, decorations, fields and idioms the grammar allows."""

from __future__ import annotations

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.fields import parse_key, parse_meter
from charmony.pipeline.abc.grammar.bars import Bars
from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.ending import LastNote
from charmony.pipeline.abc.grammar.lengths import tuplet_notes
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.pitch import heard_alike, note_pitch, signature
from charmony.pipeline.abc.grammar.state import AbcState, bar_start, ceiling, next_factor, target_of
from charmony.pipeline.abc.grammar.voicing import ending_degrees, last_degrees, last_voice_ending
from charmony.pipeline.abc.grammar.symbols import (
    ACC, ACCIDENTAL_STARTS, AFTER_BARLINE, BAR, BRACKET, BROKEN, C_ACC, C_OCT, CHORD, CONT, DECO, DONE, FIELD,
    G_ACC, G_OCT, GRACE, ITEM, LEN, LENGTH_CHARS, MOST_CHORD_NOTES, MOST_DECORATIONS, MOST_GRACE_NOTES, NOTE_LETTERS,
    OCT, PAREN, TUPLE,
)
from charmony.pipeline.abc.grammar.words import Words

# Decorations abc2midi plays as several notes: not on a chord, a rest (it carries them to the next chord) or a
# note a tie leads to (the notes it plays overrun the bar).
ORNAMENTS = frozenset({"T", "~", "!trill!", "!roll!", "!trill(!", "!trill)!"})
# abc2midi plays these in a note's place, at its whole length: a `.` on the same note then shortens nothing
PLAYED_ORNAMENTS = frozenset({"T", "~", "!trill!"})

class Lexer:
    """The body's characters for one grammar: each state's next, or None where the character is refused."""

    def __init__(self, grammar: CompiledGrammar, measure: Measure, bars: Bars) -> None:
        self.grammar = grammar
        self.measure = measure
        self.bars = bars
        self.voicing = bars.voicing
        self.last_note = LastNote(grammar, measure)
        self.no_crossing = grammar.options.no_crossing

    def crossing(self, s: AbcState) -> bool:
        """Whether the voice being written starts no note above the voice written before it (crossing=no)."""
        return self.no_crossing and s.voice > 0

    def body(self, s: AbcState, c: str) -> AbcState | None:
        """The state after one character of the body."""
        after = self._lex(s, c)
        if after is not None and after.pos == OCT and self.crossing(after) and after.tied is None and self._above(after, lowest=True):
            return None
        if after is not None and (after.line_start or after.can_end or after.blank_line) and c != "\n":
            after = after.but(line_start=False, can_end=False, blank_line=after.blank_line and c == " ")
        return after

    def _lex(self, s: AbcState, c: str) -> AbcState | None:
        if s.pending:
            return s.but(pending=s.pending[1:]) if c == s.pending[0] else None
        grammar = self.grammar
        pos = s.pos
        if pos == ITEM:
            return self._item(s, c)
        if pos == OCT:
            if c == "," and s.note_letter.isupper() and s.marks < grammar.low:
                return s.but(marks=s.marks + 1, buf=s.buf + c)
            if c == "'" and s.note_letter.islower() and s.marks < grammar.high:
                return s.but(marks=s.marks + 1, buf=s.buf + c)
            ended = self.end_note(s)
            return None if ended is None else self._length(ended, c)
        if pos == LEN:
            return self._length(s, c)
        if pos == ACC:
            if c in ACCIDENTAL_STARTS and s.buf + c in grammar.accidentals:
                return s.but(buf=s.buf + c)
            if c in NOTE_LETTERS and c in grammar.letters:
                return s.but(pos=OCT, note_letter=c, marks=0, buf=s.buf + c)
            return None
        if pos == BAR:
            if grammar.barlines.starts(s.buf + c):
                return s.but(buf=s.buf + c)
            if s.buf not in grammar.barlines or c in AFTER_BARLINE:
                return None
            closed = self.bars.close_bar(s, s.buf)
            return None if closed is None else self.body(closed, c)
        if pos == BRACKET:
            if (c in NOTE_LETTERS or c in ACCIDENTAL_STARTS) and not needs_field(s) and s.tied is None:
                return self._chord(s.but(pos=CHORD, chord_notes=0), c)
            return self.field(s.but(pos=FIELD, buf="["), c)
        if pos == FIELD:
            return self.field(s, c)
        if pos in (CHORD, C_ACC, C_OCT):
            return self._chord(s, c)
        if pos == DECO:
            text = s.buf + c
            if not self._decoration_starts(s, text):
                return None
            if text in grammar.decorations and text.endswith("!") and len(text) > 1:
                if s.deco >= MOST_DECORATIONS or (text in ORNAMENTS and s.tied is not None):
                    return None
                played = s.played or text in PLAYED_ORNAMENTS
                return s.but(pos=ITEM, buf="", deco=s.deco + 1, ornament=s.ornament or text in ORNAMENTS, played=played,
                             staccato=s.staccato and not played)
            return s.but(buf=text)
        if pos == DONE:
            return self.bars.line_end(s) if c == "\n" else None
        if pos == PAREN:
            if c.isdigit() and grammar.tuplets.starts("(" + c):
                return s.but(pos=TUPLE, buf="(" + c)
            if not grammar.slurs or s.slur:
                return None
            return self._item(s.but(pos=ITEM, buf="", slur=1), c)
        if pos == CONT:
            if c != "\n":
                return None
            return s.but(pos=ITEM, space=True, after_bar=False, tie_ok=False, line_start=True, blank_line=True)
        if pos in (GRACE, G_ACC, G_OCT):
            return self._grace(s, c)
        if pos == TUPLE:
            text = s.buf + c
            if grammar.tuplets.starts(text):
                return s.but(buf=text)
            if s.buf not in grammar.tuplets:
                return None
            owed, factor = tuplet_notes(s.buf, s.meter.compound)
            return self._item(s.but(pos=ITEM, buf="", owed=owed, factor=factor), c)
        return None

    def _item(self, s: AbcState, c: str) -> AbcState | None:
        """A character between tokens: it starts the next one, or is a space or the end of the line."""
        if s.voice > 0 and s.j >= len(s.block.targets):
            return self.bars.line_end(s) if c == "\n" and not s.space else None
        if needs_field(s) and c not in "[ ":
            return None
        if s.owed and c not in NOTE_LETTERS and c not in ACCIDENTAL_STARTS and c not in "z[":
            return None  # a tuplet's notes, and the note after a broken rhythm, follow without a break
        grammar = self.grammar
        if c == " ":
            if (s.space and not (s.line_start and grammar.lead_spaces)) or s.deco:
                return None
            return s.but(space=True, tie_ok=False, after_bar=False)
        if c == "\n":
            if s.after_bar:
                return self.bars.line_end(s) if not s.space else None
            if grammar.mid_bar_lines and s.frame.voices == 1 and not s.space and not s.deco:
                # the line breaks inside a bar, as the corpus' do; it may end the tune there
                return s.but(space=True, tie_ok=False, line_start=True, blank_line=True,
                             can_end=self.bars.may_end_unbarred(s))
            return None
        if c == "\\":
            if not grammar.continuations or s.frame.voices > 1 or s.blank_line or s.deco:
                return None
            return s.but(pos=CONT, space=False)  # a line continued: `\` ends it, and the music goes on
        if (s.bare_deco and c in "!({") or (s.tied is not None and c in "({"):
            return None  # abc2midi reads only the note after a one-character decoration, or a tie's note
        if c == "{":
            if not grammar.graces or s.deco >= MOST_DECORATIONS or s.grace:
                return None
            return s.but(pos=GRACE, buf="", chord_notes=0, space=False, after_bar=False, tie_ok=False)
        if c in NOTE_LETTERS:
            if c not in grammar.letters:
                return None
            return s.but(pos=OCT, note_letter=c, marks=0, buf=c, space=False, after_bar=False)
        if c in ACCIDENTAL_STARTS:
            return s.but(pos=ACC, buf=c, space=False, after_bar=False) if c in grammar.accidentals else None
        if c == "z":
            if s.tied is not None or s.ornament:
                return None  # a tie joins two notes; abc2midi would carry a rest's roll or trill to the next chord
            return s.but(pos=LEN, kind="rest", buf="", space=False, after_bar=False) if grammar.lengths["rest"].words else None
        if c == "[":
            if s.deco:
                return None  # abc2midi plays no roll or trill on a chord: decorations go on notes

            return s.but(pos=BRACKET, buf="", space=False, after_bar=False)
        if s.deco and c not in grammar.short_decorations and c not in "!(":
            return None
        if c in "|:":
            if s.slur:
                return None
            opening = s.line_start and not s.music and s.bar_field is None and not s.deco
            return s.but(pos=BAR, buf=c, space=False, after_bar=False, opening=opening)
        if c == "(" and (grammar.slurs or grammar.tuplets.words):
            return s.but(pos=PAREN, buf="(", space=False, after_bar=False, tie_ok=False)
        if c == ")":
            return s.but(slur=0, space=False, after_bar=False) if s.slur == 2 else None
        if c == "-":
            if not s.tie_ok or s.last_pitch is None or not self._may_tie_at_end(s):
                return None
            return s.but(tie_ok=False, space=False, after_bar=False, tied=s.last_pitch if s.kind == "note" else None)
        if c in grammar.short_decorations:
            if s.deco >= MOST_DECORATIONS or (c in ORNAMENTS and s.tied is not None):
                return None
            played = s.played or c in PLAYED_ORNAMENTS
            return s.but(deco=s.deco + 1, bare_deco=True, ornament=s.ornament or c in ORNAMENTS, played=played,
                         staccato=(s.staccato or c == ".") and not played, space=False, after_bar=False, tie_ok=False)
        if c == "!" and s.deco < MOST_DECORATIONS and self._decoration_starts(s, "!"):
            return s.but(pos=DECO, buf="!", space=False, after_bar=False, tie_ok=False)
        return None

    def _decoration_starts(self, s: AbcState, text: str) -> bool:
        """Whether `text` starts a decoration that may come here (while a tie holds, no roll or trill)."""
        if s.tied is None:
            return self.grammar.decorations.starts(text)
        return any(word not in ORNAMENTS for word in self.grammar.decorations.extending(text))

    def _length(self, s: AbcState, c: str) -> AbcState | None:
        """A character after a note, rest or chord: more of its length, or the next token."""
        lengths = self.grammar.lengths[s.kind]
        if c in LENGTH_CHARS:
            if s.paired is not None and not s.paired.startswith(s.buf + c):
                return None
            return s.but(buf=s.buf + c) if lengths.starts(s.buf + c) else None
        if s.buf not in lengths or (s.paired is not None and s.buf != s.paired):
            return None  # abc2midi plays a broken rhythm only between notes written equally long
        duration = self.measure.length_of(s.unit, s.buf, next_factor(s))
        if c in BROKEN:
            return self._broken(s, duration, c)
        placed = self.place(s, duration)
        return None if placed is None else self._item(placed, c)

    def _above(self, s: AbcState, lowest: bool = False) -> bool:
        """Whether the note being written (`s` at OCT) sounds above the voice written before it (with `lowest`: even
        with every `,` it may still take)."""
        limit = ceiling(s)
        if limit is None:
            return False
        text = s.buf + "," * (self.grammar.low - s.marks) if lowest and s.note_letter.isupper() else s.buf
        # the marks' octave counts: an accidental written earlier in the bar holds in its own octave only
        return note_pitch(text, s.keysig, s.bar_accidentals)[0] + s.frame.octaves[s.voice] > limit

    def end_note(self, s: AbcState) -> AbcState | None:
        """The state once a note's letter and octave marks are written (`s` at OCT): its length comes next;
        None where a tie holds another pitch.

        In the first voice, where the corpus' tunes end on some degrees only, it notes whether this note is on one
        (and so in the last voice's last line, with --option harmony)."""
        pitch, written = note_pitch(s.buf, s.keysig, s.bar_accidentals)
        alike = heard_alike(s.buf, s.keysig, s.bar_accidentals)
        if s.tied is not None and (pitch != s.tied or not alike):
            return None
        if self.crossing(s) and s.tied is None and self._above(s):
            return None
        if self.voicing.records(s):
            s = s.but(pitch=pitch + s.frame.octaves[s.voice], continues=s.tied is not None)
        # a tie may follow only a note abc2midi hears as charmony does
        after = s.but(pos=LEN, kind="note", buf="", bar_accidentals=written, last_pitch=pitch if alike else None, tied=None)
        form = self.grammar.form
        if s.voice == 0 and form.last_voice_degrees is not None and s.tonic is not None:
            after = after.but(first_degree=(pitch - s.tonic) % 12)
        degrees = ending_degrees(self.grammar, s)
        if degrees is None or s.tonic is None:
            return after
        return after.but(last_ok=(pitch - s.tonic) % 12 in degrees)

    def _may_tie_at_end(self, s: AbcState) -> bool:
        """Whether the last note may be tied: in the last voice's last line, only a note on a degree it may end on
        (the tie's second note, not being one, could leave no room for one)."""
        if not last_voice_ending(self.grammar, s) or s.tonic is None:
            return True
        return (s.last_pitch - s.tonic) % 12 in last_degrees(self.grammar, s)

    def harmonious(self, s: AbcState, duration: int) -> bool:
        """Whether a note, rest or chord of `duration` (`s` at LEN) keeps the harmony rules: only a note that
        continues no tie can break them (see `voicing`). The last voice's last note, on a degree it may end on, need
        only make chords, and not even that where no such degree would (with crossing=no: no such degree at or under
        the voice above)."""
        latest = self.latest_end(s)
        if latest is None or s.elapsed + duration <= latest:
            return True
        if not self.ends_last_voice(s, duration):
            return False
        start = bar_start(s) + s.elapsed
        degrees = last_degrees(self.grammar, s)
        if self.last_note.on:
            degrees = self.last_note.under(s, degrees)
        if not any(self.voicing.allows(s.but(pitch=s.tonic + degree), start, start + duration, parallels=False)
                   for degree in degrees):
            return True
        return self.voicing.allows(s, start, start + duration, parallels=False)

    def latest_end(self, s: AbcState) -> int | None:
        """The latest the note being written (`s` at LEN) may end under the harmony rules, in ticks into its bar;
        None for any time (a rest, a chord, a tie's continuation, or no rules)."""
        if s.kind != "note" or s.continues or not self.voicing.applies(s):
            return None
        start = bar_start(s)
        latest = self.voicing.latest_end(s, start + s.elapsed)
        return None if latest is None else latest - start

    def ends_last_voice(self, s: AbcState, duration: int) -> bool:
        """Whether a note of `duration` (`s` at LEN) ends the last voice's last bar on a degree it may end on."""
        if not last_voice_ending(self.grammar, s) or s.tonic is None or s.j + 1 != len(s.block.targets):
            return False
        return (s.elapsed + duration == s.block.targets[s.j].duration
                and (s.pitch - s.tonic) % 12 in last_degrees(self.grammar, s))

    def place(self, s: AbcState, duration: int) -> AbcState | None:
        """A note, rest or chord of `duration` added to the bar; refused when it would overrun it."""
        elapsed = s.elapsed + duration
        most = self.bars.most(s)
        if most is not None and elapsed > most:
            return None
        rests_only = s.kind == "rest" and (s.rests_only or not s.music)
        if self.voicing.records(s):
            if not self.harmonious(s, duration):
                return None
            start = bar_start(s) + s.elapsed
            s = s.but(heard=self.voicing.heard_with(s, start, start + duration, s.pitch if s.kind == "note" else None))
        return s.but(pos=ITEM, buf="", elapsed=elapsed, music=True, deco=0, bare_deco=False, ornament=False, staccato=False,
                     played=False, grace=False, paired=None, tie_ok=s.kind == "note" and not s.ornament and not s.staccato, rests_only=rests_only,
                     space=False, after_bar=False, owed=max(0, s.owed - 1), slur=2 if s.slur else 0)

    def _broken(self, s: AbcState, duration: int, sign: str) -> AbcState | None:
        """A note or chord of `duration` followed by `>` (it lasts half as long again, the next note half as long) or `<`."""
        if sign not in self.grammar.broken or s.owed or s.kind == "rest" or s.staccato:
            return None  # abc2midi pairs a staccato note's shortened first part with the next note's whole length
        first, second = theory.BROKEN_RHYTHM[1] if sign == ">" else theory.BROKEN_RHYTHM[1][::-1]
        placed = self.place(s, duration * first.numerator // first.denominator)
        if placed is None:
            return None
        most = self.bars.most(placed)
        if most is not None and placed.elapsed + duration * second.numerator // second.denominator > most:
            return None  # the second note, as long as the first as written, must fit too
        return placed.but(owed=1, factor=(second.numerator, second.denominator), tie_ok=False, paired=s.buf)

    def _chord(self, s: AbcState, c: str) -> AbcState | None:
        pos = s.pos
        if pos == C_ACC:
            return self._group_letter(s, c, C_OCT)
        if pos == C_OCT:
            marked = self._octave_mark(s, c)
            if marked is not None:
                return marked
            s = self._group_note_end(s, CHORD)
            if c == "-":
                return None  # a tie joins two notes of one pitch: not the notes of chords
        if c == "]" and s.chord_notes:
            return s.but(pos=LEN, kind="chord", buf="") if self.grammar.lengths["chord"].words else None
        return self._group_note(s, c, MOST_CHORD_NOTES, C_ACC, C_OCT)

    def _grace(self, s: AbcState, c: str) -> AbcState | None:
        """A character of grace notes `{gf}`: notes without lengths, then `}`, after which a note must come."""
        pos = s.pos
        if pos == G_ACC:
            return self._group_letter(s, c, G_OCT)
        if pos == G_OCT:
            marked = self._octave_mark(s, c)
            if marked is not None:
                return marked
            s = self._group_note_end(s, GRACE)
        if c == "}" and s.chord_notes:
            return s.but(pos=ITEM, buf="", deco=s.deco + 1, grace=True)  # like a decoration, the grace notes wait for their note
        return self._group_note(s, c, MOST_GRACE_NOTES, G_ACC, G_OCT)

    def _group_letter(self, s: AbcState, c: str, octave_pos: int) -> AbcState | None:
        """In a chord or grace notes, after an accidental: more of it, or the note's letter."""
        if c in ACCIDENTAL_STARTS and s.buf + c in self.grammar.accidentals:
            return s.but(buf=s.buf + c)
        return s.but(pos=octave_pos, note_letter=c, marks=0) if c in NOTE_LETTERS and c in self.grammar.letters else None

    def _octave_mark(self, s: AbcState, c: str) -> AbcState | None:
        """In a chord or grace notes, the state after an octave mark the note may take; None when `c` is none."""
        if c == "," and s.note_letter.isupper() and s.marks < self.grammar.low:
            return s.but(marks=s.marks + 1)
        if c == "'" and s.note_letter.islower() and s.marks < self.grammar.high:
            return s.but(marks=s.marks + 1)
        return None

    def _group_note(self, s: AbcState, c: str, most: int, accidental_pos: int, octave_pos: int) -> AbcState | None:
        """In a chord or grace notes, the start of another note: its letter or accidental, up to `most` notes."""
        if s.chord_notes >= most:
            return None
        if c in NOTE_LETTERS and c in self.grammar.letters:
            return s.but(pos=octave_pos, note_letter=c, marks=0, buf="")
        if c in ACCIDENTAL_STARTS and c in self.grammar.accidentals:
            return s.but(pos=accidental_pos, buf=c)
        return None

    @staticmethod
    def _group_note_end(s: AbcState, pos: int) -> AbcState:
        """The state once a note of a chord or of grace notes is written: its accidental holds in the bar too."""
        if not s.buf:
            return s.but(pos=pos, chord_notes=s.chord_notes + 1)
        text = s.buf + s.note_letter + ("," if s.note_letter.isupper() else "'") * s.marks
        written = note_pitch(text, s.keysig, s.bar_accidentals)[1]
        return s.but(pos=pos, chord_notes=s.chord_notes + 1, buf="", bar_accidentals=written)

    def field(self, s: AbcState, c: str) -> AbcState | None:
        """A character of an inline field `[M:3/4]` or `[K:D]`, which comes only at the start of a bar."""
        text = s.buf + c
        if s.music or s.owed:
            return None
        target = target_of(s)
        if target is not None and target.field is not None and s.bar_field is None:
            allowed = Words([target.field])
        elif s.voice == 0 and s.bar_field is None and not s.deco:
            allowed = self.grammar.fields
        else:
            allowed = self.grammar.key_fields
        if not allowed.starts(text) or (s.tied is not None and text.startswith("[K")):
            return None  # a key change inside a tie would leave its pitch without a spelling
        if text not in allowed:
            return s.but(buf=text)
        if text[1] == "K":
            keysig, tonic = signature(parse_key(text[3:-1]).key)  # for this voice only, as abc2midi plays it
            return s.but(pos=ITEM, buf="", space=False, keysig=keysig, tonic=s.tonic if s.voice else tonic)
        meter = parse_meter(text[3:-1])
        if s.voice == 0 and s.repeat and s.section_meter is not None and meter != s.section_meter:
            return None  # a section opened with |: must close with :|, which no meter change may come before
        return s.but(pos=ITEM, buf="", space=False, meter=meter, bar_meter=meter, bar_field=text)


def needs_field(s: AbcState) -> bool:
    """Whether a later voice's open bar must start with the meter change the first voice's bar starts with."""
    target = target_of(s)
    return target is not None and target.field is not None and s.bar_field is None and not s.music
