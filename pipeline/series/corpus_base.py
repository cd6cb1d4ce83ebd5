"""What every series corpus shares: series cut into windows, each scaled by its context's level and quantised
into value tokens, the way Chronos does it.

Each window is scaled by the mean absolute value (or the minimum and range) of its first `context` values
and quantised into bins over the scaled training values; bin i is the token `"i "`. Training windows start
at random places before each series' validation part, half of them stretched and jittered; validation
windows are forecasts from origins in that part, their contexts read but left out of the validation
loss; the end of each series is held out for `evaluate` (series/windows.py). A corpus built on this
class says where its series come from (`series`). numpy is imported only when documents are read, so
that listing the plugins stays fast.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.series.settings import SeriesOptions

if TYPE_CHECKING:
    from charmony.pipeline.series.values import Series
    from charmony.pipeline.series.windows import WindowPlan

TOKEN = re.compile(r"\S+\s*|\s+")


class SeriesCorpusBase(CorpusPlugin):
    """Base class of the series corpora: a subclass implements `series`; documents, tokens and settings follow."""

    material = "series"
    token_unit = "value"
    held_out_option = "holdout"
    plan: WindowPlan | None = None  # the windows of the documents read last, which `profile` keeps with the run

    def settings(self, options: Mapping[str, str]) -> SeriesOptions:
        """The run's options, checked."""
        return SeriesOptions.parse(options)

    def series(self, sources: list[Path], options: Mapping[str, str]) -> list[Series]:
        """The raw series of `sources` (the corpus' default when empty), in the order they are documents."""
        raise NotImplementedError

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield every training window of every series, then every validation window, scaled and quantised."""
        from charmony.pipeline.series.values import check_periods, check_values, tokens_text, warn_of_season
        from charmony.pipeline.series.windows import plan_windows, target_series, windows

        settings = self.settings(options)
        all_series = self.series(sources, options)
        for series in all_series:
            check_values(series)
            if "period" in options:  # the default period need not fit a short series that is never evaluated
                check_periods(series, settings)
        if "period" not in options:
            warn_of_season(all_series, settings.period)
        plan = plan_windows(all_series, settings)
        self.plan = plan
        bins = plan.value_bins()
        targets = target_series(all_series, plan.reference)
        for window in windows(targets, settings, plan.context, plan.horizon, plan.reach):
            tokens = bins.quantise(window.scaled)
            if window.context:
                yield Document(tokens_text(tokens[:window.context]), window.source, continues=True, split=window.split,
                               scored=False)
            yield Document(tokens_text(tokens[window.context:]), window.source, split=window.split)

    def profile(self, documents: Iterator[str]) -> dict | None:
        """The window plan the documents were cut by, which `forecast` and `evaluate` read contexts by."""
        return self.plan.to_json() if self.plan is not None else None

    def tokenize(self, text: str) -> list[str]:
        """One token per value: its bin number and the space after it."""
        return TOKEN.findall(text)
