"""What every series corpus shares: series scaled and quantised into value tokens, the way Chronos does it.

Each series (or window of one) is scaled by its mean absolute value (or by its minimum and maximum) and
quantised into `bins` equal bins; bin i is the token `"i "`. A corpus built on this class says where its
series come from (`series`); `charmony forecast` and `evaluate` find such a run by its material, "series".
numpy is imported only when documents are read, so that listing the plugins stays fast.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.plugin.corpus import CorpusPlugin, CorpusWarning, Document
from charmony.pipeline.series.settings import SeriesOptions

if TYPE_CHECKING:
    from charmony.pipeline.series.values import Series

TOKEN = re.compile(r"\S+\s*|\s+")
# Values per part of a document: a long series is handed on in parts, its text and tokens never held whole.
PART_VALUES = 1 << 16


class SeriesCorpusBase(CorpusPlugin):
    """Base class of the series corpora: a subclass implements `series`; documents, tokens and settings follow."""

    material = "series"
    token_unit = "value"

    def settings(self, options: Mapping[str, str]) -> SeriesOptions:
        """The run's options, checked."""
        return SeriesOptions.parse(options)

    def series(self, sources: list[Path], options: Mapping[str, str]) -> list[Series]:
        """The raw series of `sources` (the corpus' default when empty), in the order they are documents."""
        raise NotImplementedError

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each series, or each window of one, scaled and quantised, as a document."""
        from charmony.pipeline.series.values import Bins, Scaling, check_periods, check_values, tokens_text, windows

        settings = self.settings(options)
        bins = Bins.for_options(settings)
        clipped = 0
        for series in self.series(sources, options):
            check_values(series)
            if "period" in options:  # the default period need not fit a short series that is never evaluated
                check_periods(series, settings)
            for values in windows(series, settings.window):
                scaling = Scaling.fit(values, settings.scale)
                for start in range(0, len(values), PART_VALUES):
                    scaled = scaling.apply(values[start:start + PART_VALUES])
                    clipped += bins.outside(scaled)
                    yield Document(tokens_text(bins.quantise(scaled)), series.source, start + PART_VALUES < len(values))
        if clipped:
            warnings.warn(f"{clipped:,} values beyond {settings.limit:g} times the mean absolute value went to the outer bins; "
                          "raise --option limit to keep them apart", CorpusWarning, stacklevel=2)

    def tokenize(self, text: str) -> list[str]:
        """One token per value: its bin number and the space after it."""
        return TOKEN.findall(text)
