"""The body's shortest completion: how many characters the tune still needs from a state (see the package
docstring for where it may count a few more than the shortest)."""

from __future__ import annotations

from charmony.pipeline.abc.fields import Meter
from charmony.pipeline.abc.grammar.bars import Bars
from charmony.pipeline.abc.grammar.cache import Memo
from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.count import owes
from charmony.pipeline.abc.grammar.ending import LastNote
from charmony.pipeline.abc.grammar.keys import bars_key, form_key, state_key, writes_last_bar
from charmony.pipeline.abc.grammar.lengths import tuplet_notes
from charmony.pipeline.abc.grammar.lexer import Lexer, needs_field
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.pitch import fewest_characters
from charmony.pipeline.abc.grammar.state import AbcState, Block, in_bar, line_end_cost, next_factor, target_of
from charmony.pipeline.abc.grammar.voicing import last_degrees, last_voice_ending
from charmony.pipeline.abc.grammar.symbols import (
    ACC, BAR, BRACKET, C_ACC, C_OCT, CHORD, CONT, DECO, DONE, FIELD, G_ACC, G_OCT, GRACE, INF, ITEM, LEN, OCT, PAREN,
    TUPLE,
)


class Cost:
    """The shortest completion of a tune in its body, for one grammar: a part cached by the state's key, and
    the bars behind that the other voices still have to write."""

    def __init__(self, grammar: CompiledGrammar, memo: Memo, measure: Measure, bars: Bars, lexer: Lexer) -> None:
        self.grammar = grammar
        self.memo = memo
        self.measure = measure
        self.bars = bars
        self.lexer = lexer
        self._final_note_pad = grammar.final_note_pad()
        self.last_note: LastNote = lexer.last_note

    def body(self, s: AbcState) -> int:
        """The cost of a state in the body (not yet complete); INF where the tune cannot be finished."""
        key = state_key(self.grammar, s)
        local = self.memo.locals.get(key)
        if local is None:
            local = self.memo.locals[key] = self._local(s)
        total = local + self._tail(s)
        if s.tied is not None and s.pos not in (OCT, ACC):  # at OCT and ACC the note is being written
            total += self._tie_cost(s)
        if s.held:
            total += self._held_cost(s)
        if s.pos not in (OCT, ACC) and self._owes_final_note(s):
            total += self._final_note_pad  # the rests counted may have to give way to a note on a final degree
        if self.last_note.on:
            total += self._last_bar_extra(s)
        return total if total < INF // 2 else INF  # sums and differences of INF stay far above INF // 2

    def _owes_final_note(self, s: AbcState) -> bool:
        """Whether the last voice's last note, on a degree the corpus' last voices end on, is still to be written
        (then every state counts `_final_note_pad`, so that the cost never rises on the way to it)."""
        if not self._final_note_pad or s.frame.voices < 2 or s.tonic is None:
            return False
        return not (s.last_ok and last_voice_ending(self.grammar, s))

    def _last_bar_extra(self, s: AbcState) -> int:
        """With crossing=no, what the last voice's last bar needs beyond the rests the tail counts: rests, then a note on
        a final degree under the voice above (`ending`); INF where none fits. Counted once the first voice writes the
        `|]` that ends its last line (a barline closes its bar on the next character, the newline; then the ties held
        into a one-bar line count, and in a tune of two voices the first voice's notes in that bar) or, in a bar only
        `|]` may close, its barline and (in a tune of two voices) its notes, for each duration the bar may still end
        with (`_last_durations`); in the voices' last lines, and in the voice above the last's last bar; in the last
        bar itself `_plain_boundary` counts it."""
        frame, block, last_note = s.frame, s.block, self.last_note
        if s.tonic is None or frame.voices < 2:
            return 0
        if s.voice == 0:
            last, durations = len(s.built), self._last_durations(s)  # the bar `|]` closes, not yet among those built
            if not durations:
                return 0
        elif block is None or not block.final or not block.targets:
            return 0
        else:
            last, durations = len(block.targets) - 1, (block.targets[-1].duration,)
        keysig = s.keys[-1] if s.keys else s.keysig
        held = s.held[-1] if s.held and s.voice + 1 < frame.voices else None  # the last voice's line starts with a tie's note
        if s.voice + 1 == frame.voices:
            if s.j >= last:
                return 0
            sounds = in_bar(s, s.voice - 1, last)
            keysig = s.keysig
        elif s.voice + 2 == frame.voices:
            if s.voice > 0 and s.j < last:
                return 0
            sounds = last_note.above_last(s)
        elif last == 0 and s.held and s.held[-2] is not None:  # the voice above the last starts its line with a tie's note
            sounds = last_note.held_sound(s.unit, s.held[-2] + frame.octaves[-2])
        else:
            sounds = ()
        lowest = last_note.lowest(s, keysig, (), frame.octaves[-1])
        best = INF
        for duration in durations:
            if last == 0 and held is not None:
                ends_well = (held - s.tonic) % 12 in last_degrees(self.grammar, s)
                needed = last_note.tied_last_bar(s.unit, duration, 0, ends_well, lowest, sounds)
            else:
                needed = last_note.last_bar(s.unit, duration, 0, lowest, sounds)
            if needed < INF:
                best = min(best, max(0, needed - self.measure.later_fill(s.unit, duration)))
        return best

    def _last_durations(self, s: AbcState) -> tuple[int, ...]:
        """The durations with which the first voice's open bar may still end the tune, where `_last_bar_extra` counts
        them: at the `|]` that closes it, the bar's; at a barline only `|]` may complete, the bar's if it may end the
        tune so; in a tune of two voices, at any point of a bar only `|]` may close, those it may end with after the
        note being written (`LastNote.writing`): there, or filled (the first voice's rests set no bound) to a whole
        bar, or to one that completes a pickup or a short bar before it, as `_ends` counts them."""
        if s.pos == BAR:
            if s.buf == "|]" or ("|]".startswith(s.buf) and self.bars.ends_tune(s, s.elapsed)
                                 and self.bars.accepts(s, s.elapsed, "|]")):
                return (s.elapsed,)
            return ()
        if not writes_last_bar(self.grammar, s):
            return ()
        start = max((end for _, end, _ in self.last_note.writing(s)), default=s.elapsed)
        wanted = {start}
        bar = self.measure.bar(s.bar_meter)
        if bar is not None:
            wanted |= {bar, bar - (s.pickup or 0), bar - (s.short_close[0] if s.short_close else 0)}
        return tuple(sorted(duration for duration in wanted if duration >= start and self.bars.ends_tune(s, duration)
                            and self.bars.accepts(s, duration, "|]", filled=duration > s.elapsed)))

    def _tail(self, s: AbcState) -> int:
        frame = s.frame
        if s.voice == 0:
            return (frame.voices - 1) * s.block_cost
        block = s.block
        tail = self.memo.block_tails.get((block, s.voice))
        if tail is None:
            later = frame.voices - 1 - s.voice
            tail = 1 + frame.after(s.voice) + later * (block.total + 1)
            if not block.final:
                tail += self._next_block_least(s, block)
            self.memo.block_tails[(block, s.voice)] = tail
        return tail + (block.suffix[s.j + 1] if s.j < len(block.targets) else 0)

    def _local(self, s: AbcState) -> int:
        pending = len(s.pending)
        pos = s.pos
        if pos == ITEM:
            return pending + self._boundary(s, s.elapsed, s.music)
        if pos == DONE:
            return 1 + s.frame.after(0) + (s.frame.voices - 1) if s.voice == 0 else 0
        if pos == OCT:
            return self._note_cost(s)
        if pos == LEN:
            return self._event_cost(s, s.kind, s.buf)
        if pos == ACC:  # the accidental's letter decides the note's degree
            signs = [sign for sign in self.grammar.accidentals if sign.startswith(s.buf)]
            return min((len(sign) - len(s.buf) + 1 + self._note_cost(
                s.but(pos=OCT, note_letter=letter, marks=0, buf=sign + letter))
                for sign in signs for letter in self.grammar.letters), default=INF)
        if pos in (CHORD, C_ACC, C_OCT):
            return (pos == C_ACC) + (pos == CHORD and s.chord_notes == 0) + 1 + self._event_cost(s, "chord", "")
        if pos == BRACKET:
            chord = 2 + self._event_cost(s, "chord", "") if not needs_field(s) and s.tied is None else INF
            return min(chord, self._field_cost(s, "["))
        if pos == FIELD:
            return self._field_cost(s, s.buf)
        if pos == BAR:
            return self._barline_cost(s)
        if pos == DECO:
            return min((len(d) - len(s.buf) + self._boundary(s, s.elapsed, s.music, deco=True)
                        for d in self.grammar.decorations.extending(s.buf) if d.endswith("!") and len(d) > 1), default=INF)
        if pos == PAREN:
            slur = self._boundary(s.but(slur=1), s.elapsed, s.music) if self.grammar.slurs and not s.slur else INF
            return min(slur, self._tuplet_cost(s, "("))
        if pos == TUPLE:
            return self._tuplet_cost(s, s.buf)
        if pos == CONT:
            return 1 + self._boundary(s, s.elapsed, s.music)
        if pos in (GRACE, G_ACC, G_OCT):
            notes_wanted = pos == G_ACC or (pos == GRACE and not s.chord_notes)
            return (pos == G_ACC) + notes_wanted + 1 + self._boundary(s, s.elapsed, s.music, deco=True)
        return INF

    def _note_cost(self, s: AbcState) -> int:
        """The fewest characters to end the tune from a note whose letter is written (`s` at OCT): where a tie
        holds a pitch, (crossing=no) the voice before sounds lower, or (harmony=strict) a parallel is near, octave marks
        may still be needed."""
        grammar = self.grammar
        mark, most = ("," , grammar.low) if s.note_letter.isupper() else ("'", grammar.high)
        best = INF
        for more in range(1 + (most - s.marks if s.tied is not None or self.lexer.crossing(s) or self.lexer.voicing.strict(s) else 0)):
            ended = self.lexer.end_note(s.but(marks=s.marks + more, buf=s.buf + mark * more))
            if ended is not None:
                owed = self._final_note_pad if self._owes_final_note(ended) else 0
                best = min(best, more + self._event_cost(ended, "note", "") + owed)
        return best

    def _tie_cost(self, s: AbcState) -> int:
        """What a tie still open adds to the completion: the characters its note needs beyond one (in this bar
        or the next, whichever needs more); INF where a later voice's last line has no note left to end it."""
        if s.voice > 0 and s.block.final:
            targets = s.block.targets
            if s.j >= len(targets) or (s.elapsed >= targets[s.j].duration and s.j + 1 >= len(targets)):
                return INF
        return self._spelling(s.tied, s.keysig, s.bar_accidentals)

    def _held_cost(self, s: AbcState) -> int:
        """What the ties other voices' lines left open add: each voice's next line starts with the tied note."""
        return sum(self._spelling(pitch, s.keysig, ()) for voice, pitch in enumerate(s.held)
                   if pitch is not None and voice != s.voice)

    def _spelling(self, pitch: int, keysig: tuple[int, ...], written: tuple) -> int:
        """The characters beyond one that a note sounding `pitch` needs, in the open bar or a fresh one."""
        grammar = self.grammar
        spell = [fewest_characters(pitch, grammar.letters, grammar.accidentals, grammar.low, grammar.high, keysig, known)
                 for known in dict.fromkeys((written, ()))]
        return INF if None in spell else max(spell) - 1

    def _barline_cost(self, s: AbcState) -> int:
        """The fewest characters to end the tune from inside a barline that starts with `s.buf`."""
        if s.voice > 0:
            target = target_of(s)
            fits = target is not None and target.barline.startswith(s.buf) and s.elapsed == target.duration and s.music
            fits = fits and (target.barline != "|]" or s.last_ok or not last_voice_ending(self.grammar, s))
            return len(target.barline) - len(s.buf) if fits else INF
        barlines = self.grammar.barlines.extending(s.buf)
        closing = min((self._closing(s, s.elapsed, b) - len(s.buf) for b in barlines), default=INF) + line_end_cost(s)
        if s.opening:
            for barline in barlines:
                after = self.bars.empty_bar(s, barline)
                if after is not None:
                    closing = min(closing, len(barline) - len(s.buf) + self._boundary(after, 0, False))
        return closing

    def _tuplet_cost(self, s: AbcState, prefix: str) -> int:
        """The fewest characters to end the tune from a tuplet sign that starts with `prefix`."""
        best = INF
        for text in self.grammar.tuplets.extending(prefix):
            owed, factor = tuplet_notes(text, s.meter.compound)
            best = min(best, len(text) - len(prefix) + self._boundary(s.but(owed=owed, factor=factor), s.elapsed, s.music))
        return best

    def _event_cost(self, s: AbcState, kind: str, prefix: str) -> int:
        """The fewest characters to end a note, rest or chord whose length starts with `prefix`, and the tune."""
        best = INF
        most = self.bars.most(s)
        factor, owed = next_factor(s), max(0, s.owed - 1)
        s = s.but(rests_only=kind == "rest" and (s.rests_only or not s.music))
        latest = self.lexer.latest_end(s) if kind == "note" else None  # the harmony rules' (see Lexer.harmonious)
        for text in self.grammar.lengths[kind].extending(prefix):
            if s.paired is not None and text != s.paired:
                continue
            if len(text) - len(prefix) >= best:
                continue
            duration = self.measure.length_of(s.unit, text, factor)
            elapsed = s.elapsed + duration
            if latest is not None and elapsed > latest and not (self.lexer.ends_last_voice(s, duration)
                                                                and self.lexer.harmonious(s, duration)):
                continue
            if most is None or elapsed <= most:
                best = min(best, len(text) - len(prefix) + self._boundary(s, elapsed, True, deco=False, owed=owed))
        return best

    def _field_cost(self, s: AbcState, prefix: str) -> int:
        best = INF
        for text in self.grammar.fields.extending(prefix):
            after = self.lexer.field(s.but(buf=text[:-1]), "]")
            if after is not None:
                best = min(best, len(text) - len(prefix) + self._boundary(after, after.elapsed, after.music))
        return best

    def _boundary(self, s: AbcState, elapsed: int, music: bool, deco: bool | None = None, owed: int | None = None) -> int:
        """The fewest characters to end the tune from between two tokens, the open bar lasting `elapsed`
        (leaving out what the tail counts).

        `deco`: whether a note must come next (for decorations, or a slur just opened); `owed`: how many
        notes of an open tuplet or broken rhythm must come first (by default, as in `s`).
        """
        deco = (s.deco > 0 or s.slur == 1) if deco is None else deco
        owed = s.owed if owed is None else owed
        if owed:
            return self._owed_boundary(s, elapsed, owed)
        return self._plain_boundary(s, elapsed, music, deco) + (s.slur > 0)  # the slur's `)`

    def _owed_boundary(self, s: AbcState, elapsed: int, owed: int) -> int:
        """`_boundary` with `owed` notes still to write, each its length times `s.factor`: the cheapest ones that fit."""
        key = (state_key(self.grammar, s), elapsed, owed)
        found = self.memo.owed.get(key)
        if found is None:
            found = INF
            most = self.bars.most(s)
            tokens = self.measure.owed_tokens(s.unit, s.factor)
            if s.paired is not None:  # the note after a broken rhythm is written as long as the one before it
                tokens = ((self.measure.length_of(s.unit, s.paired, s.factor), 1 + len(s.paired)),)
            for ticks, chars in tokens:
                after = elapsed + ticks
                if most is None or after <= most:
                    found = min(found, chars + self._boundary(s, after, True, deco=False, owed=owed - 1))
            self.memo.owed[key] = found
        return found

    def _plain_boundary(self, s: AbcState, elapsed: int, music: bool, deco: bool) -> int:
        if s.voice > 0:
            if s.j >= len(s.block.targets):
                return 0
            target = s.block.targets[s.j]
            field = len(target.field) if needs_field(s) else 0
            rest = target.duration - elapsed
            fill = self.measure.later_fill(s.unit, rest) if rest > 0 else (0 if music and not deco else INF)
            if rest <= 0 and target.barline == "|]" and not s.last_ok and last_voice_ending(self.grammar, s):
                return INF  # the last voice's last note is not on a degree the corpus' last voices end on
            if (rest > 0 and self.last_note.on and s.j + 1 == len(s.block.targets) and not s.last_ok
                    and s.tonic is not None and last_voice_ending(self.grammar, s)):
                sounds = in_bar(s, s.voice - 1, s.j)
                lowest = self.last_note.lowest(s, s.keysig, s.bar_accidentals, s.frame.octaves[s.voice])
                if s.tied is None:
                    fill = self.last_note.last_bar(s.unit, target.duration, elapsed, lowest, sounds)
                else:  # the tie's note comes next (`_tie_cost` counts its spelling)
                    ends_well = (s.tied - s.tonic) % 12 in last_degrees(self.grammar, s)
                    fill = self.last_note.tied_last_bar(s.unit, target.duration, elapsed, ends_well, lowest, sounds)
            return field + fill + len(target.barline)
        key = (s.frame, elapsed, music, deco, s.bar_meter.text, s.meter.text, s.bar_field, s.pickup,
               s.first_meter.text if s.first_meter else None, (s.short_close[0], s.short_close[1].text) if s.short_close else None,
               s.count, s.repeat, s.repeated, s.section_meter.text if s.section_meter else None, bars_key(self.grammar, s), form_key(self.grammar, s), s.tied is not None)
        best = self.memo.boundaries.get(key)
        if best is None:
            best = INF
            for duration, chars in self._ends(s, elapsed, music, deco, s.bar_meter):
                for barline in self.grammar.barlines.words:
                    if chars < best:
                        best = min(best, chars + self._closing(s, duration, barline, chars > 0))
            self.memo.boundaries[key] = best
        return best + line_end_cost(s)

    def _ends(self, s: AbcState, elapsed: int, music: bool, deco: bool, meter: Meter) -> list[tuple[int, int]]:
        """Durations the open bar could end with, and the fewest characters of music that get it there."""
        ends = []
        bar = self.measure.bar(meter)
        if music and not deco:
            ends.append((elapsed, 0))
        else:  # the bar still needs music: one note or rest may end it
            room = None if bar is None else bar - elapsed
            ends += [(elapsed + d, chars) for d, chars in self.measure.one_token(s.unit, room)]
        if bar is not None:
            wanted = {bar}
            if s.pickup is not None:
                wanted.add(bar - s.pickup)
            if s.short_close is not None:
                wanted.add(bar - s.short_close[0])
            for duration in wanted:
                if duration > elapsed:
                    ends.append((duration, self.measure.fill(s.unit, duration - elapsed)))
        return ends

    def _closing(self, s: AbcState, duration: int, barline: str, filled: bool = False) -> int:
        """The fewest characters after the first voice's open bar ends at `duration` with `barline`: its
        barline, the other voices' copies of it and the bars still to come (not the line ends); `filled`: notes
        are still to come in the bar."""
        if not self.bars.accepts(s, duration, barline, filled):
            return INF
        n = s.frame.voices
        mirrored = (n - 1) * self.bars.mirror_cost(s.unit, duration, barline, s.bar_field)
        more = 0
        if barline != "|]" and not self.bars.may_end(s, duration, barline, filled):
            count = self._bars_after(self.bars.number(s, duration))
            repeat = barline in ("|:", "::") or (s.repeat and not barline.startswith(":"))
            if self.bars.joins(s, duration, barline):
                more = self.measure.bars_after_short(duration, count, repeat, s.meter, s.unit, n)
            else:
                more = self.measure.more_bars(count, repeat, s.meter, s.unit, n)
        return len(barline) + mirrored + more

    def _bars_after(self, number: int) -> int:
        """How many bars must still follow bar `number` (as musicians count): to bar N, or to the fewest a tune has."""
        if self.grammar.options.bars is not None:
            return self.grammar.options.bars - number
        return max(1, self.grammar.fewest - number)

    def _next_block_least(self, s: AbcState, block: Block) -> int:
        bar_index, pickup, _, short_close, abc2midi, repeat, _, meter = block.resume
        frame = s.frame
        n = frame.voices
        last = bar_index - 1 if pickup is not None else bar_index  # the number of the block's last bar
        count = self._bars_after(last)
        if owes(abc2midi):
            more = self.measure.bars_after_short(short_close[0], count, repeat, meter, s.unit, n)
        else:
            more = self.measure.more_bars(count, repeat, meter, s.unit, n)
        return len(frame.prefixes[0]) + more + 1 + frame.after(0) + (n - 1)
