"""Continuing series in token form: the run's value tokens, reading histories into model states, sampling from them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from charmony.pipeline.model.charmodel import State
from charmony.pipeline.sampling.sample import filter_logits
from charmony.pipeline.system.device import autocast
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.series.values import token_bin


class ValueTokens:
    """The run's value tokens: the vocabulary id of each bin it has, and the bin of each id."""

    def __init__(self, tokens: list[str]):
        pairs = sorted((token_bin(token), index) for index, token in enumerate(tokens) if token_bin(token) is not None)
        if not pairs:
            raise ConfigError("the run's vocabulary holds no value tokens; prepare it with the series corpus again")
        self.bins = np.array([b for b, _ in pairs])
        self.ids = np.array([i for _, i in pairs])
        self.bin_of_id = np.full(len(tokens), -1)
        self.bin_of_id[self.ids] = self.bins

    def encode(self, bins: np.ndarray) -> list[int]:
        """Vocabulary ids for bins, a bin the training data never had taking the nearest one it had."""
        right = np.clip(np.searchsorted(self.bins, bins), 0, len(self.bins) - 1)
        left = np.clip(right - 1, 0, len(self.bins) - 1)
        nearer = np.where(np.abs(self.bins[left] - bins) <= np.abs(self.bins[right] - bins), left, right)
        return self.ids[nearer].tolist()


@dataclass(frozen=True)
class Continuation:
    """How to continue histories: how many samples of how many steps, at what temperature, from which tokens."""

    num_samples: int
    horizon: int
    temperature: float
    allowed: list[int]  # the value tokens: a forecast has no end of document
    vocab_size: int


@dataclass
class Readings:
    """The model's next-token logits (batch, vocab) and its state (batch on dim 1) after reading some histories."""

    logits: torch.Tensor
    state: State

    @classmethod
    def join(cls, parts: list[Readings]) -> Readings:
        """One batch of several readings, in order."""
        return cls(torch.cat([part.logits for part in parts]),
                   tuple(torch.cat([part.state[k] for part in parts], dim=1) for k in range(len(parts[0].state))))

    def rows(self, first: int, end: int) -> Readings:
        """Readings first..end-1 of the batch."""
        return Readings(self.logits[first:end], tuple(part[:, first:end] for part in self.state))


@torch.no_grad()
def read_contexts(model, rows: list[list[int]], device: torch.device, batch: int = 64) -> Readings:
    """The readings after each row of ids, rows of the same length read together in batches of `batch`."""
    model.eval()
    logits: dict[int, torch.Tensor] = {}
    states: dict[int, tuple[torch.Tensor, ...]] = {}
    by_length: dict[int, list[int]] = {}
    for index, row in enumerate(rows):
        if not row:
            raise ValueError("every context must hold at least one token")
        by_length.setdefault(len(row), []).append(index)
    for indices in by_length.values():
        for first in range(0, len(indices), batch):
            chosen = indices[first:first + batch]
            with autocast(device):
                out, state = model(torch.tensor([rows[i] for i in chosen], device=device), None)
            for k, index in enumerate(chosen):
                logits[index] = out[k, -1].float()
                states[index] = tuple(part[:, k:k + 1] for part in state)
    order = range(len(rows))
    return Readings(torch.stack([logits[i] for i in order]),
                    tuple(torch.cat([states[i][k] for i in order], dim=1) for k in range(len(states[0]))))


@torch.no_grad()
def sample_after(model, readings: Readings, how: Continuation, generator: torch.Generator,
                 device: torch.device) -> torch.Tensor:
    """Token ids (batch * num_samples, horizon): each reading's samples together, its state copied to each."""
    model.eval()
    batch = len(readings.logits)
    state = tuple(part.repeat_interleave(how.num_samples, dim=1).contiguous() for part in readings.state)
    logits = readings.logits.repeat_interleave(how.num_samples, dim=0)
    mask = torch.full((how.vocab_size,), float("-inf"), device=device)
    mask[how.allowed] = 0.0
    out = torch.empty((batch * how.num_samples, how.horizon), dtype=torch.long, device=device)
    for t in range(how.horizon):
        last = filter_logits(logits, how.temperature, None, None) + mask
        out[:, t] = torch.multinomial(last.softmax(dim=-1), 1, generator=generator).squeeze(1)
        with autocast(device):
            step, state = model(out[:, t:t + 1], state)
        logits = step[:, -1].float()
    return out
