"""The `evaluate` stage: how close samples come to a run's held-out documents, and how much they copy its training ones.

For an ABC run (one whose samples are `.abc` files) the unit is the tune, and the figures are:
- `valid`: the share of tunes that are strictly valid (`is_valid_tune`): they pass the `abc` checker and have every
  header field that every training tune of the run has;
- `overlap`: for each histogram, the overlap area of the samples' and the held-out tunes' normalised
  histograms, the sum over the bins of the smaller of the two shares: 1 for the same shape, 0 for nothing
  in common (the objective evaluation of MGEval, Yang & Lerch 2018). `pitch` counts pitch classes from the
  key's tonic, `interval` melodic intervals within a voice, `duration` note lengths in quarter notes,
  `bars` bars per tune (bins in `abc/features.py`);
- `bars_median` and `reference_bars_median`: the median bars per tune of the samples and of the held-out tunes;
- `music`: melody figures (cadence, length, phrases, furniture, range, steps) and, for four-part tunes, harmony
  figures (chords, parallels, crossing, spacing, ranges, the bass's cadence), each for the samples and for
  the held-out tunes (`evaluation/musical.py`);
- `copying`: a tune's longest copy is the longest run of consecutive notes (a rest counts as one) of one of
  its voices that occurs in a voice of a training tune with the same intervals and lengths; the median and
  largest over tunes, and the share of tunes with more than half of some voice in one copied run.

For other runs the unit is the sample, the overlaps are `character` (each character its own bin) and
`line_length` (bins in `references.line_length_bin`), and a sample's longest copy is its longest run of
tokens (characters, for character-level corpora) that occurs in a training document. `valid` is the share
of samples that pass every check of the run's corpus, or None for a corpus without checks.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from charmony.pipeline.abc.check import check_tune
from charmony.pipeline.abc.features import TuneFeatures, tune_features
from charmony.pipeline.abc.profile import required_fields
from charmony.pipeline.abc.tune import Tune
from charmony.pipeline.evaluation.copying import longest_copies
from charmony.pipeline.evaluation.histograms import overlap
from charmony.pipeline.evaluation.musical import harmony_summary, musical_evaluation, musical_table
from charmony.pipeline.data.encoding import code_points
from charmony.pipeline.outputs.checks import CheckFailure, Checks
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.manager import corpus_call, get_outputs
from charmony.pipeline.run.manifest import get_run_corpus, run_checks
from charmony.pipeline.evaluation.references import line_length_bins, music_reference, parsed_tunes, text_lines, text_reference
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.vocabulary import SPECIALS

# `sample` measures copying only up to this many training tokens (about ten seconds); `evaluate` always does.
QUICK_COPY_TOKENS = 10_000_000


@dataclass
class Copying:
    """How much a set of samples copies: the longest copied run per sample, and the share more than half copied."""

    unit: str  # what runs are counted in: notes, or tokens/characters
    longest_median: float
    longest_max: int
    more_than_half_copied: float

    def to_json(self) -> dict:
        """The figures as plain JSON data."""
        return {"unit": self.unit, "longest_median": self.longest_median, "longest_max": self.longest_max,
                "more_than_half_copied": round(self.more_than_half_copied, 4)}


@dataclass
class Evaluation:
    """What `evaluate` found for a set of samples, against one run (see the module docstring)."""

    run: str
    kind: str  # "music" (ABC tunes) or "text"
    unit: str  # what `count` counts: tunes or samples
    count: int
    valid: float | None  # share of strictly valid tunes or samples; None when nothing checks them
    overlap: dict[str, float | None]  # None where the run holds no held-out documents
    reference: int  # held-out tunes or documents
    copying: Copying | None  # None when not measured
    copying_note: str | None = None  # why copying was not measured
    bars_median: float | None = None
    reference_bars_median: float | None = None
    samples: list[dict] = field(default_factory=list)  # each sample's (file's) own figures
    music: dict | None = None  # the musical evaluation's figures (evaluation/musical.py), music runs only

    def to_json(self) -> dict:
        """The set's figures as plain JSON data (the samples' own figures are in `samples`)."""
        data = {"run": self.run, "kind": self.kind, "unit": self.unit, "count": self.count, "valid": _rounded(self.valid),
                "overlap": {name: _rounded(value) for name, value in self.overlap.items()}, "reference": self.reference}
        if self.kind == "music":
            data["bars_median"] = self.bars_median
            data["reference_bars_median"] = self.reference_bars_median
            data["music"] = self.music
        data["copying"] = self.copying.to_json() if self.copying else None
        if self.copying_note:
            data["copying_note"] = self.copying_note
        return data

    def line(self) -> str:
        """One line for the screen (see `evaluation_line`)."""
        return evaluation_line(self.to_json())

    def text(self) -> str:
        """What the screen shows: the line, then for tunes the table of musical figures (see `evaluation_text`)."""
        return evaluation_text(self.to_json())


def evaluation_line(data: dict) -> str:
    """The line for figures as `Evaluation.to_json` gives them (and samples.json records them), e.g.
    `evaluate: 100 tunes, 96% valid; overlap pitch 0.93, ...`."""
    valid, overlaps = data["valid"], data["overlap"]
    parts = [f"{data['count']} {data['unit']}" + (f", {valid:.0%} valid" if valid is not None else "")]
    if all(value is None for value in overlaps.values()):
        parts.append(f"overlap not measured: the run holds no held-out {'tunes' if data['kind'] == 'music' else 'documents'}")
    else:
        parts.append("overlap " + ", ".join(
            f"{name.replace('_', ' ')} {'-' if value is None else f'{value:.2f}'}" for name, value in overlaps.items()))
    if data.get("bars_median") is not None and data.get("reference_bars_median") is not None:
        parts.append(f"bars median {data['bars_median']:g} (reference {data['reference_bars_median']:g})")
    if data["copying"]:
        copying = data["copying"]
        parts.append(f"longest copy median {copying['longest_median']:g} {copying['unit']} (max {copying['longest_max']}), "
                     f"{copying['more_than_half_copied']:.0%} more than half copied")
    elif data.get("copying_note"):
        parts.append(f"copying not measured: {data['copying_note']}")
    return "evaluate: " + "; ".join(parts)


def evaluation_text(data: dict) -> str:
    """The line for figures as `Evaluation.to_json` gives them, then a table of the musical figures, samples beside
    held-out tunes, where there are any."""
    table = musical_table(data.get("music") or {})
    return "\n".join([evaluation_line(data), *table])


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def run_kind(run: Run) -> str:
    """"music" for a run whose samples are ABC tunes, else "text": what its corpus plugin says its material is."""
    return "music" if get_run_corpus(run.manifest()).material == "music" else "text"


def is_valid_tune(tune: Tune, required: tuple[str, ...]) -> bool:
    """Whether a sampled tune is strictly valid: `check_tune` finds no problem, `required` header fields included."""
    try:
        return check_tune(tune, required).valid
    except Exception:  # a tune the checker cannot judge is not valid; the checker's own bug is not the sample's
        return False


def evaluate_texts(run: Run, texts: Sequence[str], copying: bool = True) -> Evaluation:
    """Evaluate sampled texts (one per sample file) against `run`; `copying` False leaves copying out."""
    if run_kind(run) == "music":
        return _evaluate_music(run, texts, copying)
    return _evaluate_text(run, texts, copying)


def _copy_figures(longest: list[int], shares: list[float], unit: str) -> Copying:
    return Copying(unit, statistics.median(longest) if longest else 0, max(longest, default=0),
                   sum(share > 0.5 for share in shares) / len(shares) if shares else 0.0)


def _longest_runs(training: np.ndarray, queries: list[np.ndarray], separator: int = -1) -> tuple[list[int], list[float]]:
    """Each query's longest run found in the training data, and the share of the query it covers."""
    longest = longest_copies(training, queries, separator)
    return longest, [run / len(query) if len(query) else 0.0 for run, query in zip(longest, queries)]


def music_overlaps(features: TuneFeatures, reference: TuneFeatures) -> dict[str, float | None]:
    """The overlap of each of the four histograms of some tunes with the reference's."""
    return {"pitch": overlap(features.pitch_classes, reference.pitch_classes),
            "interval": overlap(features.intervals, reference.intervals),
            "duration": overlap(features.durations, reference.durations),
            "bars": overlap(features.bars, reference.bars)}


def _combined(features: list[TuneFeatures]) -> TuneFeatures:
    total = TuneFeatures()
    for one in features:
        total.add(one)
    return total


def _evaluate_music(run: Run, texts: Sequence[str], copying: bool) -> Evaluation:
    reference = music_reference(run, training=copying)
    required = required_fields(run.profile())
    files = [[(tune_features(tune), is_valid_tune(tune, required)) for tune in parsed_tunes(text)] for text in texts]
    tunes = [features for file in files for features, _ in file]
    melodies = [reference.codes.codes(melody) for features in tunes for melody in features.melodies]
    longest, shares = _longest_runs(reference.training, melodies) if copying else ([0] * len(melodies), [0.0] * len(melodies))
    # A tune's longest copy is that of its voices, its copied share the largest share of one voice.
    tune_longest, tune_shares, start = [], [], 0
    for features in tunes:
        end = start + len(features.melodies)
        tune_longest.append(max(longest[start:end], default=0))
        tune_shares.append(max(shares[start:end], default=0.0))
        start = end

    samples, first = [], 0
    for file in files:
        combined = _combined([features for features, _ in file])
        own = music_overlaps(combined, reference.features)
        del own["bars"]  # one file's tunes make no histogram of bars per tune worth comparing
        entry = {"tunes": len(file), "valid_tunes": sum(valid for _, valid in file), "notes": combined.notes,
                 "bars": sum(combined.bar_counts), "overlap": {name: _rounded(value) for name, value in own.items()}}
        harmony = [figures for features, _ in file for figures in features.harmony_figures]
        if harmony:  # four-part tunes: their harmony figures, for the gallery's card and for `harmonize`
            entry["harmony"] = {name: _rounded(value) for name, value in harmony_summary(harmony).items() if name != "tunes"}
        if copying:
            entry["longest_copy"] = max(tune_longest[first:first + len(file)], default=0)
            entry["copied"] = round(max(tune_shares[first:first + len(file)], default=0.0), 4)
        samples.append(entry)
        first += len(file)
    total = _combined(tunes)
    valid = [valid for file in files for _, valid in file]
    ref_bars = reference.features.bar_counts
    return Evaluation(
        run=run.name, kind="music", unit="tunes", count=len(tunes),
        valid=sum(valid) / len(valid) if valid else None,
        overlap=music_overlaps(total, reference.features), reference=reference.tunes,
        copying=_copy_figures(tune_longest, tune_shares, "notes") if copying else None,
        copying_note=None if copying else _not_measured(run),
        bars_median=statistics.median(total.bar_counts) if total.bar_counts else None,
        reference_bars_median=statistics.median(ref_bars) if ref_bars else None,
        samples=samples,
        music=musical_evaluation(total, reference.features),
    )


def _not_measured(run: Run) -> str:
    tokens = run.manifest().tokens["train"]
    return f"{tokens:,} training tokens take long to search; run `charmony evaluate --run {run.name}` for it"


def text_is_valid(checks: Checks, text: str) -> bool:
    """Whether a sample passes every checker (a checker that fails or runs out of time counts against it)."""
    for checker in checks.plugins.values():
        try:
            verdict = checks.check(checker, text)
        except CheckFailure:  # a broken checker must not stop the evaluation; the sample cannot be called valid
            return False
        if verdict is not None and not verdict.valid:
            return False
    return True


def texts_valid(checkers: list[OutputPlugin], texts: Sequence[str]) -> list[bool]:
    """Whether each sample passes every checker, as `text_is_valid` tells."""
    checks = Checks(checkers)
    try:
        return [text_is_valid(checks, text) for text in texts]
    finally:
        checks.close()


def _evaluate_text(run: Run, texts: Sequence[str], copying: bool) -> Evaluation:
    reference = text_reference(run)
    vocab = reference.vocab
    manifest = run.manifest()
    corpus = get_run_corpus(manifest)
    checkers = get_outputs(run_checks(manifest))
    outside = len(vocab)  # the id of every token outside the vocabulary, which no training text holds
    queries = []
    for text in texts:
        with corpus_call(corpus, "to tokenize a sample"):
            tokens = list(corpus.tokenize(text))
        queries.append(np.array([vocab.index.get(token, outside) for token in tokens], dtype=np.int64))
    if copying:
        longest, shares = _longest_runs(reference.training, queries, vocab.eod_id)
    else:
        longest, shares = [0] * len(texts), [0.0] * len(texts)
    valid = texts_valid(checkers, texts) if checkers else None
    all_characters: Counter[int] = Counter()
    all_lines: Counter[int] = Counter()
    samples = []
    for number, text in enumerate(texts):
        characters = Counter(code_points(text).tolist())
        lengths = text_lines(text)
        lines = line_length_bins(lengths)
        all_characters += characters
        all_lines += lines
        entry = {"characters": len(text), "lines": len(lengths),
                 "overlap": {"character": _rounded(overlap(characters, reference.characters)),
                             "line_length": _rounded(overlap(lines, reference.line_lengths))}}
        if valid is not None:
            entry["valid"] = valid[number]
        if copying:
            entry["longest_copy"] = longest[number]
            entry["copied"] = round(shares[number], 4)
        samples.append(entry)
    unit = "characters" if all(len(token) == 1 for token in vocab.tokens if token not in SPECIALS) else "tokens"
    return Evaluation(
        run=run.name, kind="text", unit="samples", count=len(texts),
        valid=sum(valid) / len(valid) if valid else None,
        overlap={"character": overlap(all_characters, reference.characters),
                 "line_length": overlap(all_lines, reference.line_lengths)},
        reference=reference.documents,
        copying=_copy_figures(longest, shares, unit) if copying else None,
        copying_note=None if copying else _not_measured(run),
        samples=samples,
    )


def copying_is_quick(run: Run) -> bool:
    """Whether the run's training set is small enough for `sample` to measure copying on the way."""
    return run.manifest().tokens["train"] <= QUICK_COPY_TOKENS
