"""`charmony harmonize`: the soprano is the melody exactly, the voices are aligned and valid, bad melodies are one line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from charmony.pipeline.abc.check import check_abc
from charmony.pipeline.abc.four_parts import melody_bars, read_melody, soprano_lines, soprano_tune
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.tonic import moved
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.evaluation.references import documents
from charmony.pipeline.run.config import HarmonizeConfig, PrepareConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.manifest import get_run_corpus
from charmony.pipeline.sampling.constrained import ConstrainedBatch
from charmony.pipeline.sampling.harmonize import constraint_of, harmonize, melody_plan, run_melody
from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.training.train import train

from assertions import assert_user_error
from second_opinion import assert_abc2midi_accepts
from test_voicing import judged
from tiny import TINY_TRAIN
from voice_crossing import crossings

HEADER = ('X:1\nT:Hymn {number}\nC:J.S. Bach\nM:4/4\nL:1/4\nV:1 name="Soprano" clef=treble\nV:2 name="Alto" clef=treble\n'
          'V:3 name="Tenor" clef=bass\nV:4 name="Bass" clef=bass\nK:C\n')
CHORDS = {"C": "CEG", "F": "FAC", "G": "GBD", "A": "ACE"}  # I, IV, V, vi in C major
# The notes each voice may take, low to high, as ABC writes them.
RANGES = {
    "soprano": ["e", "f", "g", "a", "b", "c'"], "alto": ["G", "A", "B", "c", "d", "e"],
    "tenor": ["C", "D", "E", "F", "G", "A"], "bass": ["C,", "D,", "E,", "F,", "G,", "A,"],
}


def hymn(number: int, draw: random.Random) -> str:
    """A made-up four-part hymn of 8 bars in C: a chord on each beat, each voice on one of its tones, ending on C
    (the bass with a rest, which the grammar needs to see)."""
    bars: dict[str, list[str]] = {part: [] for part in RANGES}
    for bar in range(8):
        beats = ["C"] * 4 if bar == 7 else [draw.choice("CFGA") for _ in range(4)]
        for part, notes in RANGES.items():
            if bar == 7:
                bars[part].append({"soprano": "c'4", "alto": "G4", "tenor": "E4", "bass": "C,3 z"}[part])
                continue
            written = []
            for chord in beats:
                tones = [n for n in notes if n[0].upper() in CHORDS[chord]]
                written.append(draw.choice(tones))
            bars[part].append(" ".join(written))
    lines = []
    for start in (0, 4):
        for voice, part in enumerate(RANGES, start=1):
            closing = [" |"] * 3 + [" |]" if start == 4 else " |"]
            lines.append(f"[V:{voice}] " + " ".join(b + c for b, c in zip(bars[part][start:start + 4], closing)))
    return HEADER.format(number=number) + "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def four_part_run(tmp_path_factory) -> Run:
    """A tiny model of 40 made-up four-part hymns, prepared as the bach corpus prepares ABC files."""
    root = tmp_path_factory.mktemp("hymns")
    draw = random.Random(7)
    source = root / "hymns.abc"
    source.write_text("\n".join(hymn(number, draw) for number in range(1, 41)), encoding="utf-8")
    run = Run(root / "runs" / "hymns")
    prepare(run, PrepareConfig("bach", [source], val_fraction=0.2))
    train(run, TINY_TRAIN.with_settings(max_steps=60))
    return run


@pytest.fixture(scope="module")
def held_out_melody(four_part_run, tmp_path_factory) -> Path:
    """The soprano of one of the run's held-out hymns, as an ABC file."""
    tune = next(documents(four_part_run.tokens("val"), four_part_run.vocabulary()))
    path = tmp_path_factory.mktemp("melody") / "melody.abc"
    path.write_text(soprano_tune(tune), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def tonic_run(tmp_path_factory) -> Run:
    """A tiny model of 40 made-up hymns, half of them written in D, prepared with transpose=tonic: all in C."""
    root = tmp_path_factory.mktemp("tonic-hymns")
    draw = random.Random(7)
    source = root / "hymns.abc"
    source.write_text("\n".join(moved(hymn(number, draw), 2 * (number % 2), "1/4") for number in range(1, 41)), encoding="utf-8")
    run = Run(root / "runs" / "tonic")
    prepare(run, PrepareConfig("bach", [source], val_fraction=0.2, options={"transpose": "tonic"}))
    train(run, TINY_TRAIN.with_settings(max_steps=60))
    return run


def voice_lines(text: str, voice: int) -> list[str]:
    return [line + "\n" for line in text.splitlines() if line.startswith(f"[V:{voice}] ")]


def test_the_soprano_is_the_melody_and_the_voices_are_aligned_and_valid(four_part_run, held_out_melody, invoke, tmp_path):
    out = tmp_path / "harmonized"
    result = invoke("harmonize", held_out_melody, "--run", "hymns", "--runs-dir", four_part_run.dir.parent,
                    "--num-samples", "3", "--seed", "5", "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "samples.json").read_text())
    assert report["mode"] == "harmonized" and report["melody"] == str(held_out_melody)
    melody = read_melody(held_out_melody.read_text(), "melody.abc")
    texts = [(out / entry["file"]).read_text() for entry in report["samples"]]
    assert len(texts) == 3 and all(entry["finished"] for entry in report["samples"])
    assert four_part_run.manifest().layout == "bars"  # the model wrote bar by bar; the files are in blocks
    for entry in report["samples"]:
        assert voice_lines(entry["raw"], 1) == soprano_lines(melody, "bars")
    for text in texts:
        assert voice_lines(text, 1) == soprano_lines(melody, "blocks")  # the melody exactly, line for line
        assert check_abc(text).valid, check_abc(text).problems[:2]
        voices = list(parse_tune(text).voices.values())
        assert len(voices) == 4
        soprano_bars = [(bar.duration(), bar.barline) for bar in voices[0].bars]
        assert len(soprano_bars) == len(melody.bars)
        for voice in voices[1:]:
            assert [(bar.duration(), bar.barline) for bar in voice.bars] == soprano_bars
    for entry in report["samples"]:  # each harmonisation's own harmony figures, for the gallery's card
        assert set(entry["evaluation"]["harmony"]) >= {"chords", "parallels", "crossing", "spacing", "bass_cadence"}
    assert_abc2midi_accepts(texts)


def test_a_tonic_run_harmonises_a_melody_in_d_in_c_and_gives_it_back_in_d(tonic_run, held_out_melody, tmp_path):
    assert parse_tune(next(documents(tonic_run.tokens("train"), tonic_run.vocabulary()))).key.tonic == "C"
    in_d = tmp_path / "in_d.abc"
    in_d.write_text(moved(held_out_melody.read_text(), 2, "1/4"), encoding="utf-8")
    assert "\nK:D\n" in in_d.read_text()
    melody = read_melody(in_d.read_text(), "in_d.abc")
    samples, metadata = harmonize(tonic_run, HarmonizeConfig(melody=in_d, num_samples=3, seed=5, device="cpu"))
    assert metadata["moved_by"] == -2 and "left_in_c" not in metadata
    texts = [sample.text for sample in samples]
    for sample in samples:
        assert "\nK:C\n" in sample.raw and voice_lines(sample.raw, 1) != soprano_lines(melody, "bars")  # drawn in C
    for text in texts:
        assert "\nK:D\n" in text and text.startswith("X:")
        assert voice_lines(text, 1) == soprano_lines(melody, "blocks")  # the melody exactly, in its own key
        assert check_abc(text).valid, check_abc(text).problems[:2]
        voices = list(parse_tune(text).voices.values())
        assert len(voices) == 4 and all(voice.key.tonic == "D" for voice in voices)
        assert all(len(voice.bars) == len(melody.bars) for voice in voices)
    assert_abc2midi_accepts(texts)


def test_a_cut_off_harmonisation_of_a_moved_melody_is_kept_as_drawn_in_c(tonic_run, held_out_melody, tmp_path):
    """The writer would pad a cut-off tune's voices with rests and close it: moved back, it would look whole."""
    in_d = tmp_path / "in_d.abc"
    in_d.write_text(moved(held_out_melody.read_text(), 2, "1/4"), encoding="utf-8")
    corpus = get_run_corpus(tonic_run.manifest())
    prime = melody_plan(tonic_run, corpus, tonic_run.vocabulary(), run_melody(tonic_run, corpus, in_d)[0])[0].tokens
    samples, metadata = harmonize(tonic_run, HarmonizeConfig(melody=in_d, num_samples=2, seed=5, device="cpu",
                                                             max_length=len(prime) + 40))
    assert metadata["left_in_c"] == [1, 2] and not any(sample.finished for sample in samples)
    assert all("\nK:C\n" in sample.text and "|]" not in sample.text for sample in samples)


def test_a_tonic_run_harmonises_a_melody_in_c_as_it_is(tonic_run, held_out_melody):
    samples, metadata = harmonize(tonic_run, HarmonizeConfig(melody=held_out_melody, num_samples=1, seed=5, device="cpu"))
    assert "moved_by" not in metadata
    assert voice_lines(samples[0].text, 1) == soprano_lines(read_melody(held_out_melody.read_text(), "m"), "blocks")


def test_a_run_that_keeps_its_keys_does_not_move_a_melody_in_d(four_part_run, held_out_melody, tmp_path):
    in_d = tmp_path / "in_d.abc"
    in_d.write_text(moved(held_out_melody.read_text(), 2, "1/4"), encoding="utf-8")
    with pytest.raises(ConfigError, match="never saw the key K:D"):
        harmonize(four_part_run, HarmonizeConfig(melody=in_d, num_samples=1, seed=5, device="cpu"))


def test_with_crossing_no_no_lower_voice_starts_above_the_voice_before_it(four_part_run, held_out_melody, invoke, tmp_path):
    out = tmp_path / "harmonized"
    result = invoke("harmonize", held_out_melody, "--run", "hymns", "--runs-dir", four_part_run.dir.parent,
                    "--num-samples", "4", "--seed", "5", "--temperature", "1.5", "--option", "crossing=no", "--out", out)
    assert result.exit_code == 0, result.output
    report = json.loads((out / "samples.json").read_text())
    assert report["options"] == {"crossing": "no"}
    melody = read_melody(held_out_melody.read_text(), "melody.abc")
    texts = [(out / entry["file"]).read_text() for entry in report["samples"]]
    for text in texts:
        assert voice_lines(text, 1) == soprano_lines(melody, "blocks") and check_abc(text).valid
    assert [crossings(text) for text in texts] == [0] * 4
    free, _ = harmonize(four_part_run, HarmonizeConfig(melody=held_out_melody, num_samples=4, seed=5, temperature=1.5, device="cpu"))
    assert sum(crossings(sample.text) for sample in free) > 0, "without the option, the tiny model's voices cross"
    bad = invoke("harmonize", held_out_melody, "--run", "hymns", "--runs-dir", four_part_run.dir.parent,
                 "--option", "crossing=sometimes", "--out", tmp_path / "bad")
    assert_user_error(bad, "--option crossing=sometimes")


def test_with_harmony_strict_each_beat_makes_a_chord_without_parallels(four_part_run, held_out_melody):
    config = HarmonizeConfig(melody=held_out_melody, num_samples=4, seed=5, temperature=1.5, device="cpu",
                             options={"harmony": "strict"})
    samples, metadata = harmonize(four_part_run, config)
    texts = [sample.text for sample in samples]
    melody = read_melody(held_out_melody.read_text(), "melody.abc")
    assert all(voice_lines(text, 1) == soprano_lines(melody, "blocks") and check_abc(text).valid for text in texts)
    assert "constraint_dead_ends" not in metadata
    figures = [judged(text) for text in texts]  # harmony.py's reading, on the beats the rule covers
    assert [chords for _, chords, _ in figures] == [beats for beats, _, _ in figures] and sum(b for b, _, _ in figures) > 40
    assert [parallels for _, _, parallels in figures] == [0] * 4
    assert_abc2midi_accepts(texts)


def test_the_same_seed_gives_the_same_harmonisations(four_part_run, held_out_melody):
    def texts(seed: int) -> list[str]:
        samples, _ = harmonize(four_part_run, HarmonizeConfig(melody=held_out_melody, num_samples=2, seed=seed, device="cpu"))
        return [sample.text for sample in samples]

    first = texts(11)
    assert texts(11) == first
    assert texts(12) != first


def test_the_header_and_first_line_are_fed_to_the_grammar_once(four_part_run, held_out_melody, monkeypatch):
    """The prime (header, first soprano line, `[V:2] `) goes through the grammar once, checked and then shared by
    the batch: the grammar starts once, and when the batch is made it has been fed the prime's tokens, no more."""
    from charmony.pipeline.sampling import harmonize as stage

    calls = {"start": 0, "feed": 0}
    fed_by_batch = []

    def counted(run, corpus, vocab, options):
        constraint = constraint_of(run, corpus, vocab, options)
        start, feed = constraint.start, constraint.feed

        def count_start():
            calls["start"] += 1
            return start()

        def count_feed(state, token):
            calls["feed"] += 1
            return feed(state, token)

        constraint.start, constraint.feed = count_start, count_feed
        return constraint

    def batch(*args, **kwargs):
        made = ConstrainedBatch(*args, **kwargs)
        fed_by_batch.append(calls["feed"])
        return made

    monkeypatch.setattr(stage, "constraint_of", counted)
    monkeypatch.setattr(stage, "ConstrainedBatch", batch)
    corpus = get_run_corpus(four_part_run.manifest())
    melody, _, _ = run_melody(four_part_run, corpus, held_out_melody)
    segments = melody_plan(four_part_run, corpus, four_part_run.vocabulary(), melody)
    harmonize(four_part_run, HarmonizeConfig(melody=held_out_melody, num_samples=2, seed=3, device="cpu"))
    assert calls["start"] == 1
    assert fed_by_batch == [len(segments[0].tokens)]


def test_the_gallery_card_shows_each_harmonisations_figures(four_part_run, held_out_melody, invoke, tmp_path):
    out = tmp_path / "harmonized"
    result = invoke("harmonize", held_out_melody, "--run", "hymns", "--runs-dir", four_part_run.dir.parent,
                    "--num-samples", "1", "--seed", "1", "--out", out, "--render", "html")
    assert result.exit_code == 0, result.output
    page = (out / "gallery" / "index.html").read_text()
    assert "parallels" in page and "bass_cadence" in page and str(held_out_melody) in page


MULTI_VOICE = 'X:1\nT:Two\nM:4/4\nL:1/4\nV:1\nV:2\nK:C\n[V:1] c d e f |]\n[V:2] C D E F |]\n'


@pytest.mark.parametrize("make, fragment", [
    (lambda melody: melody + "\n" + melody, "holds 2 tunes"),
    (lambda melody: MULTI_VOICE, "has 2 voices"),
    (lambda melody: melody.replace("M:4/4", "M:5/4"), "never saw the meter M:5/4"),
    (lambda melody: melody.replace("K:C", "K:F#"), "never saw the key K:F#"),
    (lambda melody: melody.replace("c'4", "c''4"), "grammar cannot take this melody"),
])
def test_a_melody_the_run_cannot_take_is_one_line_and_writes_nothing(four_part_run, held_out_melody, invoke, tmp_path,
                                                                      make, fragment):
    bad = tmp_path / "bad.abc"
    bad.write_text(make(held_out_melody.read_text()), encoding="utf-8")
    out = tmp_path / "harmonized"
    result = invoke("harmonize", bad, "--run", "hymns", "--runs-dir", four_part_run.dir.parent, "--out", out)
    assert_user_error(result, fragment)
    assert not out.exists()


def test_a_run_without_four_part_tunes_cannot_harmonise(trained_run, held_out_melody):
    with pytest.raises(ConfigError, match="no four-part tunes"):
        harmonize(trained_run, HarmonizeConfig(melody=held_out_melody))


def test_the_melody_splits_into_bars_and_lines_as_the_corpus_lays_them_out():
    bars = melody_bars(["[V:1] c | |: d e f g | a4 :|", "[V:1] [M:3/4] b3 | c'3 |]"])
    assert bars == ["c |", "|: d e f g |", "a4 :|", "[M:3/4] b3 |", "c'3 |]"]
    melody = read_melody("X:1\nT:t\nM:4/4\nL:1/4\nK:C\nc | d e f g | a4 | g4 | f4 | e4 |]\n", "t.abc")
    assert melody.pickup
    assert soprano_lines(melody, "blocks") == ["[V:1] c | d e f g | a4 | g4 | f4 |\n", "[V:1] e4 |]\n"]
    assert soprano_lines(melody, "bars") == ["[V:1] c |\n", "[V:1] d e f g |\n", "[V:1] a4 |\n", "[V:1] g4 |\n",
                                             "[V:1] f4 |\n", "[V:1] e4 |]\n"]
