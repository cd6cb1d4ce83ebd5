"""The header automaton: field letters in one of the corpus' orders, their values, and at K: the body's frame;
and the header's shortest completion (the fields still to write, then the smallest body)."""

from __future__ import annotations

from charmony.pipeline.abc.fields import FREE_METER, default_unit, parse_key, parse_meter, parse_unit, parse_voice
from charmony.pipeline.abc.grammar.bars import Bars
from charmony.pipeline.abc.grammar.cache import Memo
from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.pitch import signature
from charmony.pipeline.abc.grammar.state import AbcState, Frame
from charmony.pipeline.abc.grammar.symbols import BODY, H_COLON, H_LETTER, H_VALUE, INF
from charmony.pipeline.abc.grammar.words import Words
from charmony.pipeline.abc.profile import slot_name

Ways = list[tuple[int, str | None]]  # (characters still to write, value) for the ways to finish a field
def hornpipe(rhythm: str | None) -> bool:
    """Whether an R: value calls the tune a hornpipe, which the constraint does not write: abc2midi refuses a
    hornpipe in any meter but 2/4 and 4/4 (`C|` included), and in those it swings eighths long-short, so that
    a written broken rhythm off the beat stops it (see docs/outputs.md)."""
    return "hornpipe" in (rhythm or "").lower()


class Header:
    """The header's characters and cost for one grammar."""

    def __init__(self, grammar: CompiledGrammar, memo: Memo, measure: Measure) -> None:
        self.grammar = grammar
        self.memo = memo
        self.measure = measure

    def step(self, s: AbcState, c: str) -> AbcState | None:
        """The state after one character of the header (the body's first state after K:'s line)."""
        if s.phase == H_LETTER:
            letters = s.letters + c
            if not self.grammar.sequences.starts(letters):
                return None
            count = letters.count(c)
            return s.but(phase=H_COLON, letters=letters, slot=slot_name(c, count))
        if s.phase == H_COLON:
            return s.but(phase=H_VALUE, value="") if c == ":" else None
        if s.phase == H_VALUE:
            grammar = self.grammar.slots[s.slot]
            if c == "\n":
                if not (s.value in grammar if isinstance(grammar, Words) else 0 < len(s.value.strip())):
                    return None
                values = s.values + ((s.letters[-1], s.value),)
                if s.letters[-1] == "K":
                    return self._begin_body(values)
                return s.but(phase=H_LETTER, values=values)
            value = s.value + c
            if s.letters[-1] == "R" and (hornpipe(value) or (isinstance(grammar, Words) and
                                                             all(hornpipe(word) for word in grammar.extending(value)))):
                return None
            if isinstance(grammar, Words):
                return s.but(value=value) if grammar.starts(value) else None
            # A value may not start with a space, or with ':' or '|', which would make the line read as music.
            if len(value) > grammar or not c.isprintable() or c in "%\\" or (not s.value and c in " :|"):
                return None
            return s.but(value=value)
        return None

    def _frame(self, values: tuple) -> Frame:
        fields = dict(values)
        meter = parse_meter(fields["M"]) if "M" in fields else FREE_METER
        unit = self.grammar.ticks(parse_unit(fields["L"]) if "L" in fields else default_unit(meter))
        voices = [parse_voice(value) for letter, value in values if letter == "V"]
        prefixes = tuple(f"[V:{voice.id}] " for voice in voices) or ("",)
        octaves = tuple(12 * voice.octave for voice in voices) or (0,)
        key = (meter, unit, prefixes, octaves)
        if key not in self.memo.frames:
            self.memo.frames[key] = Frame(meter, unit, prefixes, octaves)
        return self.memo.frames[key]

    def _begin_body(self, values: tuple) -> AbcState:
        frame = self._frame(values)
        keysig, tonic = signature(parse_key(dict(values)["K"]).key)
        return Bars.new_line(AbcState(phase=BODY, frame=frame, meter=frame.meter, unit=frame.unit, line_meter=frame.meter,
                                      keysig=keysig, keys=(keysig,) * frame.voices, section_meter=frame.meter, tonic=tonic, last_ok=tonic is None or self.grammar.form.final_degrees is None),
                             voice=0)

    def cost(self, s: AbcState) -> int:
        """The fewest characters to finish the header and write the smallest body after it."""
        words = s.phase == H_VALUE and isinstance(self.grammar.slots[s.slot], Words)
        key = (s.phase, s.letters, s.slot, s.value if words else bool(s.value),
               tuple(pair for pair in s.values if pair[0] in "MLV"))
        found = self.memo.header_costs.get(key)
        if found is None:
            found = self.memo.header_costs[key] = self._least(s)
        return found if found < INF // 2 else INF

    def _value_least(self, slot: str, prefix: str) -> Ways:
        """The ways to finish a header value from `prefix`; value None for free text."""
        grammar = self.grammar.slots[slot]
        if isinstance(grammar, Words):
            return [(len(value) - len(prefix), value) for value in grammar.extending(prefix)]
        return [(0 if prefix else 1, None)]

    def _least(self, s: AbcState) -> int:
        best = INF
        for sequence in self.grammar.sequences.extending(s.letters):
            choices: list[Ways] = []  # per field still to finish: the ways to do it
            letters = s.letters
            written = list(s.values)
            if s.phase == H_COLON:
                choices.append([(chars + 2, value) for chars, value in self._value_least(s.slot, "")])
            elif s.phase == H_VALUE:
                choices.append([(chars + 1, value) for chars, value in self._value_least(s.slot, s.value)])
            names = [s.letters[-1]] if s.phase in (H_COLON, H_VALUE) else []
            for letter in sequence[len(letters):]:
                letters += letter
                slot = slot_name(letter, letters.count(letter))
                choices.append([(chars + 3, value) for chars, value in self._value_least(slot, "")])
                names.append(letter)
            best = min(best, self._choice(names, choices, written))
        return best

    def _choice(self, names: list[str], choices: list[Ways], written: list) -> int:
        """The fewest characters over the ways to finish the header's fields and then write the smallest body."""
        fixed = dict(written)
        chars = 0
        free: dict[str, Ways] = {}
        voices = [value for letter, value in written if letter == "V"]
        voice_chars = 0
        for letter, ways in zip(names, choices):
            if not ways:
                return INF
            if letter == "R":
                ways = [way for way in ways if not hornpipe(way[1])]
            if letter in "ML":
                free[letter] = ways
            elif letter == "V":
                cheapest = min(ways, key=lambda way: way[0] + len(voice_prefix(way[1])))
                chars += cheapest[0]
                voices.append(cheapest[1])
            else:
                chars += min(way[0] for way in ways)
        for value in voices:
            voice_chars += len(voice_prefix(value))
        n = max(1, len(voices))
        best = INF
        for meter_way in free.get("M", [(0, fixed.get("M"))]):
            for unit_way in free.get("L", [(0, fixed.get("L"))]):
                meter = parse_meter(meter_way[1]) if meter_way[1] is not None else FREE_METER
                unit = self.grammar.ticks(parse_unit(unit_way[1]) if unit_way[1] is not None else default_unit(meter))
                count = self.grammar.options.bars or self.grammar.fewest
                body = voice_chars + self.measure.more_bars(count, False, meter, unit, n) + n
                body += self.grammar.final_note_pad() if n > 1 else 0  # as Cost counts it in the body
                best = min(best, meter_way[0] + unit_way[0] + body)
        return chars + best


def voice_prefix(value: str | None) -> str:
    """The line prefix of a voice whose V: field holds `value` (none for free text)."""
    return f"[V:{parse_voice(value).id}] " if value is not None else ""
