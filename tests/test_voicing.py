"""`--option harmony=chords|strict`: notes on beats make chords with the voices written before them, no parallel
fifths or octaves, the last voice ends on a degree the corpus' last voices end on; judged by `harmony.py`."""

from __future__ import annotations

import dataclasses
import re
from fractions import Fraction

import pytest

from abc_tunes import FOUR_VOICES
from second_opinion import assert_abc2midi_accepts
from test_constraint import make_run, random_walk
from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.grammar.compiled import last_voice_after
from charmony.pipeline.abc.grammar.constraint import AbcConstraint
from charmony.pipeline.abc.harmony import beat_times, fits_chord, four_parts, harmony_figures, note_spans, pitches_on_beats
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.profile import abc_profile, required_fields
from charmony.pipeline.abc.sounds import last_note, melody
from charmony.pipeline.abc.sample_options import AbcOptions, abc_sample_options
from charmony.pipeline.abc.tune import Note, Voice
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.system.errors import ConfigError

CHORDS = AbcOptions(chords_on_beats=True)
STRICT = AbcOptions(chords_on_beats=True, no_parallels=True)


def fed(constraint: AbcConstraint, text: str, state=None):
    """The state after `text` (from the start, or from `state`), or None once a character is refused."""
    state = constraint.start() if state is None else state
    for char in text:
        state = state and constraint.feed(state, char)
    return state


# The first test chorale with its parallels mended: the alto and tenor's fifths in bar 3 (E A to D G: the tenor's A is
# c), the tenor and bass's octaves in bar 1 (G to A: the bass's A,, is C,), the alto and bass's into bar 2 (E to F:
# the bass's F,, is A,,).
CHORALE = (FOUR_VOICES[0].replace("[V:3] c | G G A B | c2 c2 | c B A G", "[V:3] c | G G A B | c2 c2 | c B c G")
           .replace("[V:4] C, | C, G,, A,, E,, | F,,2", "[V:4] C, | C, G,, C, E,, | A,,2"))


def primed(options: AbcOptions, voice: str, music: str = ""):
    """The grammar of the test chorales under `options`, and its state where the first chorale's `voice` line (with
    its parallel mended) has written `music`."""
    constraint = AbcConstraint(abc_profile(FOUR_VOICES), options)
    head = CHORALE.split(f"[V:{voice}]")[0]
    state = fed(constraint, head + f"[V:{voice}] " + music)
    assert state is not None
    return constraint, state


def test_a_note_on_a_beat_must_make_a_chord_with_the_voices_written_before_it():
    # the pickup's beat: soprano G4, alto E4; the tenor (octave=-1) may add C, E, G or B, not F or A (E G A: no chord)
    constraint, state = primed(CHORDS, "3")
    for letter, fits in {"c": True, "e": True, "G": True, "B": True, "f": False, "F": False, "A": False, "a": False}.items():
        assert (constraint.feed(state, letter) is not None) == fits, letter
    plain, free = primed(AbcOptions(), "3")
    assert all(plain.feed(free, letter) is not None for letter in "ceGBfFAa")


def test_a_note_must_fit_on_every_beat_it_sounds():
    constraint, state = primed(CHORDS, "2", "E | ")  # bar 1's beats: soprano c B A G
    assert fed(constraint, "c ", state) is not None, "c with the soprano's c"
    assert fed(constraint, "c2", state) is None, "held to beat 2, c sounds with the soprano's B: no chord"
    assert fed(constraint, "E2 ", state) is not None, "E fits with c (C major) and with B (E minor)"


def test_a_tied_note_may_hold_over_a_beat_where_it_makes_no_chord():
    constraint, state = primed(CHORDS, "2", "E | ")  # soprano c on beat 1, B on beat 2
    assert fed(constraint, "A A", state) is None, "A struck on beat 2 against the soprano's B makes no chord"
    assert fed(constraint, "A- A c", state) is not None, "A tied into beat 2 is a suspension, allowed"


def test_strict_refuses_the_test_chorales_parallel_fifth():
    assert harmony_figures(parse_tune(FOUR_VOICES[0])).parallels == 4 and harmony_figures(parse_tune(CHORALE)).parallels == 0
    constraint = AbcConstraint(abc_profile(FOUR_VOICES), STRICT)
    assert fed(constraint, FOUR_VOICES[0]) is None and fed(constraint, CHORALE) is not None
    assert fed(AbcConstraint(abc_profile(FOUR_VOICES), CHORDS), FOUR_VOICES[0]) is not None


def test_strict_refuses_a_parallel_octave_across_the_barline():
    # pickup: tenor c (C4), bass C, (C3); bar 1's first beat: tenor G (G3, moving down); the bass going down to G,,
    # (G2) makes parallel octaves with the tenor, G,, being in the chord C E G all the same
    constraint, state = primed(STRICT, "4", "C, | ")
    assert fed(constraint, "G,,", state) is None and fed(constraint, "C,", state) is not None
    assert fed(constraint, "E,", state) is not None, "E, moves up: no parallel"
    chords, free = primed(CHORDS, "4", "C, | ")
    assert fed(chords, "G,, ", free) is not None, "harmony=chords allows parallels"


def test_the_last_voice_ends_on_a_degree_the_corpus_last_voices_end_on():
    profile = abc_profile(FOUR_VOICES)
    assert profile["form"]["last_voice_final_degrees"] == {"0": len(FOUR_VOICES)}  # every bass ends on its tonic
    music = "C, | C, G,, A,, E,, | F,,2 C,2 | C, D, E, G,, | H"
    constraint, state = primed(CHORDS, "4", music)
    assert fed(constraint, "C,3 |]", state) is not None
    assert fed(constraint, "E,3 |]", state) is None, "E fits the chord C E G, but the corpus' basses end on the tonic"
    plain, free = primed(AbcOptions(), "4", music)
    assert fed(plain, "E,3 |]", free) is not None
    assert profile["form"]["final_degree_pairs"] == {"0 0": len(FOUR_VOICES)}
    old = {**profile, "form": {key: value for key, value in profile["form"].items()
                               if key not in ("voiced_tunes", "last_voice_final_degrees", "final_degree_pairs")}}
    assert AbcConstraint(old, CHORDS).grammar.form.last_voice_degrees is None, "a profile written before still works"


def two_voices(text: str) -> str:
    """A test chorale's soprano and bass, as a tune of two voices."""
    lines = [line for line in text.splitlines() if not line.startswith(("V:2", "V:3", "[V:2]", "[V:3]"))]
    return "\n".join(lines).replace("V:4", "V:2") + "\n"


@pytest.mark.parametrize("options", [CHORDS, STRICT])
@pytest.mark.parametrize("before", ["", "A2 B | "])
def test_in_two_voices_the_first_voice_ends_only_where_the_last_can_end_under_it(options, before):
    # with crossing=no the bass's last note, on G (the corpus' basses end on the tonic), starts at or under the
    # soprano's; the grammar's lowest G is G,,, so a soprano ending on D,, leaves it none: that `|]` is refused at once,
    # not at the newline after it, where nothing could follow
    tunes = [two_voices(tune) for tune in FOUR_VOICES]
    constraint = AbcConstraint(abc_profile(tunes), dataclasses.replace(options, no_crossing=True))
    bass = "D,2 D, | " if before else ""
    head = tunes[1].split("[V:1]")[0] + ("[V:1] B A G | A2 B | c B A | HG3 |\n"
                                          "[V:2] G, D, E, | D,2 G, | C, D, D, | HG,,3 |\n[V:1] " + before)
    assert constraint.complete(fed(constraint, head + f"HG3 |]\n[V:2] {bass}HG,,3 |]\n"))
    low = fed(constraint, head + "HD,,3 |")
    assert fed(constraint, "]", low) is None
    room = fed(constraint, head + "HA,,3 |")  # A,, is above G,,
    assert fed(constraint, "]", room) is not None and constraint.key(room) != constraint.key(low), "masks cached by key"
    assert constraint.complete(fed(constraint, f" HG3 |]\n[V:2] {bass}z z z | HG,,3 |]\n", low)), "another bar may end it"


# the corpus' most bars is 9: a middle block of bars 5 to 8 leaves the last line one bar
MIDDLE = "d c B | A G A | B A2 | HG3 |\n[V:2] G, A, G, | D, E, D, | G,, D,2 | HG,,3 |\n[V:1] "


@pytest.mark.parametrize("options", [CHORDS, STRICT])
@pytest.mark.parametrize("before, bass, bars", [("", "", 5), ("A2 B | ", "D,2 D, | ", 6), (MIDDLE, "", None)],
                         ids=["bars=5", "bars=6", "most bars"])
def test_where_only_its_end_may_close_the_first_voices_last_bar_a_note_too_low_is_refused(options, before, bass, bars):
    # the tunes of the test before at --option bars=N or the corpus' most bars, where only `|]` may close the first
    # voice's last bar: a soprano D,, filling it is refused at the length that fills it, not at the `|` after it, where
    # nothing could follow
    tunes = [two_voices(tune) for tune in FOUR_VOICES]
    constraint = AbcConstraint(abc_profile(tunes), dataclasses.replace(options, no_crossing=True, bars=bars))
    head = tunes[1].split("[V:1]")[0] + ("[V:1] B A G | A2 B | c B A | HG3 |\n"
                                          "[V:2] G, D, E, | D,2 G, | C, D, D, | HG,,3 |\n[V:1] " + before)
    assert constraint.complete(fed(constraint, head + f"HG3 |]\n[V:2] {bass}HG,,3 |]\n"))
    low = fed(constraint, head + "HD,,")
    assert low is not None and fed(constraint, "3", low) is None
    short, room = fed(constraint, "2", low), fed(constraint, head + "HA,,2")
    assert fed(constraint, "|", short) is None and fed(constraint, "|", room) is not None, "a short last bar as well"
    assert constraint.key(short) != constraint.key(room), "masks cached by key"
    assert constraint.complete(fed(constraint, f" z |]\n[V:2] {bass}z z HG,, |]\n", short)), "a rest after it leaves room"
    assert constraint.complete(fed(constraint, head + f"HA,,3 |]\n[V:2] {bass}HG,,3 |]\n"))


def three_voices(text: str) -> str:
    """A test chorale's soprano, bass an octave up (as a tenor) and bass, as a tune of three voices."""
    lines = []
    for line in text.splitlines():
        if line.startswith(("V:2", "[V:2]", "[V:3]")):
            continue
        if line.startswith("[V:4]"):
            lines.append(re.sub(r"([A-Ga-g]),", r"\1", line).replace("[V:4]", "[V:2]"))
        lines.append(line)
    return "\n".join(lines).replace("V:3 name", "V:2 name").replace("V:4", "V:3") + "\n"


def test_in_three_voices_a_first_voice_bar_only_its_end_may_close_is_cached_by_what_its_barline_needs():
    # in the one-bar last line, whether the first voice's `|` (where only `|]` may follow) leaves the bass room depends
    # on the note the bass's line before holds into it: two states differing only there must not share a mask
    tunes = [three_voices(tune) for tune in FOUR_VOICES]
    constraint = AbcConstraint(abc_profile(tunes), dataclasses.replace(CHORDS, no_crossing=True, bars=9))
    head = tunes[1].split("[V:1]")[0] + ("[V:1] B A G | A2 B | c B A | HG3 |\n[V:2] G D E | D2 G | C D D | HG,3 |\n"
                                          "[V:3] G, D, E, | D,2 G, | C, D, D, | HG,,3 |\n"
                                          "[V:1] d c B | A G A | B A2 | HG3 |\n[V:2] G A G | D E D | G, D2 | ")
    low = fed(constraint, head + "HG,3 |\n[V:3] G, A, G, | D, E, D, | G,, D,2 | HG,,3- |\n[V:1] G ")
    high = fed(constraint, head + "HD3 |\n[V:3] G, A, G, | D, E, D, | G,, D,2 | HD,3- |\n[V:1] G ")
    assert (fed(constraint, "|", low) is None) != (fed(constraint, "|", high) is None)
    assert constraint.key(low) != constraint.key(high)


def test_the_last_voice_ends_as_the_corpus_last_voices_end_after_a_first_voice_ending_so():
    pairs = {"0 0": 40, "0 7": 1, "7 7": 3, "7 0": 2, "4 9": 1}  # first voice's final degree, last voice's
    assert last_voice_after({"final_degree_pairs": pairs}) == {0: {0}, 7: {0, 7}, 4: {9}}
    assert last_voice_after({}) is None


def test_the_option_is_checked():
    assert abc_sample_options({"harmony": "strict"}, []) == STRICT
    assert abc_sample_options({"harmony": "chords"}, []) == CHORDS
    assert abc_sample_options({}, []) == AbcOptions()
    with pytest.raises(ConfigError, match="harmony=fifths"):
        abc_sample_options({"harmony": "fifths"}, [])


@pytest.fixture(scope="module")
def chorales(tmp_path_factory):
    """An untrained model of the test chorales: the grammar does the work."""
    root = tmp_path_factory.mktemp("voicing")
    return make_run(root, "chorales", "bach", {f"{c}-{i}.abc": t for c in range(4) for i, t in enumerate(FOUR_VOICES)},
                    val_fraction=0.25)


def tied_over(voice: Voice, beats: list[Fraction]) -> list[bool]:
    """Whether the voice sounds a tie's continuation on each beat (where the rule lets any note be): a note after one
    tied to it at the same pitch, however spelt (`f- | ^e` in C)."""
    spans, time, tied = [], Fraction(0), None
    for bar in voice.bars:
        for event in bar.events:
            if getattr(event, "length", None):
                continues = isinstance(event, Note) and (event.tie_stop or tied == event.midi)
                spans.append((time, time + event.length, continues))
                tied = event.midi if isinstance(event, Note) and event.tie_start else None
                time += event.length
    return [any(start <= beat < end and tie for start, end, tie in spans) for beat in beats]


def judged(text: str) -> tuple[int, int, int]:
    """By harmony.py's reading: the beats where all four voices sound and the rule applies, those of them on one chord,
    and the parallels over all the beat pairs. The rule lets a tie's continuation be, and the bass's last note on the
    tonic (the test corpus' basses all end on it) where the tonic makes no chord with the voices above."""
    tune = parse_tune(text)
    voices = four_parts(tune)
    beats = beat_times(voices)
    columns = list(zip(*(pitches_on_beats(voice, beats) for voice in voices)))
    held = [any(column) for column in zip(*(tied_over(voice, beats) for voice in voices))]
    tonic = last_note(melody(voices[-1])).tonic
    starts, ends, pitches = note_spans(voices[-1])
    final = max(at for at, pitch in enumerate(pitches) if pitch is not None)
    for at, (beat, column) in enumerate(zip(beats, columns)):
        if starts[final] <= beat < ends[final] and not fits_chord([*(pitch for pitch in column[:-1] if pitch is not None), tonic]):
            held[at] = True
    ruled = [column for column, tie in zip(columns, held) if None not in column and not tie]
    return len(ruled), sum(fits_chord(list(column)) for column in ruled), harmony_figures(tune).parallels


@pytest.mark.parametrize("options", [{"harmony": "chords"}, {"harmony": "strict"}, {"harmony": "strict", "crossing": "no"}])
def test_sampled_tunes_make_a_chord_on_every_beat_the_rule_covers(chorales, options):
    config = SampleConfig(num_samples=6, max_length=1500, temperature=1.5, seed=3, device="cpu", options=options)
    samples, meta = sample(chorales, config)
    texts = [s.text for s in samples]
    assert "constraint_dead_ends" not in meta and all(s.finished for s in samples)
    assert all(check_abc(t, required_fields(chorales.profile())).valid for t in texts)
    figures = [judged(text) for text in texts]
    assert sum(beats for beats, _, _ in figures) > 30
    assert [chords for _, chords, _ in figures] == [beats for beats, _, _ in figures]
    if options["harmony"] == "strict":
        assert [parallels for _, _, parallels in figures] == [0] * len(texts)
    assert all(harmony_figures(parse_tune(t)).bass_on_tonic for t in texts), "the basses of the corpus end on the tonic"
    assert_abc2midi_accepts(texts)


def test_free_notes_break_the_rules_that_the_option_keeps(chorales):
    config = SampleConfig(num_samples=6, max_length=1500, temperature=1.5, seed=3, device="cpu")
    figures = [judged(s.text) for s in sample(chorales, config)[0]]
    assert sum(chords for _, chords, _ in figures) < sum(beats for beats, _, _ in figures)


def test_each_cached_mask_holds_for_every_state_of_its_key(chorales):
    constraint = AbcConstraint(chorales.profile()["abc"], STRICT)
    texts, batch = random_walk(constraint, chorales.vocabulary().tokens, 12, 1600, seed=4)  # verify raises on a mismatch
    assert batch.dead_ends == 0 and all(state is None for state in batch.states)
    assert all(check_abc(t, required_fields(chorales.profile())).valid for t in texts)
    assert_abc2midi_accepts(texts)
