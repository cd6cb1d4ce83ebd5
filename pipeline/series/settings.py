"""A series corpus' settings: its --option values, checked once."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from charmony.pipeline.plugin.options import choice_option, int_option, list_option
from charmony.pipeline.system.errors import CorpusError

SCALES = ("mean", "minmax")


@dataclass(frozen=True)
class SeriesOptions:
    """The `series` corpus' --option values, checked."""

    columns: tuple[str, ...] = ()  # empty: the first numeric column
    scale: str = "mean"
    bins: int = 256
    limit: float = 4.0  # with scale=mean the bins span -limit..limit times the mean absolute value
    window: int = 0  # values per document; 0: a whole series is one document
    period: int = 24  # steps of one season, for seasonal persistence
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
        if not limit_value > 0 or limit_value == float("inf"):
            raise CorpusError(f"--option limit={limit}: give a positive number, such as 4")
        return cls(list_option(options, "column"), choice_option(options, "scale", SCALES),
                   int_option(options, "bins", 256, minimum=2), limit_value, int_option(options, "window", 0),
                   int_option(options, "period", 24, minimum=1), int_option(options, "days", 1461, minimum=1),
                   int_option(options, "seed", 0))
