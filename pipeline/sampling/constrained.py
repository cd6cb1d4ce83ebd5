"""Applying a corpus' constraint to a batch of samples: one grammar state and one mask row per sample.

Masks are cached per grammar state `key`, in one table of rows, so most steps cost a feed and a lookup
per sample. Where the tokens left run short, a sample's mask keeps only the tokens after which the
shortest completion still fits, so that it ends complete before `--max-length`.

Without top-k and top-p, `draw` goes faster still: it draws each sample's token from the whole
distribution and checks that one token; only where the grammar refuses it does it build the sample's
mask and draw again from the allowed tokens. That is the same distribution as masking first: an
allowed token x comes with probability p(x) + (1 - A) p(x) / A = p(x) / A, A being the allowed tokens' share.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch

from charmony.pipeline.plugin.constraint import UNREACHABLE, Constraint
from charmony.pipeline.system.errors import ConfigError


def primed(constraint: Constraint[Any], prime: Sequence[str]) -> Any:
    """The grammar's state after the prime's tokens, or a one-line ConfigError at the first it refuses."""
    state = constraint.start()
    for token in prime:
        state = constraint.feed(state, token)
        if state is None:
            raise ConfigError(f"the prime cannot begin a valid document at {token!r}; change --prime, or sample with --free")
    return state


class ConstrainedBatch:
    """One grammar state per sample of a batch, and the mask of the tokens each may take next."""

    def __init__(self, constraint: Constraint[Any], tokens: Sequence[str], eod_id: int, num_samples: int,
                 max_length: int, state: Any, device: torch.device, verify: bool = False):
        """`state`: the grammar's state after the prime every sample starts from (see `primed`)."""
        self.constraint = constraint
        self.tokens = list(tokens)
        self.eod_id = eod_id
        self.max_length = max_length
        self.device = device
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
        self.drawn: dict[int, tuple[int, Any]] = {}  # by sample: the token `draw` checked and the state after it
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
        left = self._left(step)
        for sample, state in enumerate(self.states):
            if state is None:
                rows.append(0)
                continue
            rows.append(self._row(state))
            if self._tight(sample, state, step):
                tight[sample] = self._allowed(state, budget=left) & self.table[rows[-1]]
        mask = self.table[torch.tensor(rows, dtype=torch.long)]
        for sample, row in tight.items():
            mask[sample] = row
        finished = torch.tensor([state is None for state in self.states])
        mask[finished] = False
        return self._unstuck(mask, finished).to(self.device)

    def _left(self, step: int) -> int:
        """Tokens that may follow the one chosen at `step`, before the <eod>."""
        return self.max_length - step - 2

    def _tight(self, sample: int, state: Any, step: int) -> bool:
        """Whether the sample's tokens left run so short that each token must leave room for its completion."""
        if step < self.next_check[sample]:
            return False
        jump = self.constraint.max_jump
        slack = self._left(step) - self.constraint.cost(state)
        if slack <= jump:
            self.next_check[sample] = step + 1
            return True
        self.next_check[sample] = step + 1 + (slack - jump) // (jump + 1)
        return False

    def _mask_of(self, state: Any, tight: bool, left: int) -> torch.Tensor:
        """The tokens `state` allows; when `tight`, only those whose shortest completion fits in `left`."""
        row = self._row(state)  # first: it may grow the table
        mask = self.table[row]
        return mask & self._allowed(state, budget=left) if tight else mask.clone()

    def _unstuck(self, mask: torch.Tensor, finished: torch.Tensor) -> torch.Tensor:
        """The mask with `<eod>` allowed to finished samples and to any left with no token (counted as dead ends)."""
        stuck = ~finished & ~mask.any(dim=1)
        self.dead_ends += int(stuck.sum())
        mask[finished | stuck, self.eod_id] = True
        return mask

    def draw(self, step: int, logits: torch.Tensor, greedy: bool, generator: torch.Generator,
             samples: Sequence[int] | None = None) -> torch.Tensor:
        """Each sample's token at `step` from `logits` (temperature applied), among the tokens its grammar allows.

        Row i of `logits` is sample `samples[i]` (by default, sample i). Drawn from all tokens and then
        checked; a sample whose token is refused gets its mask and a second draw.
        """
        samples = range(len(self.states)) if samples is None else samples
        chosen = logits.argmax(dim=-1) if greedy else torch.multinomial(logits.softmax(dim=-1), 1, generator=generator).squeeze(1)
        left = self._left(step)
        self.drawn = {}
        refused: dict[int, tuple[int, bool]] = {}  # by sample: its row, and whether its tokens left are tight
        for row, (sample, token) in enumerate(zip(samples, chosen.tolist())):
            state = self.states[sample]
            if state is None:
                continue
            tight = self._tight(sample, state, step)
            if token == self.eod_id:
                accepted, after = self.constraint.complete(state), None
            else:
                after = self.constraint.feed(state, self.tokens[token])
                accepted = after is not None and (not tight or self.constraint.cost(after) <= left)
            if self.verify:
                if bool(self._mask_of(state, tight, left)[token]) != accepted:
                    raise AssertionError("the mask and the check of a drawn token disagree")
            if accepted:
                self.drawn[sample] = (token, after)
            else:
                refused[sample] = (row, tight)
        if refused:
            masks = [self._mask_of(self.states[sample], tight, left) for sample, (_, tight) in refused.items()]
            mask = self._unstuck(torch.stack(masks), torch.zeros(len(masks), dtype=torch.bool)).to(logits.device)
            index = torch.tensor([row for row, _ in refused.values()], device=logits.device)
            again = logits[index].masked_fill(~mask, float("-inf"))
            if greedy:
                chosen[index] = again.argmax(dim=-1)
            else:
                chosen[index] = torch.multinomial(again.softmax(dim=-1), 1, generator=generator).squeeze(1)
        return chosen

    def force(self, sample: int, token: int) -> bool:
        """Move a sample's state past a token it must take, not drawn; False (the state kept) where the grammar refuses it."""
        after = self.constraint.feed(self.states[sample], self.tokens[token])
        if after is None:
            return False
        self.states[sample] = after
        return True

    def advance(self, chosen: Sequence[int], samples: Sequence[int] | None = None) -> None:
        """Move each sample's state past the token it took (`chosen[i]` is sample `samples[i]`'s); a sample
        that took `<eod>` is finished."""
        for sample, token in zip(range(len(self.states)) if samples is None else samples, chosen):
            state = self.states[sample]
            if state is None:
                continue
            drawn = self.drawn.get(sample)
            if token == self.eod_id:
                self.states[sample] = None
            elif drawn is not None and drawn[0] == token:
                self.states[sample] = drawn[1]
            else:
                self.states[sample] = self.constraint.follow(state, self.tokens[token])
        self.drawn = {}
