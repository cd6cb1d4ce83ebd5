"""The `folk` corpus: the ABC folk collections in music21's corpus, or the user's, one normalised tune per document."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path

import importlib.util

from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.normalise import normalise_tune
from charmony.pipeline.abc.corpus_base import AbcCorpus, read_tune, skip
from charmony.pipeline.plugin.corpus import Document
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.system.sources import expand, read_text

# music21's folders of folk tunes in ABC: Ryan's Mammoth Collection (1883), O'Neill's Music of Ireland
# (1850 tunes), the Essen folksong collection and a file of the Nottingham Music Database.
COLLECTIONS = ("ryansMammoth", "oneills1850", "essenFolksong", "nottingham-dataset")


def default_files() -> list[Path]:
    """The .abc files of the folk collections that ship with music21."""
    spec = importlib.util.find_spec("music21")  # found without importing music21, which takes a second
    if spec is None or spec.origin is None:
        raise CorpusError("music21 is not installed, and its folk collections come with it; give --source")
    root = Path(spec.origin).parent / "corpus"
    return [path for folder in COLLECTIONS for path in sorted((root / folder).glob("*.abc"))]


def music21_text(path: Path) -> str:
    """A file of music21's corpus; some Essen files are Latin-1, not UTF-8."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def normalised_tunes(path: Path, text: str) -> Iterator[str]:
    """Each tune of a collection, normalised; a tune without K: or that cannot be read is skipped with a warning."""
    tunes = split_tunes(text)
    if not tunes:
        skip(f"{path}: holds no ABC tune (no X: line and no music); skipped")
    for piece in tunes:
        tune = normalise_tune(piece.text)
        if tune is None:
            skip(f"{path}:{piece.line}: the tune has no K: field or no music; skipped, the other tunes are used")
        elif read_tune(tune, path, piece.line) is not None:
            yield tune


class FolkCorpus(AbcCorpus):
    """Folk tunes in ABC, stripped of fingerings, annotations, comments and bibliographic fields."""

    name = "folk"
    description = "Folk tunes in ABC (music21's Ryan's, O'Neill's, Essen and Nottingham collections, or yours), normalised."
    default_source = "the ABC folk collections in music21's corpus: " + ", ".join(COLLECTIONS)
    options = {"glob": "which files to read in a --source folder (default *.abc)"}

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each normalised tune as a document."""
        if not sources:
            for path in default_files():
                for tune in normalised_tunes(path, music21_text(path)):
                    yield Document(tune, path)
            return
        found = False
        for path in expand(sources, options.get("glob", "*.abc") or "*.abc"):
            for tune in normalised_tunes(path, read_text(path)):
                found = True
                yield Document(tune, path)
        if not found:
            raise CorpusError(f"no ABC tune in {', '.join(map(str, sources))}; each tune starts with an X: line and has a K: line")


@hookimpl
def register_corpora(register):
    """Register the `folk` corpus."""
    register(FolkCorpus())
