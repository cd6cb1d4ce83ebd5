"""A series corpus' settings: its --option values, checked once."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from charmony.pipeline.plugin.options import choice_option, int_option, list_option
from charmony.pipeline.run.limits import LENGTH_LIMIT
from charmony.pipeline.system.errors import SEED_LIMIT, CorpusError

SCALES = ("mean", "minmax", "standard")
TARGETS = ("auto", "level", "seasonal-difference", "seasonal-mean", "seasonal-shape", "seasonal-change")  # what the model forecasts (series/target.py); the first is the default
BINS_LIMIT = 100_000  # value tokens
DAYS_LIMIT = 36_525  # of the generated series: a century of hourly values
CONTEXT_LIMIT = 1 << 16  # values the model reads before it forecasts


@dataclass(frozen=True)
class SeriesOptions:
    """The `series` corpus' --option values, checked."""

    columns: tuple[str, ...] = ()  # empty: the first numeric column
    scale: str = "mean"  # of each window, by its context's own level
    bins: int = 256
    context: int = 0  # values each window's model reads before forecasting; 0: chosen from the periods and length
    periods: tuple[int, ...] = (24,)  # steps of each season, for the seasonal-naive baselines; MASE scales by the first
    holdout: float = 0.2  # the share of each series' end kept for evaluate, seen by neither training nor validation
    jitter: float = 0.05  # noise added to training windows, as a share of each window's spread
    stretch: float = 0.2  # training windows' swings stretched or shrunk by up to this share
    days: int = 1461  # of the generated series: four years, as the UCI load data
    seed: int = 0  # of the generated series
    time: str = ""  # the CSV's time column; empty: one named like a time, if any
    target: str = TARGETS[0]  # chosen by prepare, the values themselves, or each less the value(s) seasons before

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> SeriesOptions:
        """The options from their text, or a CorpusError saying which is wrong and what would do."""
        return cls(list_option(options, "column"), choice_option(options, "scale", SCALES),
                   int_option(options, "bins", 256, minimum=2, maximum=BINS_LIMIT),
                   int_option(options, "context", 0, maximum=CONTEXT_LIMIT), parse_periods(options),
                   share_option(options, "holdout", 0.2, 0.01, 0.5), share_option(options, "jitter", 0.05, 0.0, 1.0),
                   share_option(options, "stretch", 0.2, 0.0, 0.9),
                   int_option(options, "days", 1461, minimum=1, maximum=DAYS_LIMIT),
                   int_option(options, "seed", 0, maximum=SEED_LIMIT - 1), options.get("time", "").strip(),
                   choice_option(options, "target", TARGETS))

    @property
    def period(self) -> int:
        """The first period: the season MASE is scaled by."""
        return self.periods[0]


def share_option(options: Mapping[str, str], key: str, default: float, minimum: float, maximum: float) -> float:
    """A number from `minimum` to `maximum`, or a CorpusError saying so."""
    text = options.get(key)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not minimum <= value <= maximum:  # also refuses NaN
        raise CorpusError(f"--option {key}={text}: give a number from {minimum:g} to {maximum:g}, such as {default:g}")
    return value


def parse_periods(options: Mapping[str, str]) -> tuple[int, ...]:
    """--option period=24 or period=48,336: each a whole number of steps, at least one."""
    names = list_option(options, "period", ("24",))
    if not names:
        raise CorpusError(f"--option period={options['period']}: give one or more whole numbers, such as 24 or 24,168")
    return tuple(dict.fromkeys(int_option({"period": name}, "period", 24, minimum=1, maximum=LENGTH_LIMIT) for name in names))
