"""The `text` corpus: any UTF-8 text, as char-rnn's --input_file, optionally split into documents."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from charmony.pipeline.plugin.corpus import CorpusPlugin, Document
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.sources import expand, read_pieces, split_pieces


def separator(spec: str) -> re.Pattern | None:
    """The pattern that separates documents by `spec`: none (None), blank, re:PATTERN or a literal."""
    if spec == "none":
        return None
    if spec == "blank":
        return re.compile(r"\n[ \t]*\n(?:[ \t]*\n)*")
    if spec.startswith("re:"):
        try:
            pattern = re.compile(spec[3:], re.MULTILINE)
        except re.error as error:
            raise CorpusError(f"--option split={spec}: bad regular expression ({error})") from None
        if not spec[3:] or pattern.groups:
            raise CorpusError(f"--option split={spec}: give a non-empty pattern without capturing groups, e.g. (?:...)")
        return pattern
    if not spec:
        raise CorpusError("--option split= needs a value: none, blank, re:PATTERN or a literal string")
    return re.compile(re.escape(spec))


def python_help_topics() -> Iterator[Document]:
    """The English text of Python's built-in help topics, one document per topic."""
    from pydoc_data import topics

    source = Path(topics.__file__)
    for name in sorted(topics.topics):
        yield Document(topics.topics[name], source)


class TextCorpus(CorpusPlugin):
    """UTF-8 text files or directories, one document per file or split on a delimiter."""

    name = "text"
    description = "Any UTF-8 text: files or directories, one document per file or split on a delimiter."
    default_source = "Python's built-in help topics (pydoc_data), about 460,000 characters of English"
    recipes = {
        "char-rnn": Recipe("char-rnn's tiny-shakespeare settings: 2 x 512 LSTM, dropout 0.5, 50 x 50 batches",
                           layers=2, hidden=512, dropout=0.5, seq_len=50, batch_size=50, max_steps=5000),
        "small": Recipe("a quick CPU run: 2 x 128 LSTM, 500 steps", layers=2, hidden=128, max_steps=500, eval_every=100),
    }
    options = {
        "split": "how files split into documents: none (default), blank (blank lines), re:PATTERN, or a literal string",
        "glob": "which files to read in a --source directory (default *)",
    }

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each file, or each piece of it, as a document."""
        pattern = separator(options.get("split", "none"))
        if not sources:
            yield from python_help_topics()
            return
        for path in expand(sources, options.get("glob", "*")):
            # A file is read a piece at a time, so a large one is never held whole.
            open_document = False
            for text, continues in split_pieces(read_pieces(path), pattern):
                if open_document or continues or text.strip():
                    yield Document(text, path, continues)
                open_document = continues


@hookimpl
def register_corpora(register):
    """Register the `text` corpus."""
    register(TextCorpus())
