"""The `bach` corpus: Bach's chorales, or the user's scores and ABC files, as ABC tunes, one tune per document."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.plugin.options import choice_option, int_option
from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.corpus_base import AbcCorpus, read_tune, renumber, skip
from charmony.pipeline.abc.layout import LAYOUTS, WRITER_LAYOUT, relayout, split_voices, write_layout
from charmony.pipeline.plugin.corpus import Document, SampleInfo
from charmony.pipeline.system.errors import CharmonyError, ConfigError, CorpusError
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.recipes import Recipe
from charmony.pipeline.system.sources import expand, read_text

# music21 takes a second to import, so it (and what needs it) is imported only when documents are read.
VOICE_CHOICES = ("all", "soprano")
ALL_SHIFTS = tuple(range(-5, 7))  # the twelve keys, moving no voice more than half an octave
TO_TONIC = "tonic"  # transpose=tonic: each tune moved to the tonic C
LARGEST_SHIFT = 12
# Of tunes of all voices (a melody's is blocks): bars, which benchmarks/README.md found to give better harmony.
DEFAULT_LAYOUT = "bars"


@dataclass(frozen=True)
class BachOptions:
    """The `bach` corpus' --option values, checked."""

    voices: str = "all"
    transpose: tuple[int, ...] = (0,)
    to_c: bool = False  # transpose=tonic: each tune moved by the shift that takes its tonic to C
    instances: int | None = None  # draw this many tunes, with replacement
    seed: int = 0  # for the draw
    glob: str = "*"
    layout: str = DEFAULT_LAYOUT  # how the voices' bars are laid out in lines (pipeline.abc.layout)

    @classmethod
    def parse(cls, options: Mapping[str, str]) -> BachOptions:
        """The options from their text, or a ConfigError saying which value is wrong and what would do."""
        voices = choice_option(options, "voices", VOICE_CHOICES)
        transpose = options.get("transpose", "0")
        to_c = transpose == TO_TONIC
        return cls(voices, (0,) if to_c else _shifts(transpose), to_c,
                   int_option(options, "instances", None, minimum=1), int_option(options, "seed", 0),
                   options.get("glob", "*") or "*", _layout(options, voices))

    @property
    def variants(self):
        """One chorales.Variant per shift, or the one of each tune moved to C."""
        from charmony.corpora.chorales import Variant

        if self.to_c:
            return (Variant(self.voices, to_c=True),)
        return tuple(Variant(self.voices, shift) for shift in self.transpose)

    def rewrites(self, voices: int) -> bool:
        """Whether an ABC tune of this many voices must be read and written again (for other voices, keys or layout)."""
        return self.voices != "all" or self.transpose != (0,) or self.to_c or (self.layout != "blocks" and voices > 1)

    def laid_out(self, text: str) -> str:
        """A tune as the writer wrote it (blocks of bars), in this layout; a tune of one voice as it is."""
        tune = None if self.layout == "blocks" else split_voices(text)
        return text if tune is None or len(tune.voices) < 2 else write_layout(tune, self.layout)


def _layout(options: Mapping[str, str], voices: str) -> str:
    """The layout asked for: blocks or bars (voices taking turns bar by bar), bars only for tunes of all voices."""
    if voices != "all":
        if options.get("layout", "blocks") != "blocks":
            raise ConfigError(f"--option layout={options['layout']}: the voices take turns only in tunes of all voices; "
                              "drop it, or use voices=all")
        return "blocks"
    layout = options.get("layout", DEFAULT_LAYOUT)
    if layout not in LAYOUTS:
        raise ConfigError(f"--option layout={layout}: choose one of {', '.join(LAYOUTS)}")
    return layout


def _shifts(text: str) -> tuple[int, ...]:
    """`all`, or a comma list of semitones such as -2,0,3."""
    if text == "all":
        return ALL_SHIFTS
    try:
        shifts = [int(part) for part in text.split(",")]
    except ValueError:
        shifts = []
    if not shifts or any(abs(s) > LARGEST_SHIFT for s in shifts):
        raise ConfigError(
            f"--option transpose={text}: give all, {TO_TONIC}, or semitones from -{LARGEST_SHIFT} to {LARGEST_SHIFT} separated by commas, e.g. -2,0,3"
        )
    return tuple(dict.fromkeys(shifts))


def abc_file_documents(path: Path, options: BachOptions) -> Iterator[Document]:
    """Each tune of an ABC file, as it is or, for other voices or keys, read and written again, grouped by title."""
    from charmony.corpora.chorales import write_variant
    from charmony.pipeline.abc.score import tune_to_score

    tunes = split_tunes(read_text(path))
    if not tunes:
        skip(f"{path}: holds no ABC tune (no X: line and no music); skipped")
    for piece in tunes:
        tune = read_tune(piece.text, path, piece.line)
        if tune is None:
            continue
        group = tune.title or f"{path}:{piece.line}"
        if not options.rewrites(len(tune.voices)):
            yield Document(renumber(piece.text, 1), path, group=group)
            continue
        try:
            score = tune_to_score(tune)
            texts = [options.laid_out(write_variant(score, variant, tune.title or path.stem)) for variant in options.variants]
        except CharmonyError as error:
            skip(f"{path}:{piece.line}: the tune cannot be rewritten ({error}); skipped")
            continue
        yield from (Document(text, path, group=group) for text in texts)


def score_file_scores(path: Path) -> list:
    """The music21 scores read from a file (an opus gives several); [] with a warning when music21 cannot."""
    from music21 import converter, stream

    try:
        parsed = converter.parse(path, forceSource=True)
    except Exception as error:  # music21 raises many kinds, and some of its parsers plain IndexError
        reason = str(error).strip().splitlines()[0][:200] if str(error).strip() else type(error).__name__
        skip(f"{path}: music21 cannot read it as a score ({reason}); skipped")
        return []
    if isinstance(parsed, stream.Opus):
        return list(parsed.scores)
    return [parsed if isinstance(parsed, stream.Score) else stream.Score([parsed])]


def score_file_documents(path: Path, options: BachOptions) -> Iterator[Document]:
    """Each score of a file music21 reads, written as ABC in each variant, grouped by title."""
    from charmony.corpora.chorales import write_variant

    for number, score in enumerate(score_file_scores(path), start=1):
        title = (score.metadata.title if score.metadata else None) or path.stem + (f" {number}" if number > 1 else "")
        try:
            texts = [options.laid_out(write_variant(score, variant, title)) for variant in options.variants]
        except CharmonyError as error:
            skip(f"{path}: cannot be written as ABC ({error}); skipped")
            continue
        yield from (Document(text, path, group=title) for text in texts)


class BachCorpus(AbcCorpus):
    """Bach's chorales from music21's corpus, or the user's ABC and score files, as ABC tunes."""

    name = "bach"
    description = "Bach's chorales (music21's corpus) or your .abc and score files, written as ABC; one tune per document."
    default_source = "the Bach chorales in music21's corpus, written as ABC on first use and cached"
    recipes = {
        "demo": Recipe("`make demo`'s model: 2 x 256 LSTM, dropout 0.3, at most 1,000 steps or 4 minutes (with --option "
                       "voices=soprano --option transpose=tonic)",
                       layers=2, hidden=256, dropout=0.3, max_steps=1000, max_minutes=4.0),
        "bench": Recipe("bench_bach.py's model: 2 x 256 LSTM, dropout 0.3, 10 minutes (with voices=soprano, transpose=tonic)",
                        layers=2, hidden=256, dropout=0.3, max_steps=100_000, max_minutes=10.0),
    }
    options = {
        "voices": "all (default) or soprano (the melody: the part named Soprano, else the top part)",
        "transpose": "semitones to move every tune by, e.g. -2,0,3; all (the twelve keys, -5 to +6); or tonic (each "
                     "tune by -5 to +6 so its tonic is C: major keys to C major, minor keys to C minor); default 0",
        "instances": "draw this many tunes at random, with replacement, from the sources (for small collections)",
        "seed": "seed of the instances draw (default 0)",
        "glob": "which files to read in a --source folder (default *)",
        "layout": "with voices=all: bars (default: the voices take turns bar by bar, a line each) or blocks (each voice "
                  "a line of four bars in turn); samples are saved in blocks either way",
    }

    def layout(self, options: Mapping[str, str]) -> str:
        """How a run prepared with `options` lays out its tunes' voices: blocks or bars."""
        return BachOptions.parse(options).layout

    def moves_to_c(self, options: Mapping[str, str]) -> bool:
        """Whether a run prepared with `options` has its tunes moved to the tonic C (transpose=tonic)."""
        return BachOptions.parse(options).to_c

    def finish(self, text: str, sample: SampleInfo) -> str:
        """Number, title and credit the sampled tune, written in the usual layout (blocks of bars) whatever the run's."""
        if sample.layout not in (None, WRITER_LAYOUT):
            text = relayout(text, WRITER_LAYOUT)
        return super().finish(text, sample)

    def documents(self, sources: list[Path], options: Mapping[str, str]) -> Iterator[Document]:
        """Yield each tune (each variant of it) as a document, grouped by its title, so that a tune's variants,
        its draws and its other editions go to the same side of the split."""
        settings = BachOptions.parse(options)
        if sources:
            documents = self._source_documents(sources, settings)
        else:
            from charmony.corpora.chorales import chorale_tunes

            variants, _ = chorale_tunes(settings.variants)
            documents = [
                Document(settings.laid_out(tune["abc"]), Path(tune["source"]), group=tune["name"])
                for variant in settings.variants for tune in variants[variant]
            ]
        if settings.instances is not None:
            draw = random.Random(settings.seed)
            documents = [draw.choice(documents) for _ in range(settings.instances)]
        yield from documents

    def _source_documents(self, sources: list[Path], settings: BachOptions) -> list[Document]:
        documents: list[Document] = []
        files = list(expand(sources, settings.glob))
        for path in files:
            read = abc_file_documents if path.suffix.lower() == ".abc" else score_file_documents
            documents.extend(read(path, settings))
        if not documents:
            named = ", ".join(str(p) for p in files[:3]) + (" ..." if len(files) > 3 else "")
            raise CorpusError(f"no tune could be read from {named}; see the warnings above for each file")
        return documents


@hookimpl
def register_corpora(register):
    """Register the `bach` corpus."""
    register(BachCorpus())
