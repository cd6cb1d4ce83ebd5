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


def difference_lag(target: str, periods: tuple[int, ...], context: int) -> int:
    """The season the target is differenced over: the longest period no longer than the context; 0 for `level`
    or when no period fits."""
    fitting = [period for period in periods if period <= context]
    return max(fitting) if target != "level" and fitting else 0


def choose_target(parts: list[tuple[np.ndarray, int, int]], horizon: int, lag: int, seasons: int) -> tuple[str, str]:
    """The target `auto` takes, and why, from each series' validation part alone (`parts`: each series' values,
    and where its validation and held-out parts start).

    Forecasts of the validation values from origins in it: the last season repeated (what an untrained
    seasonal-difference model gives) against the mean of the `seasons` seasons before (what an untrained
    seasonal-mean model gives: a steady season, its noise averaged out). The model starts from the better.
    """
    if not lag:
        return "level", ""
    if seasons < 2:
        return "seasonal-difference", ""
    last = mean = 0.0
    for values, validation, held_out in parts:
        for origin in range(max(validation, lag * seasons), held_out - horizon + 1, max(1, (held_out - validation) // 256)):
            before = values[origin - lag * seasons:origin].reshape(seasons, lag)
            truth = values[origin:origin + horizon]
            last += float(np.abs(seasonal_persistence(before[-1], horizon, lag) - truth).sum())
            mean += float(np.abs(np.resize(before.mean(axis=0), horizon) - truth).sum())
    if not last + mean:
        return "seasonal-difference", ""
    target = "seasonal-difference" if last <= mean else "seasonal-mean"
    return target, (f"{target} chosen on the validation part: the last season's values forecast it with "
                    f"{last / mean:.2f}x the error of the mean of the {seasons} seasons before")


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
