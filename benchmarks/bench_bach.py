"""How good is the default Bach model after a fixed training budget? Validity, bar durations, MIDI, bits per character.

Trains the default Bach model (below) for --minutes of wall time, samples 100 tunes and prints the share that
pass the `abc` checker, the share of bars whose duration fits the meter, the share that render to MIDI, and
the validation bits per character. Run: .venv/bin/python benchmarks/bench_bach.py [--minutes 10]
"""

from __future__ import annotations

import argparse
import dataclasses
import platform
import tempfile
import time
from pathlib import Path

import torch

from charmony.pipeline.prepare import PrepareConfig, prepare
from charmony.pipeline.runs import Run
from charmony.pipeline.sample import SampleConfig, sample
from charmony.pipeline.sample_files import write_samples
from charmony.pipeline.model import ModelConfig
from charmony.pipeline.train import TrainConfig, train

# The default Bach model: the chorales' soprano lines in all twelve keys, the default 2 x 256 LSTM.
CORPUS_OPTIONS = {"voices": "soprano", "transpose": "all"}
TRAIN = TrainConfig(ModelConfig(dropout=0.1), max_steps=100_000, eval_every=250, save_every=1000, log_every=100, device="cpu")
SAMPLING = SampleConfig(num_samples=100, max_length=1500, seed=1)
# One trained model, sampled at each temperature: lower is safer, higher more varied.
TEMPERATURES = (0.3, 0.5, 0.8)


def shares(report: dict) -> dict[str, float]:
    """Valid tunes, bars of the right duration, and tunes whose MIDI was written, as fractions."""
    entries = report["samples"]
    verdicts = [e["outputs"]["abc"].get("verdict") for e in entries]
    bars = sum(v["details"].get("bars", 0) for v in verdicts if v)
    bars_ok = sum(v["details"].get("bars_ok", 0) for v in verdicts if v)
    midi = [e["outputs"].get("midi", {}) for e in entries]
    return {
        "valid": sum(bool(v and v["valid"]) for v in verdicts) / len(entries),
        "bars_ok": bars_ok / bars if bars else 0.0,
        "midi": sum(bool(m.get("files")) and "error" not in m for m in midi) / len(entries),
        "finished": sum(e["finished"] for e in entries) / len(entries),
    }


def main() -> None:
    """Prepare, train for the budget, sample and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget in wall-clock minutes (default 10)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--keep", type=Path, help="keep the run and the samples in this folder")
    parser.add_argument("--threads", type=int, help="torch CPU threads; 1 avoids OpenMP stalls on a busy shared machine")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-bach-"))
    run = Run(folder / "runs" / "bach")
    started = time.perf_counter()
    manifest = prepare(run, PrepareConfig("bach", options=dict(CORPUS_OPTIONS), force=True))
    prepared = time.perf_counter() - started
    config = dataclasses.replace(TRAIN, max_minutes=args.minutes, device=args.device)
    result = train(run, config, restart=True)
    figures = {}
    for temperature in TEMPERATURES:
        samples, metadata = sample(run, dataclasses.replace(SAMPLING, temperature=temperature, device=args.device))
        report = write_samples(samples, metadata, folder / f"samples-t{temperature}", manifest.extension, ["abc", "midi"])
        figures[temperature] = shares(report)

    print(f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads, torch {torch.__version__}, device {args.device}")
    print(f"corpus: bach {CORPUS_OPTIONS}, {sum(manifest.documents.values())} tunes, "
          f"{manifest.tokens['train']:,} training characters (prepared in {prepared:.0f} s)")
    shape = config.model
    print(f"model: {shape.layers} x {shape.hidden} {shape.cell}, dropout {shape.dropout}; trained {args.minutes:g} min, "
          f"{result.step} steps")
    print(f"validation loss: {result.best_val_loss:.4f} nats/token, {result.best_val_bpc:.3f} bits/character")
    print(f"sampling {SAMPLING.num_samples} tunes (seed {SAMPLING.seed}, at most {SAMPLING.max_length} characters) at each temperature:")
    print("temperature  valid tunes  bars of the right length  MIDI renders  ended by themselves")
    for temperature, shown in figures.items():
        print(f"{temperature:>11}  {shown['valid']:>11.0%}  {shown['bars_ok']:>24.1%}  {shown['midi']:>12.0%}  {shown['finished']:>19.0%}")
    print(f"run and samples in {folder}")


if __name__ == "__main__":
    main()
