"""The poetry constraint: every sampled poem is regular verse of the form asked for.

A poem is written as the corpus writes it: a `《title》` line and an author line where the run keeps them,
then one couplet per line, `五个字个字，五个字个字。`: lines of verse of five or seven characters each, a
comma between the two of a couplet and a full stop (or a question or exclamation mark) after it. The
number of couplets is two for a quatrain, four for regulated verse, or as many as the corpus' poems
have. Only characters of the vocabulary are written, never `<unk>`, and `<eod>` only after the last
couplet.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from charmony.pipeline.poetry.verse import HAN, PAUSE
from charmony.pipeline.plugin.constraint import UNREACHABLE, Constraint

MID = "，"
ENDS = ("。", "？", "！")
HEADING, AUTHOR, VERSE, DONE = range(4)
FEWEST_COUPLETS = 2


def poetry_profile(poems: Iterable[str]) -> dict:
    """What a run's training poems share: headings, their lengths, and how many couplets they have."""
    count = titled = authored = 0
    longest = {"title": 0, "author": 0}
    couplets: Counter = Counter()
    for poem in poems:
        lines = poem.rstrip("\n").split("\n")
        count += 1
        if lines and lines[0].startswith("《") and lines[0].endswith("》"):
            titled += 1
            longest["title"] = max(longest["title"], len(lines[0]) - 2)
            lines = lines[1:]
            if lines and not PAUSE.search(lines[0]):
                authored += 1
                longest["author"] = max(longest["author"], len(lines[0]))
                lines = lines[1:]
        couplets[len(lines)] += 1
    return {
        "poems": count,
        "titles": count > 0 and titled * 2 > count,
        "authors": count > 0 and authored * 2 > count,
        "longest": longest,
        "most_couplets": max((n for n in couplets if couplets[n] * 20 >= count), default=4),
    }


@dataclass(frozen=True)
class PoemForm:
    """What `--option form=` asks of every poem: the length of its lines and how many couplets."""

    line_length: int | None = None  # 5 or 7; None lets the first line decide
    couplets: int | None = None  # 2 (quatrain) or 4 (regulated); None allows any number the corpus has


@dataclass(frozen=True)
class PoemState:
    """Where a poem stands: which part, characters in the current line, couplets finished."""

    part: int
    written: int = 0  # characters of the current heading line, or of the current couplet (pause marks not counted)
    marked: int = 0  # pause marks written in the current couplet: 0, 1 (the comma) or 2 (its end mark)
    line_length: int | None = None
    couplets: int = 0


class PoemConstraint(Constraint[PoemState]):
    """The grammar of a regular poem in the corpus' layout; see the module docstring."""

    def __init__(self, profile: dict, tokens: list[str], form: PoemForm = PoemForm()):
        self.profile = profile
        self.form = form
        self.han = frozenset(t for t in tokens if len(t) == 1 and HAN.fullmatch(t))
        self.ends = frozenset(e for e in ENDS if e in tokens)
        # A heading holds no pause mark, or the checker would read it as a line of verse.
        self.heading = frozenset(t for t in tokens if len(t) == 1 and t.isprintable() and t not in "《》 "
                                 and not PAUSE.fullmatch(t))
        self.usable = bool(self.han) and MID in tokens and bool(self.ends) and "\n" in tokens
        self.most = max(profile["most_couplets"], FEWEST_COUPLETS)
        longest = 7 if form.line_length is None else form.line_length
        self.max_jump = 2 * longest + 3 + 4 * self.most

    def start(self) -> PoemState:
        """Before the first character: a title line, an author line or the first couplet."""
        return PoemState(HEADING if self.profile["titles"] else AUTHOR if self.profile["authors"] else VERSE)

    def _lengths(self, s: PoemState) -> tuple[int, ...]:
        if s.line_length is not None:
            return (s.line_length,)
        return (self.form.line_length,) if self.form.line_length else (5, 7)

    def _may_end(self, couplets: int) -> bool:
        if self.form.couplets is not None:
            return couplets == self.form.couplets
        return FEWEST_COUPLETS <= couplets <= self.most

    def feed(self, s: PoemState, token: str) -> PoemState | None:
        """The state after `token`, or None when it cannot continue a regular poem."""
        if s.part == HEADING:
            if s.written == 0 and token == "《":
                return PoemState(HEADING, written=1)
            if s.written == 0:
                return None
            if token == "》" and s.written > 1:
                return PoemState(HEADING, written=-1)
            if s.written == -1:
                return PoemState(AUTHOR if self.profile["authors"] else VERSE) if token == "\n" else None
            fits = s.written - 1 < self.profile["longest"]["title"] + 4
            return PoemState(HEADING, written=s.written + 1) if token in self.heading and fits else None
        if s.part == AUTHOR:
            if token == "\n" and s.written:
                return PoemState(VERSE)
            fits = s.written < self.profile["longest"]["author"] + 4
            return PoemState(AUTHOR, written=s.written + 1) if token in self.heading and fits else None
        if s.part == VERSE:
            return self._verse(s, token)
        return None

    def _verse(self, s: PoemState, token: str) -> PoemState | None:
        lengths = self._lengths(s)
        if token in self.han:
            most = 2 * s.line_length if s.marked and s.line_length else max(lengths)
            if s.marked == 2 or s.written + 1 > most:
                return None
            return PoemState(VERSE, s.written + 1, s.marked, s.line_length, s.couplets)
        if token == MID and s.marked == 0 and s.written in lengths:
            return PoemState(VERSE, s.written, 1, s.written, s.couplets)
        if token in self.ends and s.marked == 1 and s.line_length and s.written == 2 * s.line_length:
            return PoemState(VERSE, s.written, 2, s.line_length, s.couplets)
        if token == "\n" and s.marked == 2:
            couplets = s.couplets + 1
            limit = self.form.couplets or self.most
            if couplets > limit:
                return None
            if self._may_end(couplets):
                return PoemState(DONE, 0, 0, s.line_length, couplets) if couplets == limit else PoemState(
                    VERSE, 0, 0, s.line_length, couplets)
            return PoemState(VERSE, 0, 0, s.line_length, couplets)
        return None

    def complete(self, s: PoemState) -> bool:
        """Whether the poem may end: after a couplet's line, with as many couplets as its form asks."""
        if s.part == DONE:
            return True
        return s.part == VERSE and s.written == 0 and self._may_end(s.couplets)

    def cost(self, s: PoemState) -> int:
        """Characters still needed: the heading's end, the current couplet, the couplets the form still asks."""
        if not self.usable:
            return UNREACHABLE
        if s.part == DONE or self.complete(s):
            return 0
        least_couplets = self.form.couplets or FEWEST_COUPLETS
        lengths = self._lengths(s)
        if s.part == HEADING:
            heading = {0: 4, 1: 3, -1: 1}.get(s.written, 2)
            return heading + (2 if self.profile["authors"] else 0) + least_couplets * (2 * min(lengths) + 3)
        if s.part == AUTHOR:
            return (1 if s.written else 2) + least_couplets * (2 * min(lengths) + 3)
        n = s.line_length or min(length for length in lengths if length >= s.written)
        if s.written == 0:
            return max(0, least_couplets - s.couplets) * (2 * n + 3)
        current = (2 * n - s.written) + (2 - s.marked) + 1
        return current + max(0, least_couplets - s.couplets - 1) * (2 * n + 3)

    def key(self, s: PoemState) -> PoemState:
        """The state itself: it holds nothing else."""
        return s
