"""The shared character model: embedding or one-hot input, stacked LSTM/GRU/RNN layers, a linear head."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from charmony.pipeline.errors import ConfigError
from charmony.pipeline.lnlstm import LayerNormLSTM

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "lnlstm": LayerNormLSTM}
# Cells whose state is (h, c); the others carry h alone.
CELLS_WITH_MEMORY = ("lstm", "lnlstm")
# Options only some cells take, and which.
CELL_OPTIONS = {"recurrent_dropout": ("lnlstm",)}

State = tuple[torch.Tensor, ...]


@dataclass
class ModelConfig:
    """The model's shape; saved inside every checkpoint so sampling can rebuild it."""

    vocab_size: int
    cell: str = "lstm"  # lstm, gru, rnn or lnlstm (LayerNorm LSTM)
    layers: int = 2  # stacked recurrent layers
    hidden: int = 256  # units per layer
    embedding: int = 0  # embedding size; 0 feeds one-hot vectors as char-rnn does
    dropout: float = 0.0  # between layers and before the head
    tie_weights: bool = False  # share the embedding matrix with the head (needs embedding == hidden)
    recurrent_dropout: float = 0.0  # lnlstm only: dropout on the cell's candidate update
    init_scale: float | None = None  # draw the weights uniformly from +-init_scale (the PTB recipes); None: PyTorch's

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"--cell must be one of {', '.join(CELLS)}, not {self.cell!r}")
        if self.layers < 1 or self.hidden < 1 or self.embedding < 0:
            raise ConfigError("--layers and --hidden must be at least 1, --embedding at least 0")
        if not 0 <= self.dropout < 1:
            raise ConfigError(f"--dropout must be at least 0 and below 1, not {self.dropout}")
        for option, cells in CELL_OPTIONS.items():
            if getattr(self, option) and self.cell not in cells:
                flag = "--" + option.replace("_", "-")
                raise ConfigError(f"{flag} works only with --cell {' or '.join(cells)}, not --cell {self.cell}")
        if not 0 <= self.recurrent_dropout < 1:
            raise ConfigError(f"--recurrent-dropout must be at least 0 and below 1, not {self.recurrent_dropout}")
        if self.init_scale is not None and not self.init_scale > 0:
            raise ConfigError(f"--init-scale must be above 0, not {self.init_scale}")
        if self.tie_weights and self.embedding != self.hidden:
            raise ConfigError(f"--tie-weights needs --embedding equal to --hidden ({self.hidden}), not {self.embedding}")


class CharModel(nn.Module):
    """A multi-layer recurrent language model over token ids."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        vocab, hidden = config.vocab_size, config.hidden
        self.embed = nn.Embedding(vocab, config.embedding) if config.embedding else None
        extra = {"recurrent_dropout": config.recurrent_dropout} if config.cell == "lnlstm" else {}
        self.rnn = CELLS[config.cell](
            input_size=config.embedding or vocab,
            hidden_size=hidden,
            num_layers=config.layers,
            dropout=config.dropout if config.layers > 1 else 0.0,
            batch_first=True,
            **extra,
        )
        self.drop = nn.Dropout(config.dropout)
        self.head = nn.Linear(hidden, vocab)
        if config.tie_weights:
            self.head.weight = self.embed.weight
        if config.init_scale is not None:
            self.init_uniform(config.init_scale)

    def init_uniform(self, scale: float) -> None:
        """Draw every weight and bias from U(-scale, scale), as the PTB tutorial does; normalisations keep theirs."""
        for name, parameter in self.named_parameters():
            if not name.endswith(("_gain", "_shift")):
                nn.init.uniform_(parameter, -scale, scale)

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits of shape (batch, time, vocab) for ids of shape (batch, time), and the new state."""
        if self.embed is not None:
            x = self.embed(ids)
        else:
            x = F.one_hot(ids, self.config.vocab_size).to(self.head.weight.dtype)
        if state is not None and self.config.cell not in CELLS_WITH_MEMORY:
            state = state[0]
        out, state = self.rnn(x, state)
        if not isinstance(state, tuple):
            state = (state,)
        return self.head(self.drop(out)), state

    def initial_state(self, batch_size: int, device: torch.device | str) -> State:
        """Zeros for every layer: (h, c) for an LSTM or LayerNorm LSTM, (h,) otherwise."""
        shape = (self.config.layers, batch_size, self.config.hidden)
        parts = 2 if self.config.cell in CELLS_WITH_MEMORY else 1
        return tuple(torch.zeros(shape, device=device) for _ in range(parts))


def detach(state: State) -> State:
    """The same state cut from the graph of the batch that produced it.

    Truncated BPTT carries the hidden state from one batch to the next, so the model
    sees each stream as one long sequence, but gradients stop at the batch boundary:
    without the detach, backward would run through every batch since the start.
    """
    return tuple(part.detach() for part in state)
