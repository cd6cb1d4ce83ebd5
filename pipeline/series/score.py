"""`evaluate` on a series run: the model's median forecasts on held-out windows against the persistence baselines.

Everything is measured in the run's scaled units (values divided by their series' mean absolute
value, or mapped to 0..1 by its minimum and maximum), read from the validation tokens that
`prepare` held out: the truth, the baselines and the model see the same quantised values.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from charmony.pipeline.series.values import Bins, mae, mse, persistence, seasonal_persistence
from charmony.pipeline.run.config import ForecastScoreConfig
from charmony.pipeline.system.device import resolve_device
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.series.forecast import Continuation, ValueTokens, continue_series, series_corpus
from charmony.pipeline.evaluation.references import document_spans
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import load_model
from charmony.pipeline.system.threads import use_threads

__all__ = ["ForecastScoreConfig", "ForecastScore", "Errors", "held_out_windows", "score_forecasts"]

BATCH_WINDOWS = 64  # windows whose samples are drawn in one batch


@dataclass(frozen=True)
class Errors:
    """Mean squared and mean absolute error over every step of every window."""

    mse: float
    mae: float

    @classmethod
    def of(cls, forecasts: np.ndarray, truth: np.ndarray) -> Errors:
        """The errors of `forecasts` against `truth`, both (windows, horizon)."""
        return cls(mse(forecasts, truth), mae(forecasts, truth))


@dataclass(frozen=True)
class ForecastScore:
    """The model's errors and the baselines' on the same windows, and what the windows were."""

    windows: int
    context: int
    horizon: int
    period: int
    num_samples: int
    model: Errors
    persistence: Errors
    seasonal: Errors
    step: int  # of the checkpoint scored

    def to_json(self) -> dict:
        """The figures as plain JSON, with the model's MSE as a share of each baseline's."""
        data = asdict(self)
        data["mse_vs_persistence"] = _ratio(self.model.mse, self.persistence.mse)
        data["mse_vs_seasonal"] = _ratio(self.model.mse, self.seasonal.mse)
        return data

    def line(self) -> str:
        """One line: the model's errors, each baseline's, and the model's MSE as a share of theirs."""
        def errors(e: Errors) -> str:
            return f"MSE {e.mse:.4g}, MAE {e.mae:.4g}"

        data = self.to_json()
        return (f"evaluate: {self.windows} held-out windows, {self.horizon} steps after {self.context} of context, "
                f"median of {self.num_samples} forecasts (step {self.step}): {errors(self.model)}; "
                f"persistence {errors(self.persistence)} (model {data['mse_vs_persistence']:.2f}x); "
                f"seasonal persistence ({self.period} steps) {errors(self.seasonal)} (model {data['mse_vs_seasonal']:.2f}x)")


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf") if value > 0 else 1.0


def held_out_windows(ids: np.ndarray, eod: int, context: int, horizon: int, limit: int) -> list[np.ndarray]:
    """Slices of `context + horizon` token ids from the held-out documents, starting every `horizon` steps.

    At most `limit`, spread evenly over all there are.
    """
    found = [np.asarray(ids[origin - context:origin + horizon]) for start, end in document_spans(ids, eod)
             for origin in range(start + context, end - horizon + 1, horizon)]
    if len(found) > limit:
        found = [found[i] for i in np.linspace(0, len(found) - 1, limit).round().astype(int)]
    return found


def score_forecasts(run: Run, config: ForecastScoreConfig) -> ForecastScore:
    """Forecast each held-out window of the run and score the forecasts' medians against the truth and the baselines."""
    settings = series_corpus(run).settings(run.manifest().options)
    horizon = config.horizon or settings.period
    context = config.context or 7 * settings.period
    if context < settings.period:
        raise ConfigError(f"--context-steps must be at least the period ({settings.period}) for seasonal persistence, "
                          f"not {context}")
    vocab = run.vocabulary()
    values = ValueTokens(vocab.tokens)
    held_out = run.tokens("val")
    windows = held_out_windows(held_out, vocab.eod_id, context, horizon, config.max_windows)
    if not windows:
        raise ConfigError(f"run {run.name!r} holds out too few values for one window of {context} + {horizon} "
                          f"({int(np.sum(held_out != vocab.eod_id)):,} values); give a smaller --horizon or --context-steps, "
                          "or prepare again with a larger --val-fraction")
    bins = Bins.for_options(settings)
    ids = np.stack(windows)
    window_bins = values.bin_of_id[ids]
    known = (window_bins >= 0).all(axis=1)  # a window with <unk> in it has no truth to score
    ids = ids[known]
    scaled = bins.centres(window_bins[known])
    history, truth = scaled[:, :context], scaled[:, context:]

    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    model, checkpoint, _ = load_model(run, config.checkpoint, device)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    how = Continuation(config.num_samples, horizon, config.temperature, values.ids.tolist(), len(vocab))
    medians = []
    for first in range(0, len(ids), BATCH_WINDOWS):
        prefixes = ids[first:first + BATCH_WINDOWS, :context].tolist()
        drawn = continue_series(model, prefixes, how, generator, device).cpu().numpy()
        paths = bins.centres(values.bin_of_id[drawn]).reshape(len(prefixes), config.num_samples, horizon)
        medians.append(np.median(paths, axis=1))

    return ForecastScore(
        windows=len(ids), context=context, horizon=horizon, period=settings.period, num_samples=config.num_samples,
        model=Errors.of(np.concatenate(medians), truth),
        persistence=Errors.of(np.stack([persistence(h, horizon) for h in history]), truth),
        seasonal=Errors.of(np.stack([seasonal_persistence(h, horizon, settings.period) for h in history]), truth),
        step=checkpoint.step,
    )
