"""A melody to harmonise, and the four-part tune around it as the chorale corpus writes one: its header and
the soprano's lines, each line `[V:1] ` and its bars, the alto, tenor and bass lines following it."""

from __future__ import annotations

from dataclasses import dataclass

from charmony.pipeline.abc.bars import is_short
from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.layout import line_spans, music_bars
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.profile import split_header
from charmony.pipeline.system.errors import ConfigError

# The voices of a four-part chorale as the corpus writes them (the commonest header of Bach's four-part chorales).
FOUR_VOICES = ('1 name="Soprano" clef=treble', '2 name="Alto" clef=treble', '3 name="Tenor" clef=bass', '4 name="Bass" clef=bass')
SOPRANO_PREFIX = "[V:1] "
LOWER_PREFIXES = ("[V:2] ", "[V:3] ", "[V:4] ")


@dataclass(frozen=True)
class Melody:
    """A one-voice tune: the header values the four-part tune takes, and its bars as written."""

    title: str
    composer: str
    meter: str  # M:
    unit: str  # L:
    tempo: str | None  # Q:
    key: str  # K:
    bars: tuple[str, ...]  # each bar's text, from its music (or a |: before it) to its closing barline
    pickup: bool  # the first bar is short


def read_melody(text: str, name: str) -> Melody:
    """The one tune of an ABC text, or a ConfigError in one line saying why it cannot be harmonised."""
    tunes = split_tunes(text)
    if len(tunes) != 1:
        raise ConfigError(f"{name} holds {len(tunes)} tunes; give a file of one tune, the melody")
    tune = parse_tune(tunes[0].text)
    if not tune.readable:
        raise ConfigError(f"{name} is no ABC tune: it has no {'X:' if tune.number is None else 'K:'} line")
    if len(tune.voices) != 1:
        raise ConfigError(f"{name} has {len(tune.voices)} voices; give the melody alone, one voice")
    if tune.problems:
        problem = tune.problems[0]
        raise ConfigError(f"{name}: line {problem.line}: {problem.message}")
    split = split_header(tunes[0].text)
    if split is None:
        raise ConfigError(f"{name}: the header must be field lines up to K:, with nothing else between them")
    fields, body = split
    values = dict(fields)  # a field given twice counts by its last value
    if "M" not in values or "L" not in values:
        raise ConfigError(f"{name}: give the melody's meter and unit length (M: and L: lines) in its header")
    bars = melody_bars(body)
    parsed = next(iter(tune.voices.values())).bars
    if len(bars) != len(parsed):
        raise ConfigError(f"{name}: its {len(parsed)} bars could not be told apart as the corpus writes bars")
    return Melody(title=tune.title or name, composer=values.get("C", "Unknown"), meter=values["M"], unit=values["L"],
                  tempo=values.get("Q"), key=values["K"], bars=tuple(bars), pickup=len(parsed) > 1 and is_short(parsed[0].duration(), parsed[0].meter))


def melody_bars(body: list[str]) -> list[str]:
    """Each bar of a melody's body lines (a `[V:1] ` prefix dropped), as written; a barline before any music
    (such as `|:`) starts the bar after it."""
    return music_bars(" ".join(line.removeprefix(SOPRANO_PREFIX).strip() for line in body
                               if line.strip() and not line.startswith("%")))


def soprano_tune(tune: str) -> str:
    """The soprano of a four-part tune as the corpus writes one, as a tune of its own: the other voices' V: and
    `[V:n] ` lines left out."""
    others = tuple(f"V:{voice.split()[0]}" for voice in FOUR_VOICES[1:]) + LOWER_PREFIXES
    return "\n".join(line for line in tune.splitlines() if not line.startswith(others)) + "\n"


def soprano_lines(melody: Melody, layout: str) -> list[str]:
    """The melody's lines as the soprano's of a four-part tune in `layout`: `[V:1] `, its bars, and the line's end."""
    return [SOPRANO_PREFIX + " ".join(melody.bars[i] for i in span) + "\n"
            for span in line_spans(len(melody.bars), melody.pickup and len(melody.bars) > 1, layout)]


def four_part_header(melody: Melody, profile: dict) -> str:
    """The header a four-part tune of the run (its ABC `profile`) has in the melody's meter, unit, tempo and key.

    The title is cut to the run's longest, and the composer is the run's where it has only a few: `finish`
    replaces both with charmony's credit anyway, so they only need to be ones the run's grammar writes.
    """
    slots = profile["header"]["slots"]
    title = melody.title if slots["T"]["values"] is None else slots["T"]["values"][0]
    lines = ["X:1", f"T:{title[:slots['T']['longest']].strip() or 'Melody'}"]
    if "C" in slots:
        lines.append(f"C:{melody.composer if slots['C']['values'] is None else slots['C']['values'][0]}")
    lines += [f"M:{melody.meter}", f"L:{melody.unit}"]
    tempo = run_tempo(melody.tempo, slots.get("Q", {}).get("values", []))
    if tempo is not None:
        lines.append(f"Q:{tempo}")
    lines += [f"V:{voice}" for voice in FOUR_VOICES]
    lines.append(f"K:{melody.key}")
    return "\n".join(lines) + "\n"


def run_tempo(tempo: str | None, known: list[str] | None) -> str | None:
    """The melody's Q: where the run writes it, else the nearest the run writes for the same beat, else none."""
    if tempo is None or known is None or tempo in known:
        return tempo
    beat, _, speed = tempo.partition("=")
    same_beat = [value for value in known if value.startswith(beat + "=") and value.partition("=")[2].isdigit()]
    if not speed.isdigit() or not same_beat:
        return None
    return min(same_beat, key=lambda value: abs(int(value.partition("=")[2]) - int(speed)))


def check_known(melody: Melody, profile: dict) -> None:
    """A one-line ConfigError when the run's tunes never use the melody's meter, unit length or key."""
    slots = profile["header"]["slots"]
    for letter, what, value in (("M", "meter", melody.meter), ("L", "unit length", melody.unit), ("K", "key", melody.key)):
        known = slots.get(letter, {}).get("values")
        if known is not None and value not in known:
            raise ConfigError(f"the run never saw the {what} {letter}:{value}; its tunes use {', '.join(known)}")
