"""What a series model is trained to forecast: the values themselves (`level`), each value less the one a
season before it (`seasonal-difference`, as SARIMA differences), or less the mean of the values at its
place in several seasons before (`seasonal-mean`); what it forecasts is added back onto the history after
sampling.

An untrained model that forecasts zeros is then the seasonal naive forecast, or the mean of the last
seasons; a trained one learns the drift and the deviations from it. With the seasonal difference a
trend faster than any training window's is carried by the season before it.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.series.values import seasonal_persistence
from charmony.pipeline.system.errors import ConfigError

CHOSEN_ON = 256  # origins at most, evenly spaced, on which `auto` scores its candidates in each series


def choose_target(parts: list[tuple[np.ndarray, int]], horizon: int, lag: int, most_seasons: int) -> tuple[str, int, str]:
    """(target, seasons, why): what `auto` takes, from the values before each series' held-out part alone (`parts`:
    each series' values, and where its held-out part starts).

    Forecasts from origins over the training and validation parts by what each target gives untrained: the last
    value (`level`), the last season repeated (`seasonal-difference`) and the mean of the last 2..`most_seasons`
    seasons (`seasonal-mean`: a steady season, its noise averaged out). None of them is fitted, so the training
    part scores them out of sample as the validation part does; the model starts from the best.
    """
    counts = range(1, max(1, most_seasons) + 1)
    errors = dict.fromkeys(["level", *counts], 0.0)
    for values, held_out in parts:
        first = lag * counts[-1]
        for origin in range(first, held_out - horizon + 1, max(1, (held_out - horizon + 1 - first) // CHOSEN_ON)):
            truth = values[origin:origin + horizon]
            errors["level"] += float(np.abs(values[origin - 1] - truth).sum())
            for seasons in counts:
                before = values[origin - lag * seasons:origin].reshape(seasons, lag)
                forecast = seasonal_persistence(before.mean(axis=0), horizon, lag)
                errors[seasons] += float(np.abs(forecast - truth).sum())
    best = min(errors, key=lambda name: errors[name])  # the first of equals: level, then the fewest seasons
    if not errors[best]:  # a season repeated exactly: plan_windows takes the level where nothing is left to learn
        return "seasonal-difference", 1, ""
    target = "level" if best == "level" else "seasonal-difference" if best == 1 else "seasonal-mean"
    name = {"level": "the last value", 1: "the last season"}
    others = ", ".join(f"{name.get(key, f'the mean of {key} seasons')} {errors[key] / errors[best]:.2f}x"
                       for key in sorted(errors, key=lambda key: errors[key])[1:3])
    chosen = target if best in ("level", 1) else f"{target} over {best} seasons"
    return target, 1 if best == "level" else best, (f"{chosen} chosen on the training and validation parts: the next "
                                                    f"best forecast them with {others} its error")


def to_target(values: np.ndarray, lag: int, seasons: int = 1) -> np.ndarray:
    """The values the model reads for `values`: each less the mean of the values 1..`seasons` times `lag` steps
    before it (`lag * seasons` shorter), or as they are for lag 0."""
    values = np.asarray(values, dtype=np.float64)
    if not lag:
        return values
    reach = lag * seasons
    base = np.mean([values[reach - season * lag:len(values) - season * lag] for season in range(1, seasons + 1)], axis=0)
    return values[reach:] - base


def from_target(history: np.ndarray, paths: np.ndarray, lag: int, seasons: int = 1) -> np.ndarray:
    """Sampled target paths (samples, horizon) after `history` back in the series' own units.

    Each step adds the mean of the values 1..`seasons` seasons before it: from the history, or where that
    is in the future from the same path's own forecast, so that every path is integrated consistently.
    """
    paths = np.asarray(paths, dtype=np.float64)
    if not lag:
        return paths
    history = np.asarray(history, dtype=np.float64)
    levels = np.empty_like(paths)
    for step in range(paths.shape[-1]):
        before = [history[len(history) + step - season * lag] if step < season * lag else levels[..., step - season * lag]
                  for season in range(1, seasons + 1)]
        levels[..., step] = paths[..., step] + sum(before) / seasons
    return levels


def target_context(history: np.ndarray, context: int, lag: int, seasons: int = 1) -> np.ndarray:
    """The last `context` target values of `history`, or a ConfigError when it is too short for one."""
    reach = lag * seasons
    if len(history) <= reach:
        before = f"the one {lag} steps" if seasons == 1 else f"the mean of the {seasons} values {lag} steps apart"
        raise ConfigError(f"the context has {len(history)} values; the run forecasts each value less {before} before it, "
                          f"so give at least {reach + 1}")
    return to_target(np.asarray(history)[-(context + reach):], lag, seasons)
