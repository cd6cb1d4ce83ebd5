"""Reading notes, chords, rests and grace notes, with the ties, slurs, broken rhythms and tuplets that join them."""

from __future__ import annotations

import re
from fractions import Fraction

from charmony.pipeline.abc import theory
from charmony.pipeline.abc.fields import read_number
from charmony.pipeline.abc.parse_state import MusicLine, TuneState, VoiceState
from charmony.pipeline.abc.tokens import length_factor
from charmony.pipeline.abc.tune import Chord, Note, Rest


class NoteReader(TuneState):
    """Puts notes, chords and rests into the open bar of the voice being written."""

    def on_note(self, music: MusicLine, match: re.Match) -> None:
        """A note: into the open grace notes or chord, else into the bar."""
        state, column = music.state, match.start()
        note = self.read_note(state, match, music.index, column)
        if music.grace is not None:
            music.grace.append(note)
        elif music.chord is not None:
            music.chord.append(note)
        else:
            self.place(state, note, music.index, column)

    def on_chord_open(self, music: MusicLine, match: re.Match) -> None:
        """`[` opens a chord; among grace notes its notes are kept as graces."""
        if music.grace is None:
            music.chord, music.chord_start = [], (music.index, match.start())

    def on_chord_close(self, music: MusicLine, match: re.Match) -> None:
        """`]` with its length closes the chord and places it."""
        if music.grace is not None:
            return
        index, column, chord = music.index, match.start(), music.chord
        if chord is None:
            self.problem(index, column, "']' without '['")
            return
        music.chord = None
        if not chord:
            self.problem(music.chord_start[0], music.chord_start[1], "empty chord []")
            return
        factor = length_factor(match.group("chord_length"))
        if factor is None:
            self.problem(index, column, f"bad chord length {match.group('chord_length')!r}")
            factor = Fraction(1)
        length = chord[0].length * factor
        for note in chord:
            note.length = length
        event = Chord(chord, length, self.first_line + music.chord_start[0], music.chord_start[1] + 1)
        self.place(music.state, event, index, column)

    def on_tie(self, music: MusicLine, match: re.Match) -> None:
        """`-` ties the note before (within a chord, the chord's last note) to the next one."""
        state = music.state
        target = music.chord[-1:] if music.chord is not None else self.tie_targets(state)
        if not target:
            self.problem(music.index, match.start(), "'-' ties nothing: a tie follows a note, as in C-C")
        for note in target:
            note.tie_start = True
        if music.chord is None:
            state.tied = list(target)

    def on_rest(self, music: MusicLine, match: re.Match) -> None:
        """A rest `z`/`x`, or whole bars of rest `Z`/`X`."""
        self.read_rest(music.state, match, music.index, match.start())

    def on_broken(self, music: MusicLine, match: re.Match) -> None:
        """`>` or `<` between two notes."""
        self.read_broken(music.state, match.group(), music.index, match.start())

    def on_tuplet(self, music: MusicLine, match: re.Match) -> None:
        """`(3` or `(p:q:r`."""
        self.read_tuplet(music.state, match, music.index, match.start())

    def on_slur_open(self, music: MusicLine, match: re.Match) -> None:
        """`(` opens a slur."""
        music.state.slurs.append((music.index, match.start()))

    def on_slur_close(self, music: MusicLine, match: re.Match) -> None:
        """`)` closes the last open slur."""
        state = music.state
        if state.slurs:
            state.slurs.pop()
        else:
            self.problem(music.index, match.start(), "')' closes no slur")

    def on_grace_open(self, music: MusicLine, match: re.Match) -> None:
        """`{` opens grace notes."""
        if music.grace is not None:
            self.problem(music.index, match.start(), "'{' inside grace notes")
        music.grace, music.grace_start = [], (music.index, match.start())

    def on_grace_close(self, music: MusicLine, match: re.Match) -> None:
        """`}` closes the grace notes, which go to the next note or chord."""
        if music.grace is None:
            self.problem(music.index, match.start(), "'}' without '{'")
            return
        if not music.grace:
            self.problem(music.index, match.start(), "empty grace notes {}")
        music.state.grace.extend(music.grace)
        music.grace = None

    def on_overlay(self, music: MusicLine, match: re.Match) -> None:
        """`&` starts another layer of the same bar."""
        state = music.state
        self.check_tuplet_done(state, "the & overlay")
        state.layer = len(state.bar.layers)
        state.bar.layers.append([])
        state.last, state.broken, state.tied = None, None, []

    def unclosed_chord(self, state: VoiceState, notes: list[Note], start: tuple[int, int]) -> None:
        """Report a chord without `]`, and keep its notes as a chord so that its bar still counts."""
        self.problem(start[0], start[1], "unclosed chord: '[' without ']'")
        if notes:
            for note in notes:
                note.length = notes[0].length
            self.place(state, Chord(notes, notes[0].length, self.first_line + start[0], start[1] + 1), *start)

    def tie_targets(self, state: VoiceState) -> list[Note]:
        """The notes a `-` after the last note, chord or rest ties: none after a rest."""
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
