"""Checkpoints (`checkpoint.pt`, `best.pt`): one dict of tensors and plain values, written atomically, read without unpickling code.

`Checkpoint` is the one owner of the format: training saves it, and resuming and sampling read it
through `Checkpoint.load`, which refuses a damaged or foreign file with one line.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from charmony import __version__
from charmony.pipeline.system.atomic import atomic_path
from charmony.pipeline.system.errors import CheckpointError
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.training.averaging import misfit
from charmony.pipeline.training.schedule import Schedule
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.run.vocabulary import Vocabulary

# 2: the learning-rate schedule is saved, the optimizer's rate is set from it each step, and the
# random-number state is kept per process only
CHECKPOINT_FORMAT = 2


@dataclass
class RandomState:
    """One training process' random-number generators, so that its dropout draws resume exactly."""

    torch: Tensor
    cuda: list[Tensor] = field(default_factory=list)


@dataclass
class Checkpoint:
    """Everything needed to resume training exactly, or to sample: weights, optimizer, schedule, position, settings."""

    step: int  # training steps done
    model: dict[str, torch.Tensor]  # the model's state dict
    optimizer: dict[str, Any]  # the optimizer's state dict (AdamW's, or SGD's with --optimizer sgd)
    schedule: Schedule
    rng: list[RandomState]  # per process, in rank order
    state: list[torch.Tensor]  # the carried hidden state of every stream, (layers, streams, hidden) each
    log: tuple[float, int, float]  # since the last log line: the loss summed over steps, the steps, the characters
    best_val_loss: float | None  # in nats per token
    model_config: ModelConfig
    train_config: TrainConfig
    corpus: str
    vocab_sha256: str
    best_val_bpc: float | None = None
    world_size: int = 1  # training processes that shared the streams
    layout: str | None = None  # the run's layout (Manifest.layout) it was trained on; None: the corpus' one way, or unknown
    averaged: dict[str, torch.Tensor] | None = None  # the weight average (--ema-decay) by parameter name; None: none kept
    charmony_version: str = __version__
    format: int = CHECKPOINT_FORMAT

    @property
    def streams(self) -> int:
        """How many streams the checkpoint trains: --batch-size times the number of processes."""
        return self.train_config.batch_size * self.world_size

    def to_payload(self) -> dict:
        """The dict that is saved: tensors and plain values only, so that loading needs no unpickling of code."""
        return {
            "format": self.format,
            "charmony_version": self.charmony_version,
            "corpus": self.corpus,
            "vocab_sha256": self.vocab_sha256,
            "step": self.step,
            "model": self.model,
            "optimizer": self.optimizer,
            "schedule": self.schedule.to_json(),
            "rng": {"ranks": [{"torch": r.torch, "cuda": r.cuda} for r in self.rng]},
            "state": self.state,
            "log": list(self.log),
            "best_val_loss": self.best_val_loss,
            "best_val_bpc": self.best_val_bpc,
            "model_config": asdict(self.model_config),
            "train_config": self.train_config.to_json(),
            "world_size": self.world_size,
            "layout": self.layout,
            "averaged": self.averaged,
        }

    @classmethod
    def from_payload(cls, payload: Any) -> Checkpoint:
        """The checkpoint a saved dict holds; a ValueError saying what is missing or of the wrong kind."""
        if not isinstance(payload, dict) or "model" not in payload or "model_config" not in payload:
            raise ValueError("it is not a charmony checkpoint")
        try:
            return cls._from_payload(payload)
        except (KeyError, TypeError, AttributeError, IndexError) as error:
            raise ValueError(f"its {error} is missing or of the wrong kind") from None

    @classmethod
    def _from_payload(cls, payload: dict) -> Checkpoint:
        model_config = ModelConfig(**payload["model_config"])
        train_config = TrainConfig.from_json(payload["train_config"])
        step, world_size = payload["step"], payload.get("world_size", 1)
        if not (_is_int(step) and step >= 0 and _is_int(world_size) and world_size >= 1):
            raise ValueError("its step or number of processes is not a count")
        model = payload["model"]
        if not isinstance(model, dict) or not all(isinstance(v, torch.Tensor) for v in model.values()):
            raise ValueError("its model weights are not tensors")
        if not isinstance(payload["optimizer"], dict):
            raise ValueError("its optimizer state is not a dict")
        ranks = payload["rng"]["ranks"]
        rng = [RandomState(r["torch"], list(r.get("cuda", []))) for r in ranks]
        if not rng or not all(isinstance(r.torch, torch.Tensor) and r.torch.dtype == torch.uint8 for r in rng):
            raise ValueError("its random-number state is damaged")
        state = list(payload["state"])
        streams = train_config.batch_size * world_size
        shape = (model_config.layers, streams, model_config.hidden)
        if not state or not all(isinstance(part, torch.Tensor) and tuple(part.shape) == shape for part in state):
            raise ValueError(f"its hidden state is not of shape {shape}")
        log = tuple(payload["log"])
        best, best_bpc = payload["best_val_loss"], payload.get("best_val_bpc")
        numbers = [*log[:1], *log[2:], *(value for value in (best, best_bpc) if value is not None)]
        if len(log) not in (2, 3) or not _is_int(log[1]) or not all(isinstance(x, (int, float)) for x in numbers):
            raise ValueError("its losses are not numbers")
        layout = payload.get("layout")
        if layout is not None and not isinstance(layout, str):
            raise ValueError("its layout is not a name")
        averaged = payload.get("averaged")
        if averaged is not None:
            _check_average(averaged, model_config)
        if "schedule" in payload:
            schedule = Schedule.from_json(payload["schedule"])
        else:  # format 1: the schedule follows from the settings
            schedule = Schedule.initial(train_config.warmup_steps, train_config.max_steps)
        return cls(
            step=step, model=model, optimizer=payload["optimizer"], schedule=schedule, rng=rng, state=state,
            log=log, best_val_loss=best, best_val_bpc=best_bpc, model_config=model_config, train_config=train_config,
            corpus=str(payload.get("corpus", "")), vocab_sha256=str(payload.get("vocab_sha256", "")),
            world_size=world_size, charmony_version=str(payload.get("charmony_version", "unknown")),
            format=payload.get("format", 1), layout=layout, averaged=averaged,
        )

    def save(self, path: Path) -> None:
        """Write the checkpoint to `path` so that a crash or a full disk leaves the old file as it was."""
        try:
            with atomic_path(path) as temporary:
                torch.save(self.to_payload(), temporary)
        except (OSError, RuntimeError) as error:  # torch reports a failed write as a RuntimeError
            reason = getattr(error, "strerror", None) or "the write failed"
            raise CheckpointError(
                f"cannot write {path} ({reason}); is the disk full? The previous checkpoint is kept"
            ) from None

    @classmethod
    def load(cls, path: Path) -> Checkpoint:
        """Read a checkpoint onto the CPU with `weights_only=True`, or a CheckpointError saying what is wrong."""
        if not path.is_file():
            raise CheckpointError(f"no checkpoint at {path}; train the run first with `charmony train`")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # torch raises many types for a damaged file; all mean the same here
            # torch's own message may advise weights_only=False, which must never be followed for a damaged file.
            raise CheckpointError(
                f"{path} is truncated or corrupt ({type(error).__name__}); use another checkpoint or train again"
            ) from None
        saved_format = payload.get("format", 1) if isinstance(payload, dict) else None
        if saved_format is not None and not (_is_int(saved_format) and 1 <= saved_format <= CHECKPOINT_FORMAT):
            raise CheckpointError(f"{path} is of checkpoint format {saved_format!r}, which charmony {__version__} cannot read "
                                  f"(it reads formats 1 to {CHECKPOINT_FORMAT}); use the charmony that wrote it, or train again")
        try:
            return cls.from_payload(payload)
        except Exception as error:  # a ValueError saying what is wrong, or a saved setting out of range (ConfigError)
            raise CheckpointError(f"{path} is damaged: {error}; use another checkpoint or train again") from None

    def build_model(self, path: Path) -> CharModel:
        """The model with the checkpoint's weights; a CheckpointError when they do not fit its shape or are not numbers."""
        broken = next((name for name, tensor in self.model.items()
                       if tensor.is_floating_point() and not torch.isfinite(tensor).all()), None)
        if broken is not None:  # sampling would fail deep in torch; a diverged training's checkpoint can hold these
            raise CheckpointError(f"{path} holds weights that are not numbers (NaN or infinite, in {broken}); "
                                  "use another checkpoint, or train again with --restart (and a lower --lr if it diverged)")
        model = CharModel(self.model_config)
        try:
            model.load_state_dict(self.model)
        except (RuntimeError, KeyError, TypeError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise CheckpointError(f"{path} is damaged: its weights do not fit its model ({first[:200]}); "
                                  "use another checkpoint or train again") from None
        return model

    def check_vocabulary(self, vocab: Vocabulary, path: Path) -> None:
        """Refuse a checkpoint trained on a different vocabulary than the run's."""
        if self.vocab_sha256 != vocab.sha256 or self.model_config.vocab_size != len(vocab):
            raise CheckpointError(
                f"{path} was trained on a different vocabulary than this run's vocab.json "
                "(was the run prepared again?); train again with --restart, or prepare the original corpus"
            )

    def check_layout(self, layout: str | None, path: Path) -> None:
        """Refuse a checkpoint trained on documents written in another layout than the run's (see CorpusPlugin.layout)."""
        if self.layout is not None and layout is not None and self.layout != layout:
            raise CheckpointError(
                f"{path} was trained on documents in layout {self.layout!r}, but this run is prepared in layout {layout!r}; "
                f"use a checkpoint trained in layout {layout!r}, or prepare the run again in layout {self.layout!r}"
            )


def _check_average(averaged: Any, config: ModelConfig) -> None:
    """A ValueError unless `averaged` holds a tensor of the right shape for every parameter of the model `config`
    builds, and nothing else (a tied head's weight is the embedding's: one parameter, one name)."""
    if not isinstance(averaged, dict) or not all(isinstance(value, torch.Tensor) for value in averaged.values()):
        raise ValueError("its weight average is not the model's tensors")
    with torch.device("meta"):  # the parameters' names and shapes, without their memory
        shapes = {name: parameter.shape for name, parameter in CharModel(config).named_parameters()}
    why = misfit(averaged, shapes)
    if why is not None:
        raise ValueError(f"its weight average {why}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
