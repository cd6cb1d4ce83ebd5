"""The ABC constraint writes only what the corpus writes, where the corpus writes it, and only what abc2midi plays.

Most rules are shown by a pair of whole tunes: the constraint refuses the first and writes the second; where
abc2midi is installed it plays the second without complaint, and complains about the first where the rule is its."""

from __future__ import annotations

import pytest

from abc_tunes import FOLK, FOUR_VOICES, SOPRANO
from second_opinion import ABC2MIDI, abc2midi_complaints
from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.grammar.constraint import AbcConstraint
from charmony.pipeline.abc.profile import abc_profile
from charmony.pipeline.abc.sample_options import AbcOptions

HEAD = SOPRANO[0].split("[V:1]")[0] + "[V:1] "  # M:4/4, L:1/4, K:G; the corpus' tunes have 7 bars or more
DOUBLE = HEAD + "G A B c | d2 d2 || e d c B | A2 A2 | B c d B | A G F A | HG4 |]\n"  # one `||`, after a full bar
PICKUP = HEAD + "D | G A B c | d2 Hd {close} c B A G | A2 A2 | B c d B | A G F A | HG3 |]\n"
REEL = FOLK[1].split("(3DEF")[0]  # R:reel, M:C|, L:1/8, K:G

# (what the corpus and abc2midi do not take, what they do, whether abc2midi itself complains about the first)
PAIRS = {
    "a tie joins two notes of one pitch": (
        HEAD + "G A B c | d2 c2- | d d c B | A2 A2 | B c d B | A G F A | HG4 |]\n",
        HEAD + "G A B c | d2 c2- | c d c B | A2 A2 | B c d B | A G F A | HG4 |]\n", True),
    "a one-character decoration comes straight before its note": (
        HEAD + "G A B c | d2 d2 | e d c B | A2 A2 | B c d B | A G F A | H!trill!G4 |]\n",
        HEAD + "G A B c | d2 d2 | e d c B | A2 A2 | B c d B | A G F A | !trill!HG4 |]\n", True),
    "`||` no more often than the corpus writes it": (
        HEAD + "G A B c | d2 d2 || e d c B | A2 A2 || B c d B | A G F A | HG4 |]\n", DOUBLE, False),
    "no short bar before `||` where the corpus closes none with it": (
        PICKUP.format(close="||"), PICKUP.format(close=":|"), True),
    "whole bars of rests no more often than the corpus has them": (
        HEAD + "G A B c | d2 d2 | e d c B | z2 z2 | B c d B | A G F A | HG4 |]\n",
        HEAD + "G A B c | d2 d2 | e d c B | z2 A2 | B c d B | A G F A | HG4 |]\n", False),
    "a second section repeated opens with `|:`": (
        HEAD + "G A B c | d2 d2 :| e d c B | A2 A2 | B c d B | A G F A :| HG4 |]\n",
        HEAD + "G A B c | d2 d2 :| e d c B |: A2 A2 | B c d B | A G F A :| HG4 |]\n", False),
    "a tune has at least the fewest bars the corpus' tunes have": (
        HEAD + "G A B c | d2 d2 | e d c B | B c d B | A G F A | HG4 |]\n",
        HEAD + "G A B c | d2 d2 | e d c B | A2 A2 | B c d B | A G F A | HG4 |]\n", False),
}


# abc2midi plays a staccato note as a shorter note and a rest: a tie after it finds no note ("Cannot find note before
# tie"), and a broken rhythm compares its shortened first part with the next note ("Notes not equal durations").
STACCATO = FOLK[1].replace("T:Test Reel", "T:Test Staccato").replace(
    "(3DEF|G>AB>c d>Bg>d|(ef)g>e d2 (3BcA|\n", "(3DEF|G>AB>c .d2 d2-|d>B.g.e d2 (3BcA|\\\n")
STACCATO_REEL = STACCATO.split("(3DEF")[0] + "G>AB>c d2 {bar}|d>Bg>d e2 d2|{line}\n G>AB>c d>Bg>d|e>cA>F G2 z2:|\n"
FOLK_PAIRS = {
    "a staccato note is not tied": (
        STACCATO_REEL.format(bar=".d2-", line=""), STACCATO_REEL.format(bar="d2-", line=""), True),
    "a staccato note starts no broken rhythm": (
        STACCATO_REEL.format(bar=".d>B", line=""), STACCATO_REEL.format(bar="d>B", line=""), True),
    # abc2midi plays it; the corpus never continues a line holding nothing (the model wrote 250 in a row)
    "no line continued with `\\` holds only spaces": (
        STACCATO_REEL.format(bar="d>B", line="\\\n \\"), STACCATO_REEL.format(bar="d>B", line="\\"), False),
}


def writes(constraint: AbcConstraint, text: str) -> bool:
    """Whether the constraint writes `text` whole, character by character."""
    state = constraint.start()
    for char in text:
        state = constraint.feed(state, char)
        if state is None:
            return False
    return constraint.complete(state)


def fed(constraint: AbcConstraint, text: str):
    """The state after `text` from the start, or None once a character is refused."""
    state = constraint.start()
    for char in text:
        state = state and constraint.feed(state, char)
    return state


@pytest.fixture(scope="module")
def soprano() -> AbcConstraint:
    return AbcConstraint(abc_profile([*SOPRANO, DOUBLE]), AbcOptions())


@pytest.fixture(scope="module")
def folk() -> AbcConstraint:
    return AbcConstraint(abc_profile(FOLK), AbcOptions())


@pytest.mark.parametrize("refused, written, abc2midi_rule", PAIRS.values(), ids=PAIRS.keys())
def test_the_constraint_refuses_what_the_corpus_and_abc2midi_do_not_take(soprano, refused, written, abc2midi_rule):
    assert writes(soprano, written), written
    assert not writes(soprano, refused), refused
    if ABC2MIDI is not None:
        assert abc2midi_complaints(written) == []
        assert bool(abc2midi_complaints(refused)) == abc2midi_rule


@pytest.mark.parametrize("refused, written, abc2midi_rule", FOLK_PAIRS.values(), ids=FOLK_PAIRS.keys())
def test_the_folk_constraint_refuses_what_abc2midi_and_the_corpus_do_not_take(refused, written, abc2midi_rule):
    constraint = AbcConstraint(abc_profile([*FOLK, STACCATO]), AbcOptions())
    assert writes(constraint, STACCATO.replace(".d2 d2-", "d2 d2-")), "the corpus tune, its tie off a staccato note aside"
    assert writes(constraint, written), written
    assert not writes(constraint, refused), refused
    if ABC2MIDI is not None:
        assert abc2midi_complaints(written) == []
        assert bool(abc2midi_complaints(refused)) == abc2midi_rule


def test_a_staccato_note_with_a_roll_or_trill_starts_a_broken_rhythm_as_abc2midi_plays_it_whole():
    trilled = STACCATO.replace("T:Test Staccato", "T:Test Trill").replace("(3BcA|", "(3B~cA|").replace("d>B.g", "d>BTg")
    constraint = AbcConstraint(abc_profile([*FOLK, STACCATO, trilled]), AbcOptions())
    for sign in ("~", "T"):
        for written in (f"{sign}.d>B", f".{sign}d>B"):
            tune = STACCATO_REEL.format(bar=written, line="")
            assert writes(constraint, tune), tune
            if ABC2MIDI is not None:
                assert abc2midi_complaints(tune) == []
    assert not writes(constraint, STACCATO_REEL.format(bar=".d>B", line=""))


def test_a_broken_rhythm_only_where_its_second_note_as_written_can_complete_the_bar():
    """After a short bar closed by `||` the next bar must complete it (2 eighths here). After `A/4B>` only a note
    written like `B` may come, which overruns it; a shorter note would fit, and the cost counted those: the sample
    was left with no character to write."""
    closed = REEL + "D2|G>AB>c d>Bg>d|e>cA>F G2||B2|G/4G/4G/4G/4 A/8A/8A/8A/8A/8A/8A/8A/8 B2c2d/2d/2d|G>AB>c d>Bg>d|e>cA>F G2|]\n"
    constraint = AbcConstraint(abc_profile([*FOLK, closed, closed]), AbcOptions())
    assert writes(constraint, closed)
    bar = closed.split("||")[0] + "||"
    assert fed(constraint, bar + "A/4B") is not None and fed(constraint, bar + "A/4B>") is None
    assert fed(constraint, bar + "A>B|") is not None
    if ABC2MIDI is not None:
        assert abc2midi_complaints(closed) == []


def test_the_form_comes_from_the_profile(soprano):
    form = soprano.grammar.form
    assert (soprano.grammar.fewest, form.most_double_bars, form.most_rest_bars, form.short_closes) == (7, 1, 0, {":|"})


def test_a_short_bar_closed_by_a_double_bar_is_completed_by_the_next():
    """Where the corpus closes short bars with `||`, abc2midi counts the next bar with it: it must complete it."""
    written = PICKUP.format(close="||").replace("|| c B A G |", "|| c | B A G A |")
    constraint = AbcConstraint(abc_profile([*SOPRANO, written, written]), AbcOptions())
    assert "||" in constraint.grammar.form.short_closes
    assert writes(constraint, written) and not writes(constraint, PICKUP.format(close="||"))
    if ABC2MIDI is not None:
        assert abc2midi_complaints(written) == [] and abc2midi_complaints(PICKUP.format(close="||")) != []


# Short bars as abc2midi counts them (pipeline/abc/grammar/count.py): it carries a short bar closed by `||`, `|:`,
# `:|` or `::` into the next, and on its first pass warns of a sum that is not a bar. Each pair: a tune the old
# grammar wrote (pairing short bars as the checker did) that abc2midi flags, and the nearest it writes instead.
COUNTED = {
    # bench_bach's tune: the bar after `:|` completes the one before it and is closed by `|:`; the bar after
    # that is counted alone, so it must be whole
    "a bar completing the short bar before `:|` and closed by `|:` is followed by a whole bar": (
        [HEAD + "D | G A B c | d2 Hd :| B |: c B A G | G A B c | A G F A :| HG4 |]\n"] * 2,
        HEAD + "D | G A B c | d2 Hd :| B |: c B A | G A B c | A G F A :| HG4 |]\n",
        HEAD + "D | G A B c | d2 Hd :| B |: c B A G | G A B c | A G F A :| HG4 |]\n", True),
    "a bar completing the short bar before `||` and closed by `||` is followed by a whole bar": (
        [HEAD + "D | G A B c | d2 Hd || c || B A G A | d2 d2 | e d c B | A G F A | HG4 |]\n"] * 2,
        HEAD + "D | G A B c | d2 Hd || c || B A G | A2 A2 | B c d B | A G F A | HG4 |]\n",
        HEAD + "D | G A B c | d2 Hd || c || B A G A | d2 d2 | e d c B | A G F A | HG4 |]\n", True),
    # abc2midi plays the section again from `|:` with the short bar carried, so `::` comes at another sum
    "a short bar closed by `::` comes after a whole bar of its section": (
        [HEAD + "D |: G A B c | d2 Hd :: B | c B A G | d2 d2 | e d c B | A G F A :| HG4 |]\n"],
        HEAD + "D |: d2 Hd :: B | c B A G | d2 d2 | e d c B | A G F A :| HG4 |]\n",
        HEAD + "D |: G A B c | d2 Hd :: B | c B A G | d2 d2 | e d c B | A G F A :| HG4 |]\n", False),
    # without a `|:` before it, abc2midi repeats a `::` (or `:|`) from the last `||`, not from the start
    "a section repeated from `||` holds a whole bar before its short `::` bar": (
        [HEAD + "D |: G A B c | d2 Hd :: B | c B A G | d2 d2 | e d c B | A G F A :| HG4 |]\n",
         HEAD + "D || G A B c | d2 Hd :: B | c B A G | A G F A :| HG4 |]\n"],
        HEAD + "D || d2 Hd :: B | c B A G | G A B c | A G F A :| HG4 |]\n",
        HEAD + "D || G A B c | d2 Hd :: B | c B A G | A G F A :| HG4 |]\n", False),
}


@pytest.mark.parametrize("corpus, refused, written, checker_agrees", COUNTED.values(), ids=COUNTED.keys())
def test_short_bars_are_counted_as_abc2midi_counts_them(corpus, refused, written, checker_agrees):
    """The checker refuses the chains too (three short bars paired in a row); the `::` forms it passes, as a
    reader of the notation would: only abc2midi's way of repeating the section makes them wrong."""
    constraint = AbcConstraint(abc_profile([*SOPRANO, DOUBLE, *corpus]), AbcOptions())
    assert writes(constraint, written), written
    assert not writes(constraint, refused), refused
    assert check_abc(written).valid and check_abc(refused).valid != checker_agrees
    if ABC2MIDI is not None:
        assert abc2midi_complaints(written) == []
        assert any("time units" in line for line in abc2midi_complaints(refused))


@pytest.mark.slow
@pytest.mark.skipif(ABC2MIDI is None, reason="abc2midi is not installed")
def test_every_short_bar_pattern_the_grammar_writes_passes_abc2midi():
    """Every tune of up to four bars of 1, 3 or 4 beats, each closed by any barline, and a last bar: what the
    grammar writes of them, the checker passes and abc2midi plays without a warning on its first pass (it writes
    thousands)."""
    corpus = [HEAD + "D | G A B || c | d e d c :: B A G A | G A B :| c | G4 |]\n",
              HEAD + "G A B c |: d2 d2 :| e d c B || A2 A2 | G4 |]\n"] * 2
    profile = abc_profile([*SOPRANO, *corpus])
    profile["form"].update(bars_fewest=1, bars_low=1, double_bars_most=99, short_closes=dict.fromkeys(("||", "|:", "::", ":|"), 99))
    constraint = AbcConstraint(profile, AbcOptions())
    start = fed(constraint, HEAD)
    written = []

    def extend(state, body: str, bars: int) -> None:
        for beats in (1, 3, 4):
            music = " ".join("G" * beats)
            end = constraint.follow(state, music + " |]\n")
            if end is not None and constraint.complete(end):
                written.append(body + music + " |]\n")
            for barline in ("|", "||", "|:", ":|", "::") if bars < 4 else ():
                after = constraint.feed(state, f"{music} {barline} ")
                if after is not None:
                    extend(after, f"{body}{music} {barline} ", bars + 1)

    extend(start, HEAD, 0)
    assert len(written) > 3000
    assert [text for text in written if not check_abc(text).valid] == []
    assert {text: found for text in written if (found := abc2midi_complaints(text))} == {}


def test_a_short_last_bar_closed_by_a_repeat_is_written_where_the_corpus_ends_so():
    """The profile counts the last bar's sign too: a corpus of tunes whose short last bar completes the pickup and
    closes with `:|` is written as it is (the count left the last bar out, and the constraint refused the `:`)."""
    tune = HEAD + "D | G A B c | d2 d B | c B A G | A3 :|\n"
    constraint = AbcConstraint(abc_profile([tune] * 3), AbcOptions())
    assert ":|" in constraint.grammar.form.short_closes
    assert writes(constraint, tune)
    if ABC2MIDI is not None:
        assert abc2midi_complaints(tune) == []


def test_a_short_bar_opens_a_repeat_only_where_the_corpus_does(soprano):
    """A model that closes a short bar where the corpus closes none was steered to `|:`, and then could not end the
    tune before a `:|`: constrained tunes ran on (issue 17). Only a sign the corpus closes short bars with may."""
    opened = PICKUP.format(close="|:").replace("|: c B A G |", "|: c | B A G A |").replace("A G F A |", "A G F A :|")
    bar = opened.split(" c |")[0]
    assert fed(soprano, bar + " :|") is not None and fed(soprano, bar + " |:") is None and not writes(soprano, opened)
    constraint = AbcConstraint(abc_profile([*SOPRANO, opened, opened]), AbcOptions())
    assert constraint.grammar.form.short_closes == {"|:", ":|"} and writes(constraint, opened)
    if ABC2MIDI is not None:
        assert abc2midi_complaints(opened) == []


def test_a_repeat_closing_a_line_before_one_that_opens_with_a_repeat_counts_as_written(folk):
    """The parser reads `:|` at a line's end and `|:` opening the next as `::`: the profile counts both signs."""
    assert ":|" in folk.grammar.form.short_closes


def test_a_tune_has_at_least_the_bars_of_all_but_the_shortest_twentieth_of_the_corpus():
    """A model refused an ending after a phrase or two, by the shortest tune's bars alone, ran on long."""
    short = HEAD + "G A B c | d2 d2 | e d c B | HG4 |]\n"  # 4 bars, where the other tunes have 7 or 8
    six = HEAD + "G A B c | d2 d2 | e d c B | A2 A2 | B c d B | HG4 |]\n"
    constraint = AbcConstraint(abc_profile([short, *SOPRANO * 4]), AbcOptions())
    assert constraint.grammar.fewest == 7
    assert not writes(constraint, short) and not writes(constraint, six)
    assert writes(constraint, six.replace("| HG4 |]", "| A G F A | HG4 |]"))
    assert AbcConstraint(abc_profile([short, *SOPRANO]), AbcOptions()).grammar.fewest == 4, "under 20 tunes: the shortest"


def test_no_meter_change_inside_a_section_opened_with_a_repeat(soprano):
    """Its `:|` may not follow a meter change, and the tune may not end before it: the sample was left with no
    character to write."""
    assert fed(soprano, HEAD + "G A B c |: d2 d2 | [M:3/4]") is None
    assert fed(soprano, HEAD + "G A B c | d2 d2 | [M:3/4]") is not None
    assert fed(soprano, HEAD + "G A B c |: d2 d2 :| [M:3/4]") is not None


def test_no_tie_goes_round_a_repeat(soprano):
    tied = HEAD + "G A B c |: d2 c2- | c d c B :| B d c B | A2 A2 | B c d B | A G F A | HG4 |]\n"
    assert writes(soprano, tied)
    assert not writes(soprano, tied.replace("d2 c2- | c d c B :|", "d2 c2 | c d c B- :|"))


def test_a_tie_in_one_of_several_voices_goes_on_in_that_voice_next_line():
    constraint = AbcConstraint(abc_profile(FOUR_VOICES), AbcOptions())
    chorale = FOUR_VOICES[1]
    tied = chorale.replace("A G F | HD3 |\n", "A G F | D3- |\n").replace("[V:2] G A G |", "[V:2] D A G |")
    assert tied.count("D3-") == 1 and writes(constraint, tied)
    assert not writes(constraint, tied.replace("[V:2] D A G |", "[V:2] E A G |")), "the same pitch"
    assert not writes(constraint, chorale.replace("G F2 | HD3 |]", "G F2 | HD3- |]")), "no tie left open at the end"
    if ABC2MIDI is not None:
        assert abc2midi_complaints(tied) == []


def test_grace_notes_lead_to_a_note_before_more_grace_notes(folk):
    body = REEL + "G>AB>c d>Bg>d|"
    assert fed(folk, body + "{a}B") is not None and fed(folk, body + "{a}{a}B") is None
    if ABC2MIDI is not None:
        assert abc2midi_complaints(REEL + "{a}{a}G8|]\n") and not abc2midi_complaints(REEL + "{a}G8|]\n")


def test_no_tune_is_called_a_hornpipe(folk):
    """abc2midi refuses a hornpipe outside 2/4 and 4/4, and in them swings its eighths, which a broken rhythm
    starting off the beat then breaks (docs/outputs.md): the constraint never writes R:hornpipe."""
    hornpipe = REEL.replace("R:reel", "R:hornpipe")
    constraint = AbcConstraint(abc_profile([*FOLK, hornpipe]), AbcOptions())
    assert fed(constraint, REEL) is not None
    assert fed(constraint, hornpipe.split("M:")[0]) is None
    if ABC2MIDI is not None:
        common = hornpipe.replace("M:C|", "M:C")
        assert abc2midi_complaints(hornpipe + "G>AB>c d>Bg>d|e8|]\n")  # C|: "Hornpipe must be in 2/4 or 4/4"
        assert not abc2midi_complaints(common + "G>AB>c d>Bg>d|e8|]\n")  # broken rhythm on the beats
        assert not abc2midi_complaints(common + "GABc dBgd|e8|]\n")
        for off_beat in ("G A>B c d2 e2|a8|]\n", "z A>B c d2 e2|a8|]\n", "fE>eB Bc z2|e8|]\n"):
            assert abc2midi_complaints(common + off_beat) and not abc2midi_complaints(REEL + off_beat)


@pytest.mark.skipif(ABC2MIDI is None, reason="abc2midi is not installed (Debian package abcmidi): "
                    "the second opinion on every constrained sample is left out")
def test_abc2midi_gives_its_second_opinion_here():
    assert abc2midi_complaints("X:1\nM:4/4\nL:1/4\nK:C\nC D E F | G A B c |]\n") == []
    assert abc2midi_complaints("X:1\nM:4/4\nL:1/4\nK:C\nC D E F | G A B c | d e f |\n") != []  # a short bar mid-tune
    assert abc2midi_complaints("X:1\nM:4/4\nL:1/4\nK:C\nC D E- | F A B c |\n") != []  # a tie to another note
