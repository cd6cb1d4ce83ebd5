"""Constrained sampling: a corpus' grammar masks every token that cannot lead to a valid document.

A corpus plugin may give a `Constraint`: an incremental grammar over the run's tokens. The sampler keeps
one grammar state per sample, masks the logits of the tokens the grammar does not allow (before
temperature, top-k and top-p), and lets `<eod>` through only where the document is complete. The
grammar also knows how many tokens the shortest completion still needs, so that as `--max-length`
approaches the sampler keeps only the tokens that leave room to finish: a constrained sample always
ends complete, never cut off.

`pipeline/sampling/constrained.py` applies a constraint to a batch of samples.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Generic, TypeVar

UNREACHABLE = 10**9  # the cost of a state from which no valid document can be finished
State = TypeVar("State")


class Constraint(Generic[State]):
    """Base class of a corpus plugin's constraint: which tokens keep a document completable.

    States are values the constraint makes and reads; the sampler never looks inside them, and `feed`
    must not change the state it is given. A subclass implements `start`, `feed`, `complete` and `cost`;
    `key` and `max_jump` make it fast.
    """

    # An upper bound on how much one token can raise `cost`. The sampler looks at the cost of a state
    # only when the tokens left could run short within that many steps; the default looks every step.
    max_jump: int = UNREACHABLE

    def start(self) -> State:
        """The state at the start of a document, before any token."""
        raise NotImplementedError

    def feed(self, state: State, token: str) -> State | None:
        """The state after `token`, or None when no valid document continues with it."""
        raise NotImplementedError

    def complete(self, state: State) -> bool:
        """Whether the document may end here: only then is `<eod>` allowed."""
        raise NotImplementedError

    def cost(self, state: State) -> int:
        """How many tokens the shortest valid completion still needs: 0 when complete, UNREACHABLE when none."""
        raise NotImplementedError

    def key(self, state: State) -> Hashable:
        """A value equal for states that allow the same next tokens; masks are cached by it."""
        return state

    def allowed(self, state: State, tokens: Sequence[str], budget: int | None = None) -> list[bool]:
        """For each token, whether `feed` allows it and, with a budget, whether the completion after it fits.

        The sampler calls it once per new key; a constraint may override it to share the work between
        tokens it treats alike. The entry of `<eod>` is decided by `complete`.
        """
        result = []
        for token in tokens:
            after = self.feed(state, token)
            result.append(after is not None and (budget is None or self.cost(after) <= budget))
        return result

    def follow(self, state: State, token: str) -> State | None:
        """The state after a token `feed` allowed, for the token a sample took; by default `feed` itself."""
        return self.feed(state, token)
