"""What every ABC corpus shares: tunes as documents, samples primed with `X:` and renumbered, checked as ABC."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from pathlib import Path

from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.sample_options import ABC_SAMPLE_OPTIONS
from charmony.pipeline.abc.tune import Tune
from charmony.pipeline.plugin.corpus import CorpusPlugin, CorpusWarning, SampleContext, SampleInfo

NUMBER_LINE = re.compile(r"^X:[^\n]*", re.MULTILINE)
HEADER_END = re.compile(r"^K:[^\n]*$", re.MULTILINE)
CREDIT_LINE = re.compile(r"^[TC]:[^\n]*\n?", re.MULTILINE)
# What the shortest completion of any tune writes: a rest, a barline, |] and line ends.
COMPLETION_CHARACTERS = frozenset("z|]\n")


def skip(message: str) -> None:
    """Say in one line what was skipped and why."""
    warnings.warn(message, CorpusWarning, stacklevel=2)


def read_tune(text: str, path: Path, line: int) -> Tune | None:
    """The tune parsed, or None, with a warning naming file and line, when it has no X: or K: or cannot be read."""
    try:
        tune = parse_tune(text, line)
    except Exception as error:  # a tune the parser fails on costs that tune, never the corpus
        skip(f"{path}:{line}: the tune cannot be read ({type(error).__name__}: {error}); skipped, the other tunes are used")
        return None
    if not tune.readable:
        missing = "X:" if tune.number is None else "K:"
        skip(f"{path}:{line}: the tune has no {missing} field; skipped, the other tunes are used")
        return None
    return tune


def renumber(text: str, number: int) -> str:
    """The tune with its first `X:` line made `X:<number>`; text without one is left as it is."""
    return NUMBER_LINE.sub(f"X:{number}", text, count=1)


def retitle(text: str, sample: SampleInfo) -> str:
    """The tune with the T: and C: lines of its header replaced by the run, sample number, step and seed."""
    number = NUMBER_LINE.search(text)
    if number is None:
        return text
    end = HEADER_END.search(text, number.end())
    header_end = end.start() if end else len(text)
    header = CREDIT_LINE.sub("", text[number.end():header_end])
    credit = f"\nT:{sample.run} sample {sample.number} (step {sample.step}, seed {sample.seed})\nC:charmony {sample.run}"
    return text[:number.end()] + credit + header + text[header_end:]


class AbcCorpus(CorpusPlugin):
    """Base class of the ABC corpora: one tune per document, every sample a whole tune."""

    material = "music"
    prime = "X:"
    extension = ".abc"
    checks = ("abc",)
    sample_options = ABC_SAMPLE_OPTIONS

    def profile(self, documents: Iterator[str]) -> dict:
        """The header fields, values and music the training tunes share (see `pipeline.abc.profile`)."""
        from charmony.pipeline.abc.profile import abc_profile

        return {"abc": abc_profile(documents)}

    def constraint(self, context: SampleContext):
        """The ABC constraint of the run's tunes, with the meter, key, tempo and bars asked for."""
        from charmony.pipeline.abc.grammar.constraint import AbcConstraint
        from charmony.pipeline.abc.sample_options import abc_sample_options

        options = abc_sample_options(context.options, context.tokens)
        profile = (context.profile or {}).get("abc")
        if not profile or not profile["tunes"] or not COMPLETION_CHARACTERS <= set(context.tokens):
            return None
        voiced = any("V" in sequence for sequence in profile["header"]["sequences"])
        if voiced and not profile["voice_prefix"]:
            return None  # voices written other than as [V:id] lines: beyond what the constraint writes
        return AbcConstraint(profile, options)

    def finish(self, text: str, sample: SampleInfo) -> str:
        """Number the sampled tune `X:<number>`, and title and credit it as charmony's, not as a composer's."""
        return retitle(renumber(text, sample.number), sample)
