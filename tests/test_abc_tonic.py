"""Moving a tune to the tonic C and back: the shift each key needs, and a round trip that gives the text back."""

from __future__ import annotations

import pytest

from charmony.corpora.bach import BachCorpus
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.tonic import key_sharps, moved, shift_to_c

TWO_VOICES = ('X:3\nT:Song\nC:Someone\nM:3/4\nL:1/8\nQ:1/4=80\nV:1 name="Soprano" clef=treble\nV:2 name="Bass" clef=bass\n'
              'K:D\n[V:1] d2 f2 a2 | ^g2 a4 |]\n[V:2] D,4 F,2 | E,2 A,4 |]\n')


@pytest.mark.parametrize(("written", "shift"), [
    ("K:C", 0), ("K:D", -2), ("K:Gm", 5), ("K:F#m", 6), ("K:F", -5), ("K:Bb", 2), ("K:B", 1), ("K:none", 0),
])
def test_the_shift_to_c_is_the_smallest_that_takes_the_tonic_there(written, shift):
    assert shift_to_c(f"X:1\nT:t\n{written}\nC|]\n") == shift


def test_a_tune_moved_to_c_sounds_a_tone_lower_and_comes_back_as_written():
    in_c = moved(TWO_VOICES, shift_to_c(TWO_VOICES), "1/8")
    assert "\nK:C\n" in in_c and in_c.startswith("X:3\nT:Song\nC:Someone\nM:3/4\nL:1/8\nQ:1/4=80\n")
    before, after = parse_tune(TWO_VOICES), parse_tune(in_c)
    for old, new in zip(before.voices.values(), after.voices.values()):
        old_notes = [event.midi for bar in old.bars for event in bar.events if hasattr(event, "midi")]
        new_notes = [event.midi for bar in new.bars for event in bar.events if hasattr(event, "midi")]
        assert new_notes == [midi - 2 for midi in old_notes] and len(new_notes) >= 4
    assert "^f" in in_c  # the G sharp of D major is an F sharp in C
    assert moved(in_c, 2, "1/8") == TWO_VOICES


@pytest.mark.parametrize(("home", "sharps"), [("F#", 6), ("C#", 7), ("Gb", -6), ("Ebm", -6)])
def test_a_tune_moved_back_keeps_its_own_spelling(home, sharps):
    """From C, six semitones up is Gb major by the simpler spelling (flats win the tie), and seven is Db, not C#:
    a melody moved to C and back comes back in the key it was written in."""
    written = TWO_VOICES.replace("K:D", f"K:{home}")
    assert key_sharps(written) == sharps
    in_c = moved(written, shift_to_c(written), "1/8")
    assert "\nK:C\n" in in_c or "\nK:Cm\n" in in_c
    back = moved(in_c, -shift_to_c(written), "1/8", sharps)
    assert f"\nK:{home}\n" in back and key_sharps(back) == sharps
    assert [e.midi for e in parse_tune(back).voices["1"].bars[0].events if hasattr(e, "midi")] == \
        [e.midi for e in parse_tune(written).voices["1"].bars[0].events if hasattr(e, "midi")]


def test_moving_by_nothing_leaves_the_text_alone():
    assert moved("X:1\nK:C\nc4|]\n", 0) == "X:1\nK:C\nc4|]\n"


def test_the_bach_corpus_moves_to_c_only_with_transpose_tonic():
    corpus = BachCorpus()
    assert corpus.moves_to_c({"transpose": "tonic"})
    assert not corpus.moves_to_c({}) and not corpus.moves_to_c({"transpose": "all"})
