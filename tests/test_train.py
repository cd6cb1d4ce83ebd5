import dataclasses
import json
import math
import os
import signal

import pytest
import torch
from tiny import TINY_TRAIN

from charmony.pipeline.checkpoint import load_checkpoint
from charmony.pipeline.errors import CheckpointError, ConfigError, RunError
from charmony.pipeline.prepare import PrepareConfig, prepare
from charmony.pipeline.runs import Run
from charmony.pipeline.train import Diverged, TrainConfig, load_train_config, train

RESUMABLE = dataclasses.replace(
    TINY_TRAIN, layers=2, dropout=0.2, max_steps=24, eval_every=6, save_every=8, log_every=4
)


def metrics(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.metrics_path.read_text().splitlines()]


def send_at(stop_step: int, signum: int):
    def on_step(step: int) -> None:
        if step == stop_step:
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
    final_a = load_checkpoint(straight.checkpoint_path)["model"]
    final_b = load_checkpoint(resumed.checkpoint_path)["model"]
    for name in final_a:
        assert torch.equal(final_a[name], final_b[name]), name


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_saves_and_resume_matches_an_uninterrupted_run(prepared, signum):
    straight, resumed = prepared("straight"), prepared("resumed")
    train(straight, RESUMABLE)

    # Step 9 is inside a logging interval, so the interval's partial loss must survive too.
    first = train(resumed, RESUMABLE, on_step=send_at(9, signum))
    assert first.interrupted and first.step == 9
    assert load_checkpoint(resumed.checkpoint_path)["step"] == 9
    second = train(resumed, load_train_config(resumed), resume=True)
    assert not second.interrupted and second.step == RESUMABLE.max_steps
    assert_same_training(straight, resumed)


def test_a_crash_resumes_from_the_last_periodic_checkpoint(prepared):
    straight, crashed = prepared("straight"), prepared("crashed")
    train(straight, RESUMABLE)
    with pytest.raises(MemoryError):
        train(crashed, RESUMABLE, on_step=crash_at(13))
    assert load_checkpoint(crashed.checkpoint_path)["step"] == 8
    with crashed.metrics_path.open("a") as log:
        log.write('{"step": 13, "train_lo')  # a line cut short by the crash
    train(crashed, load_train_config(crashed), resume=True)
    assert_same_training(straight, crashed)


def test_metrics_lines_hold_the_promised_fields(prepared):
    run = prepared("metrics")
    result = train(run, dataclasses.replace(TINY_TRAIN, max_steps=20, eval_every=10, log_every=5))
    lines = metrics(run)
    assert [m["step"] for m in lines] == [5, 10, 15, 20]
    for line in lines:
        assert {"step", "train_loss", "lr", "tokens_per_sec"} <= set(line)
    evaluated = [m for m in lines if "val_loss" in m]
    assert [m["step"] for m in evaluated] == [10, 20]
    assert all(m["val_bpc"] == pytest.approx(m["val_loss"] / 0.6931471805599453) for m in evaluated)
    assert result.best_val_loss == min(m["val_loss"] for m in evaluated)
    assert load_checkpoint(run.best_path)["best_val_loss"] == result.best_val_loss


def test_checkpoint_is_plain_data_loaded_without_unpickling_code(prepared):
    run = prepared("plain")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=5))
    payload = torch.load(run.checkpoint_path, weights_only=True)
    assert payload["step"] == 5
    assert {"model", "optimizer", "scheduler", "rng", "model_config", "train_config", "vocab_sha256"} <= set(payload)
    assert TrainConfig.from_json(payload["train_config"]).hidden == TINY_TRAIN.hidden
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")], "no temporary files are left"


def test_training_again_without_resume_refuses_to_overwrite(prepared):
    run = prepared("twice")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    before = run.checkpoint_path.read_bytes()
    with pytest.raises(ConfigError, match="already has a checkpoint; continue it with --resume"):
        train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    assert run.checkpoint_path.read_bytes() == before
    assert train(run, dataclasses.replace(TINY_TRAIN, max_steps=3), restart=True).step == 3


def test_resume_refuses_to_change_the_model_shape(prepared):
    run = prepared("shape")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    with pytest.raises(ConfigError, match=r"--resume cannot change --hidden; drop those options"):
        train(run, dataclasses.replace(TINY_TRAIN, hidden=64, max_steps=6), resume=True)
    with pytest.raises(ConfigError, match=r"--resume cannot change --seq-len"):
        train(run, dataclasses.replace(TINY_TRAIN, batch_size=4, seq_len=8, max_steps=6), resume=True)
    with pytest.raises(ConfigError, match=r"cannot change the number of streams .*: 8 when saved, 4 x 1 now; drop --batch-size"):
        train(run, dataclasses.replace(TINY_TRAIN, batch_size=4, max_steps=6), resume=True)


def test_truncated_checkpoint_is_reported(prepared):
    run = prepared("truncated")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    data = run.checkpoint_path.read_bytes()
    run.checkpoint_path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train(run, TINY_TRAIN, resume=True)


def test_checkpoint_from_another_vocabulary_is_refused(prepared, tmp_path):
    run = prepared("vocab")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    other = tmp_path / "other.txt"
    other.write_text("a completely different alphabet: XYZ 123 " * 200)
    prepare(run, PrepareConfig("text", [other], force=True))
    with pytest.raises(CheckpointError, match="different vocabulary"):
        train(run, TINY_TRAIN, resume=True)


@pytest.mark.parametrize("option,value", [("lr", float("nan")), ("lr", -1.0), ("max_minutes", float("inf")), ("batch_size", 0)])
def test_nonsense_settings_are_refused(option, value):
    with pytest.raises(ConfigError, match=f"--{option.replace('_', '-')} must be"):
        dataclasses.replace(TINY_TRAIN, **{option: value})


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
        train(prepared("cuda"), dataclasses.replace(TINY_TRAIN, device="cuda"))


def test_a_run_that_died_before_its_first_save_points_to_restart(prepared):
    run = prepared("early")
    with pytest.raises(MemoryError):
        train(run, dataclasses.replace(TINY_TRAIN, eval_every=5, save_every=100), on_step=crash_at(7))
    assert run.best_path.exists() and not run.checkpoint_path.exists()
    with pytest.raises(CheckpointError, match="only best.pt, which cannot be resumed; start over with --restart"):
        train(run, TINY_TRAIN, resume=True)
    with pytest.raises(ConfigError, match="or start over with --restart"):
        train(run, TINY_TRAIN)


def test_resume_refuses_a_new_seed_and_a_finished_run(prepared):
    run = prepared("finished")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=6))
    with pytest.raises(ConfigError, match="--resume cannot change --seed"):
        train(run, dataclasses.replace(TINY_TRAIN, max_steps=12, seed=5), resume=True)
    with pytest.raises(ConfigError, match="already at step 6, and --max-steps is 6; give a larger --max-steps"):
        train(run, dataclasses.replace(TINY_TRAIN, max_steps=6), resume=True)
    assert load_checkpoint(run.checkpoint_path)["train_config"]["max_steps"] == 6


def test_divergence_stops_with_a_message_and_keeps_the_log_valid(prepared):
    run = prepared("diverged")
    with pytest.raises(Diverged, match="diverged by step .* resume or restart with a lower --lr"):
        train(run, dataclasses.replace(TINY_TRAIN, lr=1e30, log_every=1, save_every=1, max_steps=50))
    lines = [json.loads(line) for line in run.metrics_path.read_text().splitlines()]  # strict JSON: no NaN
    assert lines and all(math.isfinite(line["train_loss"]) for line in lines)
    assert load_checkpoint(run.checkpoint_path)["step"] == lines[-1]["step"]


def test_compile_trains_the_same_model(prepared):
    plain, compiled = prepared("plain"), prepared("compiled")
    config = dataclasses.replace(TINY_TRAIN, max_steps=4, eval_every=4, log_every=2, warmup_steps=0)
    train(plain, config)
    train(compiled, dataclasses.replace(config, compile=True))
    for x, y in zip(metrics(plain), metrics(compiled)):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=1e-4)
    assert load_checkpoint(compiled.checkpoint_path)["train_config"]["compile"] is True
    assert set(load_checkpoint(compiled.checkpoint_path)["model"]) == set(load_checkpoint(plain.checkpoint_path)["model"])


def test_running_out_of_memory_is_one_line_and_keeps_the_checkpoint(prepared, invoke):
    run = prepared("oom")
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=3))
    before = run.checkpoint_path.read_bytes()
    # A real allocation failure: 3 million units make LSTM weights of over a hundred terabytes.
    result = invoke("train", run.name, "--runs-dir", run.dir.parent, "--restart", "--hidden", 3_000_000,
                    "--batch-size", 8, "--seq-len", 16, "--device", "cpu")
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: out of memory (")
    assert "lower --batch-size, --seq-len" in lines[0]
    assert run.checkpoint_path.read_bytes() == before
