"""What every ABC corpus shares: tunes as documents, samples primed with `X:` and renumbered, checked as ABC."""

from __future__ import annotations

import re
import warnings

from charmony.pipeline.corpus import CorpusPlugin, CorpusWarning

NUMBER_LINE = re.compile(r"^X:[^\n]*", re.MULTILINE)


def skip(message: str) -> None:
    """Say in one line what was skipped and why."""
    warnings.warn(message, CorpusWarning, stacklevel=2)


def renumber(text: str, number: int) -> str:
    """The tune with its first `X:` line made `X:<number>`; text without one is left as it is."""
    return NUMBER_LINE.sub(f"X:{number}", text, count=1)


class AbcCorpus(CorpusPlugin):
    """Base class of the ABC corpora: one tune per document, every sample a whole tune."""

    prime = "X:"
    extension = ".abc"
    checks = ("abc",)

    def finish(self, text: str, number: int) -> str:
        """Number the sampled tune `X:<number>`."""
        return renumber(text, number)
