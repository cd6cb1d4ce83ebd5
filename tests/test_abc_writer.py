"""The ABC writer on small scores built in music21: exact text for each construct, and a round trip through the reader."""

from __future__ import annotations

from fractions import Fraction

import pytest
from music21 import bar, chord, clef, converter, corpus, duration, expressions, key, metadata, meter, note, spanner, stream, tie

from charmony.pipeline.abc.compare import differences
from charmony.pipeline.abc.keys import abc_key, simplest_shift
from charmony.pipeline.abc.score import abc_to_score, make_clef
from charmony.pipeline.abc.theory import CLEFS, is_compound, tuplet_time
from charmony.pipeline.abc.writer import WriterOptions, clef_name, length_text, score_to_abc
from charmony.pipeline.system.errors import AbcError


def make_note(name: str, quarters: float = 1.0, tied: str | None = None, fermata: bool = False) -> note.Note:
    made = note.Note(name, quarterLength=quarters)
    if tied:
        made.tie = tie.Tie(tied)
    if fermata:
        made.expressions.append(expressions.Fermata())
    return made


def make_measure(number: int, *elements, time: str | None = None, signature: key.KeySignature | None = None) -> stream.Measure:
    measure = stream.Measure(number=number)
    if time:
        measure.append(meter.TimeSignature(time))
    if signature is not None:
        measure.append(signature)
    for element in elements:
        measure.append(element)
    return measure


def make_score(*parts: list[stream.Measure], names=("Soprano", "Alto", "Tenor", "Bass"), title="Test") -> stream.Score:
    score = stream.Score()
    for name, measures in zip(names, parts):
        part = stream.Part()
        part.partName = name
        for measure in measures:
            part.append(measure)
        score.append(part)
    score.insert(0, metadata.Metadata(title=title))
    return score


def body(text: str) -> str:
    """The tune body: the lines after K:."""
    lines = text.splitlines()
    return "\n".join(lines[next(i for i, line in enumerate(lines) if line.startswith("K:")) + 1:])


def assert_round_trip(score: stream.Score, text: str) -> None:
    assert differences(score, abc_to_score(text)) == []


def test_header_and_simple_bars():
    score = make_score([
        make_measure(1, make_note("C4"), make_note("E4"), make_note("G4"), make_note("c5"), time="4/4", signature=key.Key("C")),
        make_measure(2, make_note("B3", 2), make_note("C4", 2)),
    ])
    score.metadata.composer = "Someone"
    text = score_to_abc(score)
    assert text == (
        "X:1\nT:Test\nC:Someone\nM:4/4\nL:1/4\n"
        'V:1 name="Soprano" clef=treble\nK:C\n'
        "[V:1] C E G c | B,2 C2 |]\n"
    )
    assert score_to_abc(score) == text  # the same score, the same text
    assert_round_trip(score, text)


def test_octaves_and_lengths():
    score = make_score([
        make_measure(1, make_note("C2", 0.5), make_note("C3", 0.5), make_note("C4", 0.25), make_note("C5", 0.25),
                     make_note("C6", 0.5), make_note("C7", 1.5), make_note("B6", 0.5), time="4/4"),
    ])
    text = score_to_abc(score)
    assert "L:1/8" in text
    assert body(text) == "[V:1] C,,C, C/c/c' c''3b' |]"  # a space before each beat
    assert [length_text(Fraction(n, d)) for n, d in ((1, 1), (2, 1), (3, 2), (1, 2), (1, 4), (3, 4))] == ["", "2", "3/2", "/", "/4", "3/4"]
    assert_round_trip(score, text)


def test_accidentals_against_key_and_earlier_ones_in_the_bar():
    score = make_score([
        make_measure(1, make_note("F4"), make_note("F#4"), make_note("F4"), make_note("F5"), time="4/4", signature=key.Key("G")),
        make_measure(2, make_note("F#4", 2), make_note("B-4"), make_note("B-4")),
        make_measure(3, make_note("B-4", 2, tied="start"), make_note("C#5"), make_note("C5")),
        make_measure(4, make_note("B-4", 2, tied="stop"), make_note("G4", 2)),
    ])
    text = score_to_abc(score)
    # =f: F natural in another octave is written out too, for programs that carry accidentals to every octave.
    # _B in bar 4: a tie does not carry the flat over the barline, so it is written again.
    assert body(text) == "[V:1] =F ^F =F =f | F2 _B B | _B2- ^c =c | _B2 G2 |]"
    assert_round_trip(score, text)


def test_ties_across_bars_and_between_chords():
    first = chord.Chord(["C4", "E4", "G4"], quarterLength=2)
    first.tie = tie.Tie("start")
    second = chord.Chord(["C4", "E4", "G4"], quarterLength=2)
    second.tie = tie.Tie("stop")
    partly = chord.Chord(["D4", "F4"], quarterLength=2)
    partly.notes[0].tie = tie.Tie("start")
    score = make_score([
        make_measure(1, make_note("A4", 2), first, time="4/4"),
        make_measure(2, second, partly),
        make_measure(3, make_note("D4", 4, tied="stop")),
    ])
    text = score_to_abc(score)
    assert body(text) == "[V:1] A4 [CEG]4- | [CEG]4 [D-F]4 | D8 |]"
    assert_round_trip(score, text)


def test_dotted_values_and_tuplets():
    triplet = [make_note(name + "4", 1 / 3) for name in "CDE"]
    uneven = [make_note("F4", 2 / 3), make_note("G4", 1 / 3)]
    score = make_score([
        make_measure(1, *triplet, *uneven, make_note("A4", 0.75), make_note("B4", 0.25), make_note("c5", 1), time="4/4"),
        make_measure(2, make_note("c5", 3), make_note("B4", 1)),
    ])
    text = score_to_abc(score)
    assert body(text) == "[V:1] (3CDE (3:2:2F2G A3/2B/ c2 | c6 B2 |]"
    assert_round_trip(score, text)


def test_pickup_fermata_repeats_and_endings():
    pickup = make_measure(0, make_note("G4"), time="3/4", signature=key.Key("G"))
    pickup.paddingLeft = 2
    one = make_measure(1, make_note("B4"), make_note("A4"), make_note("G4"))
    one.leftBarline = bar.Repeat(direction="start")
    two = make_measure(2, make_note("D5", 2, fermata=True), make_note("G4"))
    two.rightBarline = bar.Repeat(direction="end")
    three = make_measure(3, make_note("D5", 3, fermata=True))
    three.rightBarline = bar.Barline("final")
    score = make_score([pickup, one, two, three])
    part = score.parts[0]
    part.insert(0, spanner.RepeatBracket(two, number=1))
    part.insert(0, spanner.RepeatBracket(three, number=2))
    text = score_to_abc(score)
    assert body(text) == "[V:1] G |: B A G | [1 Hd2 G :| [2 Hd3 |]"
    assert_round_trip(score, text)


def test_key_and_meter_changes_are_inline_fields():
    score = make_score([
        make_measure(1, make_note("F4", 4), time="4/4", signature=key.Key("C")),
        make_measure(2, make_note("F#4", 3), time="3/4", signature=key.Key("D")),
        make_measure(3, make_note("F4", 3), signature=key.Key("F")),
    ])
    text = score_to_abc(score)
    assert body(text) == "[V:1] F8 | [M:3/4][K:D] F6 | [K:F] F6 |]"  # bar 3's F needs no sign: F major has none
    assert_round_trip(score, text)
    assert abc_key(key.Key("e")) == "Em" and abc_key(key.Key("d", "dorian")) == "Ddor" and abc_key(key.KeySignature(-6)) == "Gb"


def test_voices_in_blocks_aligned_bar_by_bar():
    soprano = [make_measure(i, make_note("c5", 2), make_note("B4", 2), time="4/4" if i == 1 else None) for i in range(1, 4)]
    bass = [make_measure(i, make_note("C3", 4)) for i in range(1, 4)]
    bass[0].insert(0, clef.BassClef())
    score = make_score(soprano, bass, names=("Soprano", "Bass"))
    text = score_to_abc(score, WriterOptions(bars_per_line=2, number=7, title="Blocks"))
    assert text == (
        "X:7\nT:Blocks\nM:4/4\nL:1/8\n"
        'V:1 name="Soprano" clef=treble\nV:2 name="Bass" clef=bass\nK:C\n'
        "[V:1] c4 B4 | c4 B4 |\n"
        "[V:2] C,8 | C,8 |\n"
        "[V:1] c4 B4 |]\n"
        "[V:2] C,8 |]\n"
    )
    assert_round_trip(score, text)


def test_two_voices_in_one_part_become_an_overlay():
    upper, lower = stream.Voice(), stream.Voice()
    upper.append([make_note("E5", 2), make_note("D5", 2)])
    lower.append([make_note("C5", 1), make_note("B4", 1), make_note("B4", 2)])
    measure = make_measure(1, time="4/4")
    measure.insert(0, upper)
    measure.insert(0, lower)
    score = make_score([measure])
    text = score_to_abc(score)
    assert body(text) == "[V:1] e2 d2 & c B B2 |]"
    assert_round_trip(score, text)


def test_a_bar_split_at_a_fermata_is_written_whole():
    first = make_measure(1, make_note("C4", 4), time="4/4")
    split = make_measure(2, make_note("D4"), make_note("E4"), make_note("F4", fermata=True))
    rest = make_measure(3, make_note("G4"))
    last = make_measure(4, make_note("A4", 4))
    score = make_score([first, split, rest, last])
    text = score_to_abc(score)
    assert body(text) == "[V:1] C4 | D E HF G | A4 |]"
    assert_round_trip(score, text)


@pytest.mark.parametrize(("semitones", "sharps", "expected"), [
    (1, -1, -6),  # F major up a semitone: G flat (6 flats), not F sharp (6 sharps): flats win the tie
    (1, 2, -3),  # D major up a semitone: E flat (3 flats), not D sharp (9 sharps)
    (-5, 0, 1),  # C major down a fourth: G major
    (6, 0, -6),  # C major up a tritone: G flat
    (4, 3, -5),  # A major up a major third: D flat (5 flats), not C sharp (7 sharps)
])
def test_transposition_keeps_the_key_signature_simple(semitones, sharps, expected):
    shift = simplest_shift(semitones, sharps)
    assert shift.semitones == semitones
    assert key.KeySignature(sharps).transpose(shift).sharps == expected


def test_a_transposition_spells_every_key_of_the_piece_writably():
    """Up a whole tone from E major, flats win the tie (Gb major), but a later D major would become Ebb major
    (8 flats, which ABC cannot write): the shift is spelt F# major, and the D major E major."""
    assert key.KeySignature(4).transpose(simplest_shift(2, 4)).sharps == -6
    shift = simplest_shift(2, 4, [4, 2])
    assert shift.semitones == 2
    assert [key.KeySignature(sharps).transpose(shift).sharps for sharps in (4, 2)] == [6, 4]
    modulating = make_score([make_measure(1, make_note("E4", 4), time="4/4", signature=key.KeySignature(4)),
                             make_measure(2, make_note("D4", 4), signature=key.KeySignature(2))])
    written = score_to_abc(modulating, WriterOptions(transpose=2))
    assert "K:F#" in written and "[K:E]" in written


def test_transposing_while_writing_matches_music21s_transposition():
    chorale = converter.parse(corpus.getWork("bach/bwv1.6"), forceSource=True)
    for semitones in (-5, 1, 3, 6):
        shift = simplest_shift(semitones, -1)  # BWV 1.6 is in F major
        moved = chorale.transpose(shift, inPlace=False)
        written = score_to_abc(chorale, WriterOptions(transpose=semitones))
        assert written == score_to_abc(moved)
        assert_round_trip(moved, written)
    assert "K:Gb" in score_to_abc(chorale, WriterOptions(transpose=1))


def test_microtones_cannot_be_written():
    quarter_sharp = make_note("C4")
    quarter_sharp.pitch.microtone = 50
    with pytest.raises(AbcError, match="microtone"):
        score_to_abc(make_score([make_measure(1, quarter_sharp, time="1/4")]))


@pytest.mark.parametrize("time", ["4/4", "6/8"])
@pytest.mark.parametrize("size", range(2, 10))
def test_every_tuplet_size_is_written_as_the_reader_reads_it(size, time):
    """(p alone means p notes in the time of theory.tuplet_time(p, compound); other ratios are spelt (p:q:r."""
    numerator, denominator = map(int, time.split("/"))
    normal = tuplet_time(size, is_compound(numerator, denominator))
    other = normal + 1
    bar_eighths = 8 if time == "4/4" else 6
    measures = []
    for number, (notes, written) in enumerate(((size, normal), (size, other)), start=1):
        elements = []
        for index in range(notes):
            made = note.Note("CDEFGABcd"[index] if index < 7 else "c5", type="eighth")
            made.duration.appendTuplet(duration.Tuplet(notes, written, "eighth"))
            elements.append(made)
        elements.append(note.Rest(quarterLength=(bar_eighths - written) / 2))
        measures.append(make_measure(number, *elements, time=time if number == 1 else None))
    score = make_score(measures)
    text = score_to_abc(score)
    bars = body(text).split("|")
    assert bars[0].split()[1].startswith(f"({size}") and f"({size}:" not in bars[0], text
    assert f"({size}:{other}:{size}" in bars[1], text
    assert_round_trip(score, text)


def test_every_clef_the_writer_names_reads_back_as_the_same_clef():
    for name in CLEFS:
        made = make_clef(name)
        assert type(make_clef(clef_name(made))) is type(made), name
    assert clef_name(clef.FBaritoneClef()) == "bass3" and clef_name(clef.CBaritoneClef()) == "alto5"
    assert clef_name(clef.Treble8vbClef()) == "treble-8" and clef_name(clef.GClef()) == "treble"


@pytest.mark.parametrize("kind, written, middle", [
    (clef.Treble8vbClef, "A, c _e f'", "octave=-1 middle=B,"), (clef.Bass8vbClef, "A, c _e f'", "octave=-1 middle=D,,"),
    (clef.Treble8vaClef, "A,,, C, _E, F", "octave=1 middle=b"), (clef.Bass8vaClef, "A,,, C, _E, F", "octave=1 middle=D"),
])
def test_a_voice_in_an_octave_clef_is_written_an_octave_from_its_pitch_and_reads_back_at_its_pitch(kind, written, middle):
    measure = make_measure(1, make_note("A2"), make_note("C4"), make_note("E-4"), make_note("F5"), time="4/4", signature=key.Key("C"))
    measure.insert(0, kind())
    score = make_score([measure], names=("Tenor",))
    text = score_to_abc(score)
    assert f'V:1 name="Tenor" clef={clef_name(kind())} {middle}' in text.splitlines()
    assert body(text).split("] ")[1].startswith(written)
    assert_round_trip(score, text)
    assert [p.nameWithOctave for p in abc_to_score(text).parts[0].pitches] == ["A2", "C4", "E-4", "F5"]
