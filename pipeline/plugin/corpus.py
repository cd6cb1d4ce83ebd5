"""The corpus plugin interface: what a corpus is and what it yields."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.errors import ConfigError

if TYPE_CHECKING:
    from charmony.pipeline.plugin.constraint import Constraint


class CorpusWarning(UserWarning):
    """A source, or a piece of it, that a corpus plugin skipped; the others are still used."""


@dataclass(frozen=True)
class Document:
    """One unit of the corpus (a tune, a poem, a file) and where it came from."""

    text: str
    source: Path | None = None
    # True when the next Document yielded continues this one's text: a document too large to hold
    # (a 1 GB file read whole) may be yielded in parts, cut between tokens, all but the last marked so.
    continues: bool = False
    # The split this document belongs to ("train" or "val") when the corpus comes with its own, as
    # PTB's and WikiText's files do; None lets `prepare` hold documents out by --seed.
    split: str | None = None
    # Documents with the same group go to the same side of the split: a corpus that derives several
    # documents from one piece (its transpositions, its voices, repeated draws) names the piece here.
    # None: the document is its own group.
    group: str | None = None
    # False: in validation, the model reads this part but the validation loss leaves its tokens out, as a
    # series window's context before the values it forecasts (yield it with continues=True, then the scored part).
    scored: bool = True


@dataclass(frozen=True)
class SampleInfo:
    """Which sample `CorpusPlugin.finish` is given: its number and where it comes from."""

    number: int  # from 1, as the sample files, samples.json and an ABC tune's X: number it
    run: str  # the run's name
    step: int  # the training step of the checkpoint it was drawn from
    seed: int  # the sampling seed
    layout: str | None = None  # the run's layout, as `CorpusPlugin.layout` named it when the run was prepared


@dataclass(frozen=True)
class SampleContext:
    """What a corpus plugin's constraint is built from: the run's tokens, its profile and the options asked for."""

    tokens: list[str]  # the run's vocabulary, by id (<eod> included)
    profile: dict | None  # what `profile` returned when the run was prepared
    options: Mapping[str, str] = field(default_factory=dict)  # `charmony sample --option KEY=VALUE`
    prepare_options: Mapping[str, str] = field(default_factory=dict)  # the run's `prepare --option`s


class CorpusPlugin:
    """Base class for corpus plugins; subclass it and hand an instance to `register`.

    A subclass sets `name` and `description` and implements `documents`.
    The other attributes are defaults a user would want for this kind of material.
    """

    name: str = ""
    description: str = ""
    # None means "the version of the distribution that registered the plugin".
    version: str | None = None
    # What `prepare` reads when the user gives no --source, in words.
    default_source: str = "none: --source is required"
    # Text that starts every sample unless the user gives --prime.
    prime: str = ""
    # Whether a learned embedding is recommended over one-hot input. One-hot input is tiny next to
    # the LSTM's initial weights and learns several times slower, so the default is yes.
    embedding: bool = True
    # How many of the most frequent tokens to keep when the user gives no --max-vocab; None keeps all.
    max_vocab: int | None = None
    # Extension of the sample files written by `charmony sample --out`.
    extension: str = ".txt"
    # Option name -> one-line help, for `--option KEY=VALUE`.
    options: Mapping[str, str] = {}
    # Output plugins that check every sample of this corpus, whether or not --render names them.
    checks: tuple[str, ...] = ()
    # What the documents are, which decides how the engine evaluates a run: "text" (compared as text),
    # "music" (ABC tunes, compared by their melodies), or "series" (a SeriesCorpusBase: forecast and scored).
    material: str = "text"
    # What one token is: "character" text is measured in bits per character; for "word" (or any other
    # unit, such as a series' "value") bpc means nothing, and training reports perplexity instead.
    token_unit: str = "character"
    # The --option that decides what the corpus holds out, where it splits its documents itself and
    # --val-fraction does not apply ("holdout" for the series corpora); empty: --val-fraction decides.
    held_out_option: str = ""
    # Recipe name -> Recipe: named training settings for `charmony train RUN --recipe NAME`.
    recipes: Mapping[str, Recipe] = {}
    # Sample-time option name -> one-line help, for `charmony sample --option KEY=VALUE`.
    sample_options: Mapping[str, str] = {}

    def recipe(self, name: str) -> Recipe:
        """The recipe called `name`, or a ConfigError listing the recipes this corpus has."""
        recipes = getattr(self, "recipes", {}) or {}
        if name not in recipes:
            offered = ", ".join(recipes) or "none"
            raise ConfigError(f"corpus {self.name!r} has no recipe {name!r}; its recipes: {offered}")
        return recipes[name]

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield the corpus documents read from `sources` (the defaults when empty)."""
        raise NotImplementedError

    def sample_extension(self, options: Mapping[str, str]) -> str:
        """The extension of sample files for a run prepared with `options`; `extension` unless overridden."""
        return self.extension

    def layout(self, options: Mapping[str, str]) -> str | None:
        """The name of the way a run prepared with `options` writes its documents, when the corpus can write them in
        more than one (as `bach`'s voices taking turns by blocks of bars or bar by bar); None when it has one way.

        It is kept in the run's manifest and its checkpoints: a checkpoint is refused for a run of another layout.
        """
        return None

    def moves_to_c(self, options: Mapping[str, str]) -> bool:
        """Whether a run prepared with `options` has every tune moved so that its tonic is C (as `bach`'s
        transpose=tonic); `harmonize` then moves a melody there, and its harmonisations back to the melody's key."""
        return False

    def finish(self, text: str, sample: SampleInfo) -> str:
        """Turn a sample's text, prime included, into the text written to its file (e.g. to number and title a tune,
        or to write it in the usual layout when the run's `sample.layout` is another)."""
        return text

    def profile(self, documents: Iterator[str]) -> dict | None:
        """What the run's training documents share, as JSON data kept with the run; None keeps nothing.

        `prepare` calls it once with the training documents' texts; `constraint` and the checkers read it.
        """
        return None

    def constraint(self, context: SampleContext) -> Constraint | None:
        """The grammar a run's samples are drawn under (see `pipeline.constraint`), or None to sample freely.

        Raise a ConfigError for a sample option whose value is wrong, saying what would do.
        """
        return None

    def tokenize(self, text: str) -> Iterable[str]:
        """Split text into tokens; joining the tokens must give the text back."""
        return text


def check_options(corpus: CorpusPlugin, given: Mapping[str, str], sample: bool = False) -> None:
    """Refuse an --option the corpus does not have (with `sample`, a sample option), listing the ones it has."""
    kind, known = ("sample option", corpus.sample_options) if sample else ("option", corpus.options)
    unknown = sorted(set(given) - set(known))
    if unknown:
        offered = ", ".join(sorted(known)) or "none"
        raise ConfigError(f"corpus {corpus.name!r} has no {kind} {unknown[0]!r}; its {kind}s: {offered}")
