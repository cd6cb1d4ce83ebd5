"""The sample-time options of the ABC corpora: the meter, key, tempo and length of every sampled tune, and the rules
its voices keep (ending, crossing, harmony)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from charmony.pipeline.abc.fields import FieldError, parse_key, parse_meter, parse_tempo
from charmony.pipeline.system.errors import ConfigError

@dataclass(frozen=True)
class AbcOptions:
    """Sample-time choices: the meter, key and tempo of every tune, and how many bars it has."""

    meter: str | None = None
    key: str | None = None
    tempo: str | None = None
    bars: int | None = None
    corpus_finals: bool = False  # the first voice's last note only on a degree the corpus' tunes end on
    no_crossing: bool = False  # a voice starts no note above the one the voice before it sounds then
    chords_on_beats: bool = False  # a later voice's note on a beat makes a chord with the voices written before it,
    # and the last voice ends on a degree the corpus' last voices end on
    no_parallels: bool = False  # ... and moves in no parallel fifth or octave with any of them


MOST_BARS = 500
HARMONY_CHOICES = ("any", "chords", "strict")
ABC_SAMPLE_OPTIONS = {
    "meter": "the meter of every tune, as M: writes it: 3/4, 6/8, C, C| (default: as the model writes it)",
    "key": "the key of every tune, as K: writes it: G, Dm, F#m, Bbdor, Ador (default: as the model writes it)",
    "tempo": "the tempo of every tune, as Q: writes it: 1/4=96, 3/8=60, or beats per minute such as 96 (default: as the model writes it)",
    "bars": f"how many bars every voice has, the pickup (bar 0) not counted, from 1 to {MOST_BARS} (default: as the model writes it)",
    "final": "corpus: end each tune on a scale degree at least 5% of the training tunes end on, up to their median length; any: on any note (default: any)",
    "crossing": "no: in tunes of several voices, no voice starts a note above the note the voice written before it sounds at that moment; any (default)",
    "harmony": "chords: in tunes of several voices, a note of a voice after the first that sounds on a quarter-note beat makes a "
               "triad or seventh chord (or part of one) with the notes the voices written before it sound there; strict: "
               "that, and no parallel fifths or octaves with them from the beat before; ties, chords, rests and notes "
               "between beats are free; with either, the last voice ends on a degree at least 5% of the training tunes' "
               "last voices end on after a first voice ending on the same degree; any (default)",
}


def abc_sample_options(options: Mapping[str, str], tokens: list[str]) -> AbcOptions:
    """The options checked and written as the header fields they force, or a ConfigError saying what would do."""
    meter = key = tempo = None
    bars = None
    if "meter" in options:
        meter = options["meter"].strip()
        try:
            parsed = parse_meter(meter)
        except FieldError:
            parsed = None
        if parsed is None or parsed.length is None or not 1 <= parsed.numerator <= 32 or parsed.denominator not in (1, 2, 4, 8, 16, 32):
            raise ConfigError(f"--option meter={options['meter']}: give a meter such as 3/4, 6/8, 4/4, C or C|")
    if "key" in options:
        key = options["key"].strip()
        try:
            parsed_key = parse_key(key)
        except FieldError as error:
            raise ConfigError(f"--option key={options['key']}: {error}; give a key such as G, Dm, F#m or Bbdor") from None
        if parsed_key.key is None or parsed_key.key.mode == "none" or parsed_key.properties:
            raise ConfigError(f"--option key={options['key']}: give a key such as G, Dm, F#m or Bbdor")
    if "tempo" in options:
        tempo = options["tempo"].strip()
        if tempo.isdigit():
            tempo = f"1/4={tempo}"
        try:
            _, bpm, label = parse_tempo(tempo, Fraction(1, 4))
        except FieldError:
            bpm, label = 0, None
        if label is not None or not 20 <= bpm <= 400:
            raise ConfigError(f"--option tempo={options['tempo']}: give beats per minute from 20 to 400, as 96 or 1/4=96 or 3/8=60")
    if "bars" in options:
        text = options["bars"].strip()
        if not text.isdigit() or not 1 <= int(text) <= MOST_BARS:
            raise ConfigError(f"--option bars={options['bars']}: give a whole number of bars from 1 to {MOST_BARS}")
        bars = int(text)
    final = options.get("final", "any").strip()
    if final not in ("any", "corpus"):
        raise ConfigError(f"--option final={options['final']}: give corpus (end on a degree the corpus' tunes end on) or any")
    crossing = options.get("crossing", "any").strip()
    if crossing not in ("any", "no"):
        raise ConfigError(f"--option crossing={options['crossing']}: give no (no voice above the one written before it) or any")
    harmony = options.get("harmony", "any").strip()
    if harmony not in HARMONY_CHOICES:
        raise ConfigError(f"--option harmony={options['harmony']}: give chords (notes on beats make chords), strict "
                          "(chords, and no parallel fifths or octaves) or any")
    chosen = AbcOptions(meter, key, tempo, bars, corpus_finals=final == "corpus", no_crossing=crossing == "no",
                        chords_on_beats=harmony != "any", no_parallels=harmony == "strict")
    for name, value in (("meter", meter), ("key", key), ("tempo", tempo)):
        missing = sorted(set(value or "") - set(tokens))
        if missing:
            raise ConfigError(f"--option {name}={options[name]} needs {', '.join(repr(c) for c in missing)}, which this run's "
                              "vocabulary lacks; choose a value written with the corpus' characters")
    return chosen
