"""The training settings: the model's shape and how to train it; saved in every checkpoint."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from charmony.pipeline.errors import ConfigError, check_seed
from charmony.pipeline.model import ModelConfig

# The model's fields that a training setting may name directly, as the command line does (--layers, --hidden...).
MODEL_FIELDS = tuple(f.name for f in fields(ModelConfig) if f.name != "vocab_size")


@dataclass
class TrainConfig:
    """Model shape and training settings; saved in each checkpoint."""

    model: ModelConfig = field(default_factory=ModelConfig)
    seq_len: int = 100  # time steps per batch (truncated BPTT length)
    batch_size: int = 32  # parallel streams per process
    lr: float = 5e-3  # peak learning rate (Adam); 2e-3, char-rnn's, learns about half as fast here
    weight_decay: float = 0.01  # AdamW, on weight matrices only
    grad_clip: float = 1.0  # max global gradient norm
    warmup_steps: int = 100  # linear warm-up (at most a tenth of max_steps), then cosine decay to lr / 10 at max_steps
    max_steps: int = 2000
    max_minutes: float | None = None  # stop early after this much wall time
    eval_every: int = 200
    eval_batches: int = 50  # at most this many validation batches per evaluation
    save_every: int = 500
    log_every: int = 10
    device: str = "auto"
    seed: int = 1337
    compile: bool = False  # torch.compile the step around the recurrent layers
    threads: int | None = None  # CPU threads per process; None: CHARMONY_THREADS, else a default for this machine

    def __post_init__(self) -> None:
        if self.warmup_steps < 0 or not 0 <= self.weight_decay < 1:
            raise ConfigError("--warmup-steps must be at least 0, and --weight-decay from 0 to below 1")
        for name in ("seq_len", "batch_size", "max_steps", "eval_every", "eval_batches", "save_every", "log_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, not {getattr(self, name)}")
        check_seed(self.seed)
        for name in ("lr", "grad_clip", "max_minutes"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise ConfigError(f"--{name.replace('_', '-')} must be a positive number, not {value}")
        if self.threads is not None and self.threads < 1:
            raise ConfigError(f"--threads must be at least 1, not {self.threads}")

    def with_settings(self, **settings: Any) -> TrainConfig:
        """This config with settings replaced, named as the command line names them (`layers` goes to the model)."""
        model = {key: settings.pop(key) for key in MODEL_FIELDS if key in settings}
        return dataclasses.replace(self, model=dataclasses.replace(self.model, **model), **settings)

    def to_json(self) -> dict:
        """The config as plain JSON data, the model's shape under `model`."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TrainConfig:
        """A config from a checkpoint's saved dict, ignoring fields this version does not know.

        Checkpoints before the model's shape was nested saved its fields beside the others.
        """
        known = {f.name for f in fields(cls)} - {"model"}
        model = data.get("model", {key: data[key] for key in MODEL_FIELDS if key in data})
        model = {key: value for key, value in model.items() if key in MODEL_FIELDS}
        return cls(model=ModelConfig(**model), **{key: value for key, value in data.items() if key in known})
