"""Run directories: where a prepared corpus, its checkpoints, metrics and samples live."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.system.errors import RunError
from charmony.pipeline.run.manifest import Manifest

if TYPE_CHECKING:
    import numpy as np

    from charmony.pipeline.run.vocabulary import Vocabulary

RUNS_ENV = "CHARMONY_RUNS"
DEFAULT_RUNS_DIR = Path("runs")  # --runs-dir when neither it nor $CHARMONY_RUNS is given
RUN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
# The prefix of the private folder a renderer writes into, inside the folder its files go to.
RENDER_SCRATCH = ".charmony-render-"
SAMPLE_STAGING = ".charmony-sample-"  # a set of samples being written, before it is moved into place
SCORED_NAME = "val.scored.bin"  # a weight per validation token where the corpus left some out of the loss


@dataclass(frozen=True)
class Run:
    """One run's folder and the files in it."""

    dir: Path

    @property
    def name(self) -> str:
        """The run's name, which is its folder's name."""
        return self.dir.name

    manifest_path = property(lambda self: self.dir / "manifest.json")
    vocab_path = property(lambda self: self.dir / "vocab.json")
    checkpoint_path = property(lambda self: self.dir / "checkpoint.pt")
    best_path = property(lambda self: self.dir / "best.pt")
    metrics_path = property(lambda self: self.dir / "metrics.jsonl")
    samples_dir = property(lambda self: self.dir / "samples")
    profile_path = property(lambda self: self.dir / "profile.json")
    scored_path = property(lambda self: self.dir / SCORED_NAME)

    def split_path(self, split: str) -> Path:
        """The token file of the `train` or `val` split."""
        return self.dir / f"{split}.bin"

    def has_checkpoints(self) -> bool:
        """Whether training has written a checkpoint (latest or best) here."""
        return self.checkpoint_path.exists() or self.best_path.exists()

    def checkpoint_for(self, which: str = "best") -> Path:
        """The checkpoint to sample from: "best" (the latest while there is no best.pt), "latest", or a path."""
        if which == "best":
            return self.best_path if self.best_path.exists() or not self.checkpoint_path.exists() else self.checkpoint_path
        return self.checkpoint_path if which == "latest" else Path(which)

    def is_prepared(self) -> bool:
        """Whether `prepare` has written this run's manifest."""
        return self.manifest_path.is_file()

    def manifest(self) -> Manifest:
        """The prepared corpus' manifest.json."""
        if not self.is_prepared():
            raise RunError(
                f"run {self.name!r} is not prepared ({self.dir} has no manifest.json); "
                f"run `charmony prepare CORPUS --run {self.name}` first"
            )
        return Manifest.load(self.manifest_path)

    def profile(self) -> dict | None:
        """What `prepare` noted about the training documents (profile.json), or None when it noted nothing."""
        if not self.profile_path.exists():
            return None
        try:
            profile = json.loads(self.profile_path.read_text(encoding="utf-8"))
        except ValueError as error:
            raise RunError(f"{self.profile_path} is not valid JSON ({error}); prepare the run again") from None
        if not isinstance(profile, dict):
            raise RunError(f"{self.profile_path} is damaged (not a JSON object); prepare the run again")
        return profile

    def vocabulary(self) -> Vocabulary:
        """The run's vocabulary."""
        from charmony.pipeline.run.vocabulary import Vocabulary

        self.manifest()
        return Vocabulary.load(self.vocab_path)

    def tokens(self, split: str) -> np.ndarray:
        """The token ids of a split, memory-mapped read-only."""
        import numpy as np

        manifest = self.manifest()
        path = self.split_path(split)
        dtype = np.dtype(manifest.dtype)
        expected = manifest.tokens[split]
        size = path.stat().st_size if path.exists() else -1
        if size != expected * dtype.itemsize:
            raise RunError(f"{path} is missing or has the wrong size; run `charmony prepare` again")
        if expected == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, dtype=dtype, mode="r")

    def scored(self) -> np.ndarray | None:
        """The validation tokens' weights in the loss (1 scored, 0 read only), memory-mapped; None when all count."""
        import numpy as np

        manifest = self.manifest()
        if not manifest.unscored:
            return None
        size = self.scored_path.stat().st_size if self.scored_path.exists() else -1
        if size != manifest.tokens["val"]:
            raise RunError(f"{self.scored_path} is missing or has the wrong size; run `charmony prepare` again")
        return np.memmap(self.scored_path, dtype=np.uint8, mode="r")


def named_run(runs_dir: Path, name: str) -> Run:
    """The run called `name` in `runs_dir`; names are single folder names, not paths."""
    if not RUN_NAME.fullmatch(name):
        path = Path(name)
        if (path / "manifest.json").is_file() and RUN_NAME.fullmatch(path.name):  # a run folder given by its path
            raise RunError(f"run name {name!r} is a path; give the folder that holds it and its name: "
                           f"--runs-dir {path.parent} and the run {path.name}")
        raise RunError(f"run name {name!r} is not allowed; use letters, digits, '.', '_' and '-', starting with a letter or digit")
    return Run(runs_dir / name)


def find_run(runs_dir: Path, name: str) -> Run:
    """An existing, prepared run, or a RunError saying how to make one."""
    run = named_run(runs_dir, name)
    if not run.dir.is_dir():
        known = sorted(p.name for p in runs_dir.iterdir() if (p / "manifest.json").is_file()) if runs_dir.is_dir() else []
        hint = f"known runs: {', '.join(known)}" if known else f"prepare one with `charmony prepare CORPUS --run {name}`"
        raise RunError(f"no run {name!r} in {runs_dir}; {hint}")
    run.manifest()
    return run


def pick_run(runs_dir: Path, name: str | None) -> Run:
    """The named run, or the only prepared run when no name is given."""
    if name is None:
        prepared = sorted(path.parent.name for path in runs_dir.glob("*/manifest.json"))
        if len(prepared) != 1:
            found = f"runs in {runs_dir}: {', '.join(prepared)}" if prepared else f"there is none in {runs_dir}; run `charmony prepare CORPUS`"
            raise RunError(f"name the RUN to use; {found}")
        name = prepared[0]
    return find_run(runs_dir, name)


def runs_dir_arguments(runs_dir: Path) -> list[str]:
    """`--runs-dir DIR` for a command to suggest that must find the runs this one found.

    None only for the default folder while $CHARMONY_RUNS is unset: with it set, `--runs-dir runs` finds
    other runs than no option does, and a hint read in another shell should not depend on it.
    """
    return [] if runs_dir == DEFAULT_RUNS_DIR and not os.environ.get(RUNS_ENV) else ["--runs-dir", str(runs_dir)]


def known_run(runs_dir: Path, name: str | None) -> str | None:
    """`name` when runs_dir holds a prepared run of that name, else None."""
    return name if name and (runs_dir / name / "manifest.json").is_file() else None
