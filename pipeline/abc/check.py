"""Checking ABC: every tune's syntax and header (from the parser), bar durations against the meter, and bar counts."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from math import lcm

from charmony.pipeline.abc.bars import completes as bars_complete
from charmony.pipeline.abc.bars import is_short as bar_is_short
from charmony.pipeline.abc.collection import iter_tunes
from charmony.pipeline.abc.crowding import crowding_problems
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.theory import is_pickup
from charmony.pipeline.abc.tune import Bar, Tune, Voice
from charmony.pipeline.plugin.verdict import Problem, Verdict

KEPT_PARSES = 1000  # tunes of a file whose parse the verdict keeps for the renderers
NO_TUNES = "no tunes: the file holds no music; a tune starts with a line such as X:1 and its header ends with one such as K:C"


@dataclass
class TuneReport:
    """What the checker found in one tune."""

    tune: Tune
    problems: list[Problem]
    bars: int  # bars of all voices
    bars_ok: int  # of those, the bars whose duration is right
    lacking: list[str]  # the required header fields the tune lacks

    @property
    def valid(self) -> bool:
        """Whether the tune has no problem at all."""
        return not self.problems


def check_tune(tune: Tune, required: tuple[str, ...] = ()) -> TuneReport:
    """Check one parsed tune: its parser problems, durations and bar counts, and the header fields in `required`.

    `required` names header fields the tune must have: those every training tune of a run has, when the
    checker judges that run's samples. A plain tune is held to ABC 2.1 alone.
    """
    problems = list(tune.problems)
    bars = bars_ok = 0
    if tune.key is not None and not tune.voices:
        problems.append(Problem(tune.line, 1, "the tune holds no music after its header"))
    for voice in tune.voices.values():
        voice_problems = duration_problems(voice)
        problems.extend(voice_problems)
        bars += len(voice.bars)
        bars_ok += len(voice.bars) - len({(p.line, p.column) for p in voice_problems})
    problems.extend(bar_count_problems(tune))
    problems.extend(crowding_problems(tune))
    problems.sort(key=lambda p: (p.line, p.column))
    lacking = lacking_fields(tune, required)
    if lacking:
        problems.insert(0, Problem(tune.line, 1, f"the tune has no {', '.join(letter + ':' for letter in lacking)} "
                                   "field, which every training tune of the run has"))
    return TuneReport(tune, problems, bars, bars_ok, lacking)


def check_tunes(text: str, required: tuple[str, ...] = ()) -> list[TuneReport]:
    """Check every tune of an ABC file (see check_tune for `required`); lines are those of the file."""
    return list(iter_reports(text, required))


def iter_reports(text: str, required: tuple[str, ...] = ()) -> Iterator[TuneReport]:
    """The report on each tune of an ABC file, one tune parsed at a time (see check_tunes)."""
    for piece in iter_tunes(text):
        yield check_tune(parse_tune(piece.text, piece.line), required)


def lacking_fields(tune: Tune, required: tuple[str, ...]) -> list[str]:
    """The header fields in `required` that a tune's header lacks, in order."""
    present = {letter for letter, _ in tune.fields}
    return [letter for letter in required if letter not in present]


def check_abc(text: str, required: tuple[str, ...] = ()) -> Verdict:
    """The verdict on an ABC file: valid when it holds at least one tune and every tune is valid (see check_tune).

    The tunes are checked one at a time; the verdict keeps their parse for the renderers only for a file of
    at most KEPT_PARSES tunes, so that checking a large collection takes memory for its problems alone.
    """
    tunes = valid = bars = bars_ok = 0
    lacks: dict[str, int] = {}
    problems: list[Problem] = []
    reports: list[TuneReport] | None = []
    for report in iter_reports(text, required):
        tunes += 1
        valid += report.valid
        bars += report.bars
        bars_ok += report.bars_ok
        problems.extend(report.problems)
        for letter in report.lacking:
            lacks[letter] = lacks.get(letter, 0) + 1
        if reports is not None:
            reports.append(report)
            if len(reports) > KEPT_PARSES:
                reports = None
    if not tunes:
        return Verdict(False, [Problem(1, 1, NO_TUNES)], {"tunes": 0, "valid_tunes": 0, "bars": 0, "bars_ok": 0}, parsed=[])
    details: dict[str, object] = {"tunes": tunes, "valid_tunes": valid, "bars": bars, "bars_ok": bars_ok}
    if lacks:
        details["lacks"] = lacks  # tunes lacking each required field
    return Verdict(valid == tunes, problems, details, parsed=reports)  # renderers reuse the parse


def bar_numbers(voice: Voice) -> list[int]:
    """Each bar's number as musicians count: from 0 when the first bar is a pickup, else from 1."""
    first = voice.bars[0]
    pickup = is_pickup(first.duration(), first.meter.length)
    return list(range(0 if pickup else 1, len(voice.bars) + (0 if pickup else 1)))


def duration_problems(voice: Voice) -> list[Problem]:
    """One problem per bar whose duration does not fit the meter in force (at most one per bar).

    A short first bar is a pickup and a short last bar ends the tune. A short bar that opens or closes a
    section (at a repeat, `||`, `|]` or an ending) is fine when it and the pickup it completes add up to a bar.
    """
    bars = voice.bars
    numbers = bar_numbers(voice)
    problems = []
    durations = [bar.duration() for bar in bars]
    short = _short_bars_accepted(bars, durations)
    for index, bar in enumerate(bars):
        length = bar.meter.length
        if length is None:
            continue
        where = f"voice {voice.id}, bar {numbers[index]}"
        duration = durations[index]
        overlay = next((k for k in range(1, len(bar.layers)) if bar.duration(k) != duration), None)
        if duration > length or (duration < length and index not in short):
            problems.append(Problem(bar.line, bar.column, f"{where} lasts {fraction_text(duration, bar.meter.denominator)} "
                                    f"but M:{bar.meter.text} needs {fraction_text(length, bar.meter.denominator)}"))
        elif overlay is not None:
            problems.append(Problem(bar.line, bar.column, f"{where}: its & overlay lasts "
                                    f"{fraction_text(bar.duration(overlay), bar.meter.denominator)}, the bar "
                                    f"{fraction_text(duration, bar.meter.denominator)}"))
    return problems


def _short_bars_accepted(bars: list[Bar], durations: list[Fraction]) -> set[int]:
    """The indices of the short bars that a pickup explains (see duration_problems)."""
    def is_short(index: int) -> bool:
        return bar_is_short(durations[index], bars[index].meter)

    def completes(a: int, b: int) -> bool:
        return bars_complete(durations[a], bars[a].meter, durations[b], bars[b].meter)

    def neighbours(a: int, b: int) -> bool:
        """Whether the short bars `a` and `b` = a + 1 make one bar, `a` not already making one with the bar
        before it (abc2midi counts the three apart, and so do players: the beat would drift), unless `a` ends a
        repeat, which it plays twice: once after the bar before it, then before `b`."""
        return completes(a, b) and (not completes_before[a] or bars[a].end_repeat)

    last = len(bars) - 1
    closes = [bar.section_end or (i < last and bars[i + 1].start_repeat) for i, bar in enumerate(bars)]
    accepted = {0, last}
    opener = 0
    openers = []
    for index in range(len(bars)):
        openers.append(opener)
        if closes[index]:
            opener = index + 1
    # a section's short opening bar that makes a bar with the short bar before it (a pickup may make many)
    completes_before = [False] * len(bars)
    for index in range(2, len(bars)):
        completes_before[index] = index == openers[index] and neighbours(index - 1, index)
    for index in range(1, last):
        if not is_short(index):
            continue
        section_opener = openers[index]
        if closes[index] and (completes(index, section_opener) or completes(index, 0) or neighbours(index, index + 1)):
            accepted.add(index)
        elif index == section_opener and (neighbours(index - 1, index) or any(
            completes(index, later) for later in range(index + 1, last + 1) if closes[later] and openers[later] == index
        )):
            accepted.add(index)
    return accepted


def bar_count_problems(tune: Tune) -> list[Problem]:
    """A problem for each voice whose number of bars differs from the first voice's."""
    voices = list(tune.voices.values())
    if len(voices) < 2:
        return []
    first = voices[0]
    return [
        Problem(voice.line, 1, f"voice {voice.id} has {len(voice.bars)} bars but voice {first.id} has {len(first.bars)}")
        for voice in voices[1:]
        if len(voice.bars) != len(first.bars)
    ]


def fraction_text(value: Fraction, denominator: int) -> str:
    """A length in whole notes written over the meter's denominator where it fits, as 5/4 or 7/8."""
    common = lcm(value.denominator, denominator)
    return f"{value.numerator * common // value.denominator}/{common}"
