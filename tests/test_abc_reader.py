"""charmony's ABC reader: the tune model the parser builds, and the music21 Score made from it."""

import re
from fractions import Fraction

import pytest
from music21 import chord, expressions, key, meter, note, stream

from charmony.pipeline.abc.fields import parse_key, parse_meter, parse_tempo, parse_unit
from charmony.pipeline.abc.parser import SKIPPED_KINDS, TOKEN_READERS, parse_tune
from charmony.pipeline.abc.tokens import TOKEN
from charmony.pipeline.abc.score import abc_to_score
from charmony.pipeline.system.errors import AbcError


def tune(body: str, header: str = "M:4/4\nL:1/8\nK:C") -> str:
    return f"X:1\nT:Test\n{header}\n{body}\n"


def events(text: str, voice: str | None = None):
    parsed = parse_tune(text)
    assert parsed.problems == []
    chosen = parsed.voices[voice] if voice else next(iter(parsed.voices.values()))
    return [e for bar in chosen.bars for e in bar.events if hasattr(e, "length")]


def pitches(score: stream.Score, part: int = 0) -> list[str]:
    return [n.nameWithOctave for n in score.parts[part].recurse().notes if isinstance(n, note.Note)]


def lengths(score: stream.Score, part: int = 0) -> list[Fraction]:
    return [Fraction(n.quarterLength) for n in score.parts[part].recurse().notesAndRests]


@pytest.mark.parametrize("text, sharps, mode", [
    ("G", 1, "maj"), ("Dmix", 1, "mix"), ("Ador", 1, "dor"), ("Em", 1, "m"), ("F#m", 3, "m"), ("Bbdor", -4, "dor"),
    ("D mixolydian", 1, "mix"), ("Cb", -7, "maj"), ("E phr", 0, "phr"), ("F lyd", 0, "lyd"), ("B loc", 0, "loc"),
])
def test_keys_and_modes_give_their_signature(text, sharps, mode):
    field = parse_key(text)
    assert field.key.sharps == sharps and field.key.mode == mode


def test_key_properties_none_highland_pipes_and_explicit_accidentals():
    assert parse_key("D clef=bass").clef == "bass" and parse_key("D clef=bass").key.sharps == 2
    assert parse_key("clef=alto octave=-1").key is None and parse_key("clef=alto octave=-1").octave == -1
    assert parse_key("none").key.alters == {} and parse_key("HP").key.alters == {}
    assert parse_key("Hp").key.alters == {"F": 1, "C": 1}
    assert parse_key("D exp ^c _b").key.alters == {"C": 1, "B": -1}
    assert parse_key("G ^c").key.alters == {"F": 1, "C": 1}


def test_meters_units_and_tempi():
    assert parse_meter("C").length == 1 and parse_meter("C|").length == 1 and parse_meter("C|").numerator == 2
    assert parse_meter("none").length is None and parse_meter("6/8").compound and not parse_meter("3/4").compound
    assert parse_meter("2+3/8").length == Fraction(5, 8)
    assert parse_unit("1/16") == Fraction(1, 16)
    assert parse_tempo("1/4=120", Fraction(1, 8)) == (Fraction(1, 4), 120, None)
    assert parse_tempo('"Allegro" 3/8=60', Fraction(1, 8)) == (Fraction(3, 8), 60, "Allegro")
    assert parse_tempo("1/4 1/8=40", Fraction(1, 8))[0] == Fraction(3, 8)
    assert parse_tempo("100", Fraction(1, 8)) == (Fraction(1, 8), 100, None)


def test_unit_length_defaults_from_the_meter():
    short = events("X:1\nM:2/4\nK:C\nC D E F G A B c|\n")
    assert short[0].length == Fraction(1, 16)
    long = events("X:1\nM:3/4\nK:C\nC D E F G A|\n")
    assert long[0].length == Fraction(1, 8)
    assert events("X:1\nK:C\nC|\n")[0].length == Fraction(1, 8)  # free meter without M:


def test_accidentals_hold_in_their_bar_and_octave_and_follow_the_key():
    score = abc_to_score(tune("_G A G ^c C c =B B | B G c E z4|]", "M:4/4\nL:1/8\nK:F"))
    assert pitches(score) == ["G-4", "A4", "G-4", "C#5", "C4", "C#5", "B4", "B4", "B-4", "G4", "C5", "E4"]
    written = [n.pitch.accidental.displayStatus if n.pitch.accidental else None for n in score.parts[0].recurse().notes][:3]
    assert written[0] is True and written[2] is not True  # spelled as written: only the first flat is printed


def test_octaves_and_octave_property():
    assert pitches(abc_to_score(tune("C, C c c' C,, c''|]", "M:none\nL:1/8\nK:C"))) == ["C3", "C4", "C5", "C6", "C2", "C7"]
    assert pitches(abc_to_score(tune("C c|]", "L:1/8\nK:C octave=-1"))) == ["C3", "C4"]


def test_broken_rhythm_tuplets_and_lengths():
    score = abc_to_score(tune("A>B c<d e>>f g/2a/ b// c3/2 d/ | (3ABc (3:2:2A2B z (5ABcde z2|]"))
    assert lengths(score) == [Fraction(3, 4), Fraction(1, 4), Fraction(1, 4), Fraction(3, 4), Fraction(7, 8), Fraction(1, 8),
                              Fraction(1, 4), Fraction(1, 4), Fraction(1, 8), Fraction(3, 4), Fraction(1, 4)] + \
        [Fraction(1, 3)] * 3 + [Fraction(2, 3), Fraction(1, 3), Fraction(1, 2)] + [Fraction(1, 5)] * 5 + [Fraction(1)]


def test_tuplets_of_five_take_three_in_compound_meter_as_the_standard_says():
    score = abc_to_score(tune("(5ABcde z3 | (2AB (2cd|]", "M:6/8\nL:1/8\nK:C"))
    assert lengths(score)[:5] == [Fraction(3, 10)] * 5
    assert lengths(score)[6:] == [Fraction(3, 4)] * 4


def test_chords_lengths_and_ties_within_and_across_bars():
    score = abc_to_score(tune("[CEG]2 [C-E-G]2 [CEG]2 [DF]2- | [DF]4 G4- | G8|]"))
    chords = list(score.parts[0].recurse().getElementsByClass(chord.Chord))
    assert [c.quarterLength for c in chords] == [1, 1, 1, 1, 2]
    assert [n.tie.type if n.tie else None for n in chords[1].notes] == ["start", "start", None]
    assert [n.tie.type if n.tie else None for n in chords[2].notes] == ["stop", "stop", None]
    assert chords[3].tie.type == "start" and chords[4].tie.type == "stop"
    notes = [n for n in score.parts[0].recurse().notes if isinstance(n, note.Note)]
    assert [n.tie.type for n in notes] == ["start", "stop"] and notes[1].measureNumber == 3


def test_a_tie_across_the_bar_keeps_its_accidental():
    score = abc_to_score(tune("A6 ^c2-|c2 c6|]"))
    assert pitches(score) == ["A4", "C#5", "C#5", "C5"]


def test_grace_notes_decorations_symbols_and_lyrics():
    text = tune('"Am"{g}A2 .B2 !fermata!c2 H[CE]2 | ~d2 T e2 u f2 v g2 |]\nw: la la la la la la la la', "M:4/4\nL:1/8\nK:C")
    score = abc_to_score(text)
    first = list(score.parts[0].recurse().notes)
    assert first[0].duration.isGrace and first[0].nameWithOctave == "G5"
    assert first[2].articulations[0].name == "staccato"
    assert isinstance(first[3].expressions[0], expressions.Fermata) and isinstance(first[4].expressions[0], expressions.Fermata)
    assert sum(Fraction(n.quarterLength) for n in score.parts[0].recurse().notesAndRests) == 8


def test_voices_in_blocks_become_parts_in_v_order():
    text = """X:1
T:Blocks
M:4/4
L:1/4
V:S clef=treble name="Soprano"
V:B clef=bass name="Bass"
K:D
V:S
A B c d | e4 |
V:B
D, E, F, G, | A,4 |
V:S
d4 |]
V:B
D,4 |]
"""
    score = abc_to_score(text)
    assert [p.id for p in score.parts] == ["S", "B"] and [p.partName for p in score.parts] == ["Soprano", "Bass"]
    assert pitches(score, 0) == ["A4", "B4", "C#5", "D5", "E5", "D5"]
    assert pitches(score, 1) == ["D3", "E3", "F#3", "G3", "A3", "D3"]
    assert [m.number for m in score.parts[1].getElementsByClass(stream.Measure)] == [1, 2, 3]
    assert score.parts[1].recurse().getElementsByClass("BassClef")


def test_inline_voices_as_in_the_goldberg_variations():
    text = "X:1\nT:Aria\nM:3/4\nL:1/8\nK:G\n[V:1]G2- GDEF GA|d6|\n[V:2]G,,2B,A, B,2|D,6|\n[V:1]B6|]\n[V:2]G,6|]\n"
    score = abc_to_score(text)
    assert len(score.parts) == 2
    assert pitches(score, 0) == ["G4", "G4", "D4", "E4", "F#4", "G4", "A4", "D5", "B4"]
    assert pitches(score, 1) == ["G2", "B3", "A3", "B3", "D3", "G3"]


def test_inline_fields_change_key_meter_and_unit_mid_tune():
    text = tune("F4 c4 | [K:G] F4 [M:3/4] | [L:1/4] F A c |\nM:C|\nF2 F2 |]", "M:C\nL:1/8\nK:C")
    score = abc_to_score(text)
    assert pitches(score) == ["F4", "C5", "F#4", "F#4", "A4", "C5", "F#4", "F#4"]
    signatures = list(score.parts[0].recurse().getElementsByClass(meter.TimeSignature))
    assert [ts.ratioString for ts in signatures] == ["4/4", "3/4", "2/2"]
    assert signatures[0].symbol == "common" and signatures[2].symbol == "cut"
    assert [k.sharps for k in score.parts[0].recurse().getElementsByClass(key.KeySignature)] == [0, 1]


def test_overlay_becomes_voices_of_one_measure():
    score = abc_to_score(tune("c2 d2 e2 f2 & C8 | G8 |]"))
    first = score.parts[0].getElementsByClass(stream.Measure).first()
    assert len(first.voices) == 2 and [n.nameWithOctave for n in first.voices[1].notes] == ["C4"]


def test_pickup_is_measure_zero_and_tempo_comes_from_q():
    score = abc_to_score(tune("A|d2fd c2ec|d8|]", "M:4/4\nL:1/8\nQ:3/8=60\nK:D"))
    measures = list(score.parts[0].getElementsByClass(stream.Measure))
    assert [m.number for m in measures] == [0, 1, 2] and measures[0].paddingLeft == 3.5
    mark = score.parts[0].recurse().getElementsByClass("MetronomeMark").first()
    assert mark.number == 60 and mark.referent.quarterLength == 1.5


PICKUP_REEL = """X:1
T:Reel
M:4/4
L:1/8
K:D
A|:d2fd c2ec|d2fd cAGE|1 cAGE D3:|2 cAGE D2 f||
|:a8|[1 b8:|[2 c'8|]
"""


def test_repeats_and_endings_written_and_unrolled():
    written = abc_to_score(PICKUP_REEL)
    measures = list(written.parts[0].getElementsByClass(stream.Measure))
    assert [m.number for m in measures] == [0, 1, 2, 3, 4, 5, 6, 7]
    assert measures[1].leftBarline.direction == "start" and measures[3].rightBarline.direction == "end"
    brackets = list(written.parts[0].getElementsByClass("RepeatBracket"))
    assert [b.number for b in brackets] == ["1", "2", "1", "2"]
    played = abc_to_score(PICKUP_REEL, expand_repeats=True)
    firsts = [m.notes[0].nameWithOctave for m in played.parts[0].getElementsByClass(stream.Measure)]
    assert firsts == ["A4", "D5", "D5", "C#5", "D5", "D5", "C#5", "A5", "B5", "A5", "C#6"]
    assert [m.number for m in played.parts[0].getElementsByClass(stream.Measure)] == list(range(11))


def test_three_endings_and_a_repeat_without_a_start():
    text = tune("C8 | D8 :| E8 |: F8 |1,2 G8 :|3 A8 |]")
    played = abc_to_score(text, expand_repeats=True)
    firsts = [m.notes[0].name for m in played.parts[0].getElementsByClass(stream.Measure)]
    assert firsts == ["C", "D", "C", "D", "E", "F", "G", "F", "G", "F", "A"]


def test_multi_bar_rests_invisible_rests_and_spacers():
    parsed = parse_tune(tune("Z2 | x8 | y C8 |]"))
    bars = parsed.voices["1"].bars
    assert len(bars) == 4 and [b.duration() for b in bars] == [1, 1, 1, 1]
    assert bars[2].events[0].invisible


@pytest.mark.parametrize("text, fragment", [
    ("T:no number\nK:C\nCDEF|\n", "no X: field"),
    ("X:1\nT:no key\nCDEF|\n", "K:"),
    ("", "no tune"),
    ("X:1\nK:C\n", "no music"),
    ("X:1\nK:C\nC|\nX:2\nK:C\nD|\n", "2 tunes"),
])
def test_text_that_cannot_be_read_raises_one_line(text, fragment):
    with pytest.raises(AbcError, match=fragment) as caught:
        abc_to_score(text)
    assert "\n" not in str(caught.value)


def test_problems_carry_line_and_column():
    parsed = parse_tune("X:1\nK:C\nCDEF @ [CEG\n", first_line=10)
    assert [(p.line, p.column) for p in parsed.problems] == [(12, 6), (12, 8)]
    assert "reserved character '@'" in parsed.problems[0].message and "unclosed chord" in parsed.problems[1].message


def test_every_token_kind_is_read_or_skipped_by_the_parser():
    kinds = set(re.findall(r"^\s*\|?\s*\(\?P<(\w+)>", TOKEN.pattern, re.MULTILINE))
    assert len(kinds) == 25 and {"note", "bar", "other", "continuation"} <= kinds
    assert set(TOKEN_READERS) | SKIPPED_KINDS == kinds and not set(TOKEN_READERS) & SKIPPED_KINDS
