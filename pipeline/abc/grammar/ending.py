"""With `--option crossing=no` and `--option harmony=`, where the last voice's last note can go: on a degree the corpus'
last voices end on (`voicing.last_degrees`), at or under the note the voice above sounds where it starts, and lasting
to the end of the last bar. `Cost` counts the cheapest such note, so that no voice commits the tune to a last bar
with no room for one.

The last bar is counted as rests and then that note (a tie into it, or notes before it, are not counted), so a
state it calls impossible may have had a longer way out; one it counts always has this one.
"""

from __future__ import annotations

from functools import lru_cache

from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.pitch import Accidentals, note_pitch
from charmony.pipeline.abc.grammar.state import AbcState, Heard, ceiling, first_voice_bar, in_bar, next_factor, sounds_at
from charmony.pipeline.abc.grammar.symbols import INF, LEN, OCT, ONE
from charmony.pipeline.abc.grammar.voicing import last_degrees

Sounds = Heard  # the voice above's last bar, in ticks from its start


@lru_cache(maxsize=4096)
def lowest_by_class(letters: frozenset[str], signs: frozenset[str], low: int, high: int, keysig: tuple[int, ...],
                    written: Accidentals) -> tuple[int | None, ...]:
    """For each pitch class, the lowest MIDI key a note of the grammar sounds in it (before the voice's octave=);
    None for a class no note sounds."""
    lowest: list[int | None] = [None] * 12
    for sign in ("", *signs):
        for letter in letters:
            for marks in range(1 + (low if letter.isupper() else high)):
                pitch = note_pitch(sign + letter + ("," if letter.isupper() else "'") * marks, keysig, written)[0]
                found = lowest[pitch % 12]
                lowest[pitch % 12] = pitch if found is None else min(found, pitch)
    return tuple(lowest)


class LastNote:
    """The last voice's last note under crossing=no, for one grammar: the lowest it can sound, and the fewest
    characters of a last bar that ends with it (memoised)."""

    def __init__(self, grammar: CompiledGrammar, measure: Measure) -> None:
        self.grammar = grammar
        self.measure = measure
        self.on = grammar.options.no_crossing and grammar.form.last_voice_degrees is not None
        self.memo = measure.memo

    def floor(self, s: AbcState, degree: int, keysig: tuple[int, ...], written: Accidentals, octave: int) -> int | None:
        """The lowest MIDI key the last voice can sound on `degree` (None: none)."""
        grammar = self.grammar
        lowest = lowest_by_class(grammar.letters, grammar.accidentals, grammar.low, grammar.high, keysig, written)
        found = lowest[(s.tonic + degree) % 12]
        return None if found is None else found + octave

    def lowest(self, s: AbcState, keysig: tuple[int, ...], written: Accidentals, octave: int) -> int | None:
        """The lowest MIDI key the last voice can end on (None: none)."""
        floors = [self.floor(s, degree, keysig, written, octave) for degree in last_degrees(self.grammar, s)]
        return min((found for found in floors if found is not None), default=None)

    def under(self, s: AbcState, degrees: frozenset[int]) -> frozenset[int]:
        """Those of `degrees` a note of the last voice starting now (`s` at LEN) can sound at or under the voice above."""
        limit = ceiling(s)
        if limit is None:
            return degrees
        octave = s.frame.octaves[s.voice]
        return frozenset(degree for degree in degrees
                         if (found := self.floor(s, degree, s.keysig, s.bar_accidentals, octave)) is not None
                         and found <= limit)

    def last_bar(self, unit: int, duration: int, elapsed: int, lowest: int | None, sounds: Sounds) -> int:
        """The fewest characters of a last bar of `duration`, from `elapsed` on: rests, then a note from a time where
        the voice above sounds no lower than `lowest` to the bar's end; INF where none fits."""
        if lowest is None:
            return INF
        key = (unit, duration, elapsed, lowest, sounds)
        found = self.memo.last_bars.get(key)
        if found is None:
            found = INF
            for start, chars in self._note_starts(unit, duration):
                if start < elapsed or chars >= found:
                    continue
                above = sounds_at(sounds, start)
                if above is not None and above < lowest:
                    continue
                found = min(found, chars + (self.measure.later_fill(unit, start - elapsed) if start > elapsed else 0))
            self.memo.last_bars[key] = found
        return found

    def tied_last_bar(self, unit: int, duration: int, elapsed: int, ends_well: bool, lowest: int | None,
                      sounds: Sounds) -> int:
        """As `last_bar`, where a tie holds the note that comes next (its continuation sets no bound): that note, and
        after it rests and a last note, unless it lasts to the bar's end on a final degree (`ends_well`)."""
        best = INF
        for start, chars in self._note_starts(unit, duration):
            end = elapsed + duration - start  # a note as long as one from `start` to the bar's end
            if end < duration:
                best = min(best, chars + self.last_bar(unit, duration, end, lowest, sounds))
            elif end == duration and ends_well:
                best = min(best, chars)
        return best

    def held_sound(self, unit: int, midi: int) -> Sounds:
        """A tie's note that starts the voice above's line: from the bar's start, for at least the shortest note."""
        return ((0, self._shortest(unit), midi),)

    def _note_starts(self, unit: int, duration: int) -> tuple[tuple[int, int], ...]:
        """Where a note lasting to the end of a bar of `duration` can start, and its fewest characters (letter, length)."""
        key = (unit, duration)
        found = self.memo.last_note_starts.get(key)
        if found is None:
            best: dict[int, int] = {}
            for text in self.grammar.lengths["note"].words:
                ticks = self.measure.length_of(unit, text)
                if 0 < ticks <= duration:
                    start = duration - ticks
                    best[start] = min(best.get(start, INF), 1 + len(text))
            found = self.memo.last_note_starts[key] = tuple(sorted(best.items()))
        return found

    def above_last(self, s: AbcState) -> Sounds:
        """What the voice above the last sounds in its last bar so far (`s` in that bar), with the note being written
        (`writing`). In a tune of two voices the voice above the last is the first, and `s` is in the bar that may be
        its last."""
        if s.voice == 0:
            return first_voice_bar(s) + self.writing(s)
        last = len(s.block.targets) - 1
        sounds = in_bar(s, s.voice, last)
        return sounds + self.writing(s) if s.j == last else sounds

    def writing(self, s: AbcState) -> Sounds:
        """The note being written, or that a tie holds, in ticks from its bar's start: at its start, for as long as its
        shortest length (at least that), at its highest; none where no note is on its way."""
        octave = s.frame.octaves[s.voice]
        midi = None
        if s.pos == LEN and s.kind == "note":
            midi = s.pitch
        elif s.tied is not None:
            midi = s.tied + octave
        elif s.pos == OCT:
            midi = self._highest(s)
        if midi is None:
            return ()
        prefix = s.buf if s.pos == LEN else ""  # the note's length as written so far
        return ((s.elapsed, s.elapsed + self._shortest(s.unit, prefix, next_factor(s)), midi),)

    def _highest(self, s: AbcState) -> int:
        """The highest the note whose letter is written (`s` at OCT) can sound: its octave marks can still take it
        down (`,`) or up (`'`), and never above the voice before it."""
        mark, more = ("," , self.grammar.low - s.marks) if s.note_letter.isupper() else ("'", self.grammar.high - s.marks)
        octave = s.frame.octaves[s.voice]
        reachable = [note_pitch(s.buf + mark * k, s.keysig, s.bar_accidentals)[0] + octave for k in range(more + 1)]
        limit = ceiling(s)
        allowed = [pitch for pitch in reachable if limit is None or pitch <= limit]
        return max(allowed) if allowed else min(reachable)

    def _shortest(self, unit: int, prefix: str = "", factor: tuple[int, int] = ONE) -> int:
        """The fewest ticks (at least 1) a note whose length starts with `prefix` can last, times `factor`."""
        ticks = [self.measure.length_of(unit, text, factor) for text in self.grammar.lengths["note"].extending(prefix)]
        return max(1, min(ticks, default=1))
