"""`evaluate` on a series run: rolling-origin forecasts over the held-out values, scored beside free baselines.

Each origin's context is the window of values before it that training windows had, scaled by its own
level; the model reads all contexts in batches, and the samples of all origins are drawn in batches.
Everything is measured in the series' own units. The checkpoint is best.pt unless asked otherwise:
training chose it on the validation part, which lies before the held-out values scored here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from charmony.pipeline.run.config import ForecastScoreConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.sample import load_model
from charmony.pipeline.series.baselines import check_baseline_names, free_baselines, statsforecast_baselines
from charmony.pipeline.series.calibration import Forecasts, history_scale, run_calibration
from charmony.pipeline.series.forecast import series_corpus
from charmony.pipeline.series.history import Document, held_out_documents, window_plan
from charmony.pipeline.series.metrics import Figures
from charmony.pipeline.series.paths import Drawing, draw_paths
from charmony.pipeline.series.reference_share import SHARE_ORIGINS, SHARES, toward
from charmony.pipeline.series.autoregression import Autoregression
from charmony.pipeline.series.smoothing import Smoothing
from charmony.pipeline.series.settings import SeriesOptions
from charmony.pipeline.system.device import resolve_device
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.system.threads import use_threads

__all__ = ["ForecastScoreConfig", "ForecastScore", "rolling_origins", "score_forecasts"]

MODEL = "model"


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
    interval_floor: float = 0.0  # the band widened to reach at least this many seasonal scales from the median
    calibration_windows: int = 0  # origins in the training and validation parts the floor was found on
    interval_ceiling: float | None = None  # or the band narrowed to reach at most this many seasonal scales
    uncalibrated_coverage: float | None = None  # of the model's 80% band on the held-out windows before scaling
    toward_reference: float = 0.0  # the share of the way the model's median was moved to its anchor
    reference_windows: int = 0  # validation origins that share was chosen on
    validation_errors: tuple[float, ...] = ()  # there, in seasonal scales, for each share of reference_share.SHARES
    reference: str = ""  # the reference, named
    anchor: str = "reference"  # or "smoothing" or "autoregression": what the median moved toward
    smoothing: dict | None = None  # Holt-Winters' fitted weights (smoothing.Smoothing); None where none was fitted
    smoothing_errors: tuple[float, ...] = ()  # on the validation origins, for each share toward Holt-Winters
    autoregression: dict | None = None  # the autoregression's drift and weights; None where none was fitted
    autoregression_errors: tuple[float, ...] = ()  # on the validation origins, for each share toward it
    # each anchor's own error, in seasonal scales, on the calibration_windows origins, which chose the anchor
    anchor_errors: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict:
        """The figures as plain JSON, with the model's MAE and MASE as a share of each baseline's."""
        data = asdict(self)
        model = self.figures[MODEL]
        data["mae_vs"] = {name: _ratio(model.mae, figures.mae) for name, figures in self.figures.items() if name != MODEL}
        return data

    def text(self) -> str:
        """A header line and a line per method."""
        lines = [f"evaluate: {self.windows} rolling origins over the held-out values, each after the values "
                 f"before it; {_steps(self.horizon)} ahead; the model's median of {self.num_samples} samples "
                 f"(checkpoint {self.checkpoint}, step {self.step}); in the series' own units, MASE scaled by "
                 f"the seasonal naive forecast at {_steps(self.periods[0])}"]
        width = max(map(len, self.figures))
        lines += [f"  {name:<{width}}  {figures.cells()}" for name, figures in self.figures.items()]
        if self.calibration_windows:
            before = "" if self.uncalibrated_coverage is None else f"; 80% coverage before it {self.uncalibrated_coverage:.0%}"
            how = (f"narrowed to reach at most {self.interval_ceiling:.2f} seasonal scales (MASE's denominator) from its "
                   "median" if self.interval_ceiling is not None else
                   f"widened to reach at least {self.interval_floor:.2f} seasonal scales (MASE's denominator) from its median")
            lines.append(f"the model's 80% band {how}, as forecasts from {self.calibration_windows} origins in the "
                         f"training and validation parts needed{before}")
        if self.validation_errors or self.smoothing_errors or self.autoregression_errors:
            lines.append(self._share_line())
        return "\n".join(lines)

    def _share_line(self) -> str:
        """Where the median moved, and how each choice forecast the origins that chose it."""
        weighed = {"reference": self.validation_errors, "smoothing": self.smoothing_errors,
                   "autoregression": self.autoregression_errors}  # from before the level's reference: none
        first = next(errors for errors in weighed.values() if errors)
        chosen = (weighed[self.anchor] or first)[SHARES.index(self.toward_reference)]
        targets = {"smoothing": Smoothing(**self.smoothing).text() if self.smoothing else "",
                   "autoregression": Autoregression(**self.autoregression).text() if self.autoregression else ""}
        target = targets.get(self.anchor) or f"its reference ({self.reference})"
        named = {"reference": "the reference", "smoothing": "Holt-Winters", "autoregression": "the autoregression"}
        moved = (f"kept as trained (none of the way to {named[self.anchor]})" if not self.toward_reference
                 else f"moved {self.toward_reference:.0%} of the way to {target}")
        alone = ", ".join(f"{errors[-1]:.3f} for {named[anchor]}" for anchor, errors in weighed.items() if errors)
        among = "" if self.reference_windows >= SHARE_ORIGINS else f" of a half or more (fewer than {SHARE_ORIGINS} origins)"
        share = (f"that share of the way forecast the {self.reference_windows} origins in the validation part best{among}: "
                 f"{chosen:.3f} seasonal scales off there, against {first[0]:.3f} as trained (each alone there: {alone})")
        if not self.anchor_errors:  # none could be scored
            return f"the model's median {moved}; {share}"
        chose = ", ".join(f"{error:.3f} for {named[anchor]}" for anchor, error in self.anchor_errors.items())
        return (f"the model's median {moved}: {named[self.anchor]} forecast the {self.calibration_windows} origins in "
                f"the training and validation parts best (in seasonal scales: {chose}), and {share}")


def _steps(count: int) -> str:
    return f"{count} step" if count == 1 else f"{count} steps"


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
    prepared = SeriesOptions.parse(options).period  # the band's floor is in its seasonal scales
    if config.periods:
        options["period"] = ",".join(map(str, config.periods))
    settings = SeriesOptions.parse(options)
    horizon = config.horizon or settings.period
    check_baseline_names(config.baselines)
    baselines = free_baselines(settings.periods) + statsforecast_baselines(config.baselines, settings.periods)
    documents = held_out_documents(run, corpus, "the series' own values are needed to score forecasts in their units")
    held = [document for document in documents if document.held_out < len(document.values)]
    if not held:
        raise ConfigError(f"run {run.name!r} holds out no values to score; prepare it again")
    longest, length = max(settings.periods), max(len(document.values) for document in documents)
    if longest >= length:
        raise ConfigError(f"--option period={longest} is longer than the series ({length:,} values); give a shorter period")
    plan = window_plan(run)
    origins = rolling_origins(documents, horizon, max(longest, plan.reach) + 1, config.origins, config.max_windows)
    if not origins:
        count = sum(len(document.values) - document.held_out for document in held)
        raise ConfigError(f"run {run.name!r} holds out {count:,} values, too few for one window of {horizon} steps "
                          f"after {max(longest, plan.reach) + 1} values of history; give a smaller --horizon")
    truth = np.stack([documents[index].truth(origin, origin + horizon) for index, origin in origins])  # NaN: missing
    if np.isnan(truth).all():
        raise ConfigError(f"run {run.name!r}: every value its {len(origins)} forecasts would be scored against is missing; "
                          "nothing to score")

    device = resolve_device(config.device)
    if device.type == "cpu":
        use_threads(config.threads)
    model, checkpoint, path = load_model(run, config.checkpoint, device)
    histories = [documents[index].values[:origin] for index, origin in origins]
    how = Drawing(config.num_samples, horizon, config.temperature, torch.Generator(device=device).manual_seed(config.seed), device)
    drawn = draw_paths(model, plan, run.vocabulary(), histories, how)
    calibration = run_calibration(run, model, plan, Forecasts(path.name, checkpoint.step, path.stat().st_mtime_ns, config.temperature, horizon),
                                  lambda: documents, settings.holdout, prepared, device)
    scales = np.array([history_scale(history, settings.period) for history in histories])  # 0: no MASE for it
    floor_scales = scales if prepared == settings.period else np.array([history_scale(history, prepared) for history in histories])
    moved = toward(drawn, calibration.anchor_forecasts(plan.reference, histories, horizon), calibration.toward_reference)
    paths = calibration.fit_band(moved, floor_scales)
    figures = {MODEL: Figures.of(np.median(paths, axis=1), truth, scales, paths)}
    uncalibrated = Figures.of(np.median(moved, axis=1), truth, scales, moved).coverage
    for baseline in baselines:
        point = np.stack([baseline.forecast(history, horizon) for history in histories])
        figures[baseline.name] = Figures.of(point, truth, scales)
    return ForecastScore(windows=len(origins), horizon=horizon, periods=settings.periods, num_samples=config.num_samples,
                         checkpoint=config.checkpoint, step=checkpoint.step, figures=figures,
                         interval_floor=calibration.floor, calibration_windows=calibration.windows,
                         interval_ceiling=calibration.ceiling, uncalibrated_coverage=uncalibrated,
                         toward_reference=calibration.toward_reference, reference_windows=calibration.reference_windows,
                         validation_errors=calibration.validation_errors, reference=plan.reference.name(),
                         anchor=calibration.anchor, smoothing=asdict(calibration.smoothing) if calibration.smoothing else None,
                         smoothing_errors=calibration.smoothing_errors,
                         autoregression=asdict(calibration.autoregression) if calibration.autoregression else None,
                         autoregression_errors=calibration.autoregression_errors,
                         anchor_errors=calibration.anchor_errors)
