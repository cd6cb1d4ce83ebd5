"""The `series` corpus: numeric columns of CSV files, or a generated household load, as value tokens.

How series become tokens, and back, is shared by every series corpus (pipeline/series/corpus_base.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.series.corpus_base import SeriesCorpusBase
from charmony.pipeline.system.errors import CorpusError

if TYPE_CHECKING:
    from charmony.pipeline.series.values import Series


class SeriesCorpus(SeriesCorpusBase):
    """Time series from CSV files (or a generated household load), quantised into value tokens."""

    name = "series"
    description = "Time series from CSV columns as value tokens (scaled, quantised into bins), for `charmony forecast`."
    default_source = "a generated household electricity load: hourly, four years, daily and weekly pattern plus noise"
    recipes = {
        "forecast": Recipe("the forecaster: 2 x 64 LSTM, dropout 0.2, learning rate 0.002, validated every 25 steps "
                           "on an average of the weights (each step 1%) so best.pt catches the best step; five minutes, "
                           "the schedule fitted to them, stopping once 80 validations (2,000 steps) better no best",
                           layers=2, hidden=64, seq_len=64, batch_size=16, dropout=0.2, weight_decay=0.1, lr=2e-3,
                           ema_decay=0.99, warmup_steps=50, max_steps=20000, max_minutes=5, eval_every=25, patience=80, save_every=250),
        "load": Recipe("the electricity-load forecaster: the forecast recipe reading a week of hourly values per step",
                       layers=2, hidden=64, seq_len=168, batch_size=16, dropout=0.2, weight_decay=0.1, lr=2e-3,
                       ema_decay=0.99, warmup_steps=50, max_steps=20000, max_minutes=5, eval_every=25, patience=80, save_every=250),
    }
    options = {
        "column": "the CSV column(s) to read, comma-separated, a name with a comma in double quotes (default: the "
                  "first numeric column that is not a label: not the time column, one named year, month, day, ..., or "
                  "an unnamed first column)",
        "time": "the CSV's time column, whose times must increase; it is left out of the values "
                "(default: a column named time, date, datetime, timestamp or ds)",
        "scale": "mean (default: divide each window by its context's mean absolute value), minmax (map its "
                 "context's minimum..maximum to 0..1) or standard (subtract its context's mean, divide by the mean "
                 "absolute deviation from it)",
        "bins": "how many value tokens, spread over the scaled training windows' range and a quarter of it each side "
                "(default 256)",
        "context": "values the model reads before it forecasts; each window is scaled by them (default 0: four of "
                   "the longest periods, at least 128, or two when that is over 512; shorter for a short series)",
        "holdout": "the share of each series' end held out for evaluate; half as much before it is the validation "
                   "part that picks best.pt (default 0.2)",
        "target": "what the model forecasts: auto (default: prepare chooses one of the others, or the mean of "
                  "several, on the values before the held-out part), level (the values), seasonal-difference (each value less the one a season "
                  "before), seasonal-mean (less the mean of the seasons at its place), seasonal-shape (less that mean "
                  "moved to the last season's level) or seasonal-change (less the value before it plus its change over "
                  "the same step a season before; auto may weigh more seasons and more last values, and may take "
                  "the mean of up to five of these references that forecast about as well); the season is the longest period that "
                  "fits the context",
        "jitter": "noise added to half the training windows, as a share of each one's spread (default 0.05)",
        "stretch": "half the training windows' swings stretched or shrunk by up to this share (default 0.2)",
        "period": "steps in one season, or several comma-separated (24,168), for the seasonal-naive baselines; "
                  "MASE is scaled by the first (default 24: a day of hourly values; prepare warns where the time "
                  "column's spacing suggests another)",
        "days": "days of the generated series (default 1461: four years)",
        "seed": "seed of the generated series (default 0)",
    }

    def series(self, sources: list[Path], options: Mapping[str, str]) -> list[Series]:
        """The raw series of `sources` (the generated one when empty), as `documents` reads them."""
        from charmony.corpora.household_load import household_load
        from charmony.pipeline.series.csv_columns import read_columns
        from charmony.pipeline.series.values import Series
        from charmony.pipeline.system.sources import expand

        settings = self.settings(options)
        if sources and ({"days", "seed"} & set(options)):
            raise CorpusError("--option days and seed shape the generated series; leave them out with --source")
        if not sources:
            return [Series("household load (kW)", household_load(settings.days, settings.seed))]
        return [Series(column.name, column.values, path, column.missing, column.spacing, column.trimmed)
                for path in expand(sources, "*")
                for column in read_columns(path, settings.columns or None, settings.time)]


@hookimpl
def register_corpora(register):
    """Register the `series` corpus."""
    register(SeriesCorpus())
