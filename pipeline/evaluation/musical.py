"""The musical evaluation of ABC tunes: melody and harmony figures of the samples, each beside the held-out tunes'.

The figures of one tune are read in `abc/melody.py` (its Soprano, else its first voice) and `abc/harmony.py` (four-part tunes:
voices named Soprano, Alto, Tenor and Bass); here they are summed up over a set of tunes:
- shares of tunes (cadences, length) count only the tunes that have what they ask about: a note and a key's
  tonic for a cadence; shares of beats, moves and notes are pooled over all tunes of the set;
- `length_within`: tunes whose bars lie within the 5th to 95th percentile of the held-out tunes' bars;
- `phrase_overlap`: the overlap of the histograms of bars between fermatas (no held-out figure: it is 1 there);
- `parallels`: parallel perfect fifths and octaves per 100 pairs of consecutive beats where all four voices sound.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from charmony.pipeline.abc.features import TuneFeatures
from charmony.pipeline.abc.harmony import HarmonyFigures
from charmony.pipeline.abc.melody import MelodyFigures
from charmony.pipeline.evaluation.histograms import overlap

LENGTH_PERCENTILES = (5, 95)


@dataclass(frozen=True)
class Measure:
    """One figure of the musical evaluation: its key in JSON, its words on screen, and how its values are written."""

    key: str
    words: str
    form: str  # "count", "share" (written as a percentage) or "number"


MELODY = (
    Measure("tunes", "tunes with music", "count"),
    Measure("cadence", "last note on the tonic", "share"),
    Measure("length_within", "bars within the held-out 5th-95th percentile", "share"),
    Measure("bars_median", "bars, median", "number"),
    Measure("phrase_bars_median", "bars between fermatas, median", "number"),
    Measure("phrase_overlap", "bars between fermatas, overlap with held-out", "number"),
    Measure("double_bars", "|| per tune", "number"),
    Measure("rest_bars", "whole-bar rests per tune", "number"),
    Measure("meter_changes", "meter changes per tune", "number"),
    Measure("span_median", "range in semitones, median", "number"),
    Measure("steps", "moves by step (2 semitones or less)", "share"),
)
HARMONY = (
    Measure("tunes", "four-part tunes (Soprano, Alto, Tenor, Bass)", "count"),
    Measure("chords", "beats on one triad or seventh chord", "share"),
    Measure("parallels", "parallel fifths and octaves per 100 beat pairs", "number"),
    Measure("crossing", "beats with voices crossed", "share"),
    Measure("spacing", "beats with over an octave S-A or A-T", "share"),
    Measure("outside_range", "notes outside their voice's usual range", "share"),
    Measure("bass_cadence", "bass ends on the tonic", "share"),
)
GROUPS = {"melody": ("melody (the Soprano, else the first voice)", MELODY), "harmony": ("harmony (four parts, on each beat)", HARMONY)}


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def _median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def length_bounds(bars: Sequence[int]) -> tuple[float, float] | None:
    """The 5th and 95th percentile of some tunes' bars; None without tunes."""
    if not bars:
        return None
    low, high = np.percentile(np.array(bars, dtype=float), LENGTH_PERCENTILES)
    return float(low), float(high)


def melody_summary(tunes: list[MelodyFigures], bounds: tuple[float, float] | None) -> dict[str, float | None]:
    """The melody figures of a set of tunes; `bounds` are the held-out tunes' length percentiles."""
    cadences = [tune.on_tonic for tune in tunes if tune.on_tonic is not None]
    moves = sum(tune.steps + tune.leaps for tune in tunes)
    within = [bounds[0] <= tune.bars <= bounds[1] for tune in tunes] if bounds else []
    return {
        "tunes": len(tunes),
        "cadence": _share(sum(cadences), len(cadences)),
        "length_within": _share(sum(within), len(within)),
        "bars_median": _median([tune.bars for tune in tunes]),
        "phrase_bars_median": _median([length for tune in tunes for length in tune.phrase_bars]),
        "double_bars": _mean([tune.double_bars for tune in tunes]),
        "rest_bars": _mean([tune.rest_bars for tune in tunes]),
        "meter_changes": _mean([tune.meter_changes for tune in tunes]),
        "span_median": _median([tune.span for tune in tunes if tune.span is not None]),
        "steps": _share(sum(tune.steps for tune in tunes), moves),
    }


def harmony_summary(tunes: list[HarmonyFigures]) -> dict[str, float | None]:
    """The harmony figures of a set of four-part tunes, beats and notes pooled over the tunes."""
    beats = sum(tune.beats for tune in tunes)
    pairs = sum(tune.beat_pairs for tune in tunes)
    cadences = [tune.bass_on_tonic for tune in tunes if tune.bass_on_tonic is not None]
    return {
        "tunes": len(tunes),
        "chords": _share(sum(tune.chord_beats for tune in tunes), beats),
        "parallels": _share(100 * sum(tune.parallels for tune in tunes), pairs),
        "crossing": _share(sum(tune.crossed_beats for tune in tunes), beats),
        "spacing": _share(sum(tune.wide_beats for tune in tunes), beats),
        "outside_range": _share(sum(tune.notes_outside_range for tune in tunes), sum(tune.notes for tune in tunes)),
        "bass_cadence": _share(sum(cadences), len(cadences)),
    }


def _phrase_histogram(tunes: list[MelodyFigures]) -> Counter:
    return Counter(length for tune in tunes for length in tune.phrase_bars)


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _paired(samples: dict, held_out: dict) -> dict[str, dict[str, float | None]]:
    return {key: {"samples": _rounded(samples.get(key)), "held_out": _rounded(held_out.get(key))} for key in samples}


def musical_evaluation(samples: TuneFeatures, reference: TuneFeatures) -> dict[str, dict]:
    """The melody figures, and the harmony figures where either side has four-part tunes, as JSON data:
    {"melody": {figure: {"samples": ..., "held_out": ...}}, "harmony": {...}}."""
    bounds = length_bounds([tune.bars for tune in reference.melody_figures])
    melody = _paired(melody_summary(samples.melody_figures, bounds), melody_summary(reference.melody_figures, bounds))
    phrases = overlap(_phrase_histogram(samples.melody_figures), _phrase_histogram(reference.melody_figures))
    melody["phrase_overlap"] = {"samples": _rounded(phrases), "held_out": None}
    data = {"melody": {measure.key: melody[measure.key] for measure in MELODY}}
    if samples.harmony_figures or reference.harmony_figures:
        data["harmony"] = _paired(harmony_summary(samples.harmony_figures), harmony_summary(reference.harmony_figures))
    return data


def figure_text(value, form: str) -> str:
    """A figure as the table writes it: a share as a percentage, a number to two decimals, "-" for none."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "-"
    if form == "share":
        return f"{value:.0%}"
    if form == "count":
        return f"{value:,.0f}"
    return f"{round(value, 2):g}"


def musical_rows(data: dict) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Each group's heading and rows (words, samples, held-out) of a musical evaluation's JSON data."""
    groups = []
    for name, (heading, measures) in GROUPS.items():
        figures = data.get(name) if isinstance(data, dict) else None
        if not isinstance(figures, dict):
            continue
        rows = []
        for measure in measures:
            pair = figures.get(measure.key)
            if isinstance(pair, dict):
                rows.append((measure.words, figure_text(pair.get("samples"), measure.form),
                             figure_text(pair.get("held_out"), measure.form)))
        groups.append((heading, rows))
    return groups


def musical_table(data: dict, indent: str = "  ") -> list[str]:
    """The musical evaluation as lines of a table: figure, samples, held-out."""
    groups = musical_rows(data)
    if not groups:
        return []
    width = max(len(words) for _, rows in groups for words, _, _ in rows) + 2
    lines = []
    for heading, rows in groups:
        lines.append(f"{indent}{heading:<{width + 2}}{'samples':>9}{'held-out':>10}")
        lines += [f"{indent}  {words:<{width}}{samples:>9}{held_out:>10}" for words, samples, held_out in rows]
    return lines
