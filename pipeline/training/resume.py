"""Resuming training: which settings a checkpoint keeps, what it may not change, and what goes into it.

A checkpoint holds the weights, AdamW's state, the learning-rate schedule, every process' random-number
state and the hidden state of every stream, so a resumed run continues exactly as if it had never
stopped. The number of streams, the window length and the seed are fixed by the data already seen.
"""

from __future__ import annotations

import dataclasses

import torch

from charmony.pipeline.training.checkpoint import Checkpoint, RandomState
from charmony.pipeline.system.world import World
from charmony.pipeline.system.errors import CheckpointError, ConfigError
from charmony.pipeline.model.charmodel import CharModel, State
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import MODEL_FIELDS, TrainConfig

# The carried hidden state and the position in the streams depend on these (and on the number of
# streams, --batch-size x processes); the seed only matters at step 0, after which the saved
# random-number state takes over; the warm-up is part of the saved schedule.
FIXED_ON_RESUME = ("seq_len", "seed", "warmup_steps", "optimizer", "output_prior")


def resumable_checkpoint(run: Run) -> Checkpoint:
    """The run's latest checkpoint, read once, to resume from."""
    if not run.checkpoint_path.exists() and run.best_path.exists():
        raise CheckpointError(
            f"run {run.name!r} stopped before its first periodic save, so there is only best.pt, "
            "which cannot be resumed; start over with --restart"
        )
    return Checkpoint.load(run.checkpoint_path)


def resume_config(checkpoint: Checkpoint, overrides: dict, world_size: int = 1) -> TrainConfig:
    """A checkpoint's saved settings with `overrides`; the processes share the saved streams unless --batch-size is given.

    The number of threads is this machine's business, so it is not carried over.
    """
    if "batch_size" not in overrides:
        if checkpoint.streams % world_size:
            raise ConfigError(
                f"the checkpoint trains {checkpoint.streams} streams, which {world_size} processes cannot share evenly; "
                f"resume with a number of processes that divides {checkpoint.streams}"
            )
        overrides = {**overrides, "batch_size": checkpoint.streams // world_size}
    return dataclasses.replace(checkpoint.train_config, threads=None).with_settings(**overrides)


def check_resumable(checkpoint: Checkpoint, model_config: ModelConfig, config: TrainConfig, world_size: int) -> None:
    """Refuse settings that a resumed run cannot change, and a run already at its last step."""
    saved_model, saved_train = checkpoint.model_config, checkpoint.train_config
    changed = [f for f in MODEL_FIELDS if getattr(saved_model, f) != getattr(model_config, f)]
    changed += [f for f in FIXED_ON_RESUME if getattr(saved_train, f) != getattr(config, f)]
    if changed:
        options = ", ".join("--" + f.replace("_", "-") for f in changed)
        raise ConfigError(f"--resume cannot change {options}; drop those options, or start over with --restart")
    if config.batch_size * world_size != checkpoint.streams:
        raise ConfigError(
            f"--resume cannot change the number of streams (--batch-size x processes): {checkpoint.streams} when saved, "
            f"{config.batch_size} x {world_size} now; drop --batch-size, or start over with --restart"
        )
    if checkpoint.step >= config.max_steps:
        raise ConfigError(
            f"the run is already at step {checkpoint.step}, and --max-steps is {config.max_steps}; "
            "give a larger --max-steps to train further"
        )


def restore(checkpoint: Checkpoint, path, model: CharModel, optimizer: torch.optim.Optimizer, config: TrainConfig,
            device: torch.device, world: World) -> State:
    """Load weights, optimizer and random-number state; return this process' carried hidden state."""
    try:
        model.load_state_dict(checkpoint.model)
        optimizer.load_state_dict(checkpoint.optimizer)
    except (RuntimeError, ValueError, KeyError, TypeError, IndexError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise CheckpointError(f"{path} is damaged: its weights or optimizer state do not fit its model ({first[:200]}); "
                              "use another checkpoint or start over with --restart") from None
    if world.rank < len(checkpoint.rng):
        saved = checkpoint.rng[world.rank]
        torch.set_rng_state(saved.torch)
        if device.type == "cuda" and saved.cuda:
            torch.cuda.set_rng_state(saved.cuda[0], device)
    else:  # more processes than when saved: dropout draws anew, the rest resumes exactly
        torch.manual_seed(config.seed + world.rank + checkpoint.step)
    rows = slice(world.rank * config.batch_size, (world.rank + 1) * config.batch_size)
    return tuple(part[:, rows].to(device) for part in checkpoint.state)


def random_states(world: World, device: torch.device) -> list[RandomState]:
    """Every process' random-number state, in rank order (every process must call it, for the gathers)."""
    states = [RandomState(t) for t in world.gather(torch.get_rng_state(), device)]
    if device.type == "cuda":
        for saved, cuda in zip(states, world.gather(torch.cuda.get_rng_state(device), device)):
            saved.cuda = [cuda]
    return states
