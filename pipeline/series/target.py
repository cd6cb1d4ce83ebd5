"""What a series model is trained to forecast: the values themselves (`level`), each value less the one a
season before it (`seasonal-difference`, as SARIMA differences), less the mean of the values at its place in
several seasons before (`seasonal-mean`), less that mean moved to the level of the last season
(`seasonal-shape`), less the mean of the last few values plus the mean change over the same steps in the
seasons before (`seasonal-change`), or less the mean of several of these (`combined`, which `auto` takes);
what it forecasts is added back onto the history after sampling.

Each target but the level is the value less a reference: a fixed weighting of the values before it. An
untrained model that forecasts zeros is then the reference itself (the seasonal naive forecast, the mean of
the last seasons, their mean shape at the last season's level, the recent level moved as the seasons before
moved, or, one step ahead, the mean of such forecasts); a trained one learns the drift and the deviations from it. With the
seasonal difference a trend faster than any training window's is carried by the season before it; with the
seasonal change the level follows the last values, as a day's demand follows the day before while its shape
is the week's. Where several references forecast the values before the held-out part about as well, their
mean is the safer bet, as forecasting competitions found of combined forecasts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from charmony.pipeline.system.errors import ConfigError

CHOSEN_ON = 256  # origins at most, evenly spaced, on which `auto` scores its candidates in each series
COMBINED = 5  # `auto`'s reference is the mean of at most this many best candidates ...
NEAR = 1.1  # ... each with at most this many times the best one's error


@dataclass(frozen=True)
class Reference:
    """What each target value is less of: the values 1..`seasons` times `lag` steps before it, weighted as `target`
    says, and for `seasonal-change` the last `recent` values' mean; for `combined` the mean of its `parts`; lag 0:
    nothing (the values themselves)."""

    target: str = "level"
    lag: int = 0
    seasons: int = 1
    recent: int = 0  # seasonal-change alone: how many of the last values set the level
    parts: tuple[Reference, ...] = ()  # combined alone: the references it is the mean of

    @property
    def reach(self) -> int:
        """How many values before a target value it is read from."""
        if not self.lag:
            return 0
        if self.target == "combined":
            return max(part.reach or 1 for part in self.parts)
        return self.lag * self.seasons + (self.recent if self.target == "seasonal-change" else 0)

    def weights(self) -> np.ndarray:
        """The weights of the values 1, 2, ... `reach` steps before a value that make its reference.

        The mean of the values `lag`, 2 `lag`, ... steps before; for `seasonal-shape` plus the last season's mean
        less the mean of all `seasons` seasons, so that the mean shape of the seasons stands at the last one's
        level; for `seasonal-change` less the mean of the `recent` values before each of those, plus the mean of
        the last `recent` values: the recent level, moved as it moved over the same steps in each season before.
        """
        lag, seasons = self.lag, self.seasons
        weights = np.zeros(self.reach)
        if self.target == "combined":
            for part in self.parts:
                own = part.forecast_weights()
                weights[:len(own)] += own / len(self.parts)
            return weights
        weights[lag - 1:lag * seasons:lag] = 1 / seasons
        if self.target == "seasonal-shape" and seasons > 1:
            weights[:lag] += 1 / lag
            weights -= 1 / (lag * seasons)
        if self.target == "seasonal-change":
            recent = self.recent
            weights[:recent] += 1 / recent
            for season in range(1, seasons + 1):
                weights[season * lag:season * lag + recent] -= 1 / (seasons * recent)
        return weights

    def forecast_weights(self) -> np.ndarray:
        """The weights of the values 1, 2, ... steps before a value that make its forecast untrained: its `weights`,
        or for the level (which reads no reference) the last value."""
        return self.weights() if self.lag else np.ones(1)

    def text(self) -> str:
        """What each value is less of, in words: 'the one 24 steps before it', 'the mean of the 3 values ...'."""
        if self.target == "combined":
            return f"the mean of {len(self.parts)} references: " + "; ".join(part.name() for part in self.parts)
        if self.target == "seasonal-change":
            change = "the change" if self.seasons == 1 else f"the mean change in the {self.seasons} seasons"
            last = "the value before it" if self.recent == 1 else f"the mean of the {self.recent:,} values before it"
            return f"{last} plus {change} over the same steps {self.lag:,} steps apart before it"
        if self.seasons == 1:
            return f"the one {self.lag:,} steps before it"
        moved = ", moved to the level of the last season" if self.target == "seasonal-shape" else ""
        return f"the mean of the {self.seasons} values {self.lag:,} steps apart before it{moved}"

    def name(self) -> str:
        """The reference as `auto`'s note names it."""
        if self.target == "level":
            return "the last value"
        if self.target == "combined":
            return f"the mean of {len(self.parts)} references"
        if self.target == "seasonal-change":
            last = "the last value" if self.recent == 1 else f"the last {self.recent:,} values' mean"
            return f"{last} moved as in {self.seasons} season{'s' if self.seasons > 1 else ''}"
        if self.seasons == 1:
            return "the last season"
        return f"the mean of {self.seasons} seasons" + (" at the last one's level" if self.target == "seasonal-shape" else "")


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


def recent_levels(lag: int, periods: tuple[int, ...]) -> list[int]:
    """How many last values may set `seasonal-change`'s level: one, a quarter and a half of the season, and each
    shorter period (a day within a week)."""
    return sorted({1, max(1, lag // 4), max(1, lag // 2), *(period for period in periods if period < lag)})


def candidates(lag: int, most_seasons: int, periods: tuple[int, ...] = ()) -> list[Reference]:
    """The references `auto` weighs, the simplest first: the last value, the mean of 1..`most_seasons` seasons,
    their shape at the last season's level, and the recent level moved as in 1..`most_seasons` seasons."""
    counts = range(1, max(1, most_seasons) + 1)
    found = [Reference()] + [Reference("seasonal-mean", lag, seasons) for seasons in counts]
    found += [Reference("seasonal-shape", lag, seasons) for seasons in counts[1:]]
    return found + [Reference("seasonal-change", lag, seasons, recent)
                    for seasons in counts for recent in recent_levels(lag, periods)]


def rank_references(parts: list[tuple[np.ndarray, int]], horizon: int, lag: int, most_seasons: int,
                    periods: tuple[int, ...] = (), longest_reach: int | None = None) -> list[tuple[Reference, float]]:
    """Each candidate that reads at most `longest_reach` values before each value (None: any) with its error,
    the best first (the simplest first of equals), from the values before each series' held-out part alone
    (`parts`: each series' values, and where its held-out part starts).

    Forecasts from origins over the training and validation parts by what each candidate gives untrained: the
    last value (`level`), the last season repeated (`seasonal-difference`), the mean of the last
    2..`most_seasons` seasons (`seasonal-mean`: a steady season, its noise averaged out), that mean at the last
    season's level (`seasonal-shape`: the noise averaged out, the level followed) and the last values' level moved
    as in the seasons before (`seasonal-change`: a trend, or a level that changes within a season). None of them
    is fitted, so the training part scores them out of sample as the validation part does.
    """
    references = [reference for reference in candidates(lag, most_seasons, periods)
                  if longest_reach is None or reference.reach <= longest_reach]
    errors = dict.fromkeys(references, 0.0)
    weights = {reference: reference.forecast_weights() for reference in references}
    first = max(len(own) for own in weights.values())
    for values, held_out in parts:
        origins = np.arange(first, held_out - horizon + 1, max(1, (held_out - horizon + 1 - first) // CHOSEN_ON))
        if not len(origins):
            continue
        truth = np.stack([values[origin:origin + horizon] for origin in origins])
        before = np.stack([values[origin - first:origin] for origin in origins])
        zeros = np.zeros_like(truth)
        for reference, own in weights.items():
            forecast = integrate(before[:, first - len(own):], zeros, own)
            errors[reference] += float(np.abs(forecast - truth).sum())
    return sorted(errors.items(), key=lambda item: item[1])  # a stable sort: the simplest first of equals


def _single(reference: Reference) -> tuple[Reference, str]:
    """A reference as the target of its own name, and that name with what it reads."""
    if reference == Reference("seasonal-mean", reference.lag, 1):
        reference = Reference("seasonal-difference", reference.lag)
    chosen = reference.target if reference.seasons == 1 else f"{reference.target} over {reference.seasons} seasons"
    if reference.target == "seasonal-change":
        chosen += f" from the last {reference.recent:,} value{'s' if reference.recent > 1 else ''}"
    return reference, chosen


def choose_target(parts: list[tuple[np.ndarray, int]], horizon: int, lag: int, most_seasons: int,
                  periods: tuple[int, ...] = (), longest_reach: int | None = None,
                  combined: int = COMBINED) -> tuple[Reference, str]:
    """(reference, why): what `auto` takes, the mean of the `combined` best of `rank_references` whose error is
    within NEAR of the best one's (one: the best alone).

    Where several references forecast the values before the held-out part about as well, which of them is best
    there is mostly chance, and their mean forecasts later values better than the one that happened to win (as
    forecasting competitions found of combined forecasts). The best alone where the others are clearly worse,
    where it forecasts those values exactly, or where it is the last value: then no season helps, and a seasonal
    reference in the mean would only add the noise of the seasons it reads.
    """
    ranked = rank_references(parts, horizon, lag, most_seasons, periods, longest_reach)
    best, least = ranked[0]
    if not least:  # forecast exactly (a season repeated, a straight line): plan_windows takes the level
        return best, ""
    top = [(reference, error) for reference, error in ranked[:combined] if error <= least * NEAR]
    if len(top) > 1 and best.lag:
        named = ", ".join(f"{reference.name()} {error / least:.2f}x" for reference, error in top)
        return (Reference("combined", lag, parts=tuple(reference for reference, _ in top)),
                f"combined: the mean of the {len(top)} references that forecast the training and validation parts "
                f"best, within {NEAR:g}x the best one's error ({named})")
    others = ", ".join(f"{reference.name()} {error / least:.2f}x" for reference, error in ranked[1:3])
    best, chosen = _single(best)
    return best, f"{chosen} chosen on the training and validation parts: the next best forecast them with {others} its error"


def to_target(values: np.ndarray, reference: Reference) -> np.ndarray:
    """The values the model reads for `values`: each less its reference (`reference.reach` shorter), or as they
    are for lag 0."""
    values = np.asarray(values, dtype=np.float64)
    if not reference.lag:
        return values
    reach = reference.reach
    if len(values) <= reach:
        return values[:0]
    return values[reach:] - np.convolve(values, np.concatenate(([0.0], reference.weights())))[reach:len(values)]


def from_target(history: np.ndarray, paths: np.ndarray, reference: Reference) -> np.ndarray:
    """Sampled target paths (samples, horizon) after `history` back in the series' own units."""
    paths = np.asarray(paths, dtype=np.float64)
    if not reference.lag:
        return paths
    return integrate(np.asarray(history, dtype=np.float64)[-reference.reach:], paths, reference.weights())


def target_context(history: np.ndarray, context: int, reference: Reference) -> np.ndarray:
    """The last `context` target values of `history`, or a ConfigError when it is too short for one."""
    reach = reference.reach
    if len(history) <= reach:
        raise ConfigError(f"the context has {len(history)} values; the run forecasts each value less "
                          f"{reference.text()}, so give at least {reach + 1}")
    return to_target(np.asarray(history)[-(context + reach):], reference)
