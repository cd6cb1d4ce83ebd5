"""A series run's own values in their own units, and which of them `prepare` held out.

The raw series are read again from the sources the manifest records (absolute paths), or generated
again from the run's options; the token files only hold quantised values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from charmony.pipeline.evaluation.references import document_spans
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.manifest import check_sources
from charmony.pipeline.series.corpus_base import SeriesCorpusBase
from charmony.pipeline.series.values import Bins, Scaling, tokens_text, windows
from charmony.pipeline.system.errors import ConfigError, RunError


@dataclass(frozen=True)
class Document:
    """One document of a series run (a series, or a window of one) in the series' own units."""

    name: str
    values: np.ndarray
    held_out: int  # the index of its first held-out value; len(values) when none was held out


def run_documents(run: Run, corpus: SeriesCorpusBase, advice: str) -> list[tuple[str, np.ndarray]]:
    """The run's documents as `prepare` read them: (series name, values), from the recorded sources.

    A ConfigError ending in `advice` when a source is no longer where the manifest says: runs prepared
    before sources were recorded with absolute paths name them relative to the folder prepare ran in.
    """
    manifest = run.manifest()
    settings = corpus.settings(manifest.options)
    sources = [Path(record.path) for record in manifest.sources]
    for path in sources:
        if not path.is_file():
            raise ConfigError(f"run {run.name!r} was prepared from {path}, which is not there from {Path.cwd()}; {advice}")
    check_sources(manifest.sources, f"prepare run {run.name!r} again, or {advice}")
    return [(series.name, values) for series in corpus.series(sources, manifest.options)
            for values in windows(series, settings.window)]


def held_out_documents(run: Run, corpus: SeriesCorpusBase, advice: str) -> list[Document]:
    """The run's documents, each with where its held-out part starts.

    With a contiguous split the end of the last document(s) is held out; otherwise whole documents
    are, found by their tokens in val.bin.
    """
    manifest = run.manifest()
    documents = run_documents(run, corpus, advice)
    if manifest.split == "contiguous":
        split_at, position, found = manifest.tokens["train"], 0, []
        for name, values in documents:
            found.append(Document(name, values, int(np.clip(split_at - position, 0, len(values)))))
            position += len(values) + 1  # and its <eod>
        return found
    settings = corpus.settings(manifest.options)
    bins, vocab = Bins.for_options(settings), run.vocabulary()
    val = np.asarray(run.tokens("val"), dtype=np.int64)
    held = {val[start:end].tobytes() for start, end in document_spans(val, vocab.eod_id)}
    found = []
    for name, values in documents:
        text = tokens_text(bins.quantise(Scaling.fit(values, settings.scale).apply(values)))
        ids = np.array(vocab.encode(corpus.tokenize(text)), dtype=np.int64)
        found.append(Document(name, values, 0 if ids.tobytes() in held else len(values)))
    if sum(document.held_out < len(document.values) for document in found) != manifest.documents["val"]:
        raise RunError(f"run {run.name!r}'s held-out documents no longer match its series; prepare it again")
    return found
