"""The electricity-load recipe: the model's day-ahead forecasts against the forecasts a user gets for free.

    python benchmarks/bench_series.py [--minutes 10] [--steps 600] [--threads 1] [--device cpu]

Prepares the `series` corpus' generated household load (hourly, four years; its last fifth held
out for scoring, the tenth before it the validation part that picks best.pt), trains the `load`
recipe, and scores best.pt as `charmony evaluate --run RUN --option period=24,168` does: rolling
origins a day apart over the held-out values, each after the context the model reads, the median of 20 samples against persistence and the seasonal naive
forecasts at a day and a week. Prints MAE, MSE, MASE, CRPS and the 80% interval's coverage in kW,
and the model's MAE as a share of each baseline's (goal: below 1 for all).
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

import torch

from charmony.pipeline.run.config import ForecastScoreConfig, PrepareConfig, TrainConfig
from charmony.pipeline.series.score import score_forecasts
from charmony.pipeline.plugin.manager import get_corpus
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.plugin.recipes import apply_recipe
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="training budget (wall clock)")
    parser.add_argument("--steps", type=int, help="training steps (default: the recipe's)")
    parser.add_argument("--horizon", type=int, default=24, help="steps forecast per held-out window")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--keep", type=Path, help="keep the run in this folder")
    args = parser.parse_args(argv)

    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench-series-"))
    try:
        run = Run(folder / "runs" / "load")
        manifest = prepare(run, PrepareConfig("series"))
        settings = apply_recipe(get_corpus("series").recipe("load"), {"max_steps": args.steps} if args.steps else {})
        config = TrainConfig().with_settings(**settings).with_settings(max_minutes=args.minutes, device=args.device,
                                                                        threads=args.threads)
        started = time.perf_counter()
        result = train(run, config)
        trained = time.perf_counter() - started
        started = time.perf_counter()
        score = score_forecasts(run, ForecastScoreConfig(horizon=args.horizon, periods=(24, 168), device=args.device,
                                                         threads=args.threads))
        scored = time.perf_counter() - started
        figures = {"steps": result.step, "train_minutes": trained / 60, "score_s": scored, **score.to_json()}
        print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), torch {torch.__version__}, device {args.device}")
        print(f"{(run.profile() or {}).get('note', '')}; {manifest.tokens['train']:,} train / "
              f"{manifest.tokens['val']:,} validation tokens; recipe load: {result.step:,} steps in {trained / 60:.1f} min")
        print(f"scoring: {scored:.1f} s")
        print(score.text())
        print("model MAE / baseline MAE: " + ", ".join(f"{name} {ratio:.2f}" for name, ratio in figures["mae_vs"].items())
              + " (goal: below 1 for all)")
        return figures
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
