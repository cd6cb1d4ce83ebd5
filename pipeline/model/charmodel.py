"""The shared character model: embedding or one-hot input, stacked LSTM, LayerNorm LSTM, GRU or RNN layers, a linear head."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from charmony.pipeline.run.config import DEFAULT_EMBEDDING, ModelConfig
from charmony.pipeline.model.lnlstm import LayerNormLSTM

__all__ = ["CharModel", "ModelConfig", "DEFAULT_EMBEDDING", "State", "detach"]

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN, "lnlstm": LayerNormLSTM}
# Cells whose state is (h, c); the others carry h alone.
CELLS_WITH_MEMORY = ("lstm", "lnlstm")

State = tuple[torch.Tensor, ...]


class CharModel(nn.Module):
    """A multi-layer recurrent language model over token ids."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        if config.vocab_size is None or config.embedding is None:
            raise ValueError("CharModel needs a resolved ModelConfig: call ModelConfig.resolved first")
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
        if self.embed is not None and config.tie_weights:
            self.head.weight = self.embed.weight
        if config.init_scale is not None:
            self.init_uniform(config.init_scale)

    def init_uniform(self, scale: float) -> None:
        """Draw every weight and bias from U(-scale, scale), as the PTB tutorial does; normalisations keep theirs."""
        for name, parameter in self.named_parameters():
            if not name.endswith(("_gain", "_shift")):
                nn.init.uniform_(parameter, -scale, scale)

    def start_at_prior(self, counts: np.ndarray) -> None:
        """Set the output bias to the log of each token's share of `counts` (add-one smoothed), so that the untrained
        model draws each token about as often as the training tokens hold it, not all alike."""
        shares = torch.as_tensor(counts + 1.0, dtype=torch.float32) / float(counts.sum() + len(counts))
        with torch.no_grad():
            self.head.bias.copy_(torch.log(shares))

    def forward(self, ids: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        """Logits of shape (batch, time, vocab) for ids of shape (batch, time), and the new state."""
        if self.embed is not None:
            x = self.embed(ids)
        else:
            x = F.one_hot(ids, self.head.out_features).to(self.head.weight.dtype)
        given = state[0] if state is not None and self.config.cell not in CELLS_WITH_MEMORY else state
        out, new = self.rnn(x, given)
        return self.head(self.drop(out)), new if isinstance(new, tuple) else (new,)

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
