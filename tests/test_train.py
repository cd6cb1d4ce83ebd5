import json
import math
import os
import re
import resource
import signal

import numpy as np
import pytest
import torch
from tiny import TINY_TRAIN

from assertions import assert_user_error

from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.system.errors import CheckpointError, ConfigError, RunError
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.data.batching import DeviceBatches, StreamBatches, validation_batch_size
from charmony.pipeline.training.train import Diverged, evaluate, train
from charmony.pipeline.run.config import TrainConfig

RESUMABLE = TINY_TRAIN.with_settings(layers=2, dropout=0.2, max_steps=24, eval_every=6, save_every=8, log_every=4)


def metrics(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.metrics_path.read_text().splitlines()]


def send_at(stop_step: int, signum: int, times: int = 1):
    def on_step(step: int) -> None:
        if step == stop_step:
            for _ in range(times):
                os.kill(os.getpid(), signum)  # a real Ctrl-C (or kill), delivered to the training loop

    return on_step


def crash_at(stop_step: int):
    def on_step(step: int) -> None:
        if step == stop_step:
            raise MemoryError("the machine fell over")

    return on_step


def assert_same_training(straight: Run, resumed: Run) -> None:
    a, b = metrics(straight), metrics(resumed)
    assert [m["step"] for m in a] == [m["step"] for m in b] == [4, 6, 8, 12, 16, 18, 20, 24]
    for x, y in zip(a, b):
        assert x["train_loss"] == pytest.approx(y["train_loss"], rel=1e-6, abs=1e-7)
        assert ("val_loss" in x) == ("val_loss" in y)
        if "val_loss" in x:
            assert x["val_loss"] == pytest.approx(y["val_loss"], rel=1e-6)
        assert x["lr"] == pytest.approx(y["lr"], rel=1e-12)
    final_a = Checkpoint.load(straight.checkpoint_path).model
    final_b = Checkpoint.load(resumed.checkpoint_path).model
    for name in final_a:
        assert torch.equal(final_a[name], final_b[name]), name


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(prepared, signum):
    straight, resumed = prepared("straight"), prepared("resumed")
    train(straight, RESUMABLE)

    # Step 9 is inside a logging interval, so the interval's partial loss must survive too.
    first = train(resumed, RESUMABLE, on_step=send_at(9, signum))
    assert first.interrupted and first.step == 9
    assert Checkpoint.load(resumed.checkpoint_path).step == 9
    second = train(resumed, RESUMABLE, resume=True)
    assert not second.interrupted and second.step == RESUMABLE.max_steps
    assert_same_training(straight, resumed)


def test_a_crash_resumes_from_the_last_periodic_checkpoint(prepared):
    straight, crashed = prepared("straight"), prepared("crashed")
    train(straight, RESUMABLE)
    with pytest.raises(MemoryError):
        train(crashed, RESUMABLE, on_step=crash_at(13))
    assert Checkpoint.load(crashed.checkpoint_path).step == 8
    with crashed.metrics_path.open("a") as log:
        log.write('{"step": 13, "train_lo')  # a line cut short by the crash
    train(crashed, RESUMABLE, resume=True)
    assert_same_training(straight, crashed)


def test_metrics_lines_hold_the_promised_fields(prepared):
    run = prepared("metrics")
    result = train(run, TINY_TRAIN.with_settings(max_steps=20, eval_every=10, log_every=5))
    lines = metrics(run)
    assert [m["step"] for m in lines] == [5, 10, 15, 20]
    for line in lines:
        assert {"step", "train_loss", "lr", "tokens_per_sec"} <= set(line)
    evaluated = [m for m in lines if "val_loss" in m]
    assert [m["step"] for m in evaluated] == [10, 20]
    assert all(m["val_bpc"] == pytest.approx(m["val_loss"] / 0.6931471805599453) for m in evaluated)
    assert result.best_val_loss == min(m["val_loss"] for m in evaluated)
    assert Checkpoint.load(run.best_path).best_val_loss == result.best_val_loss


def test_patience_stops_where_that_many_validations_in_a_row_bettered_no_best(prepared):
    settings = TINY_TRAIN.with_settings(max_steps=600, eval_every=5, log_every=5)
    patient, straight = prepared("patient"), prepared("straight")
    stopped = train(patient, settings.with_settings(patience=3))
    full = train(straight, settings)
    assert full.step == 600 and full.stopped_early is None
    assert stopped.stopped_early == 3 and stopped.step < 600
    # the first step at which three validations in a row had bettered no best, read from the uninterrupted run
    best, stale, expected = math.inf, 0, None
    for line in (m for m in metrics(straight) if "val_loss" in m):
        best, stale = (line["val_loss"], 0) if line["val_loss"] < best else (best, stale + 1)
        if stale == 3:
            expected = line["step"]
            break
    assert stopped.step == expected
    kept = metrics(patient)
    assert [m["step"] for m in kept] == [m["step"] for m in metrics(straight)][:len(kept)], "nothing else changed before it"
    assert all(m.get("val_loss") == pytest.approx(n.get("val_loss"), rel=1e-6) for m, n in zip(kept, metrics(straight)))
    assert stopped.best_val_loss == min(m["val_loss"] for m in kept if "val_loss" in m) == Checkpoint.load(patient.best_path).best_val_loss
    assert full.best_val_loss <= stopped.best_val_loss
    assert Checkpoint.load(patient.checkpoint_path).step == stopped.step


def test_checkpoint_is_plain_data_loaded_without_unpickling_code(prepared):
    run = prepared("plain")
    train(run, TINY_TRAIN.with_settings(max_steps=5))
    payload = torch.load(run.checkpoint_path, weights_only=True)
    assert payload["step"] == 5
    assert {"model", "optimizer", "schedule", "rng", "model_config", "train_config", "vocab_sha256"} <= set(payload)
    assert TrainConfig.from_json(payload["train_config"]).model.hidden == TINY_TRAIN.model.hidden
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")], "no temporary files are left"


def test_training_again_without_resume_refuses_to_overwrite(prepared):
    run = prepared("twice")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    before = run.checkpoint_path.read_bytes()
    with pytest.raises(ConfigError, match="already has a checkpoint; continue it with --resume"):
        train(run, TINY_TRAIN.with_settings(max_steps=3))
    assert run.checkpoint_path.read_bytes() == before
    assert train(run, TINY_TRAIN.with_settings(max_steps=3), restart=True).step == 3


def test_resume_refuses_to_change_the_model_shape(prepared):
    run = prepared("shape")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    with pytest.raises(ConfigError, match=r"--resume cannot change --hidden; drop those options"):
        train(run, TINY_TRAIN.with_settings(hidden=64, max_steps=6), resume=True)
    with pytest.raises(ConfigError, match=r"--resume cannot change --seq-len"):
        train(run, TINY_TRAIN.with_settings(batch_size=4, seq_len=8, max_steps=6), resume=True)
    with pytest.raises(ConfigError, match=r"cannot change the number of streams .*: 8 when saved, 4 x 1 now; drop --batch-size"):
        train(run, TINY_TRAIN.with_settings(batch_size=4, max_steps=6), resume=True)


def test_plain_sgd_trains_resumes_as_sgd_and_refuses_a_change_of_optimizer(prepared):
    run = prepared("sgd")
    sgd = TINY_TRAIN.with_settings(optimizer="sgd", lr=1.0, weight_decay=0.0, max_steps=3)
    first = train(run, sgd)
    saved = Checkpoint.load(run.checkpoint_path)
    assert saved.train_config.optimizer == "sgd"
    assert "exp_avg" not in str(saved.optimizer["state"]), "no Adam moments: the steps were plain SGD"
    with pytest.raises(ConfigError, match="--resume cannot change --optimizer"):
        train(run, TINY_TRAIN.with_settings(max_steps=6), resume=True)
    assert train(run, sgd.with_settings(max_steps=6), resume=True).step == 6 > first.step
    with pytest.raises(ConfigError, match="--optimizer must be one of adamw, sgd, not 'adam'"):
        TrainConfig(optimizer="adam")


def test_truncated_checkpoint_is_reported(prepared):
    run = prepared("truncated")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    data = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(run, TINY_TRAIN, resume=True)


def test_checkpoint_from_another_vocabulary_is_refused(prepared, tmp_path):
    run = prepared("vocab")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    other = tmp_path / "other.txt"
    other.write_text("a completely different alphabet: XYZ 123 " * 200)
    prepare(run, PrepareConfig("text", [other], force=True))
    with pytest.raises(CheckpointError, match="different vocabulary"):
        train(run, TINY_TRAIN, resume=True)


@pytest.mark.parametrize("option,value", [("lr", float("nan")), ("lr", -1.0), ("max_minutes", float("inf")), ("batch_size", 0),
                                          ("batch_size", 100_001), ("seq_len", 2**63), ("max_steps", 10**9 + 1),
                                          ("eval_batches", 2**63), ("lr", 101.0), ("grad_clip", 1e7),
                                          ("patience", 0)])
def test_nonsense_settings_are_refused(option, value):
    with pytest.raises(ConfigError, match=f"--{option.replace('_', '-')} must be"):
        TINY_TRAIN.with_settings(**{option: value})


def test_train_before_prepare(runs_dir):
    run = Run(runs_dir / "new")
    run.dir.mkdir(parents=True)
    with pytest.raises(RunError, match=r"not prepared .* run `charmony prepare CORPUS --run new` first"):
        train(run, TINY_TRAIN)


def test_corpus_smaller_than_one_batch(tmp_path, runs_dir):
    source = tmp_path / "tiny.txt"
    source.write_text("just a few characters")
    run = Run(runs_dir / "tiny")
    prepare(run, PrepareConfig("text", [source], val_fraction=0))
    with pytest.raises(ConfigError, match=r"train split has 22 tokens .* needs at least 136"):
        train(run, TINY_TRAIN)


def test_cuda_without_a_gpu(prepared, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # as on every machine without a GPU
    with pytest.raises(ConfigError, match="no usable CUDA GPU; use --device cpu"):
        train(prepared("cuda"), TINY_TRAIN.with_settings(device="cuda"))


def test_a_run_that_died_before_its_first_save_points_to_restart(prepared):
    run = prepared("early")
    with pytest.raises(MemoryError):
        train(run, TINY_TRAIN.with_settings(eval_every=5, save_every=100), on_step=crash_at(7))
    assert run.best_path.exists() and not run.checkpoint_path.exists()
    with pytest.raises(CheckpointError, match="only best.pt, which cannot be resumed; start over with --restart"):
        train(run, TINY_TRAIN, resume=True)
    with pytest.raises(ConfigError, match="or start over with --restart"):
        train(run, TINY_TRAIN)


def test_resume_refuses_a_new_seed_and_a_finished_run(prepared):
    run = prepared("finished")
    train(run, TINY_TRAIN.with_settings(max_steps=6))
    with pytest.raises(ConfigError, match="--resume cannot change --seed"):
        train(run, TINY_TRAIN.with_settings(max_steps=12, seed=5), resume=True)
    with pytest.raises(ConfigError, match="already at step 6, and --max-steps is 6; give a larger --max-steps"):
        train(run, TINY_TRAIN.with_settings(max_steps=6), resume=True)
    assert Checkpoint.load(run.checkpoint_path).train_config.max_steps == 6


def test_divergence_stops_with_a_message_and_keeps_the_log_valid(prepared, monkeypatch):
    run = prepared("diverged")
    monkeypatch.setattr("charmony.pipeline.run.config.LR_LIMIT", 1e30)  # a learning rate that surely diverges
    with pytest.raises(Diverged, match="diverged by step .* resume or restart with a lower --lr"):
        train(run, TINY_TRAIN.with_settings(lr=1e30, log_every=1, save_every=1, max_steps=50))
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]  # strict JSON: no NaN
    assert lines and all(math.isfinite(line["train_loss"]) for line in lines)
    assert Checkpoint.load(run.checkpoint_path).step == lines[-1]["step"]


def test_compile_trains_the_same_model(prepared):
    plain, compiled = prepared("plain"), prepared("compiled")
    config = TINY_TRAIN.with_settings(max_steps=4, eval_every=4, log_every=2, warmup_steps=0)
    train(plain, config)
    train(compiled, config.with_settings(compile=True))
    for x, y in zip(metrics(plain), metrics(compiled)):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=1e-4)
    assert Checkpoint.load(compiled.checkpoint_path).train_config.compile is True
    assert set(Checkpoint.load(compiled.checkpoint_path).model) == set(Checkpoint.load(plain.checkpoint_path).model)


def test_a_model_too_big_for_memory_is_one_line_and_keeps_the_checkpoint(prepared, invoke, monkeypatch):
    run = prepared("oom")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    before = run.checkpoint_path.read_bytes()
    args = ("train", run.name, "--runs-dir", run.dir.parent, "--restart", "--batch-size", 8, "--seq-len", 16, "--device", "cpu")
    # 65,536 units make LSTM weights of over 200 GB: refused before anything is allocated.
    result = invoke(*args, "--hidden", 65_536)
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: training a model of 51,")
    assert "needs at least" in lines[0] and "lower --hidden, --layers" in lines[0]
    assert run.checkpoint_path.read_bytes() == before

    def fail(config):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 123456789 bytes")

    monkeypatch.setattr("charmony.pipeline.training.train.CharModel", fail)  # an allocation no estimate foresaw
    result = invoke(*args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: out of memory (tried to allocate 123,456,789")
    assert "lower --batch-size, --seq-len" in lines[0]
    assert run.checkpoint_path.read_bytes() == before


def test_a_quick_second_ctrl_c_still_saves_the_checkpoint(prepared, capfd):
    run = prepared("impatient")
    result = train(run, RESUMABLE, on_step=send_at(9, signal.SIGINT, times=2))
    assert result.interrupted and result.step == 9
    assert Checkpoint.load(run.checkpoint_path).step == 9
    assert "already stopping: the checkpoint is being saved" in capfd.readouterr().err


def test_resuming_to_more_steps_continues_the_learning_rate_without_a_jump(prepared):
    run = prepared("longer")
    config = TINY_TRAIN.with_settings(max_steps=20, log_every=1, eval_every=100, save_every=100)
    train(run, config)
    train(run, config.with_settings(max_steps=40), resume=True)
    rates = [m["lr"] for m in metrics(run)]
    assert len(rates) == 40
    after_warmup = rates[2:]  # warm-up lasts a tenth of the first 20 steps
    assert all(later <= earlier for earlier, later in zip(after_warmup, after_warmup[1:])), "the rate only decays"
    steps = [abs(later - earlier) for earlier, later in zip(after_warmup, after_warmup[1:])]
    assert abs(rates[20] - rates[19]) <= max(steps[:17]), "no jump where the run was resumed"
    assert rates[-1] == pytest.approx(config.lr * 0.1, rel=0.05), "and it still ends at a tenth of the peak"


def test_a_checkpoint_with_the_right_keys_but_wrong_contents_is_one_line(prepared, invoke):
    run = prepared("wrong")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    payload = torch.load(run.checkpoint_path, weights_only=True)
    damaged = {
        "state": dict(payload, state=[torch.zeros(1, 2, 3)]),
        "weights": dict(payload, model={name: torch.zeros(2) for name in payload["model"]}),
        "config": dict(payload, model_config=dict(payload["model_config"], hidden="wide")),
        "log": dict(payload, log="none"),
    }
    for content in damaged.values():
        torch.save(content, run.checkpoint_path)
        resumed = invoke("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--max-steps", 6)
        assert_user_error(resumed, "checkpoint.pt is damaged")
        run.best_path.unlink(missing_ok=True)
        sampled = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--max-length", 5)
        assert_user_error(sampled, "checkpoint.pt is damaged")


def test_token_ids_outside_the_vocabulary_are_one_line(prepared, invoke):
    run = prepared("foreign")
    data = bytearray(run.split_path("train").read_bytes())
    data[100] = 250  # the rhymes have about 30 tokens
    run.split_path("train").write_bytes(bytes(data))
    assert_user_error(invoke("train", run.name, "--runs-dir", run.dir.parent, "--max-steps", 2, "--device", "cpu",
                             "--batch-size", 4, "--seq-len", 16),
                      "train.bin holds token id 250, outside the vocabulary")


def test_a_full_disk_while_saving_keeps_the_old_checkpoint(prepared):
    run = prepared("full")
    train(run, TINY_TRAIN.with_settings(max_steps=3))
    before = run.checkpoint_path.read_bytes()
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails as on a full disk
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(before) // 2, hard))
    try:
        with pytest.raises(CheckpointError, match=r"cannot write .*(best|checkpoint).pt \(the write failed\); is the disk full\? The previous checkpoint is kept"):
            train(run, TINY_TRAIN.with_settings(max_steps=6, save_every=100), resume=True)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)
    assert run.checkpoint_path.read_bytes() == before
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")]


def test_without_a_terminal_each_log_step_is_one_plain_line_with_both_units(prepared, capsys):
    run = prepared("plain-log")
    train(run, TINY_TRAIN.with_settings(max_steps=20, log_every=5, eval_every=10), terminal=False)
    out, err = capsys.readouterr()
    assert "\r" not in out + err
    lines = out.splitlines()
    assert [int(re.match(r"step (\d+)/20: ", line).group(1)) for line in lines] == [5, 10, 15, 20]
    pattern = (r"train loss \d+\.\d{4} nats/token \(\d+\.\d{3} bpc\)(, val loss \d+\.\d{4} nats/token \(\d+\.\d{3} bpc\))?, "
               r"lr \d\.\d\de-\d\d, [\d,]+ tok/s, elapsed \d:\d\d:\d\d, ETA \d:\d\d:\d\d$")
    assert all(re.search(pattern, line) for line in lines), lines
    assert "val loss" in lines[1] and "val loss" not in lines[0]
    for record in metrics(run):
        # Characters are tokens here, so bits per character are nats per token in bits.
        assert record["train_bpc"] == pytest.approx(record["train_loss"] / math.log(2))


def test_threads_come_from_the_setting_or_the_environment(prepared, monkeypatch):
    run = prepared("threads")
    seen = []
    train(run, TINY_TRAIN.with_settings(max_steps=1, threads=2), on_step=lambda step: seen.append(torch.get_num_threads()))
    monkeypatch.setenv("CHARMONY_THREADS", "1")
    train(run, TINY_TRAIN.with_settings(max_steps=1), restart=True, on_step=lambda step: seen.append(torch.get_num_threads()))
    assert seen == [2, 1]
    monkeypatch.setenv("CHARMONY_THREADS", "lots")
    with pytest.raises(ConfigError, match=r"\$CHARMONY_THREADS=lots: give a whole number"):
        train(run, TINY_TRAIN.with_settings(max_steps=1), restart=True)


def test_the_batches_are_built_once_per_split(prepared, monkeypatch):
    from charmony.pipeline.training import train as train_module

    built = []
    real = train_module.StreamBatches

    def counting(*args, **kwargs):
        built.append(args[3] if len(args) > 3 else kwargs.get("split", "train"))
        return real(*args, **kwargs)

    monkeypatch.setattr(train_module, "StreamBatches", counting)
    train(prepared("once"), TINY_TRAIN.with_settings(max_steps=2))
    assert sorted(built) == ["train", "val"]


def test_old_checkpoints_flat_settings_read_into_the_nested_model():
    old = {"layers": 3, "hidden": 64, "embedding": None, "cell": "gru", "dropout": 0.1, "tie_weights": False,
           "seq_len": 50, "batch_size": 4, "unknown_setting": 1}
    config = TrainConfig.from_json(old)
    assert (config.model.layers, config.model.hidden, config.model.cell, config.seq_len) == (3, 64, "gru", 50)
    assert TrainConfig.from_json(config.to_json()) == config


def test_a_weight_average_is_what_validation_scores_and_best_pt_keeps_and_it_resumes_exactly(prepared):
    averaging = RESUMABLE.with_settings(ema_decay=0.9)
    straight, crashed = prepared("averaged"), prepared("averaged-crash")
    train(straight, averaging)
    latest, best = Checkpoint.load(straight.checkpoint_path), Checkpoint.load(straight.best_path)
    assert latest.step == 24 and latest.averaged is not None and best.averaged is not None
    for name, tensor in best.averaged.items():
        assert torch.equal(best.model[name], tensor), "best.pt holds the average"
    assert any(not torch.equal(latest.model[name], tensor) for name, tensor in latest.averaged.items())
    tokens, cpu = straight.tokens("val"), torch.device("cpu")
    streams = StreamBatches(tokens, validation_batch_size(len(tokens), 8, 16), 16, "val")
    chars = torch.from_numpy(straight.vocabulary().token_lengths())
    scored, _ = evaluate(best.build_model(straight.best_path), DeviceBatches(streams, cpu), 50, chars, cpu)
    assert scored == pytest.approx(best.best_val_loss, rel=1e-6), "validation scored the average"
    with pytest.raises(MemoryError):
        train(crashed, averaging, on_step=crash_at(13))
    train(crashed, averaging, resume=True)
    assert_same_training(straight, crashed)
    resumed = Checkpoint.load(crashed.checkpoint_path)
    for name, tensor in latest.averaged.items():
        assert torch.equal(resumed.averaged[name], tensor), "the average resumes where it stood"


def test_a_weight_average_missing_a_parameter_is_one_line(prepared, invoke):
    """An average that lacks one of the model's parameters is damaged, not an average of the rest; a tied head's weight
    is the embedding's, which the average keeps under one name."""
    tied = prepared("tied-average")
    train(tied, TINY_TRAIN.with_settings(max_steps=3, ema_decay=0.9, hidden=16, tie_weights=True))
    assert Checkpoint.load(tied.checkpoint_path).averaged is not None
    run = prepared("partial-average")
    train(run, TINY_TRAIN.with_settings(max_steps=3, ema_decay=0.9))
    payload = torch.load(run.checkpoint_path, weights_only=True)
    del payload["averaged"]["rnn.weight_hh_l0"]
    torch.save(payload, run.checkpoint_path)
    with pytest.raises(CheckpointError, match="checkpoint.pt is damaged: its weight average lacks rnn.weight_hh_l0"):
        Checkpoint.load(run.checkpoint_path)
    run.best_path.unlink()
    sampled = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--max-length", 5)
    assert_user_error(sampled, "checkpoint.pt is damaged: its weight average lacks rnn.weight_hh_l0")


def test_the_output_prior_starts_the_model_at_the_training_tokens_frequencies(prepared):
    """With --output-prior an untrained model scores the validation text as the training tokens' add-one-smoothed
    frequencies do, well under the log of the vocabulary, where PyTorch's initialisation leaves it."""
    run = prepared("prior")
    vocab = len(run.vocabulary())
    counts = np.bincount(np.asarray(run.tokens("train")), minlength=vocab)
    val = np.asarray(run.tokens("val"))
    unigram = float(-np.log(((counts + 1) / (counts.sum() + vocab))[val]).mean())
    assert unigram < math.log(vocab) - 0.25, "the rhymes' letters are far from equally common"
    untrained = TINY_TRAIN.with_settings(max_steps=1, eval_every=1, save_every=1, eval_batches=1000, lr=1e-9, warmup_steps=0)
    losses = {}
    for prior in (True, False):
        train(run, untrained.with_settings(output_prior=prior), restart=True)
        losses[prior] = metrics(run)[-1]["val_loss"]
    assert losses[True] == pytest.approx(unigram, rel=0.03)
    assert losses[False] > unigram + 0.25 and losses[False] == pytest.approx(math.log(vocab), rel=0.1)
    with pytest.raises(ConfigError, match="--resume cannot change --output-prior"):
        train(run, untrained.with_settings(max_steps=2, output_prior=True), resume=True)  # trained without it last
