"""The `series` corpus: numeric time series as tokens, the way Chronos does it.

Each series (or window of one) is scaled by its mean absolute value (or by its minimum and
maximum) and quantised into `bins` equal bins; bin i is the token `"i "`. The plain functions of
series_values.py also turn tokens back into values and score forecasts against the persistence
baselines; they need numpy, so this module imports them only when documents are read.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.corpora.household_load import HOURS
from charmony.corpora.options import choice_option, int_option, list_option
from charmony.pipeline.plugin.corpus import CorpusPlugin, CorpusWarning, Document
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe

if TYPE_CHECKING:
    from charmony.pipeline.series.values import Series

TOKEN = re.compile(r"\S+\s*|\s+")
SCALES = ("mean", "minmax")


@dataclass(frozen=True)
class SeriesOptions:
    """The `series` corpus' --option values, checked."""

    columns: tuple[str, ...] = ()  # empty: the first numeric column
    scale: str = "mean"
    bins: int = 256
    limit: float = 4.0  # with scale=mean the bins span -limit..limit times the mean absolute value
    window: int = 0  # values per document; 0: a whole series is one document
    period: int = HOURS  # steps of one season, for seasonal persistence
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
                   int_option(options, "period", HOURS, minimum=1), int_option(options, "days", 1461, minimum=1),
                   int_option(options, "seed", 0))


class SeriesCorpus(CorpusPlugin):
    """Time series from CSV files (or a generated household load), quantised into value tokens."""

    name = "series"
    description = "Time series from CSV columns as value tokens (scaled, quantised into bins), for `charmony forecast`."
    default_source = "a generated household electricity load: hourly, four years, daily and weekly pattern plus noise"
    token_unit = "value"
    recipes = {
        "load": Recipe("the electricity-load forecaster: 2 x 128 LSTM over a week of hourly values, dropout 0.3",
                       layers=2, hidden=128, seq_len=168, batch_size=16, dropout=0.3, weight_decay=0.1,
                       max_steps=600, eval_every=100, save_every=100),
    }
    options = {
        "column": "the CSV column(s) to read, comma-separated (default: the first numeric column)",
        "scale": "mean (default: divide by the mean absolute value) or minmax (map the minimum..maximum to 0..1)",
        "bins": "how many value tokens (default 256)",
        "limit": "with scale=mean, the bins span -limit..limit times the mean absolute value (default 4)",
        "window": "values per document: each series cut into windows of this many (default 0: a series is one document)",
        "period": "steps in one season, for the seasonal-persistence baseline (default 24: a day of hourly values)",
        "days": "days of the generated series (default 1461: four years)",
        "seed": "seed of the generated series (default 0)",
    }

    def settings(self, options: Mapping[str, str]) -> SeriesOptions:
        """The run's options, checked."""
        return SeriesOptions.parse(options)

    def series(self, sources: list[Path], options: Mapping[str, str]) -> list[Series]:
        """The raw series of `sources` (the generated one when empty), as `documents` reads them."""
        from charmony.pipeline.series.values import read_series

        settings = self.settings(options)
        if sources and ({"days", "seed"} & set(options)):
            raise CorpusError("--option days and seed shape the generated series; leave them out with --source")
        return read_series(sources, settings)

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each series, or each window of one, scaled and quantised, as a document."""
        from charmony.pipeline.series.values import Bins, Scaling, tokens_text, windows

        settings = self.settings(options)
        bins = Bins.for_options(settings)
        clipped = 0
        for series in self.series(sources, options):
            for values in windows(series, settings.window):
                scaled = Scaling.fit(values, settings.scale).apply(values)
                clipped += bins.outside(scaled)
                yield Document(tokens_text(bins.quantise(scaled)), series.source)
        if clipped:
            warnings.warn(f"{clipped:,} values beyond {settings.limit:g} times the mean absolute value went to the outer bins; "
                          "raise --option limit to keep them apart", CorpusWarning, stacklevel=2)

    def tokenize(self, text: str) -> list[str]:
        """One token per value: its bin number and the space after it."""
        return TOKEN.findall(text)


@hookimpl
def register_corpora(register):
    """Register the `series` corpus."""
    register(SeriesCorpus())
