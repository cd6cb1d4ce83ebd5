"""The LayerNorm LSTM (`--cell lnlstm`) against `nn.LSTM`, trained the same number of steps in one run.

    python benchmarks/bench_cells.py [--steps 300] [--layers 2 --hidden 256] [--threads 1] [--device cpu]

Both train on the same tiny-shakespeare-sized text (1,115,394 characters) with the same settings
and seed through charmony's own `train`; the LayerNorm LSTM once eagerly and once with
`--compile`. Prints for each: training tokens/s (the median of the log intervals after the first,
so that compiling is left out), the time to the first logged interval, and the validation bits per
character after the last step.

The text is the docstrings of the running Python's standard library, in path order, cut at
tiny-shakespeare's length: English prose that every Python ships, so nothing is downloaded.
"""

from __future__ import annotations

import argparse
import ast
import json
import platform
import statistics
import sys
import sysconfig
import tempfile
import time
import warnings
from pathlib import Path

import torch

from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.train import train

TINY_SHAKESPEARE_CHARS = 1_115_394


def docstring_text(limit: int = TINY_SHAKESPEARE_CHARS) -> str:
    """The standard library's docstrings, module by module in path order, until `limit` characters."""
    root = Path(sysconfig.get_paths()["stdlib"])
    pieces, size = [], 0
    for path in sorted(root.rglob("*.py")):
        if "site-packages" in path.parts or "test" in path.parts or "tests" in path.parts:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node)
                if doc and len(doc) > 40:
                    pieces.append(doc + "\n\n")
                    size += len(doc) + 2
                    if size >= limit:
                        return "".join(pieces)[:limit]
    return "".join(pieces)[:limit]


def train_cell(run: Run, config: TrainConfig) -> dict:
    """Train one configuration; its speed after the first interval and its final validation bpc."""
    started = time.perf_counter()
    train(run, config, restart=True)
    wall = time.perf_counter() - started
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
    speeds = [line["tokens_per_sec"] for line in lines[1:]]
    first_interval = config.log_every * config.batch_size * config.seq_len / lines[0]["tokens_per_sec"]
    return {"tokens_per_sec": statistics.median(speeds), "first_interval_s": first_interval,
            "val_bpc": lines[-1]["val_bpc"], "wall_s": wall}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--seq-len", type=int, default=100)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 on a shared machine)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--cells", default="lstm,lnlstm,lnlstm+compile")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "input.txt"
        source.write_text(docstring_text(), encoding="utf-8")
        base = Run(Path(folder) / "runs" / "cells")
        manifest = prepare(base, PrepareConfig("text", [source]))
        print(f"text: {manifest.tokens['train']:,} train / {manifest.tokens['val']:,} val characters, "
              f"vocabulary {manifest.vocab_size}; {args.layers} x {args.hidden}, batches {args.batch_size} x "
              f"{args.seq_len}, {args.steps} steps, {args.threads} thread(s), {platform.processor() or platform.machine()}, "
              f"torch {torch.__version__}, Python {sys.version.split()[0]}")
        config = TrainConfig().with_settings(
            layers=args.layers, hidden=args.hidden, seq_len=args.seq_len, batch_size=args.batch_size, max_steps=args.steps,
            eval_every=args.steps, save_every=args.steps, log_every=max(1, args.steps // 10), device=args.device,
            eval_batches=50, threads=args.threads)
        results = {}
        for name in args.cells.split(","):
            cell, _, compiled = name.partition("+")
            results[name] = train_cell(base, config.with_settings(cell=cell, compile=bool(compiled)))
            r = results[name]
            print(f"{name:16s} {r['tokens_per_sec']:9,.0f} tok/s  first interval {r['first_interval_s']:6.1f} s  "
                  f"val bpc {r['val_bpc']:.3f}  (wall {r['wall_s']:.0f} s)", flush=True)
        if "lstm" in results:
            for name, r in results.items():
                if name != "lstm":
                    print(f"{name} / lstm: {r['tokens_per_sec'] / results['lstm']['tokens_per_sec']:.2f}x the tokens/s, "
                          f"{r['val_bpc'] - results['lstm']['val_bpc']:+.3f} bpc")


if __name__ == "__main__":
    main()
