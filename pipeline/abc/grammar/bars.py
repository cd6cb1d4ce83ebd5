"""Bars, lines and blocks: where a bar may close (the checker's bar rules, in ticks), and what a line's end starts."""

from __future__ import annotations

from fractions import Fraction

from charmony.pipeline.abc.bars import closes_section, completes
from charmony.pipeline.abc.fields import Meter
from charmony.pipeline.abc.form import SECTION_SIGNS
from charmony.pipeline.abc.grammar.cache import Memo
from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.count import Count, after_bar, owes
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.state import AbcState, Block, Target, target_of
from charmony.pipeline.abc.grammar.symbols import DONE, EMPTY_BARLINES, END, ITEM, ONE
from charmony.pipeline.abc.grammar.voicing import Voicing, last_voice_ending

# abc2midi takes a first bar closed by one of these for a pickup, and wants whole bars after it.
JOINING = ("||", "|:", "::")


def fresh_bar(meter: Meter) -> dict:
    """The state fields of a bar not yet begun, in `meter`."""
    return {"elapsed": 0, "music": False, "bar_meter": meter, "bar_field": None, "deco": 0, "tie_ok": False,
            "owed": 0, "factor": ONE, "bare_deco": False, "ornament": False, "staccato": False, "played": False, "grace": False, "paired": None, "slur": 0, "can_end": False, "rests_only": False, "bar_accidentals": ()}


def voice_zero(s: AbcState) -> tuple:
    """What the first voice carries from one block to the next."""
    return (s.bar_index, s.pickup, s.first_meter, s.short_close, s.count, s.repeat, s.repeated, s.meter)


class Bars:
    """The bar rules of one grammar: closing bars, ending lines, starting the next voice's line or block."""

    def __init__(self, grammar: CompiledGrammar, memo: Memo, measure: Measure) -> None:
        self.grammar = grammar
        self.memo = memo
        self.measure = measure
        self.voicing = Voicing(grammar)

    def most(self, s: AbcState) -> int | None:
        """The longest the open bar may last: its meter's bar, or for later voices the first voice's bar."""
        target = target_of(s)
        if target is not None:
            return target.duration
        return self.measure.bar(s.bar_meter)

    def number(self, s: AbcState, duration: int) -> int:
        """The number of the open bar as musicians count, were it to last `duration`: a pickup is bar 0."""
        pickup = s.pickup is not None or (s.bar_index == 0 and self.short(s.bar_meter, duration))
        return s.bar_index if pickup else s.bar_index + 1

    def ends_tune(self, s: AbcState, duration: int) -> bool:
        """Whether only `|]` may close the first voice's open bar, were it to last `duration`: in a tune of several
        voices, the bar it ends with (`CompiledGrammar.last_bar_number`)."""
        return s.frame.voices > 1 and self.number(s, duration) == self.grammar.last_bar_number()

    def short(self, meter: Meter, duration: int) -> bool:
        """Whether a bar of `duration` falls short of `meter`'s bar."""
        bar = self.measure.bar(meter)
        return bar is not None and 0 < duration < bar

    def _completes(self, first: int, first_meter: Meter, second: int, second_meter: Meter | None) -> bool:
        """bars.completes, for durations in ticks."""
        if second_meter is None:
            return False
        key = (first, first_meter.text, second, second_meter.text)
        found = self.memo.completing.get(key)
        if found is None:
            whole = self.grammar.whole
            found = self.memo.completing[key] = completes(Fraction(first, whole), first_meter,
                                                          Fraction(second, whole), second_meter)
        return found

    def accepts(self, s: AbcState, duration: int, barline: str, filled: bool = False) -> bool:
        """Whether the first voice may close its open bar, lasting `duration`, with `barline`; `filled`: music is
        still to be written in the bar (notes, which may end the tune on a degree it ends on)."""
        if duration <= 0 or not self.keeps_form(s, duration, barline, filled):
            return False
        if owes(s.count) and not self._completes(duration, s.bar_meter, *s.short_close):
            return False
        if self.abc2midi_after(s, duration, barline) is None:
            return False
        if ":" in barline and s.tied is not None and not filled:
            return False  # abc2midi cannot follow a tie round a repeat
        if barline == "|]" and s.repeat:
            return False
        if barline.startswith(":") and s.repeated and not s.repeat:
            return False  # a second section repeated starts |: (abc2midi would take the first :| for ::)
        if barline.startswith(":") and s.section_meter is not None and s.bar_meter != s.section_meter:
            return False  # no meter change inside a repeated section
        if barline in ("|:", "::") and s.repeat and barline != "::":
            return False
        grammar = self.grammar
        if grammar.options.bars is not None:
            number = self.number(s, duration)
            if (barline == "|]") != (number == grammar.options.bars) or number > grammar.options.bars:
                return False
        elif barline == "|]" and self.number(s, duration) < grammar.fewest:
            return False
        meter = s.bar_meter
        bar = self.measure.bar(meter)
        if bar is None or duration == bar or s.bar_index == 0 or barline == "|]":
            return bar is None or duration <= bar
        if duration > bar:
            return False
        if closes_section(barline) and s.pickup is not None and self._completes(duration, meter, s.pickup, s.first_meter):
            return True
        return s.short_close is not None and self._completes(duration, meter, *s.short_close)

    def short_close_after(self, s: AbcState, duration: int, barline: str) -> tuple[int, Meter] | None:
        """The first voice's open bar, lasting `duration` and closed by `barline`, as a short bar closing a section
        that the next bar may complete; None where it is none."""
        if not self.short(s.bar_meter, duration) or not closes_section(barline):
            return None
        if s.bar_index == 0 and barline in JOINING:
            return None  # abc2midi takes a pickup so closed for bar 0, and wants whole bars after it
        if (s.bar_index > 1 and s.short_close is not None and self._completes(duration, s.bar_meter, *s.short_close)
                and not barline.startswith(":")):
            return None  # it completed the short bar before it, and only a repeat's end is heard next to both
        return (duration, s.bar_meter)

    def joins(self, s: AbcState, duration: int, barline: str) -> bool:
        """Whether closing the first voice's bar at `duration` with `barline` leaves a short bar that the next
        must complete (abc2midi counts the two as one)."""
        count = self.abc2midi_after(s, duration, barline)
        return count is not None and owes(count)

    def abc2midi_after(self, s: AbcState, duration: int, barline: str) -> Count | None:
        """abc2midi's count once the first voice's open bar, lasting `duration` (0: none, a barline opening a
        line), is closed by `barline`; None where it would warn. A sum it carries into a first pass is one short
        bar, which the next completes, as the checker pairs them."""
        count = after_bar(s.count, duration, self.measure.bar(s.bar_meter), barline, s.bar_index > 0, s.repeat)
        if count is None or not owes(count):
            return count
        if duration == 0:
            return count if s.short_close is not None and s.short_close[0] == count.carry else None
        return count if count.carry == duration and self.short_close_after(s, duration, barline) else None

    @staticmethod
    def repeated_after(s: AbcState, barline: str) -> bool:
        """`repeated` once the first voice's open bar is closed by `barline`."""
        if barline in ("|:", "::"):
            return False
        return s.repeated or barline.startswith(":")

    def keeps_form(self, s: AbcState, duration: int, barline: str, filled: bool) -> bool:
        """Whether closing the bar keeps the form of the corpus' tunes (see `compiled.Form`)."""
        form = self.grammar.form
        if barline == "||" and form.most_double_bars is not None and s.doubles >= form.most_double_bars:
            return False
        if barline not in form.short_closes and barline in SECTION_SIGNS and s.bar_index > 0 and self.short(s.bar_meter, duration):
            return False
        if s.rests_only and not filled and form.most_rest_bars is not None and s.rest_bars >= form.most_rest_bars:
            return False
        if barline == "|]" and not self.finishes(s, filled, self.number(s, duration)):
            return False
        if form.most_bars is None:
            return True
        number = self.number(s, duration)
        if number > form.most_bars:
            return False
        if barline == "|]" or self.may_end(s, duration, barline, filled):
            return True
        repeat = barline in ("|:", "::") or (s.repeat and not barline.startswith(":"))
        return number + (2 if repeat else 1) <= form.most_bars

    def close_bar(self, s: AbcState, barline: str) -> AbcState | None:
        """The state after the open bar's barline, if the bar may end there."""
        if not s.music and s.opening:
            return self.empty_bar(s, barline)
        if not s.music or s.deco or s.owed or s.slur:
            return None
        duration = s.elapsed
        target = target_of(s)
        fresh = fresh_bar(s.meter)
        if s.voice > 0:
            if target is None or duration != target.duration or barline != target.barline:
                return None
            if barline == "|]" and not s.last_ok and last_voice_ending(self.grammar, s):
                return None  # the last voice ends on a degree the corpus' last voices end on
            return s.but(pos=DONE if barline == "|]" else ITEM, buf="", j=s.j + 1, **fresh, space=False, after_bar=True)
        if not self.accepts(s, duration, barline):
            return None
        short = self.short(s.bar_meter, duration)
        pickup = duration if s.bar_index == 0 and short else s.pickup
        first_meter = s.bar_meter if s.bar_index == 0 else s.first_meter
        short_close = self.short_close_after(s, duration, barline)
        repeat = barline in ("|:", "::") or (s.repeat and not barline.startswith(":"))
        cost = self.mirror_cost(s.unit, duration, barline, s.bar_field)
        built = s.built + (Target(duration, barline, s.bar_field, s.bar_meter, cost),)
        if self.voicing.records(s):  # where the beats fall
            quarter = self.voicing.quarter
            s = s.but(clock=s.clock + duration, beat_offset=duration % quarter if s.bar_index == 0 else s.beat_offset)
        return s.but(pos=DONE if barline == "|]" else ITEM, buf="", bar_index=s.bar_index + 1, pickup=pickup,
                     doubles=s.doubles + (barline == "||"), rest_bars=s.rest_bars + s.rests_only,
                     first_meter=first_meter, short_close=short_close, count=self.abc2midi_after(s, duration, barline),
                     repeat=repeat, built=built,
                     repeated=self.repeated_after(s, barline),
                     section_meter=s.meter if ":" in barline else s.section_meter,
                     block_cost=s.block_cost + cost, **{**fresh, "can_end": self.may_end(s, duration, barline)},
                     space=False, after_bar=True)

    def finishes(self, s: AbcState, filled: bool, number: int) -> bool:
        """Whether the first voice's music may end the tune at bar `number`: no tie open, and its last note on a
        degree the corpus ends on (up to the corpus' median length; past it, on any), or (`filled`) notes still
        to come that can be, the first sounding any tie's pitch."""
        past = self.past_median(number)
        if not filled:
            return (s.last_ok or past) and s.tied is None
        degrees = None if past else self.grammar.form.final_degrees
        return s.tied is None or degrees is None or s.tonic is None or (s.tied - s.tonic) % 12 in degrees

    def may_end_unbarred(self, s: AbcState) -> bool:
        """Whether a one-voice tune may end at the end of this line, inside its open bar (the bar a last bar)."""
        grammar = self.grammar
        if not grammar.unbarred_end or s.frame.voices > 1 or grammar.options.bars is not None:
            return False
        if not s.music or s.owed or s.slur or s.deco or s.repeat or s.tied is not None:
            return False
        number = self.number(s, s.elapsed)
        return number >= grammar.fewest and (s.last_ok or self.past_median(number))

    def past_median(self, number: int) -> bool:
        """Whether bar `number` is past the corpus' median length, where a tune may end on any note."""
        median = self.grammar.form.median_bars
        return median is not None and number > median

    def may_end(self, s: AbcState, duration: int, barline: str, filled: bool = False) -> bool:
        """Whether the first voice's open bar, closed at `duration` by `barline`, may end a one-voice tune there
        (`|]` aside): a barline the corpus ends tunes with, no repeat left open, enough bars, the last note on a
        degree the corpus' tunes end on (or, `filled`, notes still to come in the bar)."""
        grammar = self.grammar
        if barline not in grammar.finals or s.frame.voices > 1 or grammar.options.bars is not None:
            return False
        if not self.finishes(s, filled, self.number(s, duration)):
            return False
        if barline in ("|:", "::") or (s.repeat and not barline.startswith(":")):
            return False
        return self.number(s, duration) >= grammar.fewest

    def empty_bar(self, s: AbcState, barline: str) -> AbcState | None:
        """The state after a barline that opens a line with no music before it: it ends no bar (the checker passes
        an empty bar's repeat sign on), so a line may start `|:` after one that ended `:|`."""
        if barline not in EMPTY_BARLINES or (barline == "|:" and s.repeat) or (":" in barline and s.tied is not None):
            return None
        count = self.abc2midi_after(s, 0, barline)
        if count is None:
            return None
        return s.but(pos=ITEM, count=count, buf="", repeat=s.repeat or barline == "|:", repeated=s.repeated and barline != "|:",
                     section_meter=s.meter if barline == "|:" else s.section_meter,
                     space=False, after_bar=False, opening=False)

    def mirror_cost(self, unit: int, duration: int, barline: str, field: str | None) -> int:
        """The fewest characters another voice needs to copy a bar: its meter change, music and barline."""
        return len(field or "") + self.measure.later_fill(unit, duration) + len(barline)

    def line_end(self, s: AbcState) -> AbcState | None:
        """The state after a voice's line ends: the next voice's line, the next block, or the tune's end."""
        frame = s.frame
        if s.tied is not None and (s.pos == DONE or (s.voice > 0 and s.block.final)):
            return None  # no tie is left open at the tune's end
        held = list(s.held or (None,) * frame.voices)
        held[s.voice] = s.tied
        keys = list(s.keys or (s.keysig,) * frame.voices)
        keys[s.voice] = s.keysig
        s = s.but(held=tuple(held), tied=None, keys=tuple(keys))  # the voices take turns by line: a tie goes on in the voice's next line
        if s.voice == 0:
            suffix, total = [0], 0
            for target in reversed(s.built):
                total += target.cost
                suffix.append(total)
            block = Block(s.built, tuple(reversed(suffix)), s.pos == DONE, s.line_meter, voice_zero(s))
            if frame.voices == 1:
                return s.but(phase=END) if block.final else self.next_block(s, block).but(can_end=s.can_end)
            return self.later_line(s.but(block=block), 1)
        if s.j != len(s.block.targets):
            return None
        if s.voice + 1 < frame.voices:
            return self.later_line(s, s.voice + 1)
        return s.but(phase=END) if s.block.final else self.next_block(s, s.block)

    def later_line(self, s: AbcState, voice: int) -> AbcState:
        """The state at the start of a later voice's line (the last voice's last line: not yet on a final degree)."""
        following = self.new_line(s, voice)
        return following.but(last_ok=False) if last_voice_ending(self.grammar, following) else following

    def next_block(self, s: AbcState, block: Block) -> AbcState:
        """The first voice's line after `block`."""
        bar_index, pickup, first_meter, short_close, count, repeat, repeated, meter = block.resume
        s = s.but(block=None, built=(), block_cost=0, bar_index=bar_index, pickup=pickup, first_meter=first_meter,
                  short_close=short_close, count=count, repeat=repeat, repeated=repeated, meter=meter, line_meter=meter)
        if s.heard:
            s = s.but(heard=self.voicing.trimmed(s))
        return self.new_line(s, 0)

    @staticmethod
    def new_line(s: AbcState, voice: int) -> AbcState:
        """The state at the start of a voice's line: its prefix to write, then a fresh bar."""
        frame = s.frame
        meter = s.meter if voice == 0 else s.block.meter
        return s.but(voice=voice, pending=frame.prefixes[voice], pos=ITEM, buf="", meter=meter, j=0,
                     **fresh_bar(meter), space=True, after_bar=False, line_start=frame.voices == 1,
                     blank_line=frame.voices == 1, opening=False,
                     tied=s.held[voice] if s.held else None, last_pitch=None,
                     keysig=s.keys[voice] if s.keys else s.keysig)
