"""`evaluate` on a series run: rolling-origin forecasts over the held-out values, scored beside free baselines.

Each origin's context is all of its series before it; the model reads each series once, keeping its
state at every origin, and the samples of all origins are drawn in batches. Everything is measured in
the series' own units. The checkpoint is `latest` unless asked otherwise: training chose best.pt by
its loss on these same held-out values, so scoring it there would flatter it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from charmony.pipeline.run.config import ForecastScoreConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import load_model
from charmony.pipeline.series.baselines import check_baseline_names, free_baselines, statsforecast_baselines
from charmony.pipeline.series.continuation import Continuation, Readings, ValueTokens, read_to, sample_after
from charmony.pipeline.series.forecast import series_corpus
from charmony.pipeline.series.history import Document, held_out_documents
from charmony.pipeline.series.metrics import Figures, seasonal_scale
from charmony.pipeline.series.settings import SeriesOptions
from charmony.pipeline.series.values import Bins, Scaling, dequantise
from charmony.pipeline.system.device import resolve_device
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.system.threads import use_threads

__all__ = ["ForecastScoreConfig", "ForecastScore", "rolling_origins", "score_forecasts"]

BATCH_WINDOWS = 64  # origins whose samples are drawn in one batch
MODEL = "model"
BEST_NOTE = ("note: best.pt was chosen by its loss on these same held-out values, so these figures flatter it; "
             "--checkpoint latest was chosen on none of them")


@dataclass(frozen=True)
class ForecastScore:
    """Each method's figures on the same windows, and what the windows were."""

    windows: int
    horizon: int
    periods: tuple[int, ...]
    num_samples: int
    checkpoint: str
    step: int  # of the checkpoint scored
    figures: dict[str, Figures]  # the model's first, then each baseline's

    def to_json(self) -> dict:
        """The figures as plain JSON, with the model's MAE and MASE as a share of each baseline's."""
        data = asdict(self)
        model = self.figures[MODEL]
        data["mae_vs"] = {name: _ratio(model.mae, figures.mae) for name, figures in self.figures.items() if name != MODEL}
        if self.checkpoint == "best":
            data["note"] = BEST_NOTE.removeprefix("note: ")
        return data

    def text(self) -> str:
        """A header line, a line per method, and a note when the checkpoint was chosen on the scored values."""
        lines = [f"evaluate: {self.windows} rolling origins over the held-out values, each after all of its series "
                 f"before it; {self.horizon} steps ahead; the model's median of {self.num_samples} samples "
                 f"(checkpoint {self.checkpoint}, step {self.step}); in the series' own units, MASE scaled by "
                 f"the seasonal naive forecast at {self.periods[0]} steps"]
        width = max(map(len, self.figures))
        lines += [f"  {name:<{width}}  {figures.cells()}" for name, figures in self.figures.items()]
        if self.checkpoint == "best":
            lines.append(BEST_NOTE)
        return "\n".join(lines)


def _ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else float("inf") if value > 0 else 1.0


def rolling_origins(documents: list[Document], horizon: int, history: int, origins: int | None,
                    limit: int) -> list[tuple[int, int]]:
    """(document, origin) pairs: origins in each held-out part with at least `history` values before them
    and `horizon` after; every `horizon` steps (at most `limit`), or `origins` spread evenly over every step."""
    every = 1 if origins else horizon
    found = [(index, origin) for index, document in enumerate(documents)
             for origin in range(max(document.held_out, history), len(document.values) - horizon + 1, every)]
    wanted = origins or limit
    if len(found) > wanted:
        found = [found[i] for i in np.linspace(0, len(found) - 1, wanted).round().astype(int)]
    return found


def score_forecasts(run: Run, config: ForecastScoreConfig) -> ForecastScore:
    """Forecast from each rolling origin of the run's held-out values; score the model and the baselines there."""
    corpus = series_corpus(run)
    options = dict(run.manifest().options)
    if config.periods:
        options["period"] = ",".join(map(str, config.periods))
    settings = SeriesOptions.parse(options)
    horizon = config.horizon or settings.period
    check_baseline_names(config.baselines)
    baselines = free_baselines(settings.periods) + statsforecast_baselines(config.baselines, settings.periods)
    documents = held_out_documents(run, corpus, "the series' own values are needed to score forecasts in their units")
    held = [document for document in documents if document.held_out < len(document.values)]
    if not held:
        raise ConfigError(f"run {run.name!r} holds out no values to score; prepare it again with --val-fraction above 0")
    longest, length = max(settings.periods), max(len(document.values) for document in documents)
    if longest >= length:
        raise ConfigError(f"--option period={longest} is longer than the series ({length:,} values); give a shorter period")
    origins = rolling_origins(documents, horizon, longest + 1, config.origins, config.max_windows)
    if not origins:
        count = sum(len(document.values) - document.held_out for document in held)
        raise ConfigError(f"run {run.name!r} holds out {count:,} values, too few for one window of {horizon} steps "
                          f"after {longest + 1} values of history; give a smaller --horizon")

    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    model, checkpoint, _ = load_model(run, config.checkpoint, device)
    vocab, bins = run.vocabulary(), Bins.for_options(settings)
    values = ValueTokens(vocab.tokens)
    readings, scalings = [], []
    for index, document in enumerate(documents):
        cuts = [origin for which, origin in origins if which == index]
        if not cuts:
            continue
        scaling = Scaling.fit(document.values[:max(document.held_out, longest + 1)], settings.scale)
        ids = [vocab.eod_id] + values.encode(bins.quantise(scaling.apply(document.values[:cuts[-1]])))
        readings.append(read_to(model, ids, [1 + cut for cut in cuts], device))
        scalings += [scaling] * len(cuts)
    joined = Readings.join(readings)
    generator = torch.Generator(device=device).manual_seed(config.seed)
    how = Continuation(config.num_samples, horizon, config.temperature, values.ids.tolist(), len(vocab))
    samples = []
    for first in range(0, len(origins), BATCH_WINDOWS):
        batch = joined.rows(first, first + BATCH_WINDOWS)
        drawn = values.bin_of_id[sample_after(model, batch, how, generator, device).cpu().numpy()]
        drawn = drawn.reshape(len(batch.logits), config.num_samples, horizon)
        samples += [dequantise(paths, scaling, bins) for paths, scaling in zip(drawn, scalings[first:])]

    histories = [documents[index].values[:origin] for index, origin in origins]
    truth = np.stack([documents[index].values[origin:origin + horizon] for index, origin in origins])
    scales = np.array([seasonal_scale(history, settings.period) for history in histories])
    paths = np.stack(samples)
    figures = {MODEL: Figures.of(np.median(paths, axis=1), truth, scales, paths)}
    for baseline in baselines:
        point = np.stack([baseline.forecast(history, horizon) for history in histories])
        figures[baseline.name] = Figures.of(point, truth, scales)
    return ForecastScore(windows=len(origins), horizon=horizon, periods=settings.periods, num_samples=config.num_samples,
                         checkpoint=config.checkpoint, step=checkpoint.step, figures=figures)
