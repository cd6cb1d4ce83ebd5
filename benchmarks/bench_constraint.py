"""How much the ABC constraint costs: constrained against free sampling of the same model, in one run.

Prepares the chorales' soprano lines in twelve keys (from music21's corpus, as `make demo` does), trains
the default model briefly (so that it writes tune-like text, as a trained model does), then draws 64 and
1,024 samples in one batch, free and constrained, and prints characters per second and the ratio.
Goal: constrained sampling at least 0.5x free throughput on the CPU.

Run: .venv/bin/python benchmarks/bench_constraint.py [--steps 300] [--length 600] [--threads 1]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
from pathlib import Path

import torch

from charmony.pipeline.run.config import ModelConfig, PrepareConfig, SampleConfig, TrainConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.training.train import train


def timed_sample(run: Run, config: SampleConfig) -> tuple[float, int, float]:
    """Seconds, characters written and the share of tunes that ended by themselves."""
    started = time.perf_counter()
    samples, _ = sample(run, config)
    seconds = time.perf_counter() - started
    return seconds, sum(len(s.text) for s in samples), sum(s.finished for s in samples) / len(samples)


def main() -> None:
    """Prepare, train briefly, sample free and constrained at two batch sizes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300, help="training steps before sampling (default 300)")
    parser.add_argument("--length", type=int, default=600, help="--max-length of each sample (default 600)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--batches", default="64,1024", help="samples per batch, comma-separated (default 64,1024)")
    parser.add_argument("--folder", type=Path, help="keep the run here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="bench-constraint-"))
    run = Run(folder / "runs" / "bach")
    prepare(run, PrepareConfig("bach", options={"voices": "soprano", "transpose": "all"}, force=True))
    model = ModelConfig(dropout=0.1)
    train(run, TrainConfig(model=model, max_steps=args.steps, eval_every=args.steps, save_every=args.steps,
                           log_every=50, device="cpu", threads=args.threads), restart=True)
    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} thread(s), torch {torch.__version__}")
    print(f"model: {model.layers} x {model.hidden} {model.cell}, trained {args.steps} steps; samples of at most {args.length} characters, "
          "temperature 1.0")
    print("samples  free chars/s  constrained chars/s  ratio  ended by themselves (free / constrained)")
    for count in (int(n) for n in args.batches.split(",")):
        config = SampleConfig(num_samples=count, max_length=args.length, temperature=1.0, seed=1, device="cpu",
                              threads=args.threads)
        free_s, free_chars, free_ended = timed_sample(run, dataclasses.replace(config, free=True))
        con_s, con_chars, con_ended = timed_sample(run, config)
        free_rate, con_rate = free_chars / free_s, con_chars / con_s
        print(f"{count:>7}  {free_rate:>12,.0f}  {con_rate:>19,.0f}  {con_rate / free_rate:>5.2f}x  "
              f"{free_ended:.0%} / {con_ended:.0%}")
    print(f"run in {folder}")


if __name__ == "__main__":
    main()
