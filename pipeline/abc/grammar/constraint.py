"""`AbcConstraint`: the ABC grammar as a `Constraint`, made of the package's parts (see its docstring)."""

from __future__ import annotations

from collections.abc import Hashable, Sequence

from charmony.pipeline.abc.grammar.bars import Bars
from charmony.pipeline.abc.grammar.cache import Memo
from charmony.pipeline.abc.grammar.compiled import compile_grammar
from charmony.pipeline.abc.grammar.cost import Cost
from charmony.pipeline.abc.grammar.header import Header
from charmony.pipeline.abc.grammar.keys import state_key, writes_last_bar
from charmony.pipeline.abc.grammar.lexer import Lexer
from charmony.pipeline.abc.grammar.measure import Measure
from charmony.pipeline.abc.grammar.state import AbcState, next_factor
from charmony.pipeline.abc.grammar.symbols import BODY, DECO, END, EVENT_TAIL, FIELD, INF, LEN, NOTE_LETTERS, OCT
from charmony.pipeline.abc.grammar.voicing import last_voice_ending
from charmony.pipeline.abc.sample_options import AbcOptions
from charmony.pipeline.plugin.constraint import Constraint


class AbcConstraint(Constraint[AbcState]):
    """The grammar of the tunes a run's training tunes are like; see the package docstring."""

    def __init__(self, profile: dict, options: AbcOptions = AbcOptions(), alphabet: frozenset[str] | None = None):
        self.alphabet = alphabet
        self.grammar = compile_grammar(profile, options)
        self.max_jump = self.grammar.max_jump
        self.memo = Memo()
        self.measure = Measure(self.grammar, self.memo)
        self.bars = Bars(self.grammar, self.memo, self.measure)
        self.header = Header(self.grammar, self.memo, self.measure)
        self.lexer = Lexer(self.grammar, self.measure, self.bars)
        self.costs = Cost(self.grammar, self.memo, self.measure, self.bars, self.lexer)

    def start(self) -> AbcState:
        """The state before the first character of a tune."""
        return AbcState()

    def feed(self, state: AbcState, token: str) -> AbcState | None:
        """The state after `token`, refused when no valid tune continues with it."""
        state = self.follow(state, token)
        if state is None or self.cost(state) >= INF:
            return None
        return state

    def follow(self, state: AbcState, token: str) -> AbcState | None:
        """The state after `token`, checking only the characters' grammar, not that the tune can be finished."""
        body, header = self.lexer.body, self.header.step
        for char in token:
            if state is None:
                return None
            state = body(state, char) if state.phase == BODY else header(state, char)
        return state

    def allowed(self, state: AbcState, tokens: Sequence[str], budget: int | None = None) -> list[bool]:
        """As `Constraint.allowed`; where a letter starts or continues a note, the capital note letters go the
        same way, and the small ones (not in an inline field or a decoration, which spell words), unless the
        first voice's last note must be on a degree the corpus' tunes end on, or leave the last voice room under it.

        After a note, rest or chord, a character that ends it and starts the next token is allowed where it
        would be allowed after the finished note: that row is worked out once and shared.
        """
        if state.phase != BODY or state.pos in (FIELD, DECO):
            return super().allowed(state, tokens, budget)
        ends = self._after_event(state, tokens) if budget is None and state.pos in (OCT, LEN) else None
        # where the last note's degree counts, each letter goes its own way
        form = self.grammar.form
        degrees = state.tonic is not None and ((form.final_degrees is not None and state.voice == 0)
                                               or last_voice_ending(self.grammar, state))
        separate = (degrees or state.tied is not None or self.lexer.crossing(state) or self.lexer.voicing.applies(state)
                    or writes_last_bar(self.grammar, state))
        letters = frozenset() if separate else self.grammar.letters
        result: list[bool] = []
        seen: dict[bool, bool] = {}
        for index, token in enumerate(tokens):
            if ends is not None and len(token) == 1 and token not in EVENT_TAIL:
                result.append(ends[index])
                continue
            alike = token.isupper() if len(token) == 1 and token in NOTE_LETTERS and token in letters else None
            if alike is not None and alike in seen:
                result.append(seen[alike])
                continue
            after = self.feed(state, token)
            verdict = after is not None and (budget is None or self.cost(after) <= budget)
            if alike is not None:
                seen[alike] = verdict
            result.append(verdict)
        return result

    def _after_event(self, s: AbcState, tokens: Sequence[str]) -> list[bool]:
        """What may follow a note, rest or chord being written (`s` at OCT or LEN) once it is finished."""
        if s.pos == OCT:
            s = self.lexer.end_note(s)
            if s is None:
                return [False] * len(tokens)
        placed = None
        if s.buf in self.grammar.lengths[s.kind] and (s.paired is None or s.buf == s.paired):
            placed = self.lexer.place(s, self.measure.length_of(s.unit, s.buf, next_factor(s)))
        if placed is None:
            return [False] * len(tokens)
        memo = self.memo
        if tokens is not memo.rows_for:
            memo.rows, memo.rows_for = {}, tokens
        key = self.key(placed)
        row = memo.rows.get(key)
        if row is None:
            row = memo.rows[key] = self.allowed(placed, tokens)
        return row

    def complete(self, state: AbcState) -> bool:
        """Whether every voice has ended its last bar with |] and its line (or, in a one-voice tune, its line
        after a barline the corpus ends tunes with)."""
        return state.phase == END or (state.phase == BODY and state.can_end)

    def cost(self, state: AbcState) -> int:
        """The length of the shortest completion of the tune, in characters (at most a few more; see the package docstring)."""
        if state.phase == END or (state.phase == BODY and state.can_end):
            return 0
        if state.phase != BODY:
            return self.header.cost(state)
        return self.costs.body(state)

    def key(self, state: AbcState) -> Hashable:
        """Everything the next characters allowed depend on (not the bars behind, which only add to the cost)."""
        return state_key(self.grammar, state)
