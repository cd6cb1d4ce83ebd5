"""What training reports: metrics.jsonl, and a progress bar on a terminal or one plain line per log step otherwise.

Losses are given in both units everywhere: nats per token (what the model minimises) and bits per
character (comparable across vocabularies, as char-rnn reported it). Runs whose tokens are words (or
values) give perplexity in place of bits per character, which mean nothing for them.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm import tqdm

from charmony.pipeline.system.atomic import atomic_path
from charmony.pipeline.system.world import World

LN2 = math.log(2)


def bits_per_character(nats_per_token: float, tokens: float, characters: float) -> float:
    """A loss in nats per token as bits per character, for `tokens` tokens spelling `characters` characters."""
    return nats_per_token * tokens / characters / LN2 if characters else math.nan


def perplexity(nats_per_token: float) -> float:
    """The perplexity of a loss in nats per token."""
    return math.exp(min(nats_per_token, 700.0))  # beyond that exp overflows a float


def in_perplexity(record: dict) -> dict:
    """A metrics record of a word-level run: each split's perplexity in place of its bits per character."""
    for split in ("train", "val"):
        if f"{split}_bpc" in record:
            del record[f"{split}_bpc"]
            record[f"{split}_ppl"] = perplexity(record[f"{split}_loss"])
    return record


class RunningLoss:
    """The mean training loss between log lines, summed on the device so that no step waits for it.

    It also counts the characters the targets spell, for bits per character. With several processes
    the means are over all of them.
    """

    def __init__(self, device: torch.device, tokens_per_step: int, carried: tuple[float, ...] = (0.0, 0, 0.0),
                 world: World = World()):
        self.pending = torch.zeros(2, device=device, dtype=torch.float64)  # loss, characters
        self.tokens_per_step = tokens_per_step
        self.total, self.count = carried[0], int(carried[1])  # read back already, or carried over a resume
        # Checkpoints before characters were counted: one character a token, exact for characters.
        self.characters = carried[2] if len(carried) > 2 else self.count * tokens_per_step
        self.world = world
        self.restart_clock()

    def add(self, loss: torch.Tensor, characters: torch.Tensor) -> None:
        """Count one step's loss and the characters of its targets."""
        self.pending[0] += loss
        self.pending[1] += characters
        self.count += 1
        self.timed_steps += 1

    def restart_clock(self) -> None:
        """Time steps from now, leaving out e.g. an evaluation."""
        self.started, self.timed_steps = time.perf_counter(), 0

    def saved(self) -> tuple[float, int, float]:
        """Loss sum, steps and characters so far, for a checkpoint (every process must call it)."""
        # The only host-device sync of the step loop.
        loss, characters = (self.world.sum(self.pending.clone()) / self.world.size).tolist()
        return self.total + loss, self.count, self.characters + characters

    def take(self) -> tuple[float, float, float]:
        """Mean loss in nats per token, in bits per character, and steps per second since the last take."""
        total, count, characters = self.saved()
        rate = self.timed_steps / (time.perf_counter() - self.started)
        self.pending.zero_()
        self.total, self.count, self.characters = 0.0, 0, 0.0
        self.restart_clock()
        return total / count, bits_per_character(total / count, count * self.tokens_per_step, characters), rate


def clock(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    if not math.isfinite(seconds):
        return "?"
    seconds = round(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def metrics_lines(path: Path) -> list[str]:
    """The lines of a metrics.jsonl; a byte that is not UTF-8 (a damaged file) becomes U+FFFD rather than an error."""
    return path.read_bytes().decode("utf-8", errors="replace").splitlines()


def trim_metrics(path: Path, step: int) -> None:
    """Drop metric lines logged after `step`, so a resumed run's log reads as one run."""
    if not path.exists():
        return
    kept = []
    for line in metrics_lines(path):
        try:
            if json.loads(line)["step"] <= step:
                kept.append(line)
        except (ValueError, KeyError, TypeError):  # a line cut short when the process was killed, or damaged
            continue
    with atomic_path(path) as temporary:
        temporary.write_text("".join(line + "\n" for line in kept), encoding="utf-8")


class TrainLog:
    """Writes metrics.jsonl and tells the user how training goes, from the main process only.

    On a terminal: a progress bar, and a line per evaluation. Without one (under nohup, in a log
    file, in CI): one plain line per log step, with step, losses, learning rate, speed, elapsed
    time and ETA, and no progress-bar frames.
    """

    def __init__(self, metrics_path: Path, name: str, step: int, max_steps: int, deadline: float, world: World,
                 terminal: bool | None = None):
        self.main = world.main
        self.terminal = sys.stderr.isatty() if terminal is None else terminal
        self.max_steps, self.deadline = max_steps, deadline
        self.first_step, self.started = step, time.monotonic()
        self.bar = tqdm(total=max_steps, initial=step, desc=f"train {name}", unit="step", dynamic_ncols=True,
                        leave=False, disable=not (self.main and self.terminal))
        self.metrics = metrics_path.open("a") if self.main else None

    def __enter__(self) -> TrainLog:
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()
        if self.metrics is not None:
            self.metrics.close()

    def advance(self) -> None:
        """One step done."""
        self.bar.update(1)

    def record(self, record: dict) -> None:
        """Write one metrics line, and show it."""
        if self.metrics is None:
            return
        self.metrics.write(json.dumps(record) + "\n")
        self.metrics.flush()
        self.bar.set_postfix(loss=f"{record['train_loss']:.3f}", tok_s=f"{record['tokens_per_sec']:,.0f}")
        if self.terminal:
            if "val_loss" in record:
                self.bar.write(f"step {record['step']}: train loss {losses(record, 'train')}, val loss {losses(record, 'val')}")
            return
        print(self.line(record), flush=True)

    def line(self, record: dict) -> str:
        """The plain line of a metrics record."""
        step = record["step"]
        now = time.monotonic()
        elapsed = now - self.started
        done = step - self.first_step
        eta = (self.max_steps - step) * elapsed / done if done else math.inf
        eta = min(eta, max(0.0, self.deadline - now))
        val = f", val loss {losses(record, 'val')}" if "val_loss" in record else ""
        return (f"step {step}/{self.max_steps}: train loss {losses(record, 'train')}{val}, lr {record['lr']:.2e}, "
                f"{record['tokens_per_sec']:,.0f} tok/s, elapsed {clock(elapsed)}, ETA {clock(eta)}")


def losses(record: dict, split: str) -> str:
    """A split's loss in a metrics record, in both units: `1.2345 nats/token (1.781 bpc)`, or `(ppl 3.44)` for words."""
    if f"{split}_ppl" in record:
        return f"{record[f'{split}_loss']:.4f} nats/token (ppl {record[f'{split}_ppl']:.2f})"
    return f"{record[f'{split}_loss']:.4f} nats/token ({record[f'{split}_bpc']:.3f} bpc)"


@dataclass(frozen=True)
class Metrics:
    """The losses of one run's training, as metrics.jsonl records them."""

    train: list[tuple[int, float]]  # (step, training loss) of each log line
    val: list[tuple[int, float, float | None]]  # (step, validation loss, validation bits per character) of each evaluation

    @property
    def best(self) -> tuple[int, float, float | None] | None:
        """The evaluation with the lowest validation loss, whose model best.pt holds (the first, on a tie)."""
        return min(self.val, key=lambda point: point[1]) if self.val else None

    @property
    def last_step(self) -> int | None:
        """The last step training logged."""
        steps = [step for step, _ in self.train] + [step for step, _, _ in self.val]
        return max(steps) if steps else None


def read_metrics(path: Path) -> Metrics:
    """The losses in a metrics.jsonl; lines that are not JSON objects with a step (a line cut short) are left out."""
    train, val = [], []
    try:
        lines = metrics_lines(path)
    except OSError:
        lines = []
    for line in lines:
        try:
            record = json.loads(line)
            step = int(record["step"])
        except (ValueError, KeyError, TypeError):
            continue
        if _finite(record.get("train_loss")):
            train.append((step, float(record["train_loss"])))
        if _finite(record.get("val_loss")):
            bpc = record.get("val_bpc")
            val.append((step, float(record["val_loss"]), float(bpc) if _finite(bpc) else None))
    return Metrics(train, val)


def _finite(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
