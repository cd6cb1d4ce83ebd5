"""The `train` stage: stateful truncated BPTT with AdamW, evaluation, metrics and atomic checkpoints.

One process or many: under torchrun each process trains its own streams with DistributedDataParallel,
and only rank 0 writes checkpoints and metrics. What a checkpoint holds and what a resume may change
is in `resume.py`; the learning-rate schedule in `schedule.py`; logging in `train_log.py`.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from charmony.pipeline.data.batching import (
    DeviceBatches, DocumentRows, StreamBatches, check_streams, check_token_ids, validation_batch_size,
)
from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.system.device import autocast, resolve_device
from charmony.pipeline.system.world import World, process_group
from charmony.pipeline.system.errors import CheckpointError, ConfigError, RunError
from charmony.pipeline.system.interrupt import stop_on_interrupt
from charmony.pipeline.run.manifest import Manifest, check_sources
from charmony.pipeline.model.charmodel import CharModel, State, detach
from charmony.pipeline.model.size import check_training_fits
from charmony.pipeline.run.config import ModelConfig
from charmony.pipeline.training.resume import check_resumable, random_states, restore, resumable_checkpoint
from charmony.pipeline.run.lock import run_lock
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.previous import PreviousTraining
from charmony.pipeline.training.averaging import WeightAverage
from charmony.pipeline.training.budget import TimeBudget
from charmony.pipeline.training.schedule import Schedule
from charmony.pipeline.system.threads import use_threads
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.log import RunningLoss, TrainLog, bits_per_character, in_perplexity, trim_metrics

__all__ = ["TrainConfig", "TrainResult", "Diverged", "plan_training", "train"]

DIVERGED_ADVICE = "the checkpoints already written are kept; resume or restart with a lower --lr"


class Diverged(ConfigError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    """How a training session ended."""

    step: int
    best_val_loss: float | None  # in nats per token
    best_val_bpc: float | None
    interrupted: bool
    checkpoint: str
    stopped_early: int | None = None  # --patience, where it stopped training: that many validations in a row bettered no best


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW (or plain SGD) that decays weight matrices but not biases or norms; fused into one kernel (CPU and CUDA)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    device = next(model.parameters()).device
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr)
    # Several times faster than the default for-each implementation on both devices.
    fused = device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99), fused=fused)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Give every parameter group the learning rate `lr`."""
    for group in optimizer.param_groups:
        group["lr"] = lr


def train_step(model, optimizer, x, y, state: State, grad_clip: float, device) -> tuple[torch.Tensor, State]:
    """One optimisation step on a batch; returns the (unsynchronised) loss and the detached state."""
    with autocast(device):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    return loss.detach(), detach(state)


NOTHING_SCORED = ("the validation documents read hold no token the corpus scores, so there is no validation loss; "
                  "prepare the run again with more validation text")

@torch.no_grad()
def evaluate(model: CharModel, batches: DeviceBatches | DocumentRows, max_batches: int, chars_per_token: torch.Tensor,
             device, world: World = World()) -> tuple[float, float]:
    """Mean validation loss in nats per token, and bits per character, over the first batches of every process' streams;
    or, over `DocumentRows`, over the tokens of each document the corpus scores."""
    model.eval()
    totals = torch.zeros(3, device=device, dtype=torch.float64)  # loss, tokens, characters
    for x, y, weight, fresh in _validation_chunks(batches, max_batches, device):
        if fresh:
            state = model.initial_state(x.size(0), device)
        with autocast(device):
            logits, state = model(x, state)
        losses = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="none")
        weight = weight.reshape(-1) if weight is not None else torch.ones_like(losses, dtype=torch.float64)
        totals[0] += (losses * weight).sum()
        totals[1] += weight.sum()
        totals[2] += (chars_per_token[y].reshape(-1) * weight).sum()
    model.train()
    loss, tokens, chars = world.sum(totals).tolist()
    if not tokens:  # every process meets it at once
        raise RunError(NOTHING_SCORED)
    return loss / tokens, bits_per_character(loss / tokens, tokens, chars)


def _validation_chunks(batches: DeviceBatches | DocumentRows, max_batches: int, device):
    """(inputs, targets, their weights or None, whether the state starts afresh) of each validation batch."""
    if isinstance(batches, DocumentRows):
        yield from batches.chunks(device)
        return
    for index in range(min(len(batches), max_batches)):
        x, y = batches.get(index)
        yield x, y, None, index == 0


def _validation_batches(run: Run, config: TrainConfig, world: World, device: torch.device) -> DeviceBatches | DocumentRows | None:
    """Each process' share of the validation streams or, where the corpus left some tokens out of the loss, of its
    validation documents; None when the run holds nothing out."""
    tokens = run.tokens("val")
    if len(tokens) == 0:
        return None
    batch_size = validation_batch_size(len(tokens), config.batch_size, config.seq_len, world.size)
    scored = run.scored()
    if scored is None:
        return DeviceBatches(StreamBatches(tokens, batch_size, config.seq_len, "val", world.rank, world.size), device)
    budget = config.eval_batches * config.batch_size * config.seq_len
    rows = DocumentRows(tokens, scored, run.vocabulary().eod_id, config.batch_size, config.seq_len, budget,
                        world.rank, world.size)
    if world.size == 1 and not any(weights.any() for _, weights in rows.rows):  # before training, not at its first evaluation
        raise RunError(f"run {run.name!r}: {NOTHING_SCORED}")
    return rows


@dataclass
class Plan:
    """What a training session starts from, checked before any process does real work."""

    manifest: Manifest
    model_config: ModelConfig
    checkpoint: Checkpoint | None
    schedule: Schedule


def plan_training(run: Run, config: TrainConfig, world_size: int = 1, resume: bool = False, restart: bool = False,
                  checkpoint: Checkpoint | None = None) -> Plan:
    """Check that the run can be trained as asked by `world_size` processes; the checkpoint is read once, if not given."""
    manifest = run.manifest()
    vocab = run.vocabulary()
    if vocab.sha256 != manifest.vocab_sha256 or len(vocab) != manifest.vocab_size:
        raise CheckpointError(f"{run.vocab_path} does not match the manifest; run `charmony prepare` again")
    check_sources(manifest.sources, f"prepare run {run.name!r} again to train on the new text, or restore the file")
    model_config = config.model.resolved(len(vocab), manifest.embedding, words=manifest.token_unit == "word")
    schedule = Schedule.initial(config.warmup_steps, config.max_steps)
    if resume:
        checkpoint = checkpoint if checkpoint is not None else resumable_checkpoint(run)
        checkpoint.check_layout(manifest.layout, run.checkpoint_path)
        checkpoint.check_vocabulary(vocab, run.checkpoint_path)
        check_resumable(checkpoint, model_config, config, world_size)
        schedule = checkpoint.schedule.extended(checkpoint.step, config.max_steps)
    elif run.has_checkpoints() and not restart:
        raise ConfigError(
            f"run {run.name!r} already has a checkpoint; continue it with --resume, or start over with --restart"
        )
    else:
        checkpoint = None
    check_streams(manifest.tokens["train"], config.batch_size, config.seq_len, "train", world_size)
    if manifest.tokens["val"]:
        validation_batch_size(manifest.tokens["val"], config.batch_size, config.seq_len, world_size)
    check_training_fits(model_config, config.batch_size, config.seq_len, world_size, resolve_device(config.device))
    return Plan(manifest, model_config, checkpoint, schedule)


def train(
    run: Run,
    config: TrainConfig,
    resume: bool = False,
    restart: bool = False,
    on_step: Callable[[int], None] | None = None,
    checkpoint: Checkpoint | None = None,
    terminal: bool | None = None,
) -> TrainResult:
    """Train the run's model, resuming from its checkpoint if asked; `on_step(step)` is called after each step.

    `checkpoint` is the checkpoint to resume from when the caller has read it already. Under
    torchrun this process trains its share of the streams with DistributedDataParallel. The run
    is locked for the length of training (by process 0, for all of them). `terminal` says whether
    to show a progress bar rather than plain log lines (default: whether stderr is a terminal).
    """
    world = World.from_environment()
    plan = plan_training(run, config, world.size, resume, restart, checkpoint)
    device = world.device(resolve_device(config.device))
    if device.type == "cpu":
        use_threads(config.threads, world.local_size)
    with process_group(world, device), run_lock(run, "train", world, device):
        for split in ("train", "val"):
            check_token_ids(run.tokens(split), plan.manifest.vocab_size, run.split_path(split))
        # A new training sets the earlier one's files aside, and puts them back should it fail before saving.
        previous = PreviousTraining(run) if plan.checkpoint is None and world.main else None
        try:
            return _train(run, config, plan, world, device, on_step, terminal, previous)
        except BaseException:
            if previous is not None:
                previous.restore()
            raise


def _train(run: Run, config: TrainConfig, plan: Plan, world: World, device: torch.device, on_step, terminal,
           previous: PreviousTraining | None) -> TrainResult:
    manifest, checkpoint, schedule = plan.manifest, plan.checkpoint, plan.schedule
    vocab = run.vocabulary()
    batches = DeviceBatches(StreamBatches(run.tokens("train"), config.batch_size, config.seq_len, "train", world.rank, world.size), device)
    val_batches = _validation_batches(run, config, world, device)
    chars_per_token = torch.from_numpy(vocab.token_lengths()).to(device)

    torch.manual_seed(config.seed)
    raw = CharModel(plan.model_config).to(device)
    if config.output_prior and checkpoint is None:
        raw.start_at_prior(np.bincount(run.tokens("train"), minlength=raw.head.out_features).astype(np.float64))
    if world.rank:
        torch.manual_seed(config.seed + world.rank)  # the same initial weights, but each process its own dropout
    optimizer = make_optimizer(raw, config)
    tokens_per_step = config.batch_size * config.seq_len
    if checkpoint is not None:
        state = restore(checkpoint, run.checkpoint_path, raw, optimizer, config, device, world)
        step, best = checkpoint.step, (checkpoint.best_val_loss, checkpoint.best_val_bpc)
        if best[0] is not None and not math.isfinite(best[0]):  # a damaged record: the next evaluation is the best
            best = (None, None)
        running = RunningLoss(device, tokens_per_step, checkpoint.log, world)
        if world.main:
            trim_metrics(run.metrics_path, step)
    else:
        state = raw.initial_state(config.batch_size, device)
        step, best = 0, (None, None)
        running = RunningLoss(device, tokens_per_step, world=world)
    model: torch.nn.Module = raw
    if world.size > 1:
        model = torch.nn.parallel.DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        model = torch.compile(model)  # type: ignore[assignment]  # a compiled module, called as the module is

    average = None
    if config.ema_decay:
        try:
            average = WeightAverage(raw, config.ema_decay, checkpoint.averaged if checkpoint is not None else None)
        except (KeyError, RuntimeError):
            raise CheckpointError(f"{run.checkpoint_path} is damaged: its weight average does not fit its model; "
                                  "use another checkpoint or start over with --restart") from None

    def averaged():
        """Inside it, the model holds the weight average where there is one (--ema-decay)."""
        return average.applied() if average is not None else contextlib.nullcontext()

    def save(path) -> None:
        """Write a checkpoint from rank 0; every process must call it, for the gathers."""
        hidden = [torch.cat(world.gather(part.detach(), device), dim=1) for part in state]
        rng = random_states(world, device)
        log = running.saved()
        if world.main:
            Checkpoint(
                step=step, model=raw.state_dict(), optimizer=optimizer.state_dict(), schedule=schedule, rng=rng,
                state=hidden, log=log, best_val_loss=best[0], best_val_bpc=best[1], model_config=plan.model_config,
                train_config=config, corpus=manifest.corpus, vocab_sha256=vocab.sha256, world_size=world.size,
                layout=manifest.layout, averaged=average.state_dict() if average is not None else None,
            ).save(path)
            if previous is not None:
                previous.drop()

    deadline = time.monotonic() + config.max_minutes * 60 if config.max_minutes else math.inf
    # One process fits its schedule to the time; several would each fit their own and disagree.
    budget = TimeBudget(time.monotonic(), step, deadline) if config.max_minutes and world.size == 1 else None
    # stale: validations in a row that bettered no best, counted from this session's start; out of patience: --patience of them
    interrupted, stale, out_of_patience = False, 0, False
    with stop_on_interrupt() as stop_requested, \
            TrainLog(run.metrics_path, run.name, step, config.max_steps, deadline, world, terminal) as log:
        model.train()
        while step < config.max_steps:
            epoch, index = batches.batches.position(step)
            if index == 0:
                state = raw.initial_state(config.batch_size, device)  # the streams start again
            x, y = batches.get(index)
            lr = config.lr * schedule.factor(step)
            set_lr(optimizer, lr)
            loss, state = train_step(model, optimizer, x, y, state, config.grad_clip, device)
            if average is not None:
                average.update()
            running.add(loss, chars_per_token[y].sum())
            step += 1
            log.advance()
            if budget is not None:
                schedule = budget.fitted(schedule, step, config.max_steps, time.monotonic())
            if on_step is not None:
                on_step(step)
            # Processes agree on stopping where they meet anyway, at log lines; one process every step.
            stop, out_of_time = False, False
            if world.size == 1 or step % config.log_every == 0 or step >= config.max_steps:
                stop, out_of_time = world.any([stop_requested.is_set(), time.monotonic() >= deadline], device)
            final = step >= config.max_steps or out_of_time
            evaluate_now = val_batches is not None and (step % config.eval_every == 0 or final)
            if step % config.log_every == 0 or evaluate_now or final:
                train_loss, train_bpc, steps_per_sec = running.take()
                if not math.isfinite(train_loss):
                    raise Diverged(f"training diverged by step {step} (the loss is {train_loss}); {DIVERGED_ADVICE}")
                record = {
                    "step": step,
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "train_bpc": train_bpc,
                    "lr": lr,
                    "tokens_per_sec": steps_per_sec * tokens_per_step * world.size,
                }
                if val_batches is not None and evaluate_now:
                    with averaged():
                        record["val_loss"], record["val_bpc"] = evaluate(raw, val_batches, config.eval_batches, chars_per_token,
                                                                            device, world)
                        if not math.isfinite(record["val_loss"]):
                            raise Diverged(f"validation loss is {record['val_loss']} at step {step}; {DIVERGED_ADVICE}")
                        if best[0] is None or record["val_loss"] < best[0]:
                            best, stale = (record["val_loss"], None if manifest.word_level else record["val_bpc"]), 0
                            save(run.best_path)
                        else:
                            stale += 1
                    running.restart_clock()
                log.record(in_perplexity(record) if manifest.word_level else record)
            if stop:
                interrupted = True
                break
            out_of_patience = config.patience is not None and stale >= config.patience
            if final or out_of_patience:
                break
            if step % config.save_every == 0:
                save(run.checkpoint_path)
        save(run.checkpoint_path)
        if val_batches is None:
            with averaged():
                save(run.best_path)
    return TrainResult(step, best[0], best[1], interrupted, str(run.checkpoint_path), config.patience if out_of_patience else None)
