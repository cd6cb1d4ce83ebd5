"""A series run's own values in their own units, which of them `prepare` held out, and how it cut windows.

The raw series are read again from the sources the manifest records (absolute paths), or generated
again from the run's options; the token files only hold quantised windows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.manifest import check_sources
from charmony.pipeline.series.corpus_base import SeriesCorpusBase
from charmony.pipeline.series.values import Series
from charmony.pipeline.series.windows import Parts, WindowPlan
from charmony.pipeline.system.errors import ConfigError


@dataclass(frozen=True)
class Document:
    """One series of a run in its own units."""

    name: str
    values: np.ndarray  # missing values filled in
    held_out: int  # the index of its first held-out value; len(values) when none was held out
    missing: np.ndarray | None = None  # True where a value was missing (no forecast is scored against it); None: none

    def truth(self, start: int, end: int) -> np.ndarray:
        """Values start..end-1 to score forecasts against, NaN where a value was missing."""
        values = np.asarray(self.values[start:end], dtype=np.float64)
        return values if self.missing is None else np.where(self.missing[start:end], np.nan, values)


def window_plan(run: Run) -> WindowPlan:
    """How `prepare` cut the run's windows (a RunError for a run prepared before windows were)."""
    return WindowPlan.of_profile(run.profile(), run.name)


def run_documents(run: Run, corpus: SeriesCorpusBase, advice: str) -> list[Document]:
    """The run's series as `prepare` read them, from the recorded sources, none of them held out yet.

    A ConfigError ending in `advice` when a source is no longer where the manifest says: runs prepared
    before sources were recorded with absolute paths name them relative to the folder prepare ran in. A
    ConfigError where the series are not as long as `prepare` read them (their parts would fall elsewhere),
    as a run prepared before missing values at a series' ends were left out, from a file with some there.
    """
    recorded = window_plan(run).lengths
    manifest = run.manifest()
    sources = [Path(record.path) for record in manifest.sources]
    for path in sources:
        if not path.is_file():
            raise ConfigError(f"run {run.name!r} was prepared from {path}, which is not there from {Path.cwd()}; {advice}")
    check_sources(manifest.sources, f"prepare run {run.name!r} again, or {advice}")
    read = corpus.series(sources, manifest.options)
    _check_lengths(run, read, recorded)
    return [Document(series.name, series.values, len(series.values), series.missing) for series in read]


def _check_lengths(run: Run, read: list[Series], recorded: tuple[int, ...]) -> None:
    """A ConfigError where the series `read` are not as long as the run's profile.json `recorded` them (() where it did
    not: a run prepared before missing values at a series' ends were left out)."""
    if not recorded and any(series.trimmed for series in read):
        raise ConfigError(f"run {run.name!r} was prepared when missing values at a series' ends were filled in; they are "
                          "now left out, which would move its held-out part; prepare it again")
    if not recorded or recorded == tuple(len(series.values) for series in read):
        return
    if len(recorded) != len(read):
        raise ConfigError(f"run {run.name!r} now reads {len(read):,} series, where prepare read {len(recorded):,}; "
                          "prepare it again")
    series, length = next((series, length) for series, length in zip(read, recorded) if len(series.values) != length)
    raise ConfigError(f"run {run.name!r}'s series {series.name!r} now reads {len(series.values):,} values, where "
                      f"prepare read {length:,}: its held-out part would move; prepare it again")


def held_out_documents(run: Run, corpus: SeriesCorpusBase, advice: str) -> list[Document]:
    """The run's series, each with where its held-out part starts: the values no training or validation read."""
    holdout = corpus.settings(run.manifest().options).holdout
    return [replace(document, held_out=Parts.of(len(document.values), holdout).held_out)
            for document in run_documents(run, corpus, advice)]
