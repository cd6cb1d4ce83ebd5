"""Constrained sampling: a corpus' grammar masks every token that cannot lead to a valid document.

A corpus plugin may give a `Constraint`: an incremental grammar over the run's tokens. The sampler keeps
one grammar state per sample, masks the logits of the tokens the grammar does not allow (before
temperature, top-k and top-p), and lets `<eod>` through only where the document is complete. The
grammar also knows how many tokens the shortest completion still needs, so that as `--max-length`
approaches the sampler keeps only the tokens that leave room to finish: a constrained sample always
ends complete, never cut off.

Masks are cached per grammar state `key`, in one table of rows, so most steps cost a feed and a lookup
per sample.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import torch

from charmony.pipeline.errors import ConfigError

UNREACHABLE = 10**9  # the cost of a state from which no valid document can be finished


class Constraint:
    """Base class of a corpus plugin's constraint: which tokens keep a document completable.

    States are values the constraint makes and reads; the sampler never looks inside them, and `feed`
    must not change the state it is given. A subclass implements `start`, `feed`, `complete` and `cost`;
    `key` and `max_jump` make it fast.
    """

    # An upper bound on how much one token can raise `cost`. The sampler looks at the cost of a state
    # only when the tokens left could run short within that many steps; the default looks every step.
    max_jump: int = UNREACHABLE

    def start(self) -> object:
        """The state at the start of a document, before any token."""
        raise NotImplementedError

    def feed(self, state: object, token: str) -> object | None:
        """The state after `token`, or None when no valid document continues with it."""
        raise NotImplementedError

    def complete(self, state: object) -> bool:
        """Whether the document may end here: only then is `<eod>` allowed."""
        raise NotImplementedError

    def cost(self, state: object) -> int:
        """How many tokens the shortest valid completion still needs: 0 when complete, UNREACHABLE when none."""
        raise NotImplementedError

    def key(self, state: object) -> Hashable:
        """A value equal for states that allow the same next tokens; masks are cached by it."""
        return state


class ConstrainedBatch:
    """One grammar state per sample of a batch, and the mask of the tokens each may take next."""

    def __init__(self, constraint: Constraint, tokens: Sequence[str], eod_id: int, num_samples: int,
                 max_length: int, prime: Sequence[str], device: torch.device):
        self.constraint = constraint
        self.tokens = list(tokens)
        self.eod_id = eod_id
        self.max_length = max_length
        self.device = device
        state = constraint.start()
        for token in prime:
            state = constraint.feed(state, token)
            if state is None:
                raise ConfigError(f"the prime cannot begin a valid document at {token!r}; change --prime, or sample with --free")
        needed = constraint.cost(state)
        if needed >= UNREACHABLE:
            raise ConfigError("no valid document can follow this prime; change --prime, or sample with --free")
        if needed + 1 > max_length:
            raise ConfigError(f"--max-length {max_length} is too short for a complete document here: "
                              f"it needs at least {needed + 1} tokens; raise --max-length, or sample with --free")
        self.states: list[object | None] = [state] * num_samples
        self.next_check = [0] * num_samples  # the step at which each sample's cost must be looked at again
        self.rows: dict[Hashable, int] = {}
        self.table = torch.zeros((64, len(self.tokens)), dtype=torch.bool)
        self.dead_ends = 0  # samples left with no allowed token; 0 unless the constraint is wrong

    def _row(self, state: object) -> int:
        """The index of the cached mask row for a state's key, computing it on first sight."""
        key = self.constraint.key(state)
        row = self.rows.get(key)
        if row is None:
            row = len(self.rows)
            if row == len(self.table):
                self.table = torch.cat([self.table, torch.zeros_like(self.table)])
            self.table[row] = self._allowed(state)
            self.rows[key] = row
        return row

    def _allowed(self, state: object, budget: int | None = None) -> torch.Tensor:
        """Which tokens may follow `state`; with a budget, only those whose completion fits in it."""
        feed, cost = self.constraint.feed, self.constraint.cost
        allowed = torch.zeros(len(self.tokens), dtype=torch.bool)
        for index, token in enumerate(self.tokens):
            if index == self.eod_id:
                allowed[index] = self.constraint.complete(state)
                continue
            after = feed(state, token)
            if after is not None and (budget is None or cost(after) <= budget):
                allowed[index] = True
        return allowed

    def masks(self, step: int) -> torch.Tensor:
        """A (samples, vocabulary) boolean mask of the tokens each sample may take at `step`."""
        rows = []
        tight: dict[int, torch.Tensor] = {}
        left = self.max_length - step - 2  # tokens that may follow this one, before the <eod>
        for sample, state in enumerate(self.states):
            if state is None:
                rows.append(0)
                continue
            rows.append(self._row(state))
            if step < self.next_check[sample]:
                continue
            slack = left - self.constraint.cost(state)
            if slack <= self.constraint.max_jump:
                tight[sample] = self._allowed(state, budget=left) & self.table[rows[-1]]
                self.next_check[sample] = step + 1
            else:
                self.next_check[sample] = step + 1 + (slack - self.constraint.max_jump) // (self.constraint.max_jump + 1)
        mask = self.table[torch.tensor(rows, dtype=torch.long)]
        for sample, row in tight.items():
            mask[sample] = row
        for sample, state in enumerate(self.states):
            if state is None:
                mask[sample] = False
                mask[sample, self.eod_id] = True
            elif not mask[sample].any():
                self.dead_ends += 1
                mask[sample, self.eod_id] = True
        return mask.to(self.device)

    def advance(self, chosen: Sequence[int]) -> None:
        """Move each sample's state past the token it took; a sample that took `<eod>` is finished."""
        for sample, token in enumerate(chosen):
            state = self.states[sample]
            if state is None:
                continue
            self.states[sample] = None if token == self.eod_id else self.constraint.feed(state, self.tokens[token])
