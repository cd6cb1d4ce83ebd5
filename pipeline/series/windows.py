"""How a series run is cut into windows: each series' training, validation and held-out parts, the windows
drawn from them, each scaled by its own context's level, and the bins over those scaled values.

The plan `prepare` chose is kept in the run's profile.json (`WindowPlan.to_json`), so that `forecast` and
`evaluate` read contexts as training did. The held-out part of each series is in no token file: training
reads windows before its validation part, and best.pt is chosen on the validation part alone; the plan
itself (the target `auto` chooses, the bins and their check) reads no held-out value either.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from charmony.pipeline.series.settings import TARGETS, SeriesOptions
from charmony.pipeline.series.spread import ScaledSpread
from charmony.pipeline.series.target import Reference, choose_target, from_target, target_context, to_target
from charmony.pipeline.series.values import Bins, Scaling, Series
from charmony.pipeline.system.errors import CorpusError, RunError

FORMAT = 2  # of the plan in profile.json; runs prepared before windows were scaled one by one have none
COVERAGE = 4  # each training value is drawn about this often, in windows at random starts ...
COVERED_VALUES = 1_000_000  # ... up to this many training values; beyond it, about once
# of a corpus' training windows, however short its series: the same values in many windows and forms; its series
# share them by their training values (a minimum for each series made prepare write 30M tokens for 192 short series)
MIN_TOKENS = 150_000
VALIDATION_WINDOWS = 64  # forecast origins at most, evenly spaced over each validation part ...
VALIDATION_TOKENS = 2048  # ... and windows of at least this many tokens, repeating origins where the part is short
MARGIN = 0.25  # the bins reach this share of the scaled training values' range beyond it, on each side
SHORTEST_CONTEXT = 8
# `auto` weighs as many seasons as the context holds or, where more, as fit in twice the context and in an eighth of
# the shortest training part: a forecast's --context must hold them too
REFERENCE_CONTEXTS, REFERENCE_SHARE = 2, 8
WINDOW_SEED = 0  # window starts and augmentation: the same every time the documents are read
KNOWN_TARGETS = (*TARGETS[1:], "combined")  # what a plan in profile.json may hold: auto has chosen
SCALED_UNITS = {"mean": "times a context's mean absolute value", "minmax": "of a context's range",
                "standard": "mean absolute deviations from a context's mean"}


@dataclass(frozen=True)
class Parts:
    """Where a series' validation part and its held-out part start; training reads only before the first."""

    validation: int
    held_out: int

    @classmethod
    def of(cls, length: int, holdout: float) -> Parts:
        """The last `holdout` share held out for evaluate, and half as much before it for validation."""
        held = max(1, round(length * holdout))
        return cls(length - held - max(1, round(held / 2)), length - held)

    @classmethod
    def of_target(cls, length: int, holdout: float, reach: int) -> Parts:
        """The parts of a series of `length` target values, each read from the series' own value and those up to
        `reach` steps before it (`reach` more values): the same values of the series as `Parts.of` holds out."""
        parts = cls.of(length + reach, holdout)
        return cls(parts.validation - reach, parts.held_out - reach)


def spread_evenly(found: list, most: int) -> list:
    """`found` where it holds at most `most` items, else `most` of them spread evenly from the first to the last."""
    if len(found) <= most:
        return found
    return [found[i] for i in np.linspace(0, len(found) - 1, most).round().astype(int)]


@dataclass(frozen=True)
class WindowPlan:
    """What every window of a run is: `context` values read, then `horizon` more; bins over the scaled values."""

    context: int
    horizon: int
    scale: str
    bins: int
    low: float  # the bins' range, in units of a window's context level
    high: float
    note: str = ""
    target: str = "level"  # what the model forecasts (series/target.py)
    lag: int = 0  # the season it is differenced over; 0: the values themselves
    seasons: int = 1  # the target's reference reads the values 1..seasons times `lag` steps before each value
    recent: int = 0  # ... and for seasonal-change the last `recent` values before it
    parts: tuple[Reference, ...] = ()  # for combined: the references whose mean it is
    lengths: tuple[int, ...] = ()  # each series' values as prepare read them; (): prepared before they were kept

    @property
    def reference(self) -> Reference:
        """What each target value is less of."""
        return Reference(self.target, self.lag, self.seasons, self.recent, self.parts)

    @property
    def reach(self) -> int:
        """How many values before a target value it is read from."""
        return self.reference.reach

    def value_bins(self) -> Bins:
        """The bins every window is quantised by."""
        return Bins(self.bins, self.low, self.high)

    def to_json(self) -> dict:
        """The plan as profile.json keeps it."""
        return {"series_format": FORMAT, **asdict(self)}

    @classmethod
    def of_profile(cls, profile: dict | None, run_name: str) -> WindowPlan:
        """The plan of a run's profile, or a RunError asking to prepare a run from before plans again."""
        if not profile or profile.get("series_format") != FORMAT:
            raise RunError(f"run {run_name!r} was prepared before series windows were scaled by their own level "
                           f"(series format {FORMAT}); prepare it again")
        try:
            parts = tuple(_reference(part) for part in profile.get("parts", ()))
            plan = cls(int(profile["context"]), int(profile["horizon"]), str(profile["scale"]), int(profile["bins"]),
                       float(profile["low"]), float(profile["high"]), str(profile.get("note", "")),
                       str(profile.get("target", "level")), int(profile.get("lag", 0)), int(profile.get("seasons", 1)),
                       int(profile.get("recent", 0)), parts, tuple(int(length) for length in profile.get("lengths", ())))
            if not _prepare_could_write(plan.reference):
                raise ValueError("a reference that reads no values")
            return plan
        except (KeyError, TypeError, ValueError):
            raise RunError(f"run {run_name!r}'s profile.json is damaged; prepare it again") from None

    def scaling(self, context: np.ndarray) -> Scaling:
        """The scaling of a window whose context is the last `self.context` values of `context`."""
        return Scaling.fit(np.asarray(context)[-self.context:], self.scale)

    def model_context(self, history: np.ndarray) -> np.ndarray:
        """The target values the model reads after `history`: its last `context` (differenced) values."""
        return target_context(history, self.context, self.reference)

    def restore(self, history: np.ndarray, paths: np.ndarray) -> np.ndarray:
        """Sampled target paths after `history` in the series' own units."""
        return from_target(history, paths, self.reference)


def _reference(part: dict) -> Reference:
    """One part of a combined reference as profile.json keeps it."""
    if part.get("parts"):
        raise ValueError("a combined reference inside another")
    return Reference(str(part["target"]), int(part["lag"]), int(part["seasons"]), int(part["recent"]))


def _prepare_could_write(reference: Reference) -> bool:
    """Whether a reference as profile.json described it is one `prepare` writes and reads the values before each
    value: a known target, a lag exactly where it is not the level, and a combined one of two parts or more."""
    if reference.target not in KNOWN_TARGETS or reference.lag < 0 or (reference.target == "level") != (reference.lag == 0):
        return False
    if reference.target == "combined":
        return len(reference.parts) > 1 and all(_prepare_could_write(part) and part.lag in (0, reference.lag)
                                                for part in reference.parts)  # a part read as combined has no parts
    return not reference.parts and reference.seasons >= 1 and not (reference.target == "seasonal-change" and reference.recent < 1)


def choose_context(settings: SeriesOptions, training: int) -> tuple[int, int]:
    """(context, horizon) of the windows for series whose shortest training part has `training` values.

    The context is four of the longest seasons (at least 128 values), or two when that is over 512; the
    horizon the first period; both shortened where the training part would hold too few windows.
    """
    longest = max(settings.periods)
    context = settings.context or min(max(4 * longest, 128), max(2 * longest, 512))
    horizon = min(settings.period, max(1, training // 4))
    context = min(context, (training - horizon) * 2 // 3)
    if context < SHORTEST_CONTEXT:
        raise CorpusError(f"the shortest series has {training:,} values before its validation and held-out parts, "
                          f"too few for windows of {SHORTEST_CONTEXT} values and more; give a longer series or a "
                          "smaller --option holdout")
    return context, horizon


def training_starts(length: int, window: int, random: np.random.Generator, share: float = 1.0) -> np.ndarray:
    """Random starts of windows of `window` values within the first `length` values, for a series that holds `share`
    of its corpus' training values."""
    drawn = math.ceil(max(MIN_TOKENS * share, min(COVERAGE * length, max(length, COVERED_VALUES))) / window)
    return random.integers(0, length - window + 1, drawn)


def validation_origins(parts: Parts, window: int) -> np.ndarray:
    """Evenly spaced forecast origins within the validation part: every value of it where there are few, some
    repeated so that windows of `window` values hold VALIDATION_TOKENS tokens in all."""
    distinct = parts.held_out - parts.validation
    count = max(min(distinct, VALIDATION_WINDOWS), math.ceil(VALIDATION_TOKENS / (window + 1)))
    return np.linspace(parts.validation, parts.held_out - 1, count).round().astype(np.int64)


def augment(values: np.ndarray, context: int, settings: SeriesOptions, random: np.random.Generator) -> np.ndarray:
    """Half the windows as they are; the others' swings about their context's mean stretched or shrunk, and jittered."""
    if random.random() < 0.5:
        return values
    middle = float(np.mean(values[:context]))
    spread = float(np.mean(np.abs(values[:context] - middle)))
    factor = math.exp(random.uniform(-1, 1) * math.log1p(settings.stretch))
    return middle + (values - middle) * factor + random.normal(0.0, settings.jitter * spread, len(values))


@dataclass(frozen=True)
class Window:
    """A window's values, scaled by its context's level, and the split it is for."""

    scaled: np.ndarray
    split: str
    source: Path | None
    series: int = 0  # the index of its series
    start: int = 0  # where in its series its first value is
    context: int = 0  # leading values read but not scored: a validation window's context before its origin


def target_series(all_series: list[Series], reference: Reference) -> list[Series]:
    """The series as the model reads them: less their reference (its reach values shorter), or as they are."""
    if not reference.lag:
        return all_series
    return [replace(series, values=to_target(series.values, reference), missing=None) for series in all_series]


def windows(all_series: list[Series], settings: SeriesOptions, context: int, horizon: int, reach: int = 0) -> Iterator[Window]:
    """Every training window of every (target) series in random order, then every validation window.

    A validation window is a forecast from an origin in the validation part, as `evaluate` makes one: the
    `context` values before the origin (read, not scored, and reaching back into the training part), then up to
    `horizon` values of the validation part, all scaled by that context."""
    random = np.random.default_rng(WINDOW_SEED)
    window = context + horizon
    lengths = [Parts.of_target(len(series.values), settings.holdout, reach).validation for series in all_series]
    total = max(sum(lengths), 1)
    drawn = [(index, start) for index, length in enumerate(lengths)
             for start in training_starts(length, window, random, length / total)]
    for position in random.permutation(len(drawn)):
        index, start = drawn[position]
        values = augment(all_series[index].values[start:start + window], context, settings, random)
        yield Window(Scaling.fit(values[:context], settings.scale).apply(values), "train", all_series[index].source,
                     int(index), int(start))
    for index, series in enumerate(all_series):
        parts = Parts.of_target(len(series.values), settings.holdout, reach)
        for origin in validation_origins(parts, window):
            first, end = origin - context, min(origin + horizon, parts.held_out)
            scaling = Scaling.fit(series.values[first:origin], settings.scale)
            yield Window(scaling.apply(series.values[first:end]), "val", series.source, index, int(first), context)


def validation_values(all_series: list[Series], settings: SeriesOptions, context: int, horizon: int,
                      reach: int = 0) -> Iterator[Window]:
    """Each series' validation values, `horizon` at a time, each scaled by the `context` values before them as
    `evaluate` scales a forecast's context: every value of the part exactly once. The held-out part is never read."""
    for index, series in enumerate(all_series):
        parts = Parts.of_target(len(series.values), settings.holdout, reach)
        for start in range(parts.validation, parts.held_out, horizon):
            scaling = Scaling.fit(series.values[max(0, start - context):start], settings.scale)
            end = min(start + horizon, parts.held_out)
            yield Window(scaling.apply(series.values[start:end]), "later", series.source, index, start)


def differenced_windows(settings: SeriesOptions, shortest: int) -> tuple[int, int, int]:
    """(context, horizon, lag) of windows of a target differenced over the longest period that fits the context
    chosen for a training part of `shortest` values less that period; lag 0 when none fits. The CorpusError of
    the longest period when the part is too short for any."""
    error, fitting = None, (0, 0, 0)
    for lag in sorted(settings.periods, reverse=True):
        try:
            context, horizon = choose_context(settings, shortest - lag)
        except CorpusError as refused:
            error = error or refused
            continue
        if lag <= context:
            return context, horizon, lag
        fitting = (context, horizon, 0)
    if fitting[0] or error is None:  # periods are never empty (parse_periods), so error is None only with a fit
        return fitting
    raise error


@dataclass(frozen=True)
class TargetWindows:
    """The windows' context and horizon, and the target read from them: each value less `reference` (lag 0: the
    values themselves), and why `auto` chose it."""

    context: int
    horizon: int
    reference: Reference = Reference()
    why: str = ""


def choose_target_windows(all_series: list[Series], settings: SeriesOptions) -> TargetWindows:
    """The windows, and the target `settings` ask for or `auto` chooses.

    A differenced series is shorter by the seasons it reads, so its windows are chosen for a training part
    shorter by as much; `auto` takes the values themselves where that leaves too few. `auto` weighs as many
    seasons as the context holds or, where more, as fit in twice the context and in an eighth of the shortest
    training part.
    """
    shortest = min(Parts.of(len(series.values), settings.holdout).validation for series in all_series)
    if settings.target == "level":
        return TargetWindows(*choose_context(settings, shortest))
    try:
        context, horizon, lag = differenced_windows(settings, shortest)
    except CorpusError:
        if settings.target != "auto":
            raise
        lag = 0
    if not lag:
        if settings.target != "auto":
            raise CorpusError(f"--option target={settings.target} needs a period no longer than the context "
                              f"({context} values); give a shorter --option period or a longer --option context")
        return TargetWindows(*choose_context(settings, shortest))
    reference, why = Reference(settings.target, lag, max(2, context // lag)), ""
    if settings.target == "seasonal-change":
        reference = Reference(settings.target, lag, 1, 1)
    if settings.target == "auto":
        parts = [(series.values, Parts.of(len(series.values), settings.holdout).held_out) for series in all_series]
        most = max(context // lag, min(REFERENCE_CONTEXTS * context, shortest // REFERENCE_SHARE) // lag)
        reference, why = choose_target(parts, horizon, lag, most, settings.periods, longest_reach(settings, shortest))
        if reference.target == "level":
            return TargetWindows(*choose_context(settings, shortest), why=why)
    if reference.target == "seasonal-difference":
        return TargetWindows(context, horizon, Reference(reference.target, lag), why)
    try:
        return TargetWindows(*choose_context(settings, shortest - reference.reach), reference, why)
    except CorpusError:
        if settings.target != "auto":
            raise
        return TargetWindows(context, horizon, Reference("seasonal-difference", lag),
                             why + f"; too short for a reference that reads {reference.reach:,} values, so seasonal-difference")


def longest_reach(settings: SeriesOptions, shortest: int) -> int:
    """The most values a target may read before each value and still leave a training part of `shortest` values
    room for windows (`choose_context`); -1 where none does."""
    low, high = -1, shortest
    while low < high:
        middle = (low + high + 1) // 2
        try:
            choose_context(settings, shortest - middle)
            low = middle
        except CorpusError:
            high = middle - 1
    return low


def _what_was_read(all_series: list[Series]) -> str:
    """The series read, in a few words: one by its name and file, several by their count."""
    if len(all_series) > 1:
        return f"{len(all_series):,} series, {sum(len(series.values) for series in all_series):,} values in all"
    (series,) = all_series
    where = f" of {series.source.name}" if series.source is not None else ""
    return f"{series.name!r}{where} ({len(series.values):,} values)"


class FlatTarget(Exception):
    """The middle half of a differenced target's scaled training values is one value."""


def plan_windows(all_series: list[Series], settings: SeriesOptions) -> WindowPlan:
    """The windows' context and horizon from the series' lengths, and bins over the scaled training windows.

    `auto` takes the values themselves where the middle half of the differenced target's training values is
    one value (a season repeated exactly, or a straight line), which would leave nothing to learn and no bins to tell values apart.
    """
    chosen = choose_target_windows(all_series, settings)
    if settings.target != "auto" or not chosen.reference.lag:
        return _plan(all_series, settings, chosen)
    try:
        return _plan(all_series, settings, chosen, refuse_flat=True)
    except FlatTarget:
        level = replace(settings, target="level")
        return _plan(all_series, level, replace(choose_target_windows(all_series, level),
                                                why="level chosen: a reference forecasts the values before the "
                                                    "held-out part exactly (a season repeated, or a straight line), "
                                                    "which leaves nothing to learn"))


def _plan(all_series: list[Series], settings: SeriesOptions, chosen: TargetWindows, refuse_flat: bool = False) -> WindowPlan:
    context, horizon, reference = chosen.context, chosen.horizon, chosen.reference
    targets, lookback = target_series(all_series, reference), reference.reach
    low, high, count = math.inf, -math.inf, 0
    spread = ScaledSpread()
    for window in windows(targets, settings, context, horizon, lookback):
        if window.split == "train":
            low, high, count = min(low, float(window.scaled.min())), max(high, float(window.scaled.max())), count + 1
            spread.add(window.scaled, window.series, window.start, sample=True)
    for window in validation_values(targets, settings, context, horizon, lookback):
        spread.add(window.scaled, window.series, window.start, sample=False)
    unit = SCALED_UNITS[settings.scale]
    if refuse_flat and spread.flat():
        raise FlatTarget()
    clipped = ""
    if not reference.lag or not spread.too_wide(settings.bins, 1 + 2 * MARGIN):
        spread.check(all_series, settings.bins, 1 + 2 * MARGIN, unit, lookback)
    else:  # a differenced target's rare spikes: clipped, not refused
        series, value = spread.farthest(all_series, lookback)
        clip_low, clip_high, share = spread.clipped(settings.bins, 1 + 2 * MARGIN)
        low, high = max(low, clip_low), min(high, clip_high)
        clipped = (f"; {share:.2%} of the training values, spikes of the differenced {series} such as {value}, lie "
                   f"beyond the bins and are clipped to the outer ones")
    reach = MARGIN * ((high - low) or 1.0)
    longest = max(len(series.values) for series in all_series)
    parts = Parts.of(longest, settings.holdout)
    note = (f"series: {_what_was_read(all_series)}, a season of {settings.period:,} step{'s' if settings.period > 1 else ''}; windows of {context:,} values of context and {horizon:,} ahead, each scaled by its own context; "
            f"{count:,} training windows at random starts; validation on the {parts.held_out - parts.validation:,} "
            f"values before the last {longest - parts.held_out:,} (held out for evaluate) of the longest series; "
            f"{settings.bins} bins over {low - reach:.3g}..{high + reach:.3g} {unit}"
            + (f"; the model forecasts each value less {reference.text()}" if reference.lag else "")
            + (f" ({chosen.why})" if chosen.why else "") + clipped)
    return WindowPlan(context, horizon, settings.scale, settings.bins, low - reach, high + reach, note,
                      reference.target, reference.lag, reference.seasons, reference.recent, reference.parts,
                      tuple(len(series.values) for series in all_series))
