"""What a series model is trained to forecast: the values themselves (`level`), each value less the one a
season before it (`seasonal-difference`, as SARIMA differences), less the mean of the values at its place in
several seasons before (`seasonal-mean`), or less that mean moved to the level of the last season
(`seasonal-shape`); what it forecasts is added back onto the history after sampling.

Each target but the level is the value less a reference: a fixed weighting of the values before it. An
untrained model that forecasts zeros is then the reference itself (the seasonal naive forecast, the mean of
the last seasons, or their mean shape at the last season's level); a trained one learns the drift and the
deviations from it. With the seasonal difference a trend faster than any training window's is carried by
the season before it.
"""

from __future__ import annotations

import numpy as np

from charmony.pipeline.system.errors import ConfigError

CHOSEN_ON = 256  # origins at most, evenly spaced, on which `auto` scores its candidates in each series


def reference_weights(lag: int, seasons: int = 1, target: str = "seasonal-mean") -> np.ndarray:
    """The weights of the values 1, 2, ... `lag * seasons` steps before a value that make its reference.

    The mean of the values `lag`, 2 `lag`, ... steps before; for `seasonal-shape` plus the last season's mean
    less the mean of all `seasons` seasons, so that the mean shape of the seasons stands at the last one's level.
    """
    weights = np.zeros(lag * seasons)
    weights[lag - 1::lag] = 1 / seasons
    if target == "seasonal-shape" and seasons > 1:
        weights[:lag] += 1 / lag
        weights -= 1 / (lag * seasons)
    return weights


def integrate(before: np.ndarray, paths: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Target `paths` (..., horizon) in the series' own units after the last `len(weights)` values `before` them
    (broadcast against the paths' leading axes): each step adds its reference, read from those values or, where
    it reaches into the future, from the same path's own forecast, so that every path is integrated consistently."""
    reach, horizon = len(weights), paths.shape[-1]
    values = np.empty(np.broadcast_shapes(paths.shape[:-1], before.shape[:-1]) + (reach + horizon,))
    values[..., :reach] = before
    backwards = weights[::-1]
    for step in range(horizon):
        values[..., reach + step] = paths[..., step] + values[..., step:reach + step] @ backwards
    return values[..., reach:]


def choose_target(parts: list[tuple[np.ndarray, int]], horizon: int, lag: int, most_seasons: int) -> tuple[str, int, str]:
    """(target, seasons, why): what `auto` takes, from the values before each series' held-out part alone (`parts`:
    each series' values, and where its held-out part starts).

    Forecasts from origins over the training and validation parts by what each target gives untrained: the last
    value (`level`), the last season repeated (`seasonal-difference`), the mean of the last 2..`most_seasons`
    seasons (`seasonal-mean`: a steady season, its noise averaged out) and that mean at the last season's level
    (`seasonal-shape`: the noise averaged out, the level followed). None of them is fitted, so the training part
    scores them out of sample as the validation part does; the model starts from the best.
    """
    counts = range(1, max(1, most_seasons) + 1)
    candidates = [("level", 1)] + [("seasonal-mean", seasons) for seasons in counts]
    candidates += [("seasonal-shape", seasons) for seasons in counts[1:]]
    errors = dict.fromkeys(candidates, 0.0)
    first = lag * counts[-1]
    for values, held_out in parts:
        origins = np.arange(first, held_out - horizon + 1, max(1, (held_out - horizon + 1 - first) // CHOSEN_ON))
        if not len(origins):
            continue
        truth = np.stack([values[origin:origin + horizon] for origin in origins])
        before = np.stack([values[origin - first:origin] for origin in origins])
        errors["level", 1] += float(np.abs(before[:, -1:] - truth).sum())
        zeros = np.zeros_like(truth)
        for target, seasons in candidates[1:]:
            weights = reference_weights(lag, seasons, target)
            forecast = integrate(before[:, first - len(weights):], zeros, weights)
            errors[target, seasons] += float(np.abs(forecast - truth).sum())
    best = min(errors, key=lambda key: errors[key])  # the first of equals: level, then the fewest seasons
    if not errors[best]:  # a season repeated exactly: plan_windows takes the level where nothing is left to learn
        return "seasonal-difference", 1, ""
    others = ", ".join(f"{_name(*key)} {errors[key] / errors[best]:.2f}x"
                       for key in sorted(errors, key=lambda key: errors[key])[1:3])
    target, seasons = ("seasonal-difference", 1) if best == ("seasonal-mean", 1) else best
    chosen = target if seasons == 1 else f"{target} over {seasons} seasons"
    return target, seasons, (f"{chosen} chosen on the training and validation parts: the next best forecast them "
                             f"with {others} its error")


def _name(target: str, seasons: int) -> str:
    if target == "level":
        return "the last value"
    if seasons == 1:
        return "the last season"
    return f"the mean of {seasons} seasons" + (" at the last one's level" if target == "seasonal-shape" else "")


def to_target(values: np.ndarray, lag: int, seasons: int = 1, target: str = "seasonal-mean") -> np.ndarray:
    """The values the model reads for `values`: each less its reference (`lag * seasons` shorter), or as they are
    for lag 0."""
    values = np.asarray(values, dtype=np.float64)
    if not lag:
        return values
    weights = reference_weights(lag, seasons, target)
    reach = len(weights)
    if len(values) <= reach:
        return values[:0]
    return values[reach:] - np.convolve(values, np.concatenate(([0.0], weights)))[reach:len(values)]


def from_target(history: np.ndarray, paths: np.ndarray, lag: int, seasons: int = 1,
                target: str = "seasonal-mean") -> np.ndarray:
    """Sampled target paths (samples, horizon) after `history` back in the series' own units."""
    paths = np.asarray(paths, dtype=np.float64)
    if not lag:
        return paths
    weights = reference_weights(lag, seasons, target)
    return integrate(np.asarray(history, dtype=np.float64)[-len(weights):], paths, weights)


def reference_text(lag: int, seasons: int = 1, target: str = "seasonal-mean") -> str:
    """What each value is less of, in words: 'the one 24 steps before it', 'the mean of the 3 values ...'."""
    if seasons == 1:
        return f"the one {lag:,} steps before it"
    moved = ", moved to the level of the last season" if target == "seasonal-shape" else ""
    return f"the mean of the {seasons} values {lag:,} steps apart before it{moved}"


def target_context(history: np.ndarray, context: int, lag: int, seasons: int = 1,
                   target: str = "seasonal-mean") -> np.ndarray:
    """The last `context` target values of `history`, or a ConfigError when it is too short for one."""
    reach = lag * seasons
    if len(history) <= reach:
        raise ConfigError(f"the context has {len(history)} values; the run forecasts each value less "
                          f"{reference_text(lag, seasons, target)}, so give at least {reach + 1}")
    return to_target(np.asarray(history)[-(context + reach):], lag, seasons, target)
