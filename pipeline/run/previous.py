"""The files of a run's earlier training, set aside while `train --restart` trains anew, so that a failed restart loses nothing.

checkpoint.pt, best.pt and metrics.jsonl are renamed to `.NAME.previous` (a rename needs no disk space)
when a restart begins. They are deleted once the new training has saved a checkpoint, and put back
when it fails or stops before that. A restart killed in between is settled when the run is next locked.
"""

from __future__ import annotations

import os
from pathlib import Path

from charmony.pipeline.run.folder import Run


def training_files(run: Run) -> tuple[Path, ...]:
    """The files one training of the run writes: its metrics and its checkpoints."""
    return run.metrics_path, run.best_path, run.checkpoint_path


def aside_path(path: Path) -> Path:
    """Where a file of the earlier training waits while the new one trains."""
    return path.with_name(f".{path.name}.previous")


class PreviousTraining:
    """The earlier training's files, set aside until the new training has saved a checkpoint."""

    def __init__(self, run: Run):
        self.paths = [path for path in training_files(run) if path.exists()]
        for path in self.paths:
            os.replace(path, aside_path(path))

    def drop(self) -> None:
        """The new training has saved a checkpoint: delete the earlier training's files."""
        for path in self.paths:
            aside_path(path).unlink(missing_ok=True)
        self.paths = []

    def restore(self) -> None:
        """The new training failed before saving a checkpoint: put the earlier training's files back."""
        for path in self.paths:
            os.replace(aside_path(path), path)
        self.paths = []


def settle_previous_training(run: Run) -> None:
    """After a restart that was killed: keep the new training if it saved a checkpoint, else put the earlier one back."""
    aside = [path for path in training_files(run) if aside_path(path).exists()]
    if not aside:
        return
    saved = run.checkpoint_path.exists() or run.best_path.exists()
    for path in aside:
        if saved:
            aside_path(path).unlink()
        else:
            os.replace(aside_path(path), path)
