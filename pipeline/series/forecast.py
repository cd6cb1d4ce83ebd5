"""The `forecast` stage: prime a series run's model with one or more contexts and sample many continuations in one batch."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import cast

import numpy as np
import torch

from charmony.pipeline.run.config import ForecastConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.manifest import get_run_corpus
from charmony.pipeline.sampling.sample import load_model
from charmony.pipeline.series.calibration import Calibration, Forecasts, history_scale, run_calibration
from charmony.pipeline.series.corpus_base import SeriesCorpusBase
from charmony.pipeline.series.csv_columns import read_columns
from charmony.pipeline.series.history import run_documents, window_plan
from charmony.pipeline.series.paths import Drawing, draw_paths
from charmony.pipeline.series.svg import forecast_svg
from charmony.pipeline.system.atomic import atomic_path, write_json
from charmony.pipeline.system.device import resolve_device
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.system.threads import use_threads

__all__ = ["ForecastConfig", "Forecast", "forecast", "write_forecast", "write_forecasts"]

QUANTILES = (10, 50, 90)


@dataclass
class Forecast:
    """The context, the sampled continuations and their quantiles, in the series' own units."""

    history: np.ndarray  # the context's values
    paths: np.ndarray  # (num_samples, horizon)
    metadata: dict = field(default_factory=dict)

    def quantile(self, percent: float) -> np.ndarray:
        """The `percent`-th percentile of the continuations at each step."""
        return np.percentile(self.paths, percent, axis=0)


def series_corpus(run: Run) -> SeriesCorpusBase:
    """The run's corpus, which must be a series corpus (one whose material is "series")."""
    corpus = get_run_corpus(run.manifest())
    if corpus.material != "series":
        raise ConfigError(f"forecast needs a run of the series corpus; run {run.name!r} is of corpus {corpus.name!r}")
    return cast(SeriesCorpusBase, corpus)


def context_values(run: Run, corpus: SeriesCorpusBase, context: Path | None) -> tuple[np.ndarray, str]:
    """The values to start from, and where they came from.

    Without a context file, the run's last series, whose end `prepare` held out for evaluate.
    """
    settings = corpus.settings(run.manifest().options)
    if context is not None:
        column = read_columns(context, settings.columns[:1] or None, settings.time)[0]
        return column.values, f"{context} column {column.name!r}"
    last = run_documents(run, corpus, "give --context FILE.csv")[-1]
    return last.values, f"the end of run {run.name!r}'s series {last.name!r}"


def forecast(run: Run, config: ForecastConfig) -> list[Forecast]:
    """Forecast `horizon` steps after each context, `num_samples` times each, all in one batch."""
    corpus = series_corpus(run)
    contexts = [context_values(run, corpus, context) for context in (config.contexts or (None,))]
    plan = window_plan(run)
    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    how = Drawing(config.num_samples, config.horizon, config.temperature, torch.Generator(device=device).manual_seed(seed), device)
    drawn = draw_paths(model, plan, run.vocabulary(), [history for history, _ in contexts], how)
    forecasts = Forecasts(path.name, checkpoint.step, path.stat().st_mtime_ns, config.temperature, config.horizon)
    settings = corpus.settings(run.manifest().options)
    try:
        calibration = run_calibration(run, model, plan, forecasts, lambda: run_documents(run, corpus, "prepare it again"),
                                      settings.holdout, settings.period, device)
    except ConfigError:  # the run's own series are gone: the band as drawn, which forecast.json says
        calibration = Calibration(0.0, 0, None, forecasts)
    planned = {"scale": plan.scale, "bins": plan.bins, "target": plan.target, "lag": plan.lag, "seasons": plan.seasons,
               "recent": plan.recent, "reference": plan.reference.text() if plan.lag else "",
               "parts": [asdict(part) for part in plan.parts]}
    anchors = calibration.anchor_forecasts(plan.reference, [history for history, _ in contexts], config.horizon)
    results = []
    for (history, origin), paths, anchor in zip(contexts, drawn, anchors):
        scale = history_scale(history, settings.period)
        metadata = {
            "run": run.name, "checkpoint": str(path), "step": checkpoint.step, "context": origin,
            "context_values": len(history), "horizon": config.horizon, "num_samples": config.num_samples,
            "temperature": config.temperature, "seed": seed, **planned,
            "context_read": min(len(history), plan.context + plan.reach),
            "interval_floor": calibration.floor, "interval_ceiling": calibration.ceiling, "seasonal_scale": scale,
            "calibration_windows": calibration.windows, "toward_reference": calibration.toward_reference,
            "reference_windows": calibration.reference_windows, "anchor": calibration.anchor,
            "anchor_errors": calibration.anchor_errors,
            "smoothing": asdict(calibration.smoothing) if calibration.smoothing else None,
            "autoregression": asdict(calibration.autoregression) if calibration.autoregression else None,
        }
        results.append(Forecast(history, calibration.apply(paths, scale, anchor), metadata))
    return results


def write_forecast(result: Forecast, out_dir: Path, samples_csv: bool = False) -> list[Path]:
    """Write forecast.csv (step, median, p10, p90, and each sample with `samples_csv`), forecast.svg and
    forecast.json into `out_dir`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    p10, median, p90 = (result.quantile(q) for q in QUANTILES)
    samples = result.paths.T if samples_csv else np.empty((len(median), 0))
    header = ["step", "median", "p10", "p90"] + [f"sample_{i}" for i in range(1, samples.shape[1] + 1)]
    rows = [",".join(header)] + [
        ",".join([str(step)] + [f"{value:.6g}" for value in (m, low, high, *drawn)])
        for step, (m, low, high, drawn) in enumerate(zip(median, p10, p90, samples), start=1)
    ]
    written = [out_dir / "forecast.csv", out_dir / "forecast.svg", out_dir / "forecast.json"]
    with atomic_path(written[0]) as temporary:
        temporary.write_text("\n".join(rows) + "\n", encoding="utf-8")
    with atomic_path(written[1]) as temporary:
        temporary.write_text(forecast_svg(result.history, median, p10, p90, result.metadata.get("context", "")), encoding="utf-8")
    write_json(written[2], result.metadata)
    return written


def write_forecasts(results: list[Forecast], contexts: tuple[Path, ...], out_dir: Path,
                    samples_csv: bool = False) -> list[Path]:
    """One forecast straight into `out_dir`; several each into a folder named after its context file."""
    if len(results) == 1:
        return write_forecast(results[0], out_dir, samples_csv)
    names: list[str] = []
    for context in contexts:
        name = context.stem
        names.append(name if name not in names else f"{name}-{len(names) + 1}")
    return [path for result, name in zip(results, names) for path in write_forecast(result, out_dir / name, samples_csv)]
