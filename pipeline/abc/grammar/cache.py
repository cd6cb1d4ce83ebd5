"""The ABC constraint's memo tables, in one place: each maps a key (plain values, cheap to hash) to what
the grammar worked out for it, and lives as long as the constraint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass(eq=False)
class Memo:
    """Every table the constraint fills as it goes; the components it is made of each read and write their own."""

    # measure.Measure
    bars_of: dict = field(default_factory=dict)  # meter text -> its bar in ticks (None: free meter)
    length_ticks: dict = field(default_factory=dict)  # (unit, length text, factor) -> ticks
    fills: dict = field(default_factory=dict)  # (unit, duration) -> fewest characters of notes and rests
    later_fills: dict = field(default_factory=dict)  # (unit, duration) -> ... for a voice after the first (Measure.later_fill)
    tokens: dict = field(default_factory=dict)  # (unit, most) -> the single notes and rests that fit
    owed_lengths: dict = field(default_factory=dict)  # (unit, factor) -> the notes and rests of a tuplet
    more_bars: dict = field(default_factory=dict)  # (count, repeat, meter, unit, voices) -> characters of that many bars
    # ending.LastNote
    last_note_starts: dict = field(default_factory=dict)  # (unit, bar) -> where a note to the bar's end starts, its characters
    last_bars: dict = field(default_factory=dict)  # (unit, bar, elapsed, lowest, voice above's notes) -> the last bar's characters
    # bars.Bars
    completing: dict = field(default_factory=dict)  # (durations, meter texts) -> bars.completes
    # header.Header
    frames: dict = field(default_factory=dict)  # (meter, unit, prefixes) -> the one Frame
    header_costs: dict = field(default_factory=dict)  # header state key -> shortest completion
    # cost.Cost
    locals: dict = field(default_factory=dict)  # state key -> the cost that depends on the key alone
    owed: dict = field(default_factory=dict)  # (state key, elapsed, owed) -> cost from between tokens
    boundaries: dict = field(default_factory=dict)  # the first voice's cost from between tokens
    block_tails: dict = field(default_factory=dict)  # (block, voice) -> what the later voices still write
    # constraint.AbcConstraint.allowed
    rows: dict = field(default_factory=dict)  # state key -> allowed tokens after a finished note
    rows_for: Sequence[str] | None = None  # the token list the rows are for
