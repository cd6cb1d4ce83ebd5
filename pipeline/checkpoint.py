"""Checkpoints: one dict of tensors and plain values, written atomically, read without unpickling code."""

from __future__ import annotations

from pathlib import Path

import torch

from charmony.pipeline.atomic import atomic_path
from charmony.pipeline.errors import CheckpointError
from charmony.pipeline.vocabulary import Vocabulary


def save_checkpoint(payload: dict, path: Path) -> None:
    """Write `payload` to `path` so that a crash leaves either the old file or the new one."""
    with atomic_path(path) as temporary:
        torch.save(payload, temporary)


def load_checkpoint(path: Path) -> dict:
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
    if not isinstance(payload, dict) or "model" not in payload or "model_config" not in payload:
        raise CheckpointError(f"{path} is not a charmony checkpoint")
    return payload


def check_vocabulary(payload: dict, vocab: Vocabulary, path: Path) -> None:
    """Refuse a checkpoint trained on a different vocabulary than the run's."""
    if payload.get("vocab_sha256") != vocab.sha256:
        raise CheckpointError(
            f"{path} was trained on a different vocabulary than this run's vocab.json "
            "(was the run prepared again?); train again with --restart, or prepare the original corpus"
        )
