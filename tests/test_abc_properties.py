"""Properties of the ABC checker and renderers on generated input: what the checker passes renders, and no text,
however hostile, makes the checker raise or take long."""

from __future__ import annotations

import random
import tempfile
import time
from fractions import Fraction
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charmony.pipeline.abc.check import check_abc, check_tunes
from charmony.pipeline.abc.render import write_midi, write_musicxml
from charmony.pipeline.abc.score import abc_to_score
from charmony.pipeline.abc.theory import is_compound, tuplet_time

# Fixed examples and no example database: the same tests every run, and nothing written beside the tests.
EXAMPLES = settings(max_examples=40, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])

METERS = ["4/4", "3/4", "2/4", "6/8", "9/8", "12/8", "3/8", "5/4", "2/2", "C", "C|"]
UNITS = ["1/8", "1/4", "1/16"]
KEYS = ["C", "G", "Dm", "Bb", "F#m", "Ador", "D mix", "E phr", "none", "C ^f =c", "G clef=bass", "Hp", "Eb clef=treble-8"]
TEMPI = [None, "1/4=120", "3/8=60", '"Allegro" 1/4=132', "1/2=4000"]
# Lengths in units of L: and how ABC writes them, the common ones several times over; the last ones are at or
# past what the renderers hold, and so are the highest and lowest octave marks.
COMMON_LENGTHS = [(Fraction(1), ""), (Fraction(2), "2"), (Fraction(1, 2), "/"), (Fraction(3, 2), "3/2"),
                  (Fraction(3), "3"), (Fraction(4), "4"), (Fraction(1, 4), "/4"), (Fraction(3, 4), "3/4")]
LENGTHS = COMMON_LENGTHS * 4 + [(Fraction(1, 16), "////"), (Fraction(1, 64), "/64"), (Fraction(1, 3), "/3"),
                                (Fraction(5, 7), "5/7")]
PITCHES = ["C", "D", "E", "F", "G", "A", "B", "c", "d", "e", "f", "g", "a", "b"]
ACCIDENTALS = ["", "", "", "^", "_", "=", "^^", "__"]
OCTAVES = [""] * 12 + [",", "'", ",", "'", ",,", "''", "'''''", ",,,,,,"]
DECORATIONS = ["", "", "", ".", "~", "H", "T", "!trill!", "!fermata!", '"Am"', "{g}", "{/gf}"]


def meter_length(meter: str) -> Fraction:
    return {"C": Fraction(1), "C|": Fraction(1)}.get(meter) or Fraction(meter)


@st.composite
def notes(draw) -> str:
    """A pitch with accidental and octave marks, without a length."""
    return draw(st.sampled_from(ACCIDENTALS)) + draw(st.sampled_from(PITCHES)) + draw(st.sampled_from(OCTAVES))


@st.composite
def groups(draw, compound: bool) -> tuple[str, Fraction]:
    """One group of a bar and how long it lasts in units of L: a note, rest, chord, tuplet, broken pair or tie."""
    kind = draw(st.sampled_from(["note", "note", "note", "rest", "chord", "tuplet", "broken", "tie"]))
    units, text = draw(st.sampled_from(LENGTHS))
    decoration = draw(st.sampled_from(DECORATIONS))
    if kind == "note":
        return decoration + draw(notes()) + text, units
    if kind == "rest":
        return draw(st.sampled_from(["z", "x"])) + text, units
    if kind == "chord":
        inner = "".join(draw(st.lists(notes(), min_size=2, max_size=3)))
        return f"{decoration}[{inner}]{text}", units
    if kind == "tuplet":
        size = draw(st.sampled_from([2, 3, 4, 5, 6, 7, 9]))
        return f"({size}" + "".join(draw(notes()) for _ in range(size)), Fraction(tuplet_time(size, compound))
    if kind == "broken":
        return draw(notes()) + draw(st.sampled_from([">", "<", ">>"])) + draw(notes()), Fraction(2)
    pitch = draw(notes())
    return f"{pitch}2-{pitch}", Fraction(3)


def rest_of(units: Fraction) -> str:
    """A rest of `units` units of L:."""
    return "z" + ("" if units == 1 else str(units.numerator) if units.denominator == 1 else f"{units.numerator}/{units.denominator}")


@st.composite
def bars(draw, length: Fraction, compound: bool, full: bool) -> str:
    """One bar of `length` units: groups while they fit, then a rest for what is left (none for a short bar)."""
    left, pieces = length, []
    for text, units in draw(st.lists(groups(compound), max_size=6)):
        if units <= left:
            pieces.append(text)
            left -= units
    if left and (full or not pieces):
        pieces.append(rest_of(left))
    if draw(st.booleans()) and full and not left:
        pieces.append("& " + rest_of(length))  # an overlay as long as the bar
    if draw(st.integers(0, 9)) == 0:
        pieces.insert(0, "[K:" + draw(st.sampled_from(["D", "Bbm", "none"])) + "]")
    return " ".join(pieces)


@st.composite
def tunes(draw) -> str:
    """A tune well-formed by construction, in one or two voices; its lengths may go past what the renderers hold."""
    meter, unit, key = draw(st.sampled_from(METERS)), draw(st.sampled_from(UNITS)), draw(st.sampled_from(KEYS))
    numerator, denominator = (4, 4) if meter == "C" else (2, 2) if meter == "C|" else map(int, meter.split("/"))
    length = meter_length(meter) / Fraction(unit)
    count = draw(st.integers(1, 5))
    pickup = count > 1 and draw(st.booleans())
    repeat = draw(st.booleans()) and not pickup
    header = ["X:1", "T:Generated", f"M:{meter}", f"L:{unit}"]
    tempo = draw(st.sampled_from(TEMPI))
    if tempo:
        header.append(f"Q:{tempo}")
    voices = draw(st.integers(1, 2))
    body = []
    for voice in range(1, voices + 1):
        if voices > 1:
            header.append(f'V:{voice} name="Voice {voice}"' + (" clef=bass" if voice == 2 else ""))
        written = [draw(bars(length, is_compound(numerator, denominator), full=not (pickup and index == 0)))
                   for index in range(count)]
        line = ("|: " if repeat else "") + " | ".join(written) + (" :|" if repeat else " |]")
        body.append((f"[V:{voice}] " if voices > 1 else "") + line)
    return "\n".join(header + [f"K:{key}"] + body) + "\n"


LIMIT_WORDS = ("renderers take", "MIDI holds", "MIDI and MusicXML")


@EXAMPLES
@given(tunes())
def test_tunes_the_checker_passes_render_and_it_refuses_the_others_for_a_limit(text):
    reports = check_tunes(text)
    assert len(reports) == 1
    report = reports[0]
    if not report.valid:  # well-formed by construction: only a renderer's limit may stand in the way
        assert all(any(word in p.message for word in LIMIT_WORDS) for p in report.problems), (text, report.problems)
        return
    score = abc_to_score(text)
    assert len(score.parts) == len(report.tune.voices)
    with tempfile.TemporaryDirectory() as folder:
        assert write_midi(report.tune, Path(folder) / "tune.mid") > 0
        write_musicxml(report.tune, Path(folder) / "tune.musicxml")
        assert (Path(folder) / "tune.musicxml").stat().st_size > 0


# ----- the checker on hostile text

ABC_CHARACTERS = "ABCDEFGabcdefgzxZXy^_=,'/0123456789|:[]()<>{}-.~!+\"&%\\ \nHTMPLKVQXM:"
FRAGMENTS = [
    "C", "c'", "C,", "^^f", "__B", "z", "Z", "X", "Z99999999", "|", "||", "|]", "|:", ":|", "::", "[1", "|2", ":|1-99999",
    "[CEG]", "[", "]", "(3", "(9:9:99999", "(1000:1:2", "(", ")", "{g}", "{", "}", "-", ">", "<<<", "&", "!trill!", "!", "+",
    '"Am"', '"', "/" * 50, "9" * 40, "'" * 60, "," * 60, "[K:D]", "[M:64/64]", "[L:1/256]", "[V:2]", "[Q:1/4=100]",
    "\nV:1\n", "\nK:none\n", "\nM:none\n", "\nL:1/3\n", "\nQ:1/111/111/111/111/111/111/1\n", "\nX:2\nK:C\n", "\n\n",
    " ", " ", " ", "%comment", "\\", "@", "é", "\t", "[X:3]", "x" * 20, "]" * 10,
]


@settings(max_examples=300, deadline=None, derandomize=True, database=None)
@given(st.text(max_size=400) | st.text(alphabet=ABC_CHARACTERS, max_size=600).map(lambda body: "X:1\nK:C\n" + body))
def test_the_checker_never_raises(text):
    verdict = check_abc(text)
    assert verdict.valid == (not verdict.problems and verdict.details["tunes"] > 0)


def hostile_texts(count: int, size: int = 10_000) -> list[str]:
    """`count` texts of `size` characters, of random ABC fragments and runs of them, the same ones every time."""
    draw = random.Random(20261201)
    texts = []
    for _ in range(count):
        pieces, length = ["X:1\nM:4/4\nL:1/8\nK:C\n"], 0
        while length < size:
            piece = draw.choice(FRAGMENTS) * (draw.randint(1, 200) if draw.random() < 0.1 else 1)
            pieces.append(piece)
            length += len(piece)
        texts.append("".join(pieces)[:size])
    return texts


WORST_CASES = [  # 10 KB each, shaped after inputs that hung or exploded the checker, or came close
    "X:1\nM:4/4\nL:1/4\nK:C\n" + "Z99999999|" * 1000,
    "X:1\nM:4/4\nL:1/8\nK:C\n" + "C||" * 3300,
    "X:1\nM:none\nL:1/8\nK:C\n[" + "C" * 4990 + "]-[" + "C" * 4990 + "]",
    "X:1\nM:4/4\nL:1/8\nK:C\nC" + "/" * 10_000,
    "X:1\nM:4/4\nL:1/8\nK:C\nc" + "'" * 10_000,
    "X:1\nM:4/4\nL:1/8\nK:C\nC" + "9" * 10_000,
    "X:1\nQ:1/" + "111/" * 2500 + "\nK:C\nC|",
    "X:1\nM:4/4\nL:1/8\nK:C\n|:C8:|1-" + "9" * 10_000,
    "X:1\nM:4/4\nL:1/8\nK:C\n" + "(9:9:99999" * 1000,
    "X:1\nM:4/4\nL:1/8\nK:C\n" + "C8" + "&" * 10_000,
    "X:1\nK:C\nC|\n" * 1000,
]


def test_the_checker_takes_under_a_second_on_10_kb_of_hostile_text():
    for text in WORST_CASES + hostile_texts(12):
        start = time.process_time()  # this process' CPU time, which other jobs on the machine do not inflate
        check_abc(text)
        spent = time.process_time() - start
        assert spent < 1.0, (spent, text[:200])
