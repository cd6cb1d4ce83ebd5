"""What a series model is trained to forecast: the values themselves (`level`), or each value less the one a
season before it (`seasonal-difference`, as SARIMA differences), added back onto the history after sampling.

With the seasonal difference an untrained model that forecasts zeros is the seasonal naive forecast; a
trained one learns the drift and the deviations from it, and a trend faster than any training window's
is carried by the season before it.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.system.errors import ConfigError


def difference_lag(target: str, periods: tuple[int, ...], context: int) -> int:
    """The season the target is differenced over: the longest period no longer than the context; 0 for `level`
    or when no period fits."""
    fitting = [period for period in periods if period <= context]
    return max(fitting) if target == "seasonal-difference" and fitting else 0


def choose_target(parts: list[tuple[np.ndarray, int, int]], horizon: int, lag: int, seasons: int) -> tuple[str, str]:
    """The target `auto` takes, and why, from each series' validation part alone (`parts`: each series' values,
    and where its validation and held-out parts start).

    Forecasts of the validation values from origins in it: the last season repeated (what an untrained
    seasonal-difference model gives) against the mean of the `seasons` seasons before (what a steady
    season gives, the noise averaged out). Where the last season does better, the series drifts from
    season to season, and the model forecasts the difference; otherwise the values themselves.
    """
    if not lag or seasons < 2:
        return "level", ""
    last = mean = 0.0
    for values, validation, held_out in parts:
        for origin in range(max(validation, lag * seasons), held_out - horizon + 1, max(1, (held_out - validation) // 256)):
            before = values[origin - lag * seasons:origin].reshape(seasons, lag)
            truth = values[origin:origin + horizon]
            last += float(np.abs(np.resize(before[-1], horizon) - truth).sum())
            mean += float(np.abs(np.resize(before.mean(axis=0), horizon) - truth).sum())
    if not last + mean:
        return "level", ""
    target = "seasonal-difference" if last < mean else "level"
    return target, (f"{target} chosen on the validation part: the last season's values forecast it with "
                    f"{last / mean:.2f}x the error of the mean of the {seasons} seasons before")


def to_target(values: np.ndarray, lag: int) -> np.ndarray:
    """The values the model reads for `values`: each less the value `lag` steps before (`lag` shorter), or as
    they are for lag 0."""
    values = np.asarray(values, dtype=np.float64)
    return values[lag:] - values[:-lag] if lag else values


def from_target(history: np.ndarray, paths: np.ndarray, lag: int) -> np.ndarray:
    """Sampled target paths (samples, horizon) after `history` back in the series' own units.

    Each step adds the value a season before it: from the history, or beyond one season from the same path's
    own forecast, so that every path is integrated consistently.
    """
    paths = np.asarray(paths, dtype=np.float64)
    if not lag:
        return paths
    history = np.asarray(history, dtype=np.float64)
    levels = np.empty_like(paths)
    for step in range(paths.shape[-1]):
        before = history[len(history) - lag + step] if step < lag else levels[..., step - lag]
        levels[..., step] = paths[..., step] + before
    return levels


def target_context(history: np.ndarray, context: int, lag: int) -> np.ndarray:
    """The last `context` target values of `history`, or a ConfigError when it is too short for one."""
    if lag and len(history) <= lag:
        raise ConfigError(f"the context has {len(history)} values; the run forecasts differences over {lag} steps, "
                          f"so give at least {lag + 1}")
    return to_target(np.asarray(history)[-(context + lag):], lag)
