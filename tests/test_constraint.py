"""Constrained sampling: an untrained model writes only complete, valid tunes and poems, as asked."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch

from abc_tunes import FOLK, FOUR_VOICES, SOPRANO
from assertions import assert_user_error
from second_opinion import assert_abc2midi_accepts
from charmony.pipeline.abc.check import bar_numbers, check_abc
from charmony.pipeline.abc.collection import split_tunes
from charmony.pipeline.abc.grammar.constraint import AbcConstraint
from charmony.pipeline.abc.parser import parse_tune
from charmony.pipeline.abc.profile import abc_profile
from charmony.pipeline.abc.theory import STEP_SEMITONES
from charmony.pipeline.abc.profile import required_fields
from charmony.pipeline.abc.sample_options import AbcOptions
from charmony.pipeline.sampling.constrained import ConstrainedBatch, primed
from charmony.pipeline.plugin.manager import get_outputs
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.evaluation.references import documents
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import load_model, sample
from charmony.pipeline.training.train import train
from charmony.plugins.poem import PoemChecker
from tiny import TINY_TRAIN
from voice_crossing import crossings

UNTRAINED = dataclasses.replace(TINY_TRAIN, max_steps=1, eval_every=1, save_every=1, log_every=1)
POEMS = [
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。",
    "国破山河在，城春草木深。感时花溅泪，恨别鸟惊心。烽火连三月，家书抵万金。白头搔更短，浑欲不胜簪。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "独在异乡为异客，每逢佳节倍思亲。遥知兄弟登高处，遍插茱萸少一人。",
]


def make_run(root, name: str, corpus: str, files: dict[str, str], val_fraction: float = 0.1) -> Run:
    folder = root / f"{name}-source"
    folder.mkdir()
    for file_name, text in files.items():
        (folder / file_name).write_text(text, encoding="utf-8")
    run = Run(root / "runs" / name)
    prepare(run, PrepareConfig(corpus, [folder], val_fraction=val_fraction))
    train(run, UNTRAINED)  # one step: the weights are as good as random
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Run]:
    root = tmp_path_factory.mktemp("constrained")
    return {
        "soprano": make_run(root, "soprano", "bach", {f"{c}-{i}.abc": t for c in range(2) for i, t in enumerate(SOPRANO)}),
        # bach holds out a tune with all its copies: a quarter of four chorales is one whole chorale
        "chorales": make_run(root, "chorales", "bach", {f"{c}-{i}.abc": t for c in range(4) for i, t in enumerate(FOUR_VOICES)},
                             val_fraction=0.25),
        "folk": make_run(root, "folk", "folk", {f"{c}-{i}.abc": t for c in range(3) for i, t in enumerate(FOLK)}),
        "poetry": make_run(root, "poetry", "poetry", {"poems.txt": "\n".join(f"诗{i}:{p}" for i, p in enumerate(POEMS * 2)) + "\n"}),
    }


def test_prepare_keeps_what_every_training_tune_has(runs):
    profile = runs["chorales"].profile()["abc"]
    assert profile["header"]["required"] == ["C", "K", "L", "M", "T", "V", "X"], "Q: is only in some tunes"
    assert profile["header"]["sequences"] == ["XTCMLVVVVK"]
    assert profile["voice_prefix"] is True
    assert runs["poetry"].profile()["poetry"]["titles"] is True


@pytest.mark.parametrize("name, max_length", [("soprano", 700), ("chorales", 1600), ("folk", 700)])
def test_an_untrained_model_at_a_high_temperature_writes_only_complete_valid_tunes(runs, name, max_length):
    run = runs[name]
    samples, meta = sample(run, SampleConfig(num_samples=200, max_length=max_length, temperature=1.5, seed=4, device="cpu"))
    assert meta["mode"] == "constrained" and "constraint_dead_ends" not in meta
    assert all(s.finished for s in samples), "every tune ends by itself, before --max-length"
    verdicts = [check_abc(s.text, required_fields(run.profile())) for s in samples]
    assert [v.problems for v in verdicts if not v.valid] == []
    assert_abc2midi_accepts([s.text for s in samples])
    voices = {len(parse_tune(s.text).voices) for s in samples}
    assert voices == ({4} if name == "chorales" else {1})
    if name == "folk":
        bodies = [s.text.split("\nK:", 1)[1] for s in samples]
        for mark in (">", "(3", "{", ")", "\\\n", "\n|:"):
            assert any(mark in body for body in bodies), f"the corpus writes {mark!r}, and so may the samples"
    fewest = run.profile()["abc"]["fewest_bars"]
    assert fewest >= 3 and all(bar_numbers(v)[-1] >= fewest for s in samples for v in parse_tune(s.text).voices.values()), \
        "no tune is shorter than the shortest training tune"
    free, meta = sample(run, SampleConfig(num_samples=200, max_length=max_length, temperature=1.5, seed=4, device="cpu", free=True))
    assert meta["mode"] == "free"
    assert sum(check_abc(s.text, required_fields(run.profile())).valid for s in free) < 20, "without the constraint, random weights write junk"


@pytest.mark.parametrize("name, options, max_length", [
    ("soprano", {"meter": "2/4", "key": "Ebm", "bars": "6", "tempo": "100"}, 700),
    ("chorales", {"meter": "3/4", "key": "Bb", "bars": "3"}, 1600),
    ("folk", {"meter": "3/8", "key": "Ador", "bars": "5"}, 700),
])
def test_the_tunes_have_the_meter_key_tempo_and_bars_asked_for(runs, name, options, max_length):
    run = runs[name]
    samples, meta = sample(run, SampleConfig(num_samples=60, max_length=max_length, temperature=1.5, seed=5, device="cpu",
                                             options=options))
    assert meta["options"] == options
    assert_abc2midi_accepts([item.text for item in samples])
    for item in samples:
        assert check_abc(item.text, required_fields(run.profile())).valid
        tune = parse_tune(item.text)
        fields = dict(tune.fields)
        assert fields["M"] == options["meter"] and fields["K"] == options["key"]
        assert fields.get("Q") == ("1/4=100" if "tempo" in options else fields.get("Q"))
        for voice in tune.voices.values():
            assert bar_numbers(voice)[-1] == int(options["bars"]), "the tune ends at bar N of every voice"
            assert {bar.meter.text for bar in voice.bars} == {options["meter"]}, "no meter change"


def test_free_sampling_is_plain_multinomial_sampling(runs):
    run = runs["soprano"]
    config = SampleConfig(num_samples=8, max_length=120, temperature=1.3, seed=9, device="cpu", free=True)
    samples, _ = sample(run, config)
    vocab = run.vocabulary()
    model, _, _ = load_model(run, "best", torch.device("cpu"))
    model.eval()
    generator = torch.Generator().manual_seed(9)
    prefix = [vocab.eod_id] + vocab.encode("X:")
    texts, done = [""] * 8, [False] * 8
    with torch.no_grad():
        logits, state = model(torch.tensor([prefix] * 8))
        for _ in range(120):
            chosen = torch.multinomial((logits[:, -1] / 1.3).softmax(-1), 1, generator=generator).squeeze(1)
            chosen = chosen.masked_fill(torch.tensor(done), vocab.eod_id)
            for row, token in enumerate(chosen.tolist()):
                done[row] = done[row] or token == vocab.eod_id
                if not done[row]:
                    texts[row] += vocab.tokens[token]
            logits, state = model(chosen[:, None], state)
    assert [s.text for s in samples] == [check_renumbered(t, n) for n, t in enumerate(texts, start=1)]


def check_renumbered(text: str, number: int) -> str:
    """What `finish` makes of a raw ABC sample: numbered, and titled after the run where it has a header."""
    from charmony.pipeline.plugin.corpus import SampleInfo
    from charmony.pipeline.plugin.manager import get_corpus

    return get_corpus("bach").finish("X:" + text, SampleInfo(number, "soprano", 1, 9))


def random_walk(constraint, tokens: list[str], samples: int, max_length: int, seed: int, verify: bool = True,
                draw: bool = False):
    """Tokens drawn at random among those the constraint allows, through the masks (or, with `draw`, drawn from
    all tokens and checked, as `ConstrainedBatch.draw` does); returns the texts and the batch."""
    batch = ConstrainedBatch(constraint, tokens, 0, samples, max_length, primed(constraint, "X:"), torch.device("cpu"),
                             verify=verify)
    generator = torch.Generator().manual_seed(seed)
    texts = ["X:"] * samples
    for step in range(max_length):
        logits = torch.randn(samples, len(tokens), generator=generator)
        if draw:
            chosen = batch.draw(step, 3 * logits, False, generator).tolist()
        else:
            logits = logits.masked_fill(~batch.masks(step), float("-inf"))
            chosen = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1).tolist()
        for row, token in enumerate(chosen):
            if batch.states[row] is not None and token:
                texts[row] += tokens[token]
        batch.advance(chosen)
        if all(state is None for state in batch.states):
            break
    return texts, batch


@pytest.mark.parametrize("name", ["chorales", "folk"])
def test_drawing_then_checking_keeps_every_sample_valid(runs, name):
    run = runs[name]
    constraint = AbcConstraint(run.profile()["abc"], AbcOptions())
    texts, batch = random_walk(constraint, run.vocabulary().tokens, 24, 1500, seed=6, draw=True)
    assert batch.dead_ends == 0 and all(batch.states[row] is None for row in range(24))
    assert_abc2midi_accepts(texts)
    assert [check_abc(t, required_fields(run.profile())).problems for t in texts if not check_abc(t, required_fields(run.profile())).valid] == []


def fed(constraint, text: str, state=None):
    """The state after `text` (from the start, or from `state`), or None once a character is refused."""
    state = constraint.start() if state is None else state
    for char in text:
        state = state and constraint.feed(state, char)
    return state


def test_a_one_voice_tune_may_end_with_the_barlines_its_corpus_ends_tunes_with(runs):
    run = runs["folk"]
    constraint = AbcConstraint(run.profile()["abc"], AbcOptions())

    for tune in FOLK[1:]:  # they end `:|`, `||` and with no barline
        text = tune.replace(tune[:3], "X:1", 1)
        state = fed(constraint, text)
        assert state is not None and constraint.complete(state) and constraint.cost(state) == 0
        assert fed(constraint, text + "|") is not None, "or it may go on"
    early = fed(constraint, FOLK[3].replace("X:4", "X:1").split(" G2 |")[0])
    assert early is not None and not constraint.complete(early), "three bars are fewer than any training tune has"
    header = "X:1\nT:Test Lied\nM:3/4\nL:1/8\nK:F\n"
    short = fed(constraint, header + "F6 ||\n")
    assert short is not None and not constraint.complete(short), "no shorter than the shortest training tune"
    open_repeat = fed(constraint, header + "|: F6 | F6 | F6 | F6 | F6 ||\n")
    assert open_repeat is not None and not constraint.complete(open_repeat), "a repeat is still open"
    assert constraint.complete(fed(constraint, header + "|: F6 | F6 | F6 :| F6 | F6 ||\n"))
    with_voices = AbcConstraint(runs["chorales"].profile()["abc"], AbcOptions())
    assert with_voices.grammar.finals == frozenset(), "tunes with several voices end |] in every voice"


def test_a_tie_joins_two_notes_of_the_same_pitch(runs):
    constraint = AbcConstraint(runs["soprano"].profile()["abc"], AbcOptions())
    header = SOPRANO[5].split("[V:1]")[0]  # K:Em: F is F sharp
    tied = fed(constraint, header + "[V:1] B2 | e2 f2 g2 f2-|")
    assert tied is not None and tied.tied is not None
    assert fed(constraint, " f2", tied) is not None and fed(constraint, "f4", tied) is not None
    for other in (" =f", " e", " F", " z", " [f", "]"):
        assert fed(constraint, other, tied) is None, other
    assert fed(constraint, header + "[V:1] B2 | e2 ^d2 d2-d2 |") is not None, "the bar's ^ holds for the tied note"
    sharp = header + "[V:1] B2 | e2 ^d2 f2 d2"
    assert fed(constraint, sharp + "-| d") is None and fed(constraint, sharp + "-| ^d") is not None, "not past the bar"
    assert constraint.cost(fed(constraint, sharp + "-")) > constraint.cost(fed(constraint, sharp)), "the tie's ^ counts"
    ending = header + "[V:1] B2 | e2 f2 g2 f2 | e4 d2 B2 | c2 B2 A2 G2 | HF6 B2 |\n[V:1] A2 G2 F2 E2 | ^D4 E2 F2 | G2 F2 E2 ^D2 | HE6"
    assert fed(constraint, ending + " |]") is not None and fed(constraint, ending + "-|]") is None, "no tie left open at the end"


def test_decorations_the_checker_does_not_know_are_never_written(runs):
    profile = runs["folk"].profile()["abc"]
    profile["music"]["decorations"] = ["!D.C.!", "!trill!", "!fermat:a!"]  # as in the folk collections
    constraint = AbcConstraint(profile, AbcOptions())
    state = fed(constraint, FOLK[2].replace("X:3", "X:1").split("| c4")[0] + "| ")
    assert state is not None
    for decoration, known in (("!trill!", True), ("!D.C.!", False), ("!fermat:a!", False)):
        assert (fed(constraint, decoration, state) is not None) == known, decoration


def test_top_k_sampling_goes_through_the_masks_and_stays_valid(runs):
    run = runs["folk"]
    samples, meta = sample(run, SampleConfig(num_samples=60, max_length=700, temperature=1.5, top_k=20, seed=7, device="cpu"))
    assert "constraint_dead_ends" not in meta and all(s.finished for s in samples)
    assert all(check_abc(s.text, required_fields(run.profile())).valid for s in samples)
    assert_abc2midi_accepts([s.text for s in samples])


@pytest.mark.parametrize("name", ["soprano", "chorales", "folk"])
def test_each_cached_mask_holds_for_every_state_of_its_key(runs, name):
    run = runs[name]
    constraint = AbcConstraint(run.profile()["abc"], AbcOptions())
    texts, batch = random_walk(constraint, run.vocabulary().tokens, 24, 1500, seed=2)  # verify raises on a mismatch
    assert batch.dead_ends == 0 and all(check_abc(t, required_fields(run.profile())).valid for t in texts)
    assert_abc2midi_accepts(texts)


def test_with_crossing_no_no_voice_starts_a_note_above_the_voice_before_it(runs):
    run = runs["chorales"]
    tokens = run.vocabulary().tokens
    crossed, _ = random_walk(AbcConstraint(run.profile()["abc"], AbcOptions()), tokens, 24, 1600, seed=2)
    assert sum(map(crossings, crossed)) > 20, "random notes cross often without the option"
    constraint = AbcConstraint(run.profile()["abc"], AbcOptions(no_crossing=True))
    texts, batch = random_walk(constraint, tokens, 24, 1600, seed=2)  # verify raises where a cached mask is wrong
    assert batch.dead_ends == 0 and all(state is None for state in batch.states)
    assert all(check_abc(t, required_fields(run.profile())).valid for t in texts)
    assert [crossings(text) for text in texts] == [0] * 24
    assert_abc2midi_accepts(texts)


def test_with_crossing_no_a_tight_max_length_leaves_no_tune_unfinished(runs):
    """Under a low voice above, a later voice's bar may need octave marks or rests: the cost counts it in rests, never
    below what the constraint can write, so no walk reaches a state where every character overruns --max-length."""
    run = runs["chorales"]
    constraint = AbcConstraint(run.profile()["abc"], AbcOptions(no_crossing=True))
    texts, batch = random_walk(constraint, run.vocabulary().tokens, 16, 450, seed=0, verify=False)
    assert batch.dead_ends == 0 and all(state is None for state in batch.states)  # counting notes: 8 of 16 ended so
    assert all(check_abc(t, required_fields(run.profile())).valid for t in texts)
    assert [crossings(text) for text in texts] == [0] * 16


def test_with_crossing_no_and_harmony_strict_a_tight_max_length_leaves_no_tune_unfinished(runs):
    """The last voice's last note must be on a degree the corpus' last voices end on and under the voice above: the
    cost calls a last bar with no room for one impossible, from the last voice's line and from the voice above's last
    note on, so no walk reaches a last bar it cannot end (before: 3 of these 16 did)."""
    run = runs["chorales"]
    options = AbcOptions(no_crossing=True, chords_on_beats=True, no_parallels=True)
    constraint = AbcConstraint(run.profile()["abc"], options)
    texts, batch = random_walk(constraint, run.vocabulary().tokens, 16, 700, seed=0, verify=False)
    assert batch.dead_ends == 0 and all(state is None for state in batch.states)
    assert all(check_abc(t, required_fields(run.profile())).valid for t in texts)
    assert [crossings(text) for text in texts] == [0] * 16


def alto_start(constraint: AbcConstraint):
    """The state of `constraint` where the first chorale's alto begins."""
    state = constraint.start()
    for char in FOUR_VOICES[0].split("[V:2]")[0] + "[V:2] ":
        state = constraint.feed(state, char)
    return state


def test_with_crossing_no_the_alto_starts_no_note_above_the_sopranos():
    constraint = AbcConstraint(abc_profile(FOUR_VOICES), AbcOptions(no_crossing=True))
    state = alto_start(constraint)
    first = parse_tune(FOUR_VOICES[0]).voices["1"].bars[0].events[0]  # the alto's first note sounds below it
    limit = 12 * (first.octave + 1) + STEP_SEMITONES[first.step] + first.alter
    names = {"C": 60, "D": 62, "E": 64, "F": 65, "G": 67, "A": 69, "B": 71, "c": 72, "d": 74, "e": 76}
    for letter, pitch in names.items():
        fed = constraint.feed(state, letter)
        if letter.islower():
            assert (fed is not None) == (pitch <= limit), letter
        else:  # a capital may go down an octave with `,`
            assert fed is not None or pitch - 12 > limit, letter
    assert limit == 67 and constraint.feed(state, "A ") is None and constraint.feed(state, "A, ") is not None
    tenor = parse_tune(FOUR_VOICES[0]).voices["3"]
    assert tenor.octave == -1, "the tenor's written c sounds c below the alto's E, as the grammar reads it"
    plain = AbcConstraint(abc_profile(FOUR_VOICES), AbcOptions())
    assert all(plain.feed(alto_start(plain), letter) is not None for letter in names)


@pytest.mark.parametrize("name, bars, exact, harmony, crossing", [
    ("chorales", 2, True, False, False), ("chorales", 2, False, True, False), ("chorales", 2, False, False, True),
    ("chorales", 2, False, True, True), ("folk", 3, False, False, False)])
def test_the_cost_is_the_length_of_a_shortest_completion(runs, name, bars, exact, harmony, crossing):
    """The cost is the length of a completion the constraint can write, one character nearer at each step of it.

    For the chorales it is the shortest. For folk tunes, whose bars may be cut short to complete a pickup at a
    section's end, the bars still to come are counted whole, so it may be a few characters above the shortest.
    With --option harmony=strict, a rest is always allowed where a note would break the rules, but the last voice's
    last note, on a degree it may end on, is counted with the accidental and octave marks it may need, so the cost may
    be a few characters above the shortest. With --option crossing=no, the later voices' bars are counted in rests (a
    note may have to wait under the voice above, a rest never does), so the cost may be well above the shortest.
    """
    run = runs[name]
    options = AbcOptions(bars=bars, chords_on_beats=harmony, no_parallels=harmony, no_crossing=crossing)
    constraint = AbcConstraint(run.profile()["abc"], options)
    tokens = run.vocabulary().tokens
    texts, _ = random_walk(constraint, tokens, 12, 1200, seed=3, verify=False)
    assert_abc2midi_accepts(texts)
    for text in texts[:6]:
        state = constraint.start()
        for char in text[:len(text) // 2]:
            state = constraint.feed(state, char)
        cost, steps = constraint.cost(state), 0
        while not constraint.complete(state):
            after = [constraint.feed(state, t) for t in tokens[1:]]
            costs = [constraint.cost(a) if a is not None else 10**9 for a in after]
            if exact:
                assert min(costs) == constraint.cost(state) - 1, "some next character shortens the completion by one"
            assert min(costs) <= constraint.cost(state) - 1, "some next character brings the end nearer"
            assert max(c for c in costs if c < 10**9) - constraint.cost(state) <= constraint.max_jump
            state = after[costs.index(min(costs))]
            steps += 1
        assert steps == cost if exact else 0 < steps <= cost


def test_the_constraint_writes_the_corpus_own_training_tunes(runs):
    for name in ("soprano", "chorales", "folk"):
        run = runs[name]
        constraint = AbcConstraint(run.profile()["abc"], AbcOptions())
        tunes = set(documents(run.tokens("train"), run.vocabulary()))
        held_out = set(documents(run.tokens("val"), run.vocabulary()))
        corpus = {"soprano": SOPRANO, "chorales": FOUR_VOICES, "folk": FOLK}[name]
        assert len(tunes | held_out) == len(corpus)
        # bach holds out every copy of a tune, so its training tunes are fewer; folk does not group its copies
        assert len(tunes) == len(corpus) - (len(held_out) if name != "folk" else 0)
        for tune in tunes:
            state = constraint.start()
            for char in tune:
                state = constraint.feed(state, char)
                assert state is not None, f"refused {char!r} in {tune!r}"
            assert constraint.complete(state)


@pytest.mark.parametrize("options, form", [
    ({"form": "five,quatrain"}, "five-character quatrain"),
    ({"form": "seven,regulated"}, "seven-character regulated verse"),
    ({}, None),
])
def test_an_untrained_model_writes_only_regular_poems_of_the_form_asked_for(runs, options, form):
    samples, meta = sample(runs["poetry"], SampleConfig(num_samples=100, max_length=150, temperature=1.5, seed=6,
                                                        device="cpu", options=options))
    assert meta["mode"] == "constrained" and all(s.finished for s in samples)
    verdicts = [PoemChecker().check(s.text) for s in samples]
    assert all(v.valid for v in verdicts), [v.problems for v in verdicts if not v.valid][:3]
    if form:
        assert {v.details["form"] for v in verdicts} == {form}
    assert all(s.text.startswith("《") for s in samples), "the run keeps titles, so every poem has one"


def test_samples_json_records_the_mode_and_options(runs, invoke, tmp_path):
    run = runs["soprano"]
    result = invoke("sample", "soprano", "--runs-dir", run.dir.parent, "--num-samples", 3, "--max-length", 700,
                    "--seed", 1, "--option", "meter=3/4", "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "out" / "samples.json").read_text())
    assert report["mode"] == "constrained" and report["options"] == {"meter": "3/4"}
    assert "abc: 3/3 tunes valid" in result.output and "3 constrained samples" in result.output


@pytest.mark.parametrize("args, fragments", [
    (["--option", "metre=3/4"], ["no sample option 'metre'", "bars, crossing, final, harmony, key, meter, tempo"]),
    (["--option", "crossing=never"], ["--option crossing=never", "give no"]),
    (["--option", "harmony=yes"], ["--option harmony=yes", "give chords"]),
    (["--option", "meter=7/0"], ["--option meter=7/0", "such as 3/4"]),
    (["--option", "key=H"], ["--option key=H", "such as G, Dm"]),
    (["--option", "bars=0"], ["--option bars=0", "from 1 to"]),
    (["--option", "tempo=fast"], ["--option tempo=fast"]),
    (["--option", "meter=3/4", "--free"], ["drop --free"]),
    (["--max-length", "20"], ["--max-length 20 is too short", "at least"]),
])
def test_bad_sample_options_get_one_line(runs, invoke, args, fragments):
    result = invoke("sample", "soprano", "--runs-dir", runs["soprano"].dir.parent, "--num-samples", 2, *args)
    assert_user_error(result, *fragments)


def test_a_poem_form_the_corpus_cannot_have_gets_one_line(runs, invoke):
    result = invoke("sample", "poetry", "--runs-dir", runs["poetry"].dir.parent, "--option", "form=five,seven")
    assert_user_error(result, "--option form=five,seven", "cannot be both")


def test_a_run_sample_lacking_a_field_every_training_tune_has_is_invalid(runs, tmp_path, invoke):
    text = "X:1\nT:No meter\nC:Test\nL:1/4\nV:1 clef=treble\nK:C\n[V:1] C D E F | G4 |]\n"
    checker = get_outputs(["abc"])[0].for_run(runs["soprano"].profile())
    verdict = checker.check(text)
    assert not verdict.valid and verdict.details["lacks"] == {"M": 1}
    assert "no M: field" in verdict.problems[0].message
    assert checker.summarise([verdict, checker.check(SOPRANO[0])]) == "1/2 tunes valid (1 lack M:)"
    path = tmp_path / "plain.abc"
    path.write_text(text)
    assert invoke("check", path).exit_code == 0, "a plain file keeps ABC 2.1's rules, where M: is optional"
    assert [t.text for t in split_tunes(text)] == [text]


def test_the_plugin_guide_example_constraint_keeps_every_sample_valid():
    from pathlib import Path

    guide = (Path(__file__).parent.parent / "docs" / "plugins.md").read_text(encoding="utf-8")
    code = next(block for block in guide.split("```python")[1:] if "class Lines(Constraint)" in block).split("```")[0]
    namespace: dict = {}
    exec(code, namespace)
    tokens = ["<eod>", " ", ".", "\n", *"abcdefghijklmnopqrstuvwxyz", "A", "!"]
    lines = namespace["Lines"]()
    batch = ConstrainedBatch(lines, tokens, 0, 64, 60, lines.start(), torch.device("cpu"), verify=True)
    generator = torch.Generator().manual_seed(1)
    texts = [""] * 64
    for step in range(60):
        logits = torch.randn(64, len(tokens), generator=generator).masked_fill(~batch.masks(step), float("-inf"))
        chosen = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1).tolist()
        for row, token in enumerate(chosen):
            if batch.states[row] is not None and token:
                texts[row] += tokens[token]
        batch.advance(chosen)
    assert batch.dead_ends == 0 and all(state is None for state in batch.states), "every sample ended within 60 tokens"
    for text in texts:
        lines = text.split("\n")[:-1]
        assert text.endswith(".\n") and 1 <= len(lines) <= 4
        assert all(line.endswith(".") and line[:-1].replace(" ", "").isalpha() and line[:-1].islower() for line in lines)
