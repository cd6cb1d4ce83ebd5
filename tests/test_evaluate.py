"""`charmony evaluate`: style overlaps against the held-out documents, copying from the training ones, and the CLI."""

from __future__ import annotations

import json
import random
import shutil
from collections import Counter

import numpy as np
import pytest

from charmony.pipeline.abc.features import bar_bin, copy_events, tune_features
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.evaluation.copying import longest_copies
from charmony.pipeline.evaluation.evaluate import evaluate_texts
from charmony.pipeline.evaluation.histograms import overlap
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.evaluation.references import CACHE_NAME, documents, line_length_bin, text_lines
from charmony.pipeline.run.folder import Run

from assertions import assert_user_error

NAMES = ["=C", "^C", "=D", "^D", "=E", "=F", "^F", "=G", "^G", "=A", "^A", "=B"]
SCALE = [60, 62, 64, 65, 67, 69, 71, 72, 74, 76, 77, 79, 81]  # C major, C4 to A5


def abc_note(midi: int, eighths: int) -> str:
    """A note in ABC with its accidental always written (so no bar accidental carries), L:1/8."""
    name = NAMES[midi % 12]
    octave = midi // 12 - 1
    letter = name[1] if octave == 4 else name[1].lower() + "'" * (octave - 5)
    return name[0] + letter + (str(eighths) if eighths != 1 else "")


def random_tune(draw: random.Random, number: int, shift: int = 0, durations: list[int] | None = None) -> str:
    """A made-up tune in C major: a random walk on the scale, bars of 4/4 filled with eighths, quarters and halves.

    `shift` moves every pitch (not the key) by semitones; `durations` replaces the rhythm by these lengths.
    """
    place = draw.randrange(3, 9)
    bars = []
    for _ in range(draw.choice([6, 8, 8, 10])):
        left, notes = 8, []
        while left:
            length = draw.choice([n for n in (1, 2, 2, 4) if n <= left])
            place = max(0, min(len(SCALE) - 1, place + draw.choice([-2, -1, -1, 1, 1, 2])))
            notes.append((SCALE[place] + shift, durations.pop() if durations else length))
            left -= length
        bars.append(" ".join(abc_note(midi, eighths) for midi, eighths in notes))
    return f"X:{number}\nT:Tune {number}\nM:4/4\nL:1/8\nK:C\n" + " | ".join(bars) + " |]\n"


@pytest.fixture(scope="module")
def tune_run(tmp_path_factory) -> Run:
    """An ABC run of 60 made-up tunes, 15 of them held out."""
    root = tmp_path_factory.mktemp("tunes")
    draw = random.Random(1)
    (root / "tunes.abc").write_text("\n".join(random_tune(draw, n) for n in range(1, 61)), encoding="utf-8")
    run = Run(root / "runs" / "tunes")
    prepare(run, PrepareConfig("bach", [root / "tunes.abc"], val_fraction=0.25))
    return run


def split_texts(run: Run, split: str) -> list[str]:
    return list(documents(run.tokens(split), run.vocabulary()))


def test_the_held_out_tunes_themselves_overlap_fully(tune_run):
    evaluation = evaluate_texts(tune_run, split_texts(tune_run, "val"))
    assert evaluation.count == 15 and evaluation.reference == 15 and evaluation.valid == 1.0
    assert evaluation.overlap == pytest.approx({"pitch": 1.0, "interval": 1.0, "duration": 1.0, "bars": 1.0})
    assert evaluation.bars_median == evaluation.reference_bars_median


def test_tunes_moved_by_a_tritone_or_with_random_durations_score_clearly_lower(tune_run):
    def tunes(**change) -> list[str]:
        draw = random.Random(7)  # the same tunes each time, apart from the change
        return [random_tune(draw, n, **change) for n in range(40)]

    fresh, tritone = tunes(), tunes(shift=6)
    rhythm = random.Random(3)
    wild = tunes(durations=[rhythm.choice([1, 3, 5, 6, 7]) for _ in range(4000)])
    same_style = evaluate_texts(tune_run, fresh).overlap
    moved = evaluate_texts(tune_run, tritone).overlap
    off_beat = evaluate_texts(tune_run, wild).overlap
    assert min(same_style["pitch"], same_style["interval"], same_style["duration"]) > 0.9, same_style
    assert same_style["bars"] > 0.6, same_style  # 15 held-out tunes make a coarse histogram of bars
    # The tritone moves the pitch classes off the scale of C, and leaves the intervals and rhythm as they were.
    assert moved["pitch"] < 0.5 < same_style["pitch"] - 0.35
    assert moved["interval"] == pytest.approx(same_style["interval"]) and moved["duration"] == same_style["duration"]
    assert off_beat["duration"] < 0.4 and off_beat["pitch"] == pytest.approx(same_style["pitch"], abs=0.05)


def test_tunes_copied_from_training_are_reported_as_copies(tune_run):
    copied = split_texts(tune_run, "train")[:10]
    evaluation = evaluate_texts(tune_run, copied)
    notes = [tune_features(parse_tune(text)).notes for text in copied]
    assert evaluation.copying.more_than_half_copied == 1.0
    assert evaluation.copying.longest_max == max(notes)
    assert [sample["longest_copy"] for sample in evaluation.samples] == notes
    assert all(sample["copied"] == 1.0 for sample in evaluation.samples)
    # Moved up a tone, the 45 training tunes are still copies: copying is measured on intervals and lengths.
    draw = random.Random(1)  # the draw that made the run's tunes
    moved = evaluate_texts(tune_run, [random_tune(draw, n, shift=2) for n in range(1, 61)])
    assert moved.copying.more_than_half_copied >= 0.75
    draw = random.Random(11)
    fresh = evaluate_texts(tune_run, [random_tune(draw, n) for n in range(20)])
    assert fresh.copying.more_than_half_copied == 0.0 and fresh.copying.longest_median < 12


def test_the_evaluation_line_and_json(tune_run):
    evaluation = evaluate_texts(tune_run, split_texts(tune_run, "val")[:4] + ["X:1\nT:no key, no music\n"])
    line = evaluation.line()
    assert line.startswith("evaluate: 5 tunes, 80% valid; overlap pitch ")
    assert "; bars median " in line and "longest copy median " in line and "% more than half copied" in line
    data = evaluation.to_json()
    assert set(data) == {"run", "kind", "unit", "count", "valid", "overlap", "reference", "bars_median",
                         "reference_bars_median", "copying", "music"}
    # The made-up tunes are in C and end anywhere; the 15 held-out ones hold the figures the samples are read against.
    melody = data["music"]["melody"]
    assert melody["tunes"] == {"samples": 4, "held_out": 15} and "harmony" not in data["music"]
    assert set(melody) == {"tunes", "cadence", "length_within", "bars_median", "phrase_bars_median", "phrase_overlap",
                           "double_bars", "rest_bars", "meter_changes", "span_median", "steps"}
    assert melody["double_bars"] == {"samples": 0, "held_out": 0} and 0.5 < melody["steps"]["held_out"] < 1
    text = evaluation.text().splitlines()
    assert text[0] == line and any(row.split()[-2:] == ["4", "15"] and "tunes with music" in row for row in text[1:])
    assert data["kind"] == "music" and data["count"] == 5 and set(data["overlap"]) == {"pitch", "interval", "duration", "bars"}
    assert evaluation.samples[-1] == {"tunes": 1, "valid_tunes": 0, "notes": 0, "bars": 0,
                                      "overlap": {"pitch": None, "interval": None, "duration": None},
                                      "longest_copy": 0, "copied": 0.0}
    json.dumps(data), json.dumps(evaluation.samples)


def test_the_reference_is_cached_and_a_damaged_cache_is_rebuilt(tune_run, copy_of):
    run = copy_of(tune_run)
    texts = split_texts(run, "val")[:3]
    first = evaluate_texts(run, texts)
    cache = run.dir / CACHE_NAME
    assert json.loads(cache.read_text())["tunes"] == 15
    assert evaluate_texts(run, texts) == first
    cache.write_text('{"format": 1, "key": ', encoding="utf-8")
    assert evaluate_texts(run, texts) == first
    assert json.loads(cache.read_text())["tunes"] == 15


def test_features_merge_ties_take_a_chord_s_top_note_and_follow_key_changes():
    tune = parse_tune("X:1\nM:4/4\nL:1/4\nK:G\nG2- G B | [CEg] z d2 | [K:D] D4 |]\n")
    features = tune_features(tune)
    assert features.notes == 5  # G (tied, one note), B, g (the chord's top), d, D
    assert features.durations == Counter({3: 1, 1: 2, 2: 1, 4: 1})  # quarter notes; the rest is no note
    # From G: G=0, B=4, g=0, d=7; then from D: D=0.
    assert features.pitch_classes == Counter({0: 3, 4: 1, 7: 1})
    assert features.intervals == Counter({4: 1, 8: 1, -5: 1, -12: 1})  # B-g across nothing, g-d across the rest
    assert features.bar_counts == [3] and features.bars == Counter({bar_bin(3): 1})
    events = copy_events(features.melodies[0])
    assert [event[0] for event in events] == [None, 4, 8, "rest", -5, -12]


def test_intervals_stay_within_each_voice():
    tune = parse_tune("X:1\nM:2/4\nL:1/4\nV:1\nV:2\nK:C\n[V:1] c d |]\n[V:2] C, D, |]\n")
    features = tune_features(tune)
    assert features.intervals == Counter({2: 2}) and len(features.melodies) == 2
    assert features.bar_counts == [1]


def test_overlap_and_bins():
    assert overlap(Counter({1: 2, 2: 2}), Counter({1: 1, 3: 1})) == pytest.approx(0.5)
    assert overlap(Counter(), Counter({1: 1})) is None
    assert [bar_bin(n) for n in (0, 1, 4, 5, 14, 64, 65, 300)] == [0, 1, 1, 5, 13, 61, 65, 65]
    assert [line_length_bin(n) for n in (0, 7, 15, 16, 19, 63, 64, 79, 255, 256, 9000)] == [0, 7, 15, 16, 16, 60, 64, 64, 240, 256, 256]
    assert text_lines("ab\n\ncde\n") == [2, 0, 3] and text_lines("ab") == [2] and text_lines("") == []


def brute_longest(training: list[list[int]], query: list[int]) -> int:
    """The longest run of `query` found in one of the training sequences, by trying every run."""
    best = 0
    for start in range(len(query)):
        for end in range(start + best + 1, len(query) + 1):
            run = query[start:end]
            if not any(run == seq[i:i + len(run)] for seq in training for i in range(len(seq) - len(run) + 1)):
                break
            best = end - start
    return best


@pytest.mark.parametrize("chunk", [5, 13, 1_000_000])
def test_longest_copies_agree_with_trying_every_run(chunk, monkeypatch):
    from charmony.pipeline.evaluation import copying

    monkeypatch.setattr(copying, "CHUNK", chunk)
    draw = random.Random(chunk)
    for _ in range(60):
        letters = draw.randint(2, 4)
        training = [[draw.randrange(letters) for _ in range(draw.randint(0, 30))] for _ in range(draw.randint(0, 4))]
        queries = [[draw.randrange(letters + 1) for _ in range(draw.randint(0, 25))] for _ in range(draw.randint(1, 4))]
        joined = np.array([value for seq in training for value in seq + [-1]], dtype=np.int64)
        found = longest_copies(joined, [np.array(q, dtype=np.int64) for q in queries])
        assert found == [brute_longest(training, q) for q in queries], (training, queries)


def test_a_long_copy_is_found_quickly_and_exactly():
    training = np.random.default_rng(0).integers(0, 50, 200_000)
    query = np.concatenate([[50], training[1000:21000], [50]])
    assert longest_copies(np.append(training, -1), [query]) == [20_000]


@pytest.fixture
def rhyme_run(prepared) -> Run:
    return prepared("rhymes")


def test_text_samples_overlap_with_the_held_out_documents_and_copies_are_found(rhyme_run):
    val = split_texts(rhyme_run, "val")
    itself = evaluate_texts(rhyme_run, val)
    assert itself.kind == "text" and itself.valid is None
    assert itself.overlap == pytest.approx({"character": 1.0, "line_length": 1.0})
    shouting = evaluate_texts(rhyme_run, [text.upper() for text in val])
    assert shouting.overlap["character"] < 0.3
    train = split_texts(rhyme_run, "train")
    copied = evaluate_texts(rhyme_run, train[:5])
    assert copied.copying.unit == "characters" and copied.copying.more_than_half_copied == 1.0
    assert [sample["longest_copy"] for sample in copied.samples] == [len(text) for text in train[:5]]
    new = evaluate_texts(rhyme_run, ["quietly the zebra yawned\nover jumbled quilts\n"])
    assert new.copying.more_than_half_copied == 0.0 and new.samples[0]["lines"] == 2
    assert new.line().startswith("evaluate: 1 samples; overlap character ")


def test_a_run_without_held_out_documents_says_style_was_not_measured(rhymes_file, runs_dir):
    run = Run(runs_dir / "all-train")
    prepare(run, PrepareConfig("text", [rhymes_file], options={"split": "blank"}, val_fraction=0))
    evaluation = evaluate_texts(run, ["mary had a little lamb\n"])
    assert evaluation.overlap == {"character": None, "line_length": None} and evaluation.reference == 0
    assert "; overlap not measured: the run holds no held-out documents; longest copy median 23 characters" in evaluation.line()


def test_a_text_reference_ignores_the_end_of_document_marks(rhyme_run):
    reference_lines = Counter(line_length_bin(n) for text in split_texts(rhyme_run, "val") for n in text_lines(text))
    from charmony.pipeline.evaluation.references import text_reference

    reference = text_reference(rhyme_run)
    assert reference.line_lengths == reference_lines
    characters = Counter(ord(c) for text in split_texts(rhyme_run, "val") for c in text)
    assert reference.characters == characters


# ----- the command line

def test_sample_evaluates_into_samples_json_and_evaluate_does_it_again(trained_run, copy_of, invoke, tmp_path):
    run = copy_of(trained_run)
    runs_dir = run.dir.parent
    out = tmp_path / "out"
    sampled = invoke("sample", run.name, "--runs-dir", runs_dir, "--num-samples", "4", "--max-length", "80", "--seed", "2", "--out", out)
    assert sampled.exit_code == 0, sampled.output
    line = next(line for line in sampled.output.splitlines() if line.startswith("evaluate: "))
    assert line.startswith("evaluate: 4 samples; overlap character ")
    report = json.loads((out / "samples.json").read_text())
    assert report["evaluation"]["count"] == 4 and report["evaluation"]["run"] == run.name
    assert all(set(entry["evaluation"]) >= {"overlap", "longest_copy", "copied"} for entry in report["samples"])

    (out / "samples.json").write_text(json.dumps({k: v for k, v in report.items() if k != "evaluation"}))
    again = invoke("evaluate", out, "--runs-dir", runs_dir)
    assert again.exit_code == 0, again.output
    assert again.output.strip() == line  # the run comes from samples.json
    assert json.loads((out / "samples.json").read_text()) == report

    skipped = invoke("sample", run.name, "--runs-dir", runs_dir, "--num-samples", "2", "--max-length", "20", "--no-evaluate")
    assert skipped.exit_code == 0 and "evaluate:" not in skipped.output
    latest = invoke("evaluate", "--run", run.name, "--runs-dir", runs_dir)
    assert latest.exit_code == 0 and latest.output.startswith("evaluate: 2 samples"), latest.output


def test_sample_leaves_copying_to_evaluate_for_a_large_training_set(trained_run, copy_of, invoke, tmp_path, monkeypatch):
    from charmony.pipeline.evaluation import evaluate

    run = copy_of(trained_run)
    monkeypatch.setattr(evaluate, "QUICK_COPY_TOKENS", 10)
    out = tmp_path / "out"
    sampled = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", "2", "--max-length", "30", "--out", out)
    assert sampled.exit_code == 0, sampled.output
    assert f"copying not measured: {run.manifest().tokens['train']:,} training tokens take long to search; " \
           f"run `charmony evaluate --run {run.name}` for it" in sampled.output
    figures = json.loads((out / "samples.json").read_text())["evaluation"]
    assert figures["copying"] is None and "copying_note" in figures
    evaluated = invoke("evaluate", out, "--runs-dir", run.dir.parent)
    assert "longest copy median" in evaluated.output
    assert json.loads((out / "samples.json").read_text())["evaluation"]["copying"]["unit"] == "characters"


def test_evaluate_scores_each_folder_and_the_loose_files(trained_run, copy_of, invoke, tmp_path):
    run = copy_of(trained_run)
    runs_dir = run.dir.parent
    for name in ("a", "b"):
        assert invoke("sample", run.name, "--runs-dir", runs_dir, "--num-samples", "3", "--max-length", "40",
                      "--out", tmp_path / name, "--no-evaluate").exit_code == 0
    loose = tmp_path / "mine.txt"
    loose.write_text("twinkle twinkle little star\n", encoding="utf-8")
    result = invoke("evaluate", tmp_path / "a", tmp_path / "b", loose, "--run", run.name, "--runs-dir", runs_dir)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(":")[0] for line in lines] == [f"evaluate {tmp_path / 'a'}", f"evaluate {tmp_path / 'b'}", "evaluate files"]
    assert lines[2].startswith("evaluate files: 1 samples")
    assert "evaluation" in json.loads((tmp_path / "b" / "samples.json").read_text())


def test_evaluate_mistakes_get_one_line(trained_run, copy_of, invoke, tmp_path):
    run = copy_of(trained_run)
    shutil.rmtree(run.samples_dir, ignore_errors=True)  # other tests may have sampled into the shared run
    runs_dir = run.dir.parent
    assert_user_error(invoke("evaluate", "--run", run.name, "--runs-dir", runs_dir), "has no samples", "charmony sample")
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_user_error(invoke("evaluate", empty, "--run", run.name, "--runs-dir", runs_dir), "holds no samples")
    (empty / "samples.json").write_text("{not json", encoding="utf-8")
    assert_user_error(invoke("evaluate", empty, "--run", run.name, "--runs-dir", runs_dir), "samples.json is not valid JSON")
    assert_user_error(invoke("evaluate", empty, "--run", "nosuch", "--runs-dir", runs_dir), "no run 'nosuch'")


def test_tune_features_round_trip_through_json_and_refuse_another_version():
    from collections import Counter
    from fractions import Fraction

    from charmony.pipeline.abc.features import TuneFeatures

    features = TuneFeatures(Counter({0: 3, 7: 1}), Counter({-2: 2}), Counter({Fraction(1, 2): 4}), Counter({8: 1}), [8], 4)
    data = json.loads(json.dumps(features.to_json()))
    assert TuneFeatures.from_json(data) == features
    with pytest.raises(ValueError):
        TuneFeatures.from_json(dict(data, version=-1))


def test_evaluate_prints_the_musical_figures_beside_the_held_out_ones(tune_run, copy_of, invoke, tmp_path):
    run = copy_of(tune_run)
    ends_on_c = "X:1\nT:Home\nM:4/4\nL:1/8\nK:C\nC2 E2 G2 E2 | D2 F2 E2 D2 | c8 |]\n"
    (tmp_path / "home.abc").write_text(ends_on_c, encoding="utf-8")
    result = invoke("evaluate", tmp_path / "home.abc", "--run", run.name, "--runs-dir", run.dir.parent)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("evaluate: 1 tunes, 100% valid; ")
    held_out = evaluate_texts(run, split_texts(run, "val")).music["melody"]
    cadence = next(line for line in lines if "last note on the tonic" in line).split()
    assert cadence[-2:] == ["100%", f"{held_out['cadence']['held_out']:.0%}"]
    span = next(line for line in lines if "range in semitones, median" in line).split()
    assert span[-2:] == ["12", f"{held_out['span_median']['held_out']:g}"]  # C4 to C5
