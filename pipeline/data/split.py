"""How `prepare` decides each document's side of the train/validation split, streaming.

The first pass surveys the corpus (`Survey`); `split_plan` chooses how to split it; the second pass
draws each document's side as it meets it (`GroupSides`), holding out whole groups: documents a
corpus derived from one piece (its transpositions, voices, instances) never straddle the split.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from charmony.pipeline.run.manifest import SPLITS


@dataclass
class Survey:
    """What the first pass over the corpus learns, keeping nothing per document (one name per group)."""

    documents: int = 0  # with at least one token
    tokens: int = 0  # each document's tokens and its <eod>
    lengths: Any = field(default_factory=hashlib.sha256)  # digest of the document lengths, to compare passes
    sources: dict = field(default_factory=dict)  # source files of documents with tokens, in order
    given: dict = field(default_factory=dict)  # documents with tokens by the split their corpus gave them (None: none)
    groups: set = field(default_factory=set)  # the groups of documents with tokens
    ungrouped: int = 0  # documents with tokens and no group
    unscored: int = 0  # tokens of parts the corpus marked for reading only (Document.scored False)

    def add(self, length: int, source: Path | None, split: str | None = None, group: str | None = None) -> None:
        """Count a document of `length` tokens (without its <eod>) read from `source`, of the corpus' `split` and `group`."""
        if length:
            self.given[split] = self.given.get(split, 0) + 1
            self.documents += 1
            self.tokens += length + 1
            self.lengths.update(length.to_bytes(8, "little"))
            if source is not None:
                self.sources[source] = None
            if group is None:
                self.ungrouped += 1
            else:
                self.groups.add(group)

    @property
    def units(self) -> int:
        """What the split draws: each group, and each document without one."""
        return len(self.groups) + self.ungrouped


class HeldOut:
    """Chooses exactly `count` of `total` units met one at a time, each set equally likely (selection sampling)."""

    def __init__(self, total: int, count: int, seed: int):
        self.remaining, self.needed = total, count
        self.random = np.random.default_rng(seed)

    def next(self) -> str:
        """The split of the next unit."""
        chosen = self.random.random() * self.remaining < self.needed
        self.remaining -= 1
        self.needed -= chosen
        return "val" if chosen else "train"


class GroupSides:
    """Each document's side: a group's first document draws it for the whole group; a document without one draws alone.

    Without groups the draws are those of documents one by one, so such a corpus splits as it always did.
    """

    def __init__(self, held_out: HeldOut):
        self.held_out = held_out
        self.sides: dict[str, str] = {}
        self.units = dict.fromkeys(SPLITS, 0)  # groups (and documents without one) per side

    def side(self, group: str | None) -> str:
        """The split of the next document, of `group`."""
        if group is not None and group in self.sides:
            return self.sides[group]
        side = self.held_out.next()
        self.units[side] += 1
        if group is not None:
            self.sides[group] = side
        return side


def split_plan(survey: Survey, val_fraction: float) -> tuple[str, int]:
    """Hold out whole groups, or whole documents, or, for too few of them, the end of the text.

    Returns ("groups" or "documents", how many units to hold out) or ("contiguous", first validation
    position), or ("corpus", 0) when the corpus gave every document its split, as PTB's files do.
    """
    if None not in survey.given:
        return "corpus", 0
    held_out = round(survey.units * val_fraction)
    if val_fraction == 0 or 0 < held_out < survey.units:
        return "groups" if survey.groups else "documents", held_out
    return "contiguous", survey.tokens - round(survey.tokens * val_fraction)
