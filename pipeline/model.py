"""The shared character model: embedding or one-hot input, stacked LSTM/GRU/RNN layers, a linear head."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from charmony.pipeline.errors import ConfigError

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}

State = tuple[torch.Tensor, ...]


# The embedding width when the corpus recommends a learned embedding and none is given.
DEFAULT_EMBEDDING = 64


@dataclass
class ModelConfig:
    """The model's shape; saved inside every checkpoint so sampling can rebuild it.

    `vocab_size` comes from the prepared run, and an `embedding` of None from the corpus' advice:
    `resolved` fills both in before a model is built.
    """

    vocab_size: int | None = None  # None until the run's vocabulary is known
    cell: str = "lstm"  # lstm, gru or rnn
    layers: int = 2  # stacked recurrent layers
    hidden: int = 256  # units per layer
    embedding: int | None = None  # embedding size; 0 feeds one-hot vectors as char-rnn does; None: as the corpus advises
    dropout: float = 0.0  # between layers and before the head
    tie_weights: bool = False  # share the embedding matrix with the head (needs embedding == hidden)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if self.layers < 1 or self.hidden < 1 or (self.embedding is not None and self.embedding < 0):
            raise ConfigError("--layers and --hidden must be at least 1, --embedding at least 0")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be at least 0 and below 1, not {self.dropout}")
        if self.tie_weights and self.embedding is not None and self.embedding != self.hidden:
            raise ConfigError(f"--tie-weights needs --embedding equal to --hidden ({self.hidden}), not {self.embedding}")
        if self.vocab_size is not None and self.vocab_size < 1:
            raise ConfigError(f"a model needs at least one token in its vocabulary, not {self.vocab_size}")

    def resolved(self, vocab_size: int, embedding_advised: bool) -> ModelConfig:
        """This shape for a vocabulary of `vocab_size`, the embedding as the corpus advises unless given."""
        embedding = self.embedding
        if embedding is None:
            embedding = self.hidden if self.tie_weights else DEFAULT_EMBEDDING if embedding_advised else 0
        return dataclasses.replace(self, vocab_size=vocab_size, embedding=embedding)


class CharModel(nn.Module):
    """A multi-layer recurrent language model over token ids."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.vocab_size is None or config.embedding is None:
            raise ValueError("CharModel needs a resolved ModelConfig: call ModelConfig.resolved first")
        self.config = config
        vocab, hidden = config.vocab_size, config.hidden
        self.embed = nn.Embedding(vocab, config.embedding) if config.embedding else None
        self.rnn = CELLS[config.cell](
            input_size=config.embedding or vocab,
            hidden_size=hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(hidden, vocab)
        if config.tie_weights:
            self.head.weight = self.embed.weight

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits of shape (batch, time, vocab) for ids of shape (batch, time), and the new state."""
        if self.embed is not None:
            x = self.embed(ids)
        else:
            x = F.one_hot(ids, self.config.vocab_size).to(self.head.weight.dtype)
        if state is not None and self.config.cell != "lstm":
            state = state[0]
        out, state = self.rnn(x, state)
        if not isinstance(state, tuple):
            state = (state,)
        return self.head(self.drop(out)), state

    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        """Zeros for every layer: (h, c) for an LSTM, (h,) otherwise."""
        shape = (self.config.layers, batch_size, self.config.hidden)
        parts = 2 if self.config.cell == "lstm" else 1
        return tuple(torch.zeros(shape, device=device) for _ in range(parts))


def detach(state: State) -> State:
    """The same state cut from the graph of the batch that produced it.

    Truncated BPTT carries the hidden state from one batch to the next, so the model
    sees each stream as one long sequence, but gradients stop at the batch boundary:
    without the detach, backward would run through every batch since the start.
    """
    return tuple(part.detach() for part in state)
