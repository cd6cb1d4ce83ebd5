"""The musical evaluation: melody and harmony figures of hand-written tunes with known answers, and their summary."""

from __future__ import annotations

from fractions import Fraction

import pytest

from charmony.pipeline.abc.features import TuneFeatures, tune_features
from charmony.pipeline.abc.harmony import fits_chord, four_parts, harmony_figures, is_parallel, pitches_on_beats
from charmony.pipeline.abc.melody import melody_figures
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.evaluation.musical import musical_evaluation, musical_table


def tune(key: str, body: str, meter: str = "4/4") -> str:
    return f"X:1\nT:test\nM:{meter}\nL:1/4\nK:{key}\n{body}\n"


def features(*texts: str) -> TuneFeatures:
    total = TuneFeatures()
    for text in texts:
        total.add(tune_features(parse_tune(text)))
    return total


ON_TONIC = tune("G", "G A B c | d2 B G |]")
OFF_TONIC = tune("G", "G A B c | d2 B A |]")
# Four parts, one quarter-note beat per column (S, A, T, B as MIDI keys):
#   1 (72 64 55 48) C major   2 (71 67 62 55) G major: tenor and bass a fifth apart, both up a fifth: parallel fifths
#   3 (64 67 60 48) C major, soprano under alto: crossed   4 (65 62 59 48) F D B C: no chord
#   5-6 (79 64 55 48) held, soprano and alto 15 semitones apart: too wide   7-8 (72 64 55 48) C major
CHORALE = """X:1
T:four parts
M:4/4
L:1/4
V:S name="Soprano" clef=treble
V:A name="Alto" clef=treble
V:T name="Tenor" clef=treble-8
V:B name="Bass" clef=bass
K:C
[V:S] c B E F | g2 c2 |]
[V:A] E G G D | E2 E2 |]
[V:T] G, D C B, | G,2 G,2 |]
[V:B] C, G, C, C, | C,2 C,2 |]
"""


def test_the_last_note_on_the_tonic_of_the_key_in_force():
    assert melody_figures(parse_tune(ON_TONIC)).on_tonic is True
    assert melody_figures(parse_tune(OFF_TONIC)).on_tonic is False
    assert melody_figures(parse_tune(tune("Em", "B, E G B | A G F E |]"))).on_tonic is True
    # The key named last is the one the ending is heard in: D after [K:D], not C.
    assert melody_figures(parse_tune(tune("C", "C D E F | [K:D] D E F A | d4 |]"))).on_tonic is True
    assert melody_figures(parse_tune(tune("C", "C D E F | [K:D] D E F A | c4 |]"))).on_tonic is False
    assert melody_figures(parse_tune(tune("none", "C D E F |]"))).on_tonic is None


def test_phrases_furniture_range_and_steps_of_a_melody():
    text = tune("C", "C D E HF | G A B c | d2 !fermata!c2 || z4 | Z2 | [M:3/4] c B A | G2 HC |]")
    figures = melody_figures(parse_tune(text))
    assert figures.bars == 8
    assert figures.phrase_bars == [2, 5]  # fermatas in bars 1, 3 and 8
    assert (figures.double_bars, figures.rest_bars, figures.meter_changes) == (1, 3, 1)
    assert figures.span == 14  # C4 to D5
    # C D E F G A B c d c c B A G C: every move a step or a repeated note but the last, a fifth down
    assert (figures.steps, figures.leaps) == (13, 1)


def test_a_voice_sounds_on_a_beat_through_held_and_tied_notes_and_not_in_its_rests():
    voice = next(iter(parse_tune(tune("C", "c3/2 B/ A2- | A2 z2 |]")).voices.values()))
    beats = [Fraction(number, 4) for number in range(8)]
    assert pitches_on_beats(voice, beats) == [72, 72, 69, 69, 69, 69, None, None]


def test_chords_parallels_crossing_and_spacing_of_a_four_part_tune():
    parsed = parse_tune(CHORALE)
    assert [voice.name for voice in four_parts(parsed)] == ["Soprano", "Alto", "Tenor", "Bass"]
    figures = harmony_figures(parsed)
    assert figures.beats == 8 and figures.beat_pairs == 7
    assert figures.chord_beats == 7  # all but beat 4
    assert figures.parallels == 1  # tenor and bass, beats 1 to 2
    assert figures.crossed_beats == 1 and figures.wide_beats == 2
    assert figures.notes == 24 and figures.notes_outside_range == 0
    assert figures.bass_on_tonic is True
    # A bass that starts on C2, below its usual range (E2-D4), and ends on F, not C.
    low = CHORALE.replace("[V:B] C, G, C, C, | C,2 C,2 |]", "[V:B] C,, G,, C, C, | C,2 F,2 |]")
    lowered = harmony_figures(parse_tune(low))
    assert lowered.notes_outside_range == 1 and lowered.bass_on_tonic is False


def test_a_tune_without_the_four_named_parts_has_no_harmony_figures():
    three = CHORALE.replace('name="Tenor"', 'name="Horn"')
    assert four_parts(parse_tune(three)) is None and harmony_figures(parse_tune(three)) is None
    assert harmony_figures(parse_tune(ON_TONIC)) is None


@pytest.mark.parametrize("pitches, fits", [
    ([60, 64, 67, 72], True),  # C major, root doubled
    ([57, 60, 64], True),  # A minor
    ([59, 62, 65], True),  # B diminished
    ([60, 64, 68], True),  # C augmented
    ([55, 59, 62, 65], True),  # G7
    ([60, 64, 67, 71], True),  # Cmaj7
    ([59, 62, 65, 68], True),  # B diminished seventh
    ([59, 62, 65, 69], True),  # B half-diminished seventh
    ([55, 59, 65], True),  # G7 without its fifth
    ([60, 67], True),  # a bare fifth
    ([60, 62], False),  # a second is in no triad
    ([60, 62, 64], False),
    ([60, 64, 67, 69, 71], False),
    ([65, 62, 59, 48], False),
])
def test_which_beats_fit_one_chord(pitches, fits):
    assert fits_chord(pitches) is fits


def test_parallels_need_both_voices_moving_the_same_way_between_equal_perfect_intervals():
    assert is_parallel((67, 69), (60, 62))  # fifths, both up
    assert is_parallel((79, 81), (60, 62))  # a twelfth to a twelfth: compound fifths
    assert is_parallel((72, 70), (60, 58))  # octaves, both down
    assert is_parallel((67, 62), (60, 55))  # fifths, both down a fourth
    assert not is_parallel((67, 69), (60, 55))  # contrary motion
    assert not is_parallel((67, 67), (60, 60))  # no motion
    assert not is_parallel((67, 72), (60, 60))  # fifth to octave, bass held
    assert not is_parallel((64, 65), (60, 62))  # thirds


def test_the_set_figures_sit_beside_the_held_out_ones():
    longer = tune("G", "G A B c | d2 B G | G4 | G4 | G4 | G4 |]")
    samples, held_out = features(ON_TONIC, OFF_TONIC, longer), features(ON_TONIC, ON_TONIC, ON_TONIC, CHORALE)
    data = musical_evaluation(samples, held_out)
    assert data["melody"]["cadence"] == {"samples": 0.6667, "held_out": 1.0}
    assert data["melody"]["tunes"] == {"samples": 3, "held_out": 4}
    assert data["melody"]["length_within"] == {"samples": 0.6667, "held_out": 1.0}  # held-out tunes: 2 bars each
    assert data["melody"]["bars_median"] == {"samples": 2, "held_out": 2}
    assert data["harmony"]["tunes"] == {"samples": 0, "held_out": 1}
    assert data["harmony"]["chords"] == {"samples": None, "held_out": 0.875}
    assert data["harmony"]["parallels"]["held_out"] == pytest.approx(100 / 7, abs=1e-3)
    lines = musical_table(data)
    assert any("last note on the tonic" in line and line.split()[-2:] == ["67%", "100%"] for line in lines), lines
    assert any("beats on one triad or seventh chord" in line and line.split()[-2:] == ["-", "88%"] for line in lines), lines
    assert "harmony" not in musical_evaluation(samples, features(ON_TONIC))


def test_the_melody_is_the_soprano_where_a_voice_is_named_so():
    with_trumpet = CHORALE.replace('V:S name="Soprano"', 'V:0 name="Trumpet"\nV:S name="Soprano"').replace(
        "[V:S]", "[V:0] z4 | z4 |]\n[V:S]")
    parsed = parse_tune(with_trumpet)
    assert next(iter(parsed.voices.values())).name == "Trumpet"
    figures = melody_figures(parsed)
    assert figures.rest_bars == 0 and figures.span == 15 and figures.on_tonic is True
