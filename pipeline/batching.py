"""Contiguous streams for stateful truncated backpropagation through time."""

from __future__ import annotations

import numpy as np
import torch

from charmony.pipeline.errors import ConfigError


class StreamBatches:
    """Cuts a token array into `batch_size` contiguous streams and walks them `seq_len` at a time.

    Row r of every batch continues row r of the batch before, so the hidden state
    carried between batches belongs to the text that follows. Targets are the inputs
    shifted by one, the last target of each row being the token after the window.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, split: str = "train"):
        needed = batch_size * (seq_len + 1)
        if len(tokens) < needed:
            raise ConfigError(
                f"the {split} split has {len(tokens):,} tokens but --batch-size {batch_size} x "
                f"(--seq-len {seq_len} + 1) needs at least {needed:,}; lower them or add text"
            )
        self.tokens = tokens
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.stream_len = len(tokens) // batch_size
        self.starts = np.arange(batch_size, dtype=np.int64) * self.stream_len
        # Each window needs seq_len inputs plus one more token for the last target.
        self.batches_per_epoch = (self.stream_len - 1) // seq_len

    def __len__(self) -> int:
        return self.batches_per_epoch

    def get(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of batch `index` of an epoch, each (batch_size, seq_len) int64."""
        offset = index * self.seq_len
        rows = self.starts[:, None] + offset + np.arange(self.seq_len + 1)
        window = torch.from_numpy(np.asarray(self.tokens[rows], dtype=np.int64))
        return window[:, :-1], window[:, 1:]

    def position(self, step: int) -> tuple[int, int]:
        """(epoch, batch index) of training step `step`, counting steps from 0."""
        return divmod(step, self.batches_per_epoch)
