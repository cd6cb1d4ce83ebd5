"""A series corpus' settings: its --option values, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from charmony.pipeline.plugin.options import choice_option, int_option, list_option
from charmony.pipeline.run.limits import LENGTH_LIMIT
from charmony.pipeline.system.errors import SEED_LIMIT, CorpusError

SCALES = ("mean", "minmax")
BINS_LIMIT = 100_000  # value tokens
DAYS_LIMIT = 36_525  # of the generated series: a century of hourly values
LARGEST_LIMIT = 1e6  # --option limit, in mean absolute values


@dataclass(frozen=True)
class SeriesOptions:
    """The `series` corpus' --option values, checked."""

    columns: tuple[str, ...] = ()  # empty: the first numeric column
    scale: str = "mean"
    bins: int = 256
    limit: float = 4.0  # with scale=mean the bins span -limit..limit times the mean absolute value
    window: int = 0  # values per document; 0: a whole series is one document
    periods: tuple[int, ...] = (24,)  # steps of each season, for the seasonal-naive baselines; MASE scales by the first
    days: int = 1461  # of the generated series: four years, as the UCI load data
    seed: int = 0  # of the generated series

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> SeriesOptions:
        """The options from their text, or a CorpusError saying which is wrong and what would do."""
        limit = options.get("limit", "4")
        try:
            limit_value = float(limit)
        except ValueError:
            limit_value = 0.0
        if not 0 < limit_value <= LARGEST_LIMIT:  # also refuses NaN and infinity
            raise CorpusError(f"--option limit={limit}: give a positive number up to {LARGEST_LIMIT:g}, such as 4")
        return cls(list_option(options, "column"), choice_option(options, "scale", SCALES),
                   int_option(options, "bins", 256, minimum=2, maximum=BINS_LIMIT), limit_value,
                   int_option(options, "window", 0, maximum=LENGTH_LIMIT), parse_periods(options),
                   int_option(options, "days", 1461, minimum=1, maximum=DAYS_LIMIT),
                   int_option(options, "seed", 0, maximum=SEED_LIMIT - 1))

    @property
    def period(self) -> int:
        """The first period: the season MASE is scaled by."""
        return self.periods[0]


def parse_periods(options: Mapping[str, str]) -> tuple[int, ...]:
    """--option period=24 or period=48,336: each a whole number of steps, at least one."""
    names = list_option(options, "period", ("24",))
    if not names:
        raise CorpusError(f"--option period={options['period']}: give one or more whole numbers, such as 24 or 24,168")
    return tuple(dict.fromkeys(int_option({"period": name}, "period", 24, minimum=1, maximum=LENGTH_LIMIT) for name in names))
