"""Applying a corpus' constraint to a batch of samples: one grammar state and one mask row per sample.

Masks are cached per grammar state `key`, in one table of rows, so most steps cost a feed and a lookup
per sample. Where the tokens left run short, a sample's mask keeps only the tokens after which the
shortest completion still fits, so that it ends complete before `--max-length`.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch

from charmony.pipeline.constraint import UNREACHABLE, Constraint
from charmony.pipeline.errors import ConfigError


class ConstrainedBatch:
    """One grammar state per sample of a batch, and the mask of the tokens each may take next."""

    def __init__(self, constraint: Constraint[Any], tokens: Sequence[str], eod_id: int, num_samples: int,
                 max_length: int, prime: Sequence[str], device: torch.device, verify: bool = False):
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
        self.states: list[Any] = [state] * num_samples
        self.next_check = [0] * num_samples  # the step at which each sample's cost must be looked at again
        self.rows: dict[Hashable, int] = {}
        self.table = torch.zeros((64, len(self.tokens)), dtype=torch.bool)
        self.dead_ends = 0  # samples left with no allowed token; 0 unless the constraint is wrong
        self.verify = verify  # check every cached mask against the state at hand: for testing a constraint's key

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
        elif self.verify and not torch.equal(self.table[row], self._allowed(state)):
            raise AssertionError(f"two states of key {key!r} allow different tokens: the key leaves something out")
        return row

    def _allowed(self, state: object, budget: int | None = None) -> torch.Tensor:
        """Which tokens may follow `state`; with a budget, only those whose completion fits in it."""
        allowed = self.constraint.allowed(state, self.tokens, budget)
        if self.verify and allowed != Constraint.allowed(self.constraint, state, self.tokens, budget):
            raise AssertionError("the constraint's own `allowed` disagrees with trying each token")
        allowed[self.eod_id] = self.constraint.complete(state)
        return torch.tensor(allowed, dtype=torch.bool)

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
        finished = torch.tensor([state is None for state in self.states])
        stuck = ~finished & ~mask.any(dim=1)
        self.dead_ends += int(stuck.sum())
        mask[finished] = False
        mask[finished | stuck, self.eod_id] = True
        return mask.to(self.device)

    def advance(self, chosen: Sequence[int]) -> None:
        """Move each sample's state past the token it took; a sample that took `<eod>` is finished."""
        for sample, token in enumerate(chosen):
            state = self.states[sample]
            if state is None:
                continue
            self.states[sample] = None if token == self.eod_id else self.constraint.follow(state, self.tokens[token])
