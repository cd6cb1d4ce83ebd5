"""The PTB tutorial's recipe on a word-level corpus the user gives: validation perplexity after a fixed CPU budget.

    python benchmarks/bench_words.py --source wikitext-2/ [--recipe small] [--minutes 30] [--threads 1]

`--source` is a folder (or files) in the PTB layout (ptb.train.txt, ptb.valid.txt, ptb.test.txt; or bare train.txt, valid.txt, test.txt)
or WikiText's (wiki.train.tokens, wiki.valid.tokens, wiki.test.tokens); their own train/valid split
is used. Nothing is downloaded: no corpus in that layout ships with an installable package.
Prints the best validation perplexity beside the published figures for PTB.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from charmony.pipeline.plugin.manager import get_corpus
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.recipes import apply_recipe
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import TrainConfig
from charmony.pipeline.training.train import train
from charmony.pipeline.training.log import perplexity

# Zaremba, Sutskever and Vinyals (2014), Recurrent Neural Network Regularization, table 1 (PTB).
REFERENCE = {
    "small": "PTB small: 120.7 valid / 114.5 test (goal: below 120)",
    "medium": "PTB medium: 86.2 valid / 82.7 test",
    "large": "PTB large: 82.2 valid / 78.4 test (goal: below 80)",
}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, nargs="+", required=True, help="the corpus in the PTB or WikiText layout")
    parser.add_argument("--recipe", default="small", choices=sorted(REFERENCE))
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget (wall clock)")
    parser.add_argument("--max-vocab", type=int, default=1_000_000, help="keep the corpus' own vocabulary (PTB: 10,000)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", type=Path, help="keep the run in this folder")
    for name in ("max-steps", "hidden", "layers", "batch-size", "seq-len", "eval-every"):
        parser.add_argument(f"--{name}", type=int, help="override the recipe's")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-words-"))
    try:
        run = Run(folder / "runs" / "words")
        started = time.perf_counter()
        manifest = prepare(run, PrepareConfig("words", list(args.source), max_vocab=args.max_vocab))
        if manifest.split != "corpus":
            raise SystemExit("--source is not in the PTB or WikiText layout (NAME.train.txt, NAME.valid.txt, ...)")
        prepared = time.perf_counter() - started
        given = {key: getattr(args, key) for key in ("max_steps", "hidden", "layers", "batch_size", "seq_len", "eval_every")
                 if getattr(args, key) is not None}
        settings = apply_recipe(get_corpus("words").recipe(args.recipe), given)
        config = TrainConfig().with_settings(**settings).with_settings(
            max_minutes=args.minutes, device=args.device, threads=args.threads,
            save_every=max(settings.get("save_every", 1000), settings.get("max_steps", 1)))
        started = time.perf_counter()
        result = train(run, config)
        trained = time.perf_counter() - started
        lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]
        figures = {
            "recipe": args.recipe, "steps": result.step, "train_minutes": trained / 60, "prepare_s": prepared,
            "train_tokens": manifest.tokens["train"], "val_tokens": manifest.tokens["val"], "vocab": manifest.vocab_size,
            "tokens_per_sec": sum(line["tokens_per_sec"] for line in lines) / len(lines),
            "best_val_ppl": perplexity(result.best_val_loss) if result.best_val_loss is not None else None,
        }
        print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), torch {torch.__version__}, device {args.device}")
        print(f"corpus: {figures['train_tokens']:,} train / {figures['val_tokens']:,} valid tokens, vocabulary {figures['vocab']:,}")
        print(f"recipe {args.recipe}: {result.step:,} steps in {figures['train_minutes']:.1f} min "
              f"({figures['tokens_per_sec']:,.0f} tokens/s), best validation perplexity {figures['best_val_ppl']:.1f}")
        print(f"reference: {REFERENCE[args.recipe]}")
        return figures
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
