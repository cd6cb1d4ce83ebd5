"""What `charmony train` does around the training loop: its settings, one process or several, and how it ended.

With --nproc N this process starts N training processes (as torchrun would) under the run's lock,
after checking what it can (GPUs, settings, checkpoints) so that a mistake fails before any starts.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from charmony.pipeline.plugin.recipes import apply_recipe
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.run.folder import Run, pick_run, runs_dir_arguments
from charmony.pipeline.run.lock import run_lock
from charmony.pipeline.run.manifest import get_run_corpus
from charmony.pipeline.system.device import resolve_device
from charmony.pipeline.system.errors import ConfigError, CharmonyError
from charmony.pipeline.system.threads import check_threads, threads_to_use
from charmony.pipeline.system.world import World
from charmony.pipeline.training.distributed import LaunchInterrupted, await_launcher, check_gpus, launch
from charmony.pipeline.system.interrupt import INTERRUPTED_EXIT
from charmony.pipeline.training.log import perplexity
from charmony.pipeline.training.resume import resumable_checkpoint, resume_config
from charmony.pipeline.training.train import TrainResult, plan_training, train


@dataclass(frozen=True)
class TrainRequest:
    """What `charmony train` was asked to do."""

    run_name: str | None  # None: the only prepared run in runs_dir
    runs_dir: Path
    settings: dict[str, Any] = field(default_factory=dict)  # model and training settings given; None means not given
    recipe: str | None = None
    resume: bool = False
    restart: bool = False
    nproc: int | None = None  # processes to start on this machine; None trains in this one (or as torchrun started it)
    forwarded: list[str] = field(default_factory=list)  # the options each started process is given, after RUN and --runs-dir


@dataclass(frozen=True)
class TrainOutcome:
    """How training ended: the lines to print and the exit status (0, or INTERRUPTED_EXIT)."""

    lines: list[str]
    exit_code: int = 0


def recipe_settings(run: Run, name: str, given: dict) -> dict:
    """The settings of the run's corpus' recipe `name`, with the options given on the command line winning."""
    return apply_recipe(get_run_corpus(run.manifest()).recipe(name), given)


def run_training(request: TrainRequest) -> TrainOutcome:
    """Train the requested run here, or in `nproc` processes started from here, and say how it ended."""
    world = World.from_environment()
    if request.nproc and world.size > 1:
        raise ConfigError("--nproc launches processes itself; under torchrun, leave it out")
    if request.nproc:
        check_threads("--nproc", request.nproc)
    processes = request.nproc or world.size
    run = pick_run(request.runs_dir, request.run_name)
    given = {key: value for key, value in request.settings.items() if value is not None}
    if request.recipe:
        given = recipe_settings(run, request.recipe, given)
    checkpoint = resumable_checkpoint(run) if request.resume else None
    config = resume_config(checkpoint, given, processes) if checkpoint is not None else TrainConfig().with_settings(**given)
    if processes > world.size:
        return _launch_processes(run, request, config, processes, checkpoint)
    try:
        result = train(run, config, resume=request.resume, restart=request.restart, checkpoint=checkpoint)
    except Exception as error:
        if world.size > 1 and not isinstance(error, CharmonyError):
            await_launcher()  # a partner that died first is the one to blame, and the launcher names it
        raise
    if not world.main:
        return TrainOutcome([], INTERRUPTED_EXIT if result.interrupted else 0)
    if result.interrupted:
        return TrainOutcome([f"interrupted at step {result.step}; checkpoint saved to {result.checkpoint}",
                             f"continue with: {resume_command(run, request.runs_dir)}"], INTERRUPTED_EXIT)
    return TrainOutcome([trained_line(run, result)])


def _launch_processes(run: Run, request: TrainRequest, config: TrainConfig, processes: int, checkpoint) -> TrainOutcome:
    """Start `processes` training processes under the run's lock; process 0 says how training ended."""
    device = resolve_device(config.device)
    check_gpus(processes, device)
    plan_training(run, config, processes, request.resume, request.restart, checkpoint)  # fail here, before any process starts
    if device.type == "cpu":  # each process starts with its share of the CPUs
        os.environ["OMP_NUM_THREADS"] = str(threads_to_use(config.threads, processes))
    arguments = ["train", run.name, "--runs-dir", str(request.runs_dir.resolve()), *request.forwarded]
    try:
        with run_lock(run, "train", for_children=True):
            launch(processes, arguments)
    except LaunchInterrupted:
        return TrainOutcome([f"interrupted; checkpoint saved to {run.checkpoint_path}",
                             f"continue with: {resume_command(run, request.runs_dir, processes)}"], INTERRUPTED_EXIT)
    return TrainOutcome([])


def resume_command(run: Run, runs_dir: Path, processes: int | None = None) -> str:
    """The command that goes on training this run, in `processes` processes, finding it where this one did."""
    nproc = ["--nproc", str(processes)] if processes else []
    return shlex.join(["charmony", "train", run.name, "--resume", *nproc, *runs_dir_arguments(runs_dir)])


def trained_line(run: Run, result: TrainResult) -> str:
    """The line that ends a finished training: its step, best validation loss (with bpc or perplexity) and checkpoint."""
    if result.best_val_loss is None:
        return f"trained run {run.name!r} to step {result.step}; no validation split, checkpoint {result.checkpoint}"
    if run.manifest().word_level:
        measure = f" (perplexity {perplexity(result.best_val_loss):.2f})"
    else:
        measure = f" ({result.best_val_bpc:.3f} bpc)" if result.best_val_bpc is not None else ""
    stopped = (f" (stopped early: the last {result.stopped_early} validations bettered no best, --patience)"
               if result.stopped_early is not None else "")
    return (f"trained run {run.name!r} to step {result.step}{stopped}; best validation loss "
            f"{result.best_val_loss:.4f} nats/token{measure}, checkpoint {run.best_path}")
