"""The ABC checker: good tunes pass, each kind of mistake is found where it is, and abc2midi agrees on bar lengths."""

import re
import shutil
import subprocess

import pytest

from charmony.pipeline.abc.check import bar_numbers, check_abc, check_tune, check_tunes, duration_problems
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.profile import required_fields
from charmony.pipeline.plugin.manager import get_outputs

GOOD = {
    "reel with pickup and short last bar": "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nA|d2fd c2ec|d2fd cAGE|d2fd c2ec|d7|]\n",
    "broken rhythm": "X:1\nT:Hornpipe\nM:4/4\nL:1/8\nK:G\nG>A B>c d>e f>g|a>>b c2 d2 e<f|g8|]\n",
    "tuplets": "X:1\nT:Triplets\nM:2/4\nL:1/8\nK:C\n(3CDE F2|(3:2:4C2DE F2|(5CDEFG z2|c4|]\n",
    "compound tuplets": "X:1\nT:Jig\nM:6/8\nL:1/8\nK:Ador\n(2AB (2cd|(5ABcde z3|(4ABcd z3|A6|]\n",
    "grace notes and chords with ties": "X:1\nT:Chords\nM:3/4\nL:1/4\nK:Bb\n{c}B {/e}d [FAc]-|[FAc]3|[B,DF]3|]\n",
    "endings": "X:1\nT:Endings\nM:2/4\nL:1/8\nK:G\n|:GA Bc|d2 d2|1 e4:|2 f4||\n|:ga ga|[1 b4:|[2 c'4|]\n",
    "inline fields": "X:1\nT:Inline\nM:C\nK:C\nCDEF GABc|[M:3/4] cBA GFE|[K:G][L:1/4] GAB|[M:C|] G2 F2|[M:none] abcdefg abc|]\n",
    "cut time and common time": "X:1\nT:Cut\nM:C|\nL:1/4\nK:Em clef=treble\nE F G A|B4|]\n",
    "overlay": "X:1\nT:Overlay\nM:4/4\nL:1/4\nK:F\nc d e f & A4|G4 & [CE]4|]\n",
    "decorations, symbols, lyrics": 'X:1\nT:Deco\nM:3/4\nL:1/8\nK:D\n"D"!trill!d2 .e2 ~f2|"A7"Hg2 Ta2 ub2|vc6|]\nw:one two three four five six\n',
    "voices": "X:1\nT:Voices\nM:2/4\nL:1/4\nV:1 name=\"Top\"\nV:2 clef=bass\nK:C\nV:1\nc d|e2|]\nV:2\nC, D,|E,2|]\n",
    "pickup completed by the repeat": "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nA|:d2fd c2ec|d2fd cAGE|cAGE D3:|\n|:f|a2fd c2ec|d2fd cAGE|cAGE D3:|\n",
    "pickup completed by a first ending": "X:1\nT:Reel\nM:4/4\nL:1/8\nK:D\nA|:d2fd c2ec|1 cAGE D3:|2 cAGE D4|]\n",
    "L: default from M:": "X:1\nT:Sixteenths\nM:2/4\nK:C\nCDEF GABc|c8|]\n",
    "multi-bar rest": "X:1\nT:Rests\nM:3/4\nL:1/8\nK:none\nZ2|x6|y A2 B2 c2|]\n",
    "K: mode and clef": "X:1\nT:Mixolydian\nM:3/4\nL:1/4\nK:D mix clef=bass octave=-1\nD E F|G3|]\n",
}


@pytest.mark.parametrize("name", GOOD)
def test_good_tunes_pass(name):
    verdict = check_abc(GOOD[name])
    assert verdict.problems == [] and verdict.valid
    assert verdict.details["tunes"] == 1 == verdict.details["valid_tunes"]
    assert verdict.details["bars"] == verdict.details["bars_ok"] > 0


BAD = [
    ("no X:", "T:Nothing\nK:C\nCDEF|\n", 1, 1, "no X: field"),
    ("no K:", "X:1\nT:Keyless\nM:4/4\nCDEF GABc|\n", 4, 1, "music before the K: field"),
    ("K: missing at the end", "X:1\nT:Header only\nM:4/4\n", 3, 1, "no K: field"),
    ("bad X:", "X:one\nK:C\nC8|\n", 1, 3, "X:one is not a tune number"),
    ("bad M:", "X:1\nM:4/0\nK:C\nC8|\n", 2, 3, "M:4/0 is not a meter"),
    ("bad L:", "X:1\nL:1/0\nK:C\nC8|\n", 2, 3, "L:1/0 is not a note length"),
    ("bad K:", "X:1\nK:H\nC8|\n", 2, 3, "K:H is not a key"),
    ("bad mode", "X:1\nK:Dxyz\nC8|\n", 2, 3, "'xyz' is not a mode"),
    ("bad Q:", "X:1\nQ:fast\nK:C\nC8|\n", 2, 3, "Q:fast is not a tempo"),
    ("unknown field", "X:1\nY:what\nK:C\nC8|\n", 2, 1, "unknown field Y:"),
    ("reserved character", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF #GABc|\n", 5, 6, "reserved character '#'"),
    ("non-ASCII", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF éGABc|\n", 5, 6, "non-ASCII character 'é'"),
    ("garbage letter", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF kGABc|\n", 5, 6, "unexpected character 'k'"),
    ("unclosed chord", "X:1\nM:4/4\nL:1/8\nK:C\n[CEG2 c6|\n", 5, 1, "unclosed chord"),
    ("stray ]", "X:1\nM:4/4\nL:1/8\nK:C\nCEG] c5|\n", 5, 4, "']' without '['"),
    ("empty chord", "X:1\nM:4/4\nL:1/8\nK:C\n[] c8|\n", 5, 1, "empty chord"),
    ("unclosed grace", "X:1\nM:4/4\nL:1/8\nK:C\n{ga c8|\n", 5, 1, "unclosed grace notes"),
    ("unclosed slur", "X:1\nM:4/4\nL:1/8\nK:C\n(CDEF GABc|\n", 5, 1, "slur '(' is never closed"),
    ("slur closing nothing", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF) GABc|\n", 5, 5, "')' closes no slur"),
    ("unclosed repeat", "X:1\nM:4/4\nL:1/8\nK:C\n|:CDEF GABc|c8|]\n", 5, 1, "repeat '|:' is never closed"),
    ("nested repeat", "X:1\nM:4/4\nL:1/8\nK:C\n|:CDEF GABc|:c8:|\n", 5, 12, "'|:' starts a repeat while"),
    ("unclosed inline field", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF [K:G GABc|\n", 5, 6, "inline field [K: is not closed"),
    ("bad inline field", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF [X:2] GABc|\n", 5, 6, "[X:...] cannot be an inline field"),
    ("unknown decoration", "X:1\nM:4/4\nL:1/8\nK:C\n!wobble!CDEF GABc|\n", 5, 1, "unknown decoration !wobble!"),
    ("unclosed decoration", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF !trill GABc|\n", 5, 6, "'!' opens a decoration"),
    ("unclosed symbol", 'X:1\nM:4/4\nL:1/8\nK:C\nCDEF "Am GABc|\n', 5, 6, "chord symbol or annotation"),
    ("bad length", "X:1\nM:4/4\nL:1/8\nK:C\nC0 DEF GABc|\n", 5, 1, "bad note length '0'"),
    ("tie to nothing", "X:1\nM:4/4\nL:1/8\nK:C\nz-DEF GABcd|\n", 5, 2, "'-' ties nothing"),
    ("broken rhythm at a bar line", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc>|d8|\n", 5, 10, "needs a note on each side"),
    ("tuplet cut short", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF GA(3Bc|d8|\n", 5, 8, "tuplet (3 is cut short by the bar line"),
    ("over-long bar", "X:1\nM:4/4\nL:1/8\nK:C\nCDEF GABc|CDEF GABcd|c8|]\n", 5, 11, "voice 1, bar 2 lasts 9/8 but M:4/4 needs 4/4"),
    ("long pickup", "X:1\nM:3/4\nL:1/8\nK:C\nCDEF GABc|c6|]\n", 5, 1, "voice 1, bar 1 lasts 4/4 but M:3/4 needs 3/4"),
    ("short middle bar", "X:1\nM:3/4\nL:1/4\nK:C\nC D E|F G|A B c|]\n", 5, 7, "voice 1, bar 2 lasts 2/4 but M:3/4 needs 3/4"),
    ("pickup not completed", "X:1\nM:4/4\nL:1/8\nK:D\nA|:d2fd c2ec|cAGE D2:|d8|]\n", 5, 14, "voice 1, bar 2 lasts 3/4 but M:4/4 needs 4/4"),
    ("overlay of the wrong length", "X:1\nM:4/4\nL:1/4\nK:C\nc d e f & A3|G4|]\n", 5, 1, "its & overlay lasts 3/4"),
    ("voices with different bar counts", "X:1\nM:2/4\nL:1/4\nV:1\nV:2\nK:C\n[V:1] C D|E F|G2|]\n[V:2] C, D,|E, F,|]\n",
     5, 1, "voice 2 has 2 bars but voice 1 has 3"),
    ("Z not alone", "X:1\nM:4/4\nL:1/8\nK:C\nC Z|c8|]\n", 5, 1, "Z (a rest of whole bars) must stand alone"),
]


@pytest.mark.parametrize("name, text, line, column, message", BAD, ids=[b[0] for b in BAD])
def test_bad_tunes_are_found_where_they_go_wrong(name, text, line, column, message):
    verdict = check_abc(text)
    assert not verdict.valid and verdict.details["valid_tunes"] == 0
    assert any(p.line == line and p.column == column and message in p.message for p in verdict.problems), verdict.problems


def test_every_tune_of_a_collection_is_checked_with_file_lines():
    text = "%abc-2.1\n\n" + GOOD["reel with pickup and short last bar"] + "\nX:2\nT:Bad\nM:4/4\nL:1/8\nK:C\nC8|C9|\n\n" + GOOD["voices"]
    verdict = get_outputs(["abc"])[0].check(text)
    assert not verdict.valid
    assert verdict.details == {"tunes": 3, "valid_tunes": 2, "bars": 5 + 2 + 2 * 2, "bars_ok": 10}
    assert [(p.line, p.column) for p in verdict.problems] == [(15, 4)]
    assert verdict.problems[0].message == "voice 1, bar 2 lasts 9/8 but M:4/4 needs 4/4"


def test_an_empty_file_is_invalid():
    for text in ("", "% nothing but a comment\n\n"):
        verdict = check_abc(text)
        assert not verdict.valid and verdict.details["tunes"] == 0 and "no tunes" in verdict.problems[0].message


def test_bars_are_counted_from_zero_after_a_pickup():
    reports = check_tunes("X:1\nM:3/4\nL:1/4\nK:C\nC|D E F|G A|c3|]\n")
    assert [p.message for p in reports[0].problems] == ["voice 1, bar 2 lasts 2/4 but M:3/4 needs 3/4"]


def test_a_short_bar_makes_a_bar_with_one_neighbour_unless_it_ends_a_repeat():
    head = "X:1\nM:4/4\nL:1/4\nK:C\nD | G A B c | d2 d "
    chain = head + "|| c || B A G | A4 | G4 |]\n"  # c completes d2 d, so B A G is left short
    pairs = head + "|| c || B A G || c | A4 | G4 |]\n"  # then B A G completes the pickup, and c completes it
    repeat = head + "|: c :| B A G | A4 | G4 |]\n"  # c is played after d2 d, then again before B A G
    assert [p.message for p in check_tunes(chain)[0].problems] == ["voice 1, bar 4 lasts 3/4 but M:4/4 needs 4/4"]
    assert check_tunes(pairs)[0].problems == [] and check_tunes(repeat)[0].problems == []


# ----- agreement with abc2midi -c on bar lengths

ABC2MIDI_SET = {
    **{name: GOOD[name] for name in ("reel with pickup and short last bar", "broken rhythm", "tuplets", "compound tuplets",
                                     "cut time and common time", "voices", "L: default from M:")},
    "over-long": "X:1\nT:Long\nM:4/4\nL:1/8\nK:G\nGABc dedB|GABc dedBA|GABc d4|]\n",
    "short": "X:1\nT:Short\nM:3/4\nL:1/8\nK:D\nD2F2A2|D2F2|A6|]\n",
    "tuplet": "X:1\nT:Tuplet\nM:2/4\nL:1/8\nK:C\nC4|(3CDE F2 G|c4|]\n",
    "compound tuplet": "X:1\nT:Five\nM:6/8\nL:1/8\nK:C\nA6|(5ABcde z4|A6|]\n",
    "broken": "X:1\nT:Broken\nM:4/4\nL:1/8\nK:C\nA>B c>d e>f g>a|a>>b c2 d2 e3|a8|]\n",
    "second voice": "X:1\nT:Voices\nM:2/4\nL:1/4\nV:1\nV:2\nK:C\n[V:1] C D|E F|G2|]\n[V:2] C, D,|E, F, G,|C2|]\n",
    "chord ties": "X:1\nT:Chords\nM:3/4\nL:1/8\nK:C\n[CE]6|[CE]4-[CE]4|[CE]6|]\n",
}


def checker_bars(text: str) -> set[tuple[int, int]]:
    """(voice position, bar index) of the bars the checker finds the wrong length, leaving out the first bar."""
    found = set()
    for report in check_tunes(text):
        for position, voice in enumerate(report.tune.voices.values()):
            numbers = bar_numbers(voice)
            for problem in duration_problems(voice):
                index = numbers.index(int(re.search(r"bar (\d+)", problem.message).group(1)))
                if index > 0:
                    found.add((position, index))
    return found


def abc2midi_bars(path, voices: int) -> set[tuple[int, int]]:
    """The same from `abc2midi FILE -c`, which counts bars from 0, tracks from 1 when there are voices."""
    # abc2midi writes barloc.txt into its working folder: keep it beside the tune.
    output = subprocess.run(["abc2midi", path.name, "-c"], capture_output=True, text=True, timeout=60, cwd=path.parent).stdout
    return {(int(track) - (voices > 1), int(bar)) for track, bar in re.findall(r"Track (\d+) Bar (\d+) has", output)}


@pytest.mark.skipif(shutil.which("abc2midi") is None, reason="abc2midi (Debian package abcmidi) is not installed")
@pytest.mark.parametrize("name", ABC2MIDI_SET)
def test_bar_length_verdicts_agree_with_abc2midi(name, tmp_path):
    path = tmp_path / "tune.abc"
    path.write_text(ABC2MIDI_SET[name])
    voices = len(check_tunes(ABC2MIDI_SET[name])[0].tune.voices)
    ours = checker_bars(ABC2MIDI_SET[name])
    assert ours == abc2midi_bars(path, voices)
    assert bool(ours) == (name not in GOOD)


# ----- what the renderers cannot hold is refused, naming the limit (pipeline/abc/theory.py)

HEAD = "X:1\nM:4/4\nL:1/8\nK:C\n"
LIMITS = [
    ("Z of absurd length", HEAD + "Z99999999|]\n", "more than 1000 bars"),
    ("many Z rests", HEAD + "Z600|Z600|]\n", "more than 1000 bars"),
    ("ten slashes", HEAD + "C//////////|]\n", "the shortest note the renderers take is a 1/256 note"),
    ("5,000 slashes", HEAD + "C" + "/" * 5000 + "|]\n", "lasts less than 1/1000000 of a whole note"),
    ("tiny L:", "X:1\nM:4/4\nL:1/65536\nK:C\nC|]\n", "L:1/65536 is outside the note lengths the renderers take"),
    ("L: of a millionth", "X:1\nM:4/4\nL:1/1000000\nK:C\nC|]\n", "outside the note lengths the renderers take, 1/256"),
    ("huge tuplet", HEAD + "(1000:1:2CD|]\n", "tuplets of at most 9 notes"),
    ("tuplet of 128ths", "X:1\nM:4/4\nL:1/128\nK:C\n(3CDE|]\n", "the shortest note the renderers take in a tuplet is a 1/64"),
    ("note of a 1000th", HEAD + "C/125|]\n", "needs a tuplet of 125 notes"),
    ("long note", "X:1\nM:none\nL:1\nK:C\nC9|]\n", "the longest note the renderers take is 8 whole notes"),
    ("200 octave marks up", HEAD + "c" + "'" * 200 + "|]\n", "take notes from 0 (C-1) to 127 (G9)"),
    ("200 octave marks down", HEAD + "C" + "," * 200 + "|]\n", "is MIDI note -2340"),
    ("one note too high", HEAD + "^g'''' z7|]\n", "is MIDI note 128"),
    ("huge meter", "X:1\nM:1000000/1\nL:1/8\nK:C\nC|]\n", "1000000 beats to the bar; the renderers take at most 64"),
    ("meter over 3", "X:1\nM:4/3\nL:1/8\nK:C\nC|]\n", "meters over 1, 2, 4, 8, 16, 32 or 64, not 3"),
    ("bar of 12 whole notes", "X:1\nM:12/1\nL:1/8\nK:C\nC|]\n", "the renderers take bars of at most 8"),
    ("tempo MIDI cannot hold", "X:1\nM:4/4\nL:1/8\nQ:1/64=1\nK:C\nC8|]\n", "MIDI holds tempos from 3.6"),
    ("ending 99999999", HEAD + "|:C8:|1-99999999 D8|]\n", "endings are numbered from 1 to 9"),
    ("5,000 length digits", HEAD + "C" + "9" * 5000 + "|]\n", "the longest note the renderers take"),
    ("5,000 tune number digits", "X:" + "1" * 5000 + "\nM:4/4\nL:1/8\nK:C\nC8|]\n", None),
]


@pytest.mark.parametrize("name, text, message", LIMITS, ids=[case[0] for case in LIMITS])
def test_what_the_renderers_cannot_hold_is_refused_naming_the_limit(name, text, message):
    verdict = check_abc(text)
    if message is None:  # a number too long to be any limit's concern is read without error
        assert verdict.valid, verdict.problems
        return
    assert not verdict.valid and any(message in p.message for p in verdict.problems), verdict.problems


def test_the_limits_let_the_largest_renderable_values_through():
    assert check_abc(HEAD + "g'''' z7|]\n").valid  # G9, MIDI 127
    assert check_abc(HEAD + "C,,,,, z7|]\n").valid  # C-1, MIDI 0
    assert check_abc("X:1\nM:32/4\nL:1/4\nK:C\nC32|]\n").valid  # a bar of 8 whole notes
    assert check_abc("X:1\nM:4/4\nL:1/256\nK:C\nC256|]\n").valid
    assert check_abc("X:1\nM:4/4\nL:1/64\nK:C\n(3CDE (9:8:9CDEFGABcd z54|]\n").valid
    assert check_abc(HEAD + "Z500|Z500|]\n").valid


def test_the_limits_are_the_shared_constants_of_theory():
    from charmony.pipeline.abc import theory

    assert theory.HIGHEST_PITCH == 127 and theory.MOST_TUPLET_NOTES == 9 and theory.MOST_REST_BARS == 1000
    assert theory.note_length_problem(theory.SHORTEST_NOTE) is None and theory.note_length_problem(theory.SHORTEST_NOTE / 2)
    assert theory.note_length_problem(theory.LONGEST_NOTE) is None and theory.note_length_problem(theory.LONGEST_NOTE + 1)
    assert theory.pitch_problem(theory.HIGHEST_PITCH) is None and theory.pitch_problem(theory.HIGHEST_PITCH + 1)


def test_whole_bar_rests_cost_linear_time_and_memory():
    reports = check_tunes("X:1\nM:4/4\nL:1/4\nK:C\nZ99999999|]\n")
    assert sum(len(voice.bars) for voice in reports[0].tune.voices.values()) == 1  # refused, not expanded
    assert len(check_tunes(HEAD + "Z999|]\n")[0].tune.voices["1"].bars) == 999


@pytest.mark.parametrize("text, message", [
    ("X:1\nT:Cut off\nM:4/4\nL:1/8\nV:1 name=\"Soprano\"\nV:2 name=\"Bass\"\n", "no K: field"),
    ("X:1\nM:4/4\nV:1\n[V:1] CDEF|\n", "music before the K: field"),
    ("X:1\nK:C\n&Z2", "Z (a rest of whole bars) must stand alone"),
])
def test_inputs_that_crashed_the_checker_are_problems(text, message):
    verdict = check_abc(text)
    assert not verdict.valid and verdict.details["valid_tunes"] == 0
    assert any(message in p.message for p in verdict.problems), verdict.problems


def test_explicit_accidentals_in_k_are_read():
    reports = check_tunes("X:1\nM:4/4\nL:1/8\nK:C ^f =c\nCDEF GABc|]\n")
    assert reports[0].valid, reports[0].problems
    assert [n.alter for n in reports[0].tune.voices["1"].bars[0].events] == [0, 0, 0, 1, 0, 0, 0, 0]


def test_required_fields_are_judged_once_for_a_tune_and_a_file():
    text = "X:1\nM:4/4\nL:1/4\nK:C\nCDEF|]\n"
    report = check_tune(parse_tune(text), ("T", "K", "C"))
    assert report.lacking == ["T", "C"] and not report.valid
    assert report.problems[0].message.startswith("the tune has no T:, C: field")
    assert check_tune(parse_tune(text), ("K", "M")).valid and check_tune(parse_tune(text)).lacking == []
    verdict = check_abc(text + "\nX:2\nT:t\nM:4/4\nL:1/4\nK:C\nCDEF|]\n", ("T", "C"))
    assert verdict.details["lacks"] == {"T": 1, "C": 2} and verdict.details["valid_tunes"] == 0
    assert [p.message for p in verdict.problems] == [r.problems[0].message for r in verdict.parsed]


def test_required_fields_come_from_the_abc_part_of_a_profile():
    assert required_fields({"abc": {"header": {"required": ["K", "X"]}}}) == ("K", "X")
    assert required_fields(None) == required_fields({}) == required_fields({"abc": None}) == ()
    assert required_fields({"poetry": {"header": {"required": ["T"]}}}) == ()
