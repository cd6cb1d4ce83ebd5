"""The largest value each numeric setting may take, and the one-line check that says so.

The limits lie far beyond any real use; they stop a typo (a digit too many, 2**63) from hanging,
crashing or filling memory. What depends on the machine (threads, memory) is checked where it is
used: pipeline/system/threads.py and pipeline/system/memory.py.
"""

from __future__ import annotations

import math

from charmony.pipeline.system.errors import ConfigError

LAYERS_LIMIT = 100  # stacked recurrent layers
WIDTH_LIMIT = 65_536  # --hidden and --embedding
SEQ_LEN_LIMIT = 100_000  # time steps per batch
BATCH_LIMIT = 100_000  # streams per process
STEPS_LIMIT = 1_000_000_000  # --max-steps, --warmup-steps, --eval-every, --save-every, --log-every
VOCAB_LIMIT = 10_000_000  # --max-vocab and --top-k
SAMPLES_LIMIT = 100_000  # --num-samples, drawn in one batch
LENGTH_LIMIT = 10_000_000  # --max-length, --horizon, --context-steps: tokens per sample
TOKENS_LIMIT = 100_000_000  # samples x tokens drawn in one batch: 800 MB of token ids
WINDOWS_LIMIT = 1_000_000  # --max-windows
MINUTES_LIMIT = 1_000_000.0  # --max-minutes: about two years
LR_LIMIT = 100.0  # --lr: plain SGD on words runs at 20
GRAD_CLIP_LIMIT = 1e6  # --grad-clip
INIT_SCALE_LIMIT = 10.0  # --init-scale
TEMPERATURE_LIMIT = 100.0  # --temperature


def check_whole(flag: str, value: int, low: int, high: int) -> None:
    """A ConfigError unless `low <= value <= high`."""
    if not low <= value <= high:
        raise ConfigError(f"{flag} must be from {low:,} to {high:,}, not {value:,}")


def check_positive(flag: str, value: float, high: float) -> None:
    """A ConfigError unless `0 < value <= high` (which NaN and infinity are not)."""
    if not (math.isfinite(value) and 0 < value <= high):
        raise ConfigError(f"{flag} must be above 0 and at most {high:g}, not {value}")
