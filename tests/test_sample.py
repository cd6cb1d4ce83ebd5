import json

import pytest
import torch
from hypothesis import example, given
from hypothesis import strategies as st

from tiny import TINY_TRAIN

from charmony.pipeline.system.errors import ConfigError
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import filter_logits, sample
from charmony.pipeline.sampling.folder import write_samples
from charmony.pipeline.training.train import train

logit_rows = st.lists(st.floats(-20, 20, allow_nan=False, width=32), min_size=2, max_size=40)


@given(logit_rows, st.integers(1, 40), st.floats(0.1, 3.0))
@example([-1.401298464324817e-45, 0.0, 0.0, 0.0], 3, 2.0)  # halved, the first rounds to 0 and ties the others
def test_top_k_keeps_only_the_k_most_likely(row, k, temperature):
    logits = torch.tensor([row])
    kept = torch.isfinite(filter_logits(logits, temperature, k, None))[0]
    kth_largest = torch.sort(logits[0], descending=True).values[min(k, len(row)) - 1]
    assert kept.sum() >= min(k, len(row))
    assert (logits[0][kept] >= kth_largest).all(), "nothing outside the k most likely survives"


@given(logit_rows, st.floats(0.01, 1.0))
def test_top_p_keeps_the_smallest_set_reaching_p(row, p):
    logits = torch.tensor([row])
    probs = logits.softmax(-1)[0]
    kept = torch.isfinite(filter_logits(logits, 1.0, None, p))[0]
    assert kept.any()
    if (~kept).any():
        assert probs[kept].min() >= probs[~kept].max(), "nothing less likely than a dropped token is kept"
    assert probs[kept].sum() >= p - 1e-5
    # Without its least likely member, the kept set would fall short of p.
    assert probs[kept].sum() - probs[kept].min() < p + 1e-5


def test_same_seed_same_samples_other_seed_other_samples(trained_run):
    config = SampleConfig(num_samples=4, max_length=80, seed=7, device="cpu")
    first, meta = sample(trained_run, config)
    again, _ = sample(trained_run, config)
    other, _ = sample(trained_run, SampleConfig(num_samples=4, max_length=80, seed=8, device="cpu"))
    assert [s.text for s in first] == [s.text for s in again]
    assert [s.text for s in first] != [s.text for s in other]
    assert meta["seed"] == 7 and meta["step"] == 200


def test_samples_are_generated_in_one_batch(trained_run):
    batch_sizes = []

    def record(module, args, output):
        if type(module).__name__ == "CharModel":
            batch_sizes.append(args[0].shape[0])

    handle = torch.nn.modules.module.register_module_forward_hook(record)
    try:
        samples, _ = sample(trained_run, SampleConfig(num_samples=16, max_length=30, seed=1, device="cpu"))
    finally:
        handle.remove()
    assert len(samples) == 16
    assert batch_sizes and set(batch_sizes) == {16}
    assert len(batch_sizes) <= 31, "one forward pass per generated token, for all samples at once"


def test_samples_stop_at_end_of_document_and_learned_the_rhymes(trained_run):
    samples, _ = sample(trained_run, SampleConfig(num_samples=20, max_length=300, seed=3, temperature=0.5, device="cpu"))
    finished = [s for s in samples if s.finished]
    assert len(finished) >= 10
    assert all("<eod>" not in s.text for s in samples)
    words = {w for s in samples for w in s.text.split()}
    assert len(words & {"twinkle", "little", "star", "the", "humpty", "dumpty", "sheep"}) >= 3


def test_top_k_keeps_exactly_k_when_logits_tie():
    kept = torch.isfinite(filter_logits(torch.zeros(1, 10), 1.0, 3, None))
    assert int(kept.sum()) == 3


def test_a_tiny_temperature_is_greedy_not_a_crash(trained_run):
    greedy, _ = sample(trained_run, SampleConfig(num_samples=2, max_length=30, temperature=0, seed=1, device="cpu"))
    tiny, _ = sample(trained_run, SampleConfig(num_samples=2, max_length=30, temperature=1e-45, seed=1, device="cpu"))
    assert [s.text for s in greedy] == [s.text for s in tiny]


@pytest.mark.parametrize("temperature", [2.0, 100.0])  # 100, the limit: nearly every token equally likely
def test_unk_is_never_sampled(tmp_path, temperature):
    source = tmp_path / "abc.txt"
    source.write_text(("ab" * 50 + "cdefg") * 40)  # c to g are rare, so --max-vocab 2 turns them into <unk>
    run = Run(tmp_path / "runs" / "unk")
    prepare(run, PrepareConfig("text", [source], max_vocab=2, val_fraction=0))
    train(run, TINY_TRAIN.with_settings(max_steps=30))
    samples, _ = sample(run, SampleConfig(num_samples=32, max_length=200, temperature=temperature, seed=0, device="cpu"))
    text = "".join(s.text for s in samples)
    assert "<unk>" not in text and set(text) <= {"a", "b"}


def test_greedy_and_top_k_of_one_agree(trained_run):
    greedy, _ = sample(trained_run, SampleConfig(num_samples=2, max_length=40, temperature=0, seed=1, device="cpu"))
    top1, _ = sample(trained_run, SampleConfig(num_samples=2, max_length=40, top_k=1, seed=99, device="cpu"))
    assert [s.text for s in greedy] == [s.text for s in top1]


def test_prime_starts_every_sample(trained_run):
    samples, meta = sample(trained_run, SampleConfig(num_samples=3, max_length=20, prime="humpty", seed=2, device="cpu"))
    assert all(s.text.startswith("humpty") for s in samples)
    assert meta["prime"] == "humpty"


def test_prime_outside_the_vocabulary_names_the_characters(trained_run):
    with pytest.raises(ConfigError, match=r"2 character\(s\) not in the vocabulary: 'Z', '€'"):
        sample(trained_run, SampleConfig(prime="Zoo€Z", device="cpu"))


def test_samples_json_records_the_settings(trained_run, tmp_path):
    config = SampleConfig(num_samples=3, max_length=50, temperature=0.7, top_k=5, top_p=0.9, seed=11, device="cpu")
    samples, meta = sample(trained_run, config)
    write_samples(samples, meta, tmp_path / "out", ".txt", [])
    report = json.loads((tmp_path / "out" / "samples.json").read_text())
    assert {k: report[k] for k in ("run", "step", "seed", "temperature", "top_k", "top_p", "prime")} == {
        "run": "rhymes", "step": 200, "seed": 11, "temperature": 0.7, "top_k": 5, "top_p": 0.9, "prime": "",
    }
    assert [e["file"] for e in report["samples"]] == ["sample_001.txt", "sample_002.txt", "sample_003.txt"]
    assert (tmp_path / "out" / "sample_002.txt").read_text() == samples[1].text
    assert [e["number"] for e in report["samples"]] == [1, 2, 3]


@pytest.mark.parametrize("value", [-1.0, -0.01, float("nan"), float("inf"), 100.01, 1e30])
def test_bad_temperature_is_refused(value):
    with pytest.raises(ConfigError, match="--temperature must be from 0 to 100, not"):
        SampleConfig(temperature=value)


def test_only_settings_that_cut_tokens_turn_off_draw_then_check():
    from charmony.pipeline.sampling.sample import truncates

    assert not truncates(SampleConfig(temperature=0.7))
    assert truncates(SampleConfig(top_k=5)) and truncates(SampleConfig(top_p=0.9))
