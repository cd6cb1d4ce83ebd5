"""Durations under a compiled grammar, memoised: bars, note lengths and the fewest characters that fill them."""

from __future__ import annotations

from fractions import Fraction

from charmony.pipeline.abc.fields import Meter
from charmony.pipeline.abc.grammar.cache import Memo
from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.lengths import fewest_tokens, one_token
from charmony.pipeline.abc.grammar.symbols import INF, ONE
from charmony.pipeline.abc.tokens import length_factor


class Measure:
    """Ticks of bars and notes, and the fewest characters of notes, rests and bars, for one grammar."""

    def __init__(self, grammar: CompiledGrammar, memo: Memo) -> None:
        self.grammar = grammar
        self.memo = memo

    def bar(self, meter: Meter) -> int | None:
        """A meter's bar in ticks; None for free meter."""
        found = self.memo.bars_of.get(meter.text, -1)
        if found == -1:
            found = self.memo.bars_of[meter.text] = None if meter.length is None else self.grammar.ticks(meter.length)
        return found

    def length_of(self, unit: int, text: str, factor: tuple[int, int] = ONE) -> int:
        """The ticks of a note length as written (`3/2`, `/`...) against a unit of `unit` ticks, times `factor`
        (a tuplet's or a broken rhythm's)."""
        key = (unit, text, factor)
        found = self.memo.length_ticks.get(key)
        if found is None:
            found = self.memo.length_ticks[key] = int(unit * length_factor(text) * Fraction(*factor))
        return found

    def fill(self, unit: int, duration: int) -> int:
        """The fewest characters of notes and rests that last exactly `duration`."""
        key = (unit, duration)
        found = self.memo.fills.get(key)
        if found is None:
            found = self.memo.fills[key] = fewest_tokens(self.grammar.fill_lengths, unit, duration)
        return found

    def later_fill(self, unit: int, duration: int) -> int:
        """The fewest characters with which a voice after the first fills `duration`. With crossing=no, rests, where
        the corpus' rest lengths can: a note may have to be written lower (octave marks) or give way to a rest under
        the voice above, a rest never; else as `fill`."""
        if not self.grammar.options.no_crossing:
            return self.fill(unit, duration)
        key = (unit, duration)
        found = self.memo.later_fills.get(key)
        if found is None:
            found = fewest_tokens(self.grammar.rest_lengths, unit, duration)
            found = self.memo.later_fills[key] = found if found < INF else self.fill(unit, duration)
        return found

    def one_token(self, unit: int, most: int | None) -> tuple[tuple[int, int], ...]:
        """The single notes or rests (ticks, characters) that last at most `most` ticks."""
        key = (unit, most)
        found = self.memo.tokens.get(key)
        if found is None:
            found = self.memo.tokens[key] = one_token(self.grammar.fill_lengths, unit, most)
        return found

    def owed_tokens(self, unit: int, factor: tuple[int, int]) -> tuple[tuple[int, int], ...]:
        """The single notes and rests (ticks, characters) of a tuplet or broken rhythm, their lengths times `factor`."""
        key = (unit, factor)
        found = self.memo.owed_lengths.get(key)
        if found is None:
            found = self.memo.owed_lengths[key] = tuple((int(unit * length * Fraction(*factor)), chars)
                                                        for length, chars in self.grammar.fill_lengths)
        return found

    def more_bars(self, count: int, repeat: bool, meter: Meter, unit: int, voices: int) -> int:
        """The fewest characters `voices` voices need for `count` more bars (at least one), the last closed by |]."""
        key = (count, repeat, meter, unit, voices)
        found = self.memo.more_bars.get(key)
        if found is None:
            found = self.memo.more_bars[key] = self._count_bars(count, repeat, meter, unit, voices)
        return found

    def bars_after_short(self, short: int, count: int, repeat: bool, meter: Meter, unit: int, voices: int) -> int:
        """As `more_bars`, after a short bar that the next must complete (see `Bars.joins`): that bar first."""
        bar = self.bar(meter)
        if bar is None or not 0 < short < bar:
            return INF
        first = self._voices_fill(unit, bar - short, voices)
        if count <= 1 and not repeat:
            return first + 2 * voices
        rest = max(1, count - 1)
        closed = INF
        if repeat and ":|" in self.grammar.barlines:
            closed = 2 * voices + self.more_bars(rest, False, meter, unit, voices)
        return first + min(closed, voices + self.more_bars(rest, repeat, meter, unit, voices))

    def _voices_fill(self, unit: int, duration: int, voices: int) -> int:
        """The fewest characters with which the first voice and `voices` - 1 more fill `duration`."""
        return self.fill(unit, duration) + (voices - 1) * self.later_fill(unit, duration)

    def _count_bars(self, count: int, repeat: bool, meter: Meter, unit: int, voices: int) -> int:
        if count < 1:
            return INF
        bar = self.bar(meter)
        tokens = self.one_token(unit, bar)  # the last bar may be one note or rest long
        final = min((chars + (voices - 1) * self.later_fill(unit, ticks) for ticks, chars in tokens), default=INF)
        final += 2 * voices
        full = (self._voices_fill(unit, bar, voices) if bar is not None else final - 2 * voices) + voices
        if not repeat:
            return (count - 1) * full + final
        if ":|" not in self.grammar.barlines or (self.grammar.options.bars is not None and count < 2):
            return INF
        return (max(count, 2) - 1) * full + voices + final
