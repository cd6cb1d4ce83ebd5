"""The electricity-load recipe: the model's day-ahead forecasts against persistence and seasonal persistence.

    python benchmarks/bench_series.py [--minutes 10] [--steps 600] [--threads 1] [--device cpu]

Prepares the `series` corpus' generated household load (hourly, four years, its last tenth held
out), trains the `load` recipe, and scores the median of 20 forecasts of each held-out day after a
week of context, as `charmony evaluate --run RUN` does. Prints the errors and the model's MSE as a
share of each baseline's (goal: below 1 for both).
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
        score = score_forecasts(run, ForecastScoreConfig(horizon=args.horizon, device=args.device, threads=args.threads))
        scored = time.perf_counter() - started
        figures = {"steps": result.step, "train_minutes": trained / 60, "score_s": scored, **score.to_json()}
        print(f"{platform.processor() or platform.machine()}, {args.threads} thread(s), torch {torch.__version__}, device {args.device}")
        print(f"series: {manifest.tokens['train']:,} train / {manifest.tokens['val']:,} held-out values; "
              f"recipe load: {result.step:,} steps in {trained / 60:.1f} min")
        print(f"{score.windows} held-out windows of {score.horizon} steps after {score.context}, "
              f"median of {score.num_samples} forecasts ({scored:.1f} s), in units of the series' mean absolute value:")
        for name, errors in (("model", score.model), ("persistence", score.persistence), ("seasonal persistence", score.seasonal)):
            print(f"  {name:<21} MSE {errors.mse:.4f}  MAE {errors.mae:.4f}")
        print(f"model MSE / persistence MSE: {figures['mse_vs_persistence']:.2f}; "
              f"model MSE / seasonal persistence MSE: {figures['mse_vs_seasonal']:.2f} (goal: below 1 for both)")
        return figures
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
