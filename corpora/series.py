"""The `series` corpus: numeric time series as tokens, the way Chronos does it.

Each series (or window of one) is scaled by its mean absolute value (or by its minimum and
maximum) and quantised into `bins` equal bins; bin i is the token `"i "`. The plain functions here
also turn tokens back into values and score forecasts against the persistence baselines.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charmony.corpora.household_load import HOURS, household_load
from charmony.corpora.options import choice_option, int_option, list_option
from charmony.corpora.series_csv import read_columns
from charmony.pipeline.corpus import CorpusPlugin, CorpusWarning, Document
from charmony.pipeline.errors import CorpusError
from charmony.pipeline.hookspecs import hookimpl
from charmony.pipeline.recipes import Recipe
from charmony.pipeline.sources import expand

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


@dataclass(frozen=True)
class Series:
    """One series of values and where it came from."""

    name: str
    values: np.ndarray
    source: Path | None = None


@dataclass(frozen=True)
class Scaling:
    """Values scaled as (value - offset) / scale."""

    offset: float
    scale: float

    @classmethod
    def fit(cls, values: np.ndarray, method: str) -> Scaling:
        """The mean absolute value (method "mean") or the minimum and range ("minmax") of `values`."""
        if method == "minmax":
            low, high = float(np.min(values)), float(np.max(values))
            return cls(low, high - low or 1.0)
        return cls(0.0, float(np.mean(np.abs(values))) or 1.0)

    def apply(self, values: np.ndarray) -> np.ndarray:
        """Values in scaled units."""
        return (np.asarray(values, dtype=np.float64) - self.offset) / self.scale

    def invert(self, scaled: np.ndarray) -> np.ndarray:
        """Scaled values back in the series' own units."""
        return np.asarray(scaled, dtype=np.float64) * self.scale + self.offset


@dataclass(frozen=True)
class Bins:
    """`count` equal bins from `low` to `high` in scaled units."""

    count: int
    low: float
    high: float

    @classmethod
    def for_options(cls, options: SeriesOptions) -> Bins:
        """-limit..limit for mean scaling, 0..1 for min/max scaling."""
        if options.scale == "minmax":
            return cls(options.bins, 0.0, 1.0)
        return cls(options.bins, -options.limit, options.limit)

    def quantise(self, scaled: np.ndarray) -> np.ndarray:
        """The bin of each scaled value; values beyond the range go to the outer bins."""
        position = (np.asarray(scaled, dtype=np.float64) - self.low) / (self.high - self.low) * self.count
        return np.clip(np.floor(position), 0, self.count - 1).astype(np.int64)

    def centres(self, ids: np.ndarray) -> np.ndarray:
        """The middle of each bin, in scaled units."""
        return self.low + (np.asarray(ids, dtype=np.float64) + 0.5) * (self.high - self.low) / self.count

    def outside(self, scaled: np.ndarray) -> int:
        """How many scaled values lie beyond the bins' range."""
        return int(np.sum((scaled < self.low) | (scaled > self.high)))


def tokens_text(ids: np.ndarray) -> str:
    """The text of a document of bin ids: each bin number followed by a space."""
    return "".join(f"{int(i)} " for i in ids)


def token_bin(token: str) -> int | None:
    """The bin a vocabulary token stands for, or None for `<eod>`, `<unk>` and anything else."""
    text = token.strip()
    return int(text) if text.isdigit() else None


def dequantise(ids: np.ndarray, scaling: Scaling, bins: Bins) -> np.ndarray:
    """Values in the series' own units for bin ids: each bin's centre, scaled back."""
    return scaling.invert(bins.centres(ids))


def persistence(context: np.ndarray, horizon: int) -> np.ndarray:
    """The baseline that repeats the last value."""
    return np.full(horizon, float(np.asarray(context)[-1]))


def seasonal_persistence(context: np.ndarray, horizon: int, period: int) -> np.ndarray:
    """The baseline that repeats the last season (the last day of hourly values, for period 24)."""
    context = np.asarray(context, dtype=np.float64)
    if len(context) < period:
        raise ValueError(f"seasonal persistence needs at least {period} values of context, not {len(context)}")
    return np.resize(context[-period:], horizon)


def mse(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean squared error."""
    return float(np.mean((np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64)) ** 2))


def mae(forecast: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error."""
    return float(np.mean(np.abs(np.asarray(forecast, dtype=np.float64) - np.asarray(actual, dtype=np.float64))))


def read_series(sources: list[Path], options: SeriesOptions) -> list[Series]:
    """The series of the CSV files named by `sources`, or the generated household load when there are none."""
    if not sources:
        return [Series("household load (kW)", household_load(options.days, options.seed))]
    found = []
    for path in expand(sources, "*"):
        for column in read_columns(path, options.columns or None):
            found.append(Series(column.name, column.values, path))
    return found


def windows(series: Series, window: int) -> list[np.ndarray]:
    """The series cut into consecutive windows of `window` values (0: the whole series), a short rest left out."""
    if window == 0:
        return [series.values]
    if len(series.values) < window:
        raise CorpusError(f"series {series.name!r} has {len(series.values):,} values, fewer than --option window={window}")
    return [series.values[start:start + window] for start in range(0, len(series.values) - window + 1, window)]


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
        settings = self.settings(options)
        if sources and ({"days", "seed"} & set(options)):
            raise CorpusError("--option days and seed shape the generated series; leave them out with --source")
        return read_series(sources, settings)

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each series, or each window of one, scaled and quantised, as a document."""
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
