"""The `train` stage: stateful truncated BPTT with AdamW, evaluation, metrics and atomic checkpoints.

One process or many: under torchrun each process trains its own streams with DistributedDataParallel,
and only rank 0 writes checkpoints and metrics.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from tqdm import tqdm

from charmony import __version__
from charmony.pipeline.atomic import atomic_path
from charmony.pipeline.batching import DeviceBatches, StreamBatches
from charmony.pipeline.checkpoint import check_vocabulary, load_checkpoint, save_checkpoint
from charmony.pipeline.device import autocast, resolve_device
from charmony.pipeline.distributed import World, process_group
from charmony.pipeline.errors import CheckpointError, ConfigError, check_seed
from charmony.pipeline.model import CharModel, ModelConfig, State, detach
from charmony.pipeline.runs import Run
from charmony.pipeline.sources import check_sources

DEFAULT_EMBEDDING = 64
MODEL_FIELDS = ("layers", "hidden", "embedding", "cell", "dropout", "tie_weights", "recurrent_dropout")
# The carried hidden state and the position in the streams depend on these (and on the number of
# streams, --batch-size x processes); the seed only matters at step 0, after which the saved
# random-number state takes over.
FIXED_ON_RESUME = ("seq_len", "seed")


@dataclass
class TrainConfig:
    """Model shape and training settings; saved in each checkpoint."""

    layers: int = 2
    hidden: int = 256
    embedding: int | None = None  # None: the hidden size for words, 64 if the corpus recommends an embedding, else one-hot
    cell: str = "lstm"
    dropout: float = 0.0
    tie_weights: bool = False
    recurrent_dropout: float = 0.0  # lnlstm only: dropout on the candidate update
    init_scale: float | None = None  # weights from U(-init_scale, init_scale), as the PTB recipes; None: PyTorch's
    seq_len: int = 100  # time steps per batch (truncated BPTT length)
    batch_size: int = 32  # parallel streams per process
    lr: float = 5e-3  # peak learning rate (Adam); 2e-3, char-rnn's, learns about half as fast here
    weight_decay: float = 0.01  # AdamW, on weight matrices only
    grad_clip: float = 1.0  # max global gradient norm
    warmup_steps: int = 100  # linear warm-up, then cosine decay to lr / 10 at max_steps
    max_steps: int = 2000
    max_minutes: float | None = None  # stop early after this much wall time
    eval_every: int = 200
    eval_batches: int = 50  # at most this many validation batches per evaluation
    save_every: int = 500
    log_every: int = 10
    device: str = "auto"
    seed: int = 1337
    compile: bool = False  # torch.compile the step around the recurrent layers

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

    @classmethod
    def from_json(cls, data: dict) -> TrainConfig:
        """A config from a checkpoint's saved dict, ignoring fields this version does not know."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


DIVERGED_ADVICE = "the checkpoints already written are kept; resume or restart with a lower --lr"


class Diverged(ConfigError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    """How a training session ended."""

    step: int
    best_val_loss: float | None
    interrupted: bool
    checkpoint: str


def is_word_level(manifest: dict) -> bool:
    """Whether a run's tokens are words (or values), which are measured by perplexity rather than bits per character."""
    return manifest.get("token_unit", "character") != "character"


def perplexity(loss: float) -> float:
    """The perplexity of a loss in nats per token."""
    return math.exp(min(loss, 700.0))  # beyond that exp overflows a float


def model_config_for(config: TrainConfig, manifest: dict, vocab_size: int) -> ModelConfig:
    """The model shape for this corpus: the config's, with the corpus' embedding advice as default.

    Word-level runs default to an embedding as wide as the hidden layer, as the PTB recipes have it,
    which also lets --tie-weights share it with the head.
    """
    embedding = config.embedding
    if embedding is None:
        if config.tie_weights or manifest.get("token_unit") == "word":
            embedding = config.hidden
        else:
            embedding = DEFAULT_EMBEDDING if manifest.get("embedding") else 0
    return ModelConfig(
        vocab_size=vocab_size,
        cell=config.cell,
        layers=config.layers,
        hidden=config.hidden,
        embedding=embedding,
        dropout=config.dropout,
        tie_weights=config.tie_weights,
        recurrent_dropout=config.recurrent_dropout,
        init_scale=config.init_scale,
    )


def make_optimizer(model: torch.nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW that decays weight matrices but not biases or norms; fused into one kernel (CPU and CUDA)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    device = next(model.parameters()).device
    # Several times faster than the default for-each implementation on both devices.
    fused = device.type in ("cpu", "cuda")
    return torch.optim.AdamW(groups, lr=config.lr, betas=(0.9, 0.99), fused=fused)


def make_scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to a tenth of the peak at `max_steps`."""
    warmup = min(config.warmup_steps, config.max_steps // 10)

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, config.max_steps - warmup))
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def train_step(model, optimizer, scheduler, x, y, state: State, grad_clip: float, device) -> tuple[torch.Tensor, State]:
    """One optimisation step on a batch; returns the (unsynchronised) loss and the detached state."""
    with autocast(device):
        logits, state = model(x, state)
        loss = F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
    optimizer.step()
    scheduler.step()
    return loss.detach(), detach(state)


@torch.no_grad()
def evaluate(model: CharModel, batches: DeviceBatches, max_batches: int, chars_per_token: torch.Tensor, device, world: World = World()) -> tuple[float, float]:
    """Mean validation loss in nats per token, and bits per character, over the first batches of every process' streams."""
    model.eval()
    state = model.initial_state(batches.batches.batch_size, device)
    totals = torch.zeros(3, device=device, dtype=torch.float64)  # loss, tokens, characters
    for index in range(min(len(batches), max_batches)):
        x, y = batches.get(index)
        with autocast(device):
            logits, state = model(x, state)
        totals[0] += F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1), reduction="sum")
        totals[1] += y.numel()
        totals[2] += chars_per_token[y].sum()
    model.train()
    loss, tokens, chars = world.sum(totals).tolist()
    return loss / tokens, loss / chars / math.log(2)


@contextmanager
def stop_on_interrupt(escalate: bool = True) -> Iterator[threading.Event]:
    """Turn the first Ctrl-C (or SIGTERM) into a request to stop after the current step; a second aborts.

    With `escalate` off every signal only requests the stop: torchrun passes a signal on to its
    processes, and kills any that are still running after its own grace period.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum, frame):
        if requested.is_set() and escalate:
            raise KeyboardInterrupt
        requested.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _validation_batches(run: Run, config: TrainConfig, world: World) -> StreamBatches | None:
    """Each process' share of the validation streams: as many as for training where the split allows."""
    tokens = run.tokens("val")
    if len(tokens) == 0:
        return None
    batch_size = min(config.batch_size, len(tokens) // (config.seq_len + 1) // world.size)
    if batch_size == 0:
        processes = f" for each of {world.size} processes" if world.size > 1 else ""
        raise ConfigError(
            f"the val split has {len(tokens):,} tokens but --seq-len {config.seq_len} needs at least "
            f"{config.seq_len + 1}{processes}; lower --seq-len or prepare with a larger --val-fraction"
        )
    return StreamBatches(tokens, batch_size, config.seq_len, "val", world.rank, world.size)


def _trim_metrics(run: Run, step: int) -> None:
    """Drop metric lines logged after `step`, so a resumed run's log reads as one run."""
    if not run.metrics_path.exists():
        return
    kept = []
    for line in run.metrics_path.read_text().splitlines():
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a line cut short when the process was killed
            continue
    with atomic_path(run.metrics_path) as temporary:
        temporary.write_text("".join(line + "\n" for line in kept))


class RunningLoss:
    """The mean training loss between log lines, summed on the device so that no step waits for it.

    With several processes the mean is over all of them.
    """

    def __init__(self, device: torch.device, carried: tuple[float, int] = (0.0, 0), world: World = World()):
        self.pending = torch.zeros((), device=device, dtype=torch.float64)
        self.total, self.count = carried  # read back already, or carried over a resume
        self.world = world
        self.restart_clock()

    def add(self, loss: torch.Tensor) -> None:
        """Count one step's loss."""
        self.pending += loss
        self.count += 1
        self.timed_steps += 1

    def restart_clock(self) -> None:
        """Time steps from now, leaving out e.g. an evaluation."""
        self.started, self.timed_steps = time.perf_counter(), 0

    def saved(self) -> tuple[float, int]:
        """Sum and count so far, for a checkpoint (every process must call it)."""
        pending = self.world.sum(self.pending.clone()).item() / self.world.size  # the only host-device sync of the step loop
        return self.total + pending, self.count

    def take(self) -> tuple[float, float]:
        """Mean loss and steps per second since the last take; starts a new interval."""
        total, count = self.saved()
        rate = self.timed_steps / (time.perf_counter() - self.started)
        self.pending.zero_()
        self.total, self.count = 0.0, 0
        self.restart_clock()
        return total / count, rate


def resumable_checkpoint(run: Run) -> dict:
    """The run's latest checkpoint, read once, to resume from."""
    if not run.checkpoint_path.exists() and run.best_path.exists():
        raise CheckpointError(
            f"run {run.name!r} stopped before its first periodic save, so there is only best.pt, "
            "which cannot be resumed; start over with --restart"
        )
    return load_checkpoint(run.checkpoint_path)


def saved_streams(checkpoint: dict) -> int:
    """How many streams a checkpoint trains: --batch-size times the number of processes."""
    return checkpoint["train_config"]["batch_size"] * checkpoint.get("world_size", 1)


def resume_config(checkpoint: dict, overrides: dict, world_size: int = 1) -> TrainConfig:
    """A checkpoint's saved settings with `overrides`; the processes share the saved streams unless --batch-size is given."""
    config = TrainConfig.from_json(checkpoint["train_config"])
    if "batch_size" not in overrides:
        streams = saved_streams(checkpoint)
        if streams % world_size:
            raise ConfigError(
                f"the checkpoint trains {streams} streams, which {world_size} processes cannot share evenly; "
                f"resume with a number of processes that divides {streams}"
            )
        overrides = {**overrides, "batch_size": streams // world_size}
    return dataclasses.replace(config, **overrides)


def load_train_config(run: Run) -> TrainConfig:
    """The training settings saved in a run's latest checkpoint, for --resume."""
    return resume_config(load_checkpoint(run.checkpoint_path), {})


def _check_resumable(checkpoint: dict, model_config: ModelConfig, config: TrainConfig, world_size: int) -> None:
    saved_model = ModelConfig(**checkpoint["model_config"])
    saved_train = TrainConfig.from_json(checkpoint["train_config"])
    changed = [f for f in MODEL_FIELDS if getattr(saved_model, f) != getattr(model_config, f)]
    changed += [f for f in FIXED_ON_RESUME if getattr(saved_train, f) != getattr(config, f)]
    if changed:
        options = ", ".join("--" + f.replace("_", "-") for f in changed)
        raise ConfigError(f"--resume cannot change {options}; drop those options, or start over with --restart")
    streams = saved_streams(checkpoint)
    if config.batch_size * world_size != streams:
        raise ConfigError(
            f"--resume cannot change the number of streams (--batch-size x processes): {streams} when saved, "
            f"{config.batch_size} x {world_size} now; drop --batch-size, or start over with --restart"
        )
    if checkpoint["step"] >= config.max_steps:
        raise ConfigError(
            f"the run is already at step {checkpoint['step']}, and --max-steps is {config.max_steps}; "
            "give a larger --max-steps to train further"
        )


@dataclass
class Plan:
    """What a training session starts from, checked before any process does real work."""

    manifest: dict
    model_config: ModelConfig
    checkpoint: dict | None


def plan_training(run: Run, config: TrainConfig, world_size: int = 1, resume: bool = False, restart: bool = False,
                  checkpoint: dict | None = None) -> Plan:
    """Check that the run can be trained as asked by `world_size` processes; the checkpoint is read once, if not given."""
    manifest = run.manifest()
    vocab = run.vocabulary()
    if vocab.sha256 != manifest["vocab_sha256"] or len(vocab) != manifest["vocab_size"]:
        raise CheckpointError(f"{run.vocab_path} does not match the manifest; run `charmony prepare` again")
    check_sources(manifest.get("sources", []), f"prepare run {run.name!r} again to train on the new text, or restore the file")
    model_config = model_config_for(config, manifest, len(vocab))
    if resume:
        checkpoint = checkpoint if checkpoint is not None else resumable_checkpoint(run)
        check_vocabulary(checkpoint, vocab, run.checkpoint_path)
        _check_resumable(checkpoint, model_config, config, world_size)
    elif run.has_checkpoints() and not restart:
        raise ConfigError(
            f"run {run.name!r} already has a checkpoint; continue it with --resume, or start over with --restart"
        )
    else:
        checkpoint = None
    StreamBatches(run.tokens("train"), config.batch_size, config.seq_len, "train", 0, world_size)
    _validation_batches(run, config, World(0, world_size))
    return Plan(manifest, model_config, checkpoint)


def _restore(checkpoint: dict, model, optimizer, scheduler, config: TrainConfig, device, world: World) -> State:
    """Load weights, optimizer, schedule and random-number state; return this process' carried hidden state."""
    model.load_state_dict(checkpoint["model"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    scheduler.base_lrs = [config.lr] * len(optimizer.param_groups)  # --lr may change on resume
    rng = checkpoint["rng"]
    ranks = rng.get("ranks", [{"torch": rng["torch"], "cuda": rng["cuda"]}])
    if world.rank < len(ranks):
        torch.set_rng_state(ranks[world.rank]["torch"])
        if device.type == "cuda" and ranks[world.rank]["cuda"]:
            torch.cuda.set_rng_state(ranks[world.rank]["cuda"][0], device)
    else:  # more processes than when saved: dropout draws anew, the rest resumes exactly
        torch.manual_seed(config.seed + world.rank + checkpoint["step"])
    rows = slice(world.rank * config.batch_size, (world.rank + 1) * config.batch_size)
    return tuple(part[:, rows].to(device) for part in checkpoint["state"])


def train(
    run: Run,
    config: TrainConfig,
    resume: bool = False,
    restart: bool = False,
    on_step: Callable[[int], None] | None = None,
    checkpoint: dict | None = None,
) -> TrainResult:
    """Train the run's model, resuming from its checkpoint if asked; `on_step(step)` is called after each step.

    `checkpoint` is the checkpoint to resume from when the caller has read it already. Under
    torchrun this process trains its share of the streams with DistributedDataParallel.
    """
    world = World.from_environment()
    plan = plan_training(run, config, world.size, resume, restart, checkpoint)
    device = world.device(resolve_device(config.device))
    with process_group(world, device):
        return _train(run, config, plan, world, device, on_step)


def _train(run: Run, config: TrainConfig, plan: Plan, world: World, device: torch.device, on_step) -> TrainResult:
    manifest, checkpoint = plan.manifest, plan.checkpoint
    vocab = run.vocabulary()
    batches = DeviceBatches(StreamBatches(run.tokens("train"), config.batch_size, config.seq_len, "train", world.rank, world.size), device)
    val_streams = _validation_batches(run, config, world)
    val_batches = DeviceBatches(val_streams, device) if val_streams is not None else None
    chars_per_token = torch.from_numpy(vocab.token_lengths()).to(device)
    words = is_word_level(manifest)

    torch.manual_seed(config.seed)
    raw = CharModel(plan.model_config).to(device)
    if world.rank:
        torch.manual_seed(config.seed + world.rank)  # the same initial weights, but each process its own dropout
    optimizer = make_optimizer(raw, config)
    scheduler = make_scheduler(optimizer, config)
    if checkpoint is not None:
        state = _restore(checkpoint, raw, optimizer, scheduler, config, device, world)
        step, best_val_loss = checkpoint["step"], checkpoint["best_val_loss"]
        running = RunningLoss(device, tuple(checkpoint["log"]), world)
        if world.main:
            _trim_metrics(run, step)
    else:
        if world.main:
            for path in (run.metrics_path, run.best_path, run.checkpoint_path):
                path.unlink(missing_ok=True)
        state = raw.initial_state(config.batch_size, device)
        step, best_val_loss = 0, None
        running = RunningLoss(device, world=world)
    model = raw
    if world.size > 1:
        model = torch.nn.parallel.DistributedDataParallel(raw, device_ids=[device.index] if device.type == "cuda" else None)
    if config.compile:
        model = torch.compile(model)

    def save(path) -> None:
        """Write a checkpoint from rank 0; every process must call it, for the gathers."""
        hidden = [torch.cat(world.gather(part.detach(), device), dim=1) for part in state]
        ranks = [{"torch": t, "cuda": []} for t in world.gather(torch.get_rng_state(), device)]
        if device.type == "cuda":
            for entry, cuda in zip(ranks, world.gather(torch.cuda.get_rng_state(device), device)):
                entry["cuda"] = [cuda]
        log = list(running.saved())
        if not world.main:
            return
        save_checkpoint({
            "format": 1,
            "charmony_version": __version__,
            "corpus": manifest["corpus"],
            "vocab_sha256": vocab.sha256,
            "step": step,
            "model": raw.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "rng": {"torch": ranks[0]["torch"], "cuda": ranks[0]["cuda"], "ranks": ranks},
            "state": hidden,
            "log": log,
            "best_val_loss": best_val_loss,
            "model_config": asdict(plan.model_config),
            "train_config": asdict(config),
            "world_size": world.size,
        }, path)

    deadline = time.monotonic() + config.max_minutes * 60 if config.max_minutes else math.inf
    interrupted = False
    progress = tqdm(total=config.max_steps, initial=step, desc=f"train {run.name}", unit="step", dynamic_ncols=True,
                    leave=False, disable=not world.main)
    metrics_file = run.metrics_path.open("a") if world.main else contextlib.nullcontext()
    with stop_on_interrupt(escalate=world.size == 1) as stop_requested, metrics_file as metrics, progress:
        model.train()
        while step < config.max_steps:
            epoch, index = batches.batches.position(step)
            if index == 0:
                state = raw.initial_state(config.batch_size, device)  # the streams start again
            x, y = batches.get(index)
            loss, state = train_step(model, optimizer, scheduler, x, y, state, config.grad_clip, device)
            running.add(loss)
            step += 1
            progress.update(1)
            # Processes agree on stopping where they meet anyway, at log lines; one process every step.
            stop, out_of_time = False, False
            if world.size == 1 or step % config.log_every == 0 or step >= config.max_steps:
                stop, out_of_time = world.any([stop_requested.is_set(), time.monotonic() >= deadline], device)
            final = step >= config.max_steps or out_of_time
            evaluate_now = val_batches is not None and (step % config.eval_every == 0 or final)
            if step % config.log_every == 0 or evaluate_now or final:
                train_loss, steps_per_sec = running.take()
                if not math.isfinite(train_loss):
                    raise Diverged(f"training diverged by step {step} (the loss is {train_loss}); {DIVERGED_ADVICE}")
                record = {
                    "step": step,
                    "epoch": epoch,
                    "train_loss": train_loss,
                    "lr": scheduler.get_last_lr()[0],
                    "tokens_per_sec": steps_per_sec * config.batch_size * config.seq_len * world.size,
                }
                if evaluate_now:
                    record["val_loss"], record["val_bpc"] = evaluate(raw, val_batches, config.eval_batches, chars_per_token, device, world)
                    if words:
                        del record["val_bpc"]  # meaningless for words
                        record["val_ppl"] = perplexity(record["val_loss"])
                    if not math.isfinite(record["val_loss"]):
                        raise Diverged(f"validation loss is {record['val_loss']} at step {step}; {DIVERGED_ADVICE}")
                    if best_val_loss is None or record["val_loss"] < best_val_loss:
                        best_val_loss = record["val_loss"]
                        save(run.best_path)
                    if world.main:
                        measure = f"val ppl {record['val_ppl']:.2f}" if words else f"val bpc {record['val_bpc']:.3f}"
                        progress.write(f"step {step}: train loss {train_loss:.4f}, val loss {record['val_loss']:.4f}, {measure}")
                    running.restart_clock()
                if world.main:
                    metrics.write(json.dumps(record) + "\n")
                    metrics.flush()
                progress.set_postfix(loss=f"{train_loss:.3f}", tok_s=f"{record['tokens_per_sec']:,.0f}")
            if on_step is not None:
                on_step(step)
            if world.size == 1:
                stop = stop_requested.is_set()
            if stop:
                interrupted = True
                break
            if final:
                break
            if step % config.save_every == 0:
                save(run.checkpoint_path)
        save(run.checkpoint_path)
        if val_batches is None:
            save(run.best_path)
    return TrainResult(step, best_val_loss, interrupted, str(run.checkpoint_path))
