"""The cache key of a state: everything the next characters allowed, and the cost ahead, depend on."""

from __future__ import annotations

from collections.abc import Hashable

from charmony.pipeline.abc.grammar.compiled import CompiledGrammar
from charmony.pipeline.abc.grammar.state import AbcState, target_of
from charmony.pipeline.abc.grammar.symbols import BODY, END, H_VALUE
from charmony.pipeline.abc.grammar.words import Words


def bars_key(grammar: CompiledGrammar, s: AbcState) -> int:
    """What of the first voice's bar count the next characters depend on: all of it while it falls short."""
    if grammar.options.bars is not None:
        return s.bar_index
    return min(s.bar_index, grammar.fewest + 1)


def state_key(grammar: CompiledGrammar, s: AbcState) -> Hashable:
    """Everything the next characters allowed depend on (not the bars behind, which only add to the cost)."""
    if s.phase == END:
        return (END,)
    if s.phase != BODY:
        if s.phase == H_VALUE and not isinstance(grammar.slots[s.slot], Words):
            return (s.phase, s.letters, s.slot, len(s.value))
        return (s.phase, s.letters, s.slot, s.value)
    target = target_of(s)
    later = None
    if s.voice > 0:
        # whether this bar is the block's last (a newline follows it) or the block is done
        following = s.block.targets[s.j + 1].field if s.j + 1 < len(s.block.targets) else None  # after a barline
        later = (target.key if target else None, following, min(len(s.block.targets) - s.j, 2), s.block.final,
                 s.voice + 1 == s.frame.voices)
    first = None
    if s.voice == 0:
        first = (bars_key(grammar, s), s.pickup,
                 s.first_meter.text if s.first_meter else None,
                 (s.short_close[0], s.short_close[1].text) if s.short_close else None, s.repeat)
    return (BODY, s.frame, later, first, s.pending, s.pos, s.buf, s.kind, s.note_letter.isupper(), s.marks,
            s.chord_notes, s.elapsed, s.music, s.bar_meter.text, s.bar_field is not None, s.meter.text, s.deco,
            s.tie_ok, s.space, s.after_bar, s.owed, s.factor, s.slur, s.line_start, s.opening, s.can_end)
