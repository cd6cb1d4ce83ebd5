"""Contiguous streams for stateful truncated backpropagation through time, cut on the training device."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from charmony.pipeline.system.errors import ConfigError, RunError

# Token files copied to the GPU whole when they take at most this share of its free memory.
RESIDENT_SHARE = 0.25
COPY_TOKENS = 1 << 26
# Types of the same width that torch has (it lacks uint16 and uint32 for most operations); ids are widened on the device.
SAME_WIDTH = {np.dtype(np.uint8): np.uint8, np.dtype(np.uint16): np.int16, np.dtype(np.uint32): np.int32}
TORCH_SAME_WIDTH = {np.dtype(np.uint8): torch.uint8, np.dtype(np.uint16): torch.int16, np.dtype(np.uint32): torch.int32}


def check_streams(tokens: int, batch_size: int, seq_len: int, split: str = "train", world_size: int = 1) -> None:
    """Refuse a split of `tokens` tokens too short for `world_size` x `batch_size` streams of one window each."""
    needed = batch_size * world_size * (seq_len + 1)
    if tokens < needed:
        processes = f" x {world_size} processes" if world_size > 1 else ""
        raise ConfigError(
            f"the {split} split has {tokens:,} tokens but --batch-size {batch_size}{processes} x "
            f"(--seq-len {seq_len} + 1) needs at least {needed:,}; lower them or add text"
        )


def validation_batch_size(tokens: int, batch_size: int, seq_len: int, world_size: int = 1) -> int:
    """Each process' validation streams: as many as for training where the split allows, or a ConfigError."""
    size = min(batch_size, tokens // (seq_len + 1) // world_size)
    if size == 0:
        processes = f" for each of {world_size} processes" if world_size > 1 else ""
        raise ConfigError(
            f"the val split has {tokens:,} tokens but --seq-len {seq_len} needs at least "
            f"{seq_len + 1}{processes}; lower --seq-len or prepare with a larger --val-fraction"
        )
    return size


def check_token_ids(tokens: np.ndarray, vocab_size: int, path) -> None:
    """Refuse token ids outside the vocabulary (a damaged or foreign token file), reading it a chunk at a time."""
    for start in range(0, len(tokens), COPY_TOKENS):
        largest = int(tokens[start:start + COPY_TOKENS].max())
        if largest >= vocab_size:
            raise RunError(
                f"{path} holds token id {largest}, outside the vocabulary of {vocab_size} tokens; "
                "it is damaged or from another run: run `charmony prepare` again"
            )


class StreamBatches:
    """Cuts a token array into contiguous streams and walks them `seq_len` at a time.

    Row r of every batch continues row r of the batch before, so the hidden state
    carried between batches belongs to the text that follows. Targets are the inputs
    shifted by one, the last target of each row being the token after the window.
    With several training processes the array holds `world_size * batch_size` streams
    and process `rank` takes its own `batch_size` of them, one contiguous stretch.
    """

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, split: str = "train", rank: int = 0, world_size: int = 1):
        check_streams(len(tokens), batch_size, seq_len, split, world_size)
        streams = batch_size * world_size
        self.tokens = tokens
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.stream_len = len(tokens) // streams
        self.starts = (rank * batch_size + np.arange(batch_size, dtype=np.int64)) * self.stream_len
        # Each window needs seq_len inputs plus one more token for the last target.
        self.batches_per_epoch = (self.stream_len - 1) // seq_len

    def __len__(self) -> int:
        return self.batches_per_epoch

    def rows(self, index: int) -> np.ndarray:
        """Positions of batch `index`'s windows, (batch_size, seq_len + 1)."""
        return self.starts[:, None] + index * self.seq_len + np.arange(self.seq_len + 1)

    def get(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of batch `index` of an epoch, each (batch_size, seq_len) int64, on the CPU."""
        window = torch.from_numpy(np.asarray(self.tokens[self.rows(index)], dtype=np.int64))
        return window[:, :-1], window[:, 1:]

    def position(self, step: int) -> tuple[int, int]:
        """(epoch, batch index) of training step `step`, counting steps from 0."""
        return divmod(step, self.batches_per_epoch)

    def span(self) -> tuple[int, int]:
        """First and last-plus-one positions this process' streams read."""
        return int(self.starts[0]), int(self.starts[-1]) + self.batches_per_epoch * self.seq_len + 1


def widen(ids: torch.Tensor, dtype: np.dtype) -> torch.Tensor:
    """Token ids stored in a type of the file's width (signed for 16 and 32 bits), back as int64."""
    wide = ids.long()
    return wide if dtype == np.uint8 else wide & ((1 << (8 * dtype.itemsize)) - 1)


class DeviceBatches:
    """The batches of a StreamBatches, delivered on the training device without stalling it.

    Resident: this process' stretch of the token file is copied to the device once, and each
    batch is cut there by indexing, so a step copies nothing. Otherwise windows are gathered
    from the memmap on the host; on CUDA into pinned buffers, copied asynchronously, two in
    turn so that one is filled while the other may still be copying.
    """

    def __init__(self, batches: StreamBatches, device: torch.device, resident: bool | None = None):
        self.batches, self.device = batches, device
        self.dtype = np.dtype(batches.tokens.dtype)
        first, last = batches.span()
        if resident is None:
            resident = device.type == "cuda" and (last - first) * self.dtype.itemsize <= RESIDENT_SHARE * torch.cuda.mem_get_info(device)[0]
        self.resident = resident
        if resident:
            self.tokens = torch.empty(last - first, dtype=TORCH_SAME_WIDTH[self.dtype], device=device)
            for start in range(first, last, COPY_TOKENS):  # in chunks, so the host never holds the whole file
                chunk = np.array(batches.tokens[start:min(last, start + COPY_TOKENS)]).view(SAME_WIDTH[self.dtype])
                self.tokens[start - first:start - first + len(chunk)].copy_(torch.from_numpy(chunk))
            self.rows = torch.from_numpy(batches.rows(0) - first).to(device)
        elif device.type == "cuda":
            shape = (batches.batch_size, batches.seq_len + 1)
            self.buffers = [torch.empty(shape, dtype=TORCH_SAME_WIDTH[self.dtype]).pin_memory() for _ in range(2)]
            self.copied: list[torch.cuda.Event | None] = [None, None]
            self.turn = 0

    def __len__(self) -> int:
        return len(self.batches)

    def get(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and targets of batch `index`, each (batch_size, seq_len) int64, on the device."""
        if self.resident:
            window = widen(self.tokens[self.rows + index * self.batches.seq_len], self.dtype)
        elif self.device.type == "cuda":
            turn, self.turn = self.turn, 1 - self.turn
            copied = self.copied[turn]
            if copied is not None:
                copied.synchronize()  # the copy out of this buffer, two batches ago
            self.buffers[turn].numpy()[...] = self.batches.tokens[self.batches.rows(index)].view(SAME_WIDTH[self.dtype])
            window = self.buffers[turn].to(self.device, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            self.copied[turn] = event
            window = widen(window, self.dtype)
        else:
            x, y = self.batches.get(index)
            return x.to(self.device), y.to(self.device)
        return window[:, :-1], window[:, 1:]


class DocumentRows:
    """Validation documents each read in a row of its own from a fresh hidden state, with a weight per token.

    For a run whose corpus marked parts of its validation documents unscored (val.scored.bin): a scored
    token is then always read after all the text its document puts before it, which streams cut at any
    token would not ensure. Rows are padded with `<eod>` at weight 0. Each process reads every
    `world_size`-th document from its `rank`-th: all of them, or as many as fit in about `budget` tokens,
    evenly spaced (one at least, cut to the budget).
    """

    def __init__(self, tokens: np.ndarray, weights: np.ndarray, eod_id: int, batch_size: int, seq_len: int,
                 budget: int, rank: int = 0, world_size: int = 1):
        ends = np.flatnonzero(np.asarray(tokens) == eod_id) + 1
        starts = np.concatenate([[0], ends[:-1]])
        self.eod_id, self.batch_size, self.seq_len = eod_id, batch_size, seq_len
        documents = list(zip(starts.tolist(), ends.tolist()))[rank::world_size]
        total = sum(end - start for start, end in documents)
        if total > budget:
            kept = max(1, min(len(documents), int(budget // (total / len(documents)))))
            documents = [documents[i] for i in np.unique(np.linspace(0, len(documents) - 1, kept).round().astype(int))]
        self.rows: list[tuple[np.ndarray, np.ndarray]] = []
        for start, end in documents:
            end = min(end, start + budget)
            self.rows.append((np.asarray(tokens[start:end], dtype=np.int64), np.asarray(weights[start:end], dtype=np.float64)))

    def chunks(self, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor, bool]]:
        """(inputs, targets, the targets' weights, whether the hidden state starts afresh) of each `seq_len` of each
        batch of rows, on `device`."""
        for first in range(0, len(self.rows), self.batch_size):
            group = self.rows[first:first + self.batch_size]
            width = max(len(ids) for ids, _ in group)
            ids = np.full((len(group), width), self.eod_id, dtype=np.int64)
            weights = np.zeros((len(group), width), dtype=np.float64)
            for row, (row_ids, row_weights) in enumerate(group):
                ids[row, :len(row_ids)], weights[row, :len(row_weights)] = row_ids, row_weights
            ids_t, weights_t = torch.from_numpy(ids).to(device), torch.from_numpy(weights).to(device)
            for start in range(0, width - 1, self.seq_len):
                end = min(start + self.seq_len, width - 1)
                yield ids_t[:, start:end], ids_t[:, start + 1:end + 1], weights_t[:, start + 1:end + 1], start == 0
