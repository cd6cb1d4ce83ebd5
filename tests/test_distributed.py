"""Training in several processes (DistributedDataParallel over gloo on the CPU), launched by `train --nproc`."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tiny import RHYMES, TINY_TRAIN

from charmony.pipeline.training.checkpoint import Checkpoint
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.folder import Run
from charmony.pipeline.training.train import train

pytestmark = pytest.mark.slow  # every test here starts training processes

# One process with 8 streams against two processes with 4 streams each.
SETTINGS = TINY_TRAIN.with_settings(batch_size=8, max_steps=16, eval_every=8, save_every=8, log_every=4)
WORKER_OPTIONS = ["--device", "cpu", "--layers", "1", "--hidden", "32", "--embedding", "16", "--seq-len", "16",
                  "--lr", "0.01", "--warmup-steps", "10", "--max-steps", "16", "--eval-every", "8", "--save-every", "8",
                  "--log-every", "4"]
# Two processes sum their gradients and losses in another order than one process does.
TOLERANCE = 1e-5
LAUNCH_TIMEOUT = 300  # seconds; a hung job fails the test instead of CI


def metrics(run: Run) -> list[dict]:
    return [json.loads(line) for line in run.metrics_path.read_text().splitlines()]


def charmony(*args, timeout=LAUNCH_TIMEOUT, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "charmony", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, **kwargs)


@pytest.fixture(scope="module")
def one_process(tmp_path_factory) -> Run:
    """The reference: one process training 8 streams, on the rhymes of the `prepared` fixture."""
    corpus = tmp_path_factory.mktemp("one") / "rhymes.txt"
    corpus.write_text("\n\n".join(RHYMES * 6), encoding="utf-8")
    run = Run(corpus.parent / "runs" / "one")
    prepare(run, PrepareConfig("text", [corpus], options={"split": "blank"}))
    train(run, SETTINGS)
    return run


def assert_same_losses(reference: list[dict], other: list[dict]) -> None:
    assert [m["step"] for m in other] == [m["step"] for m in reference]
    for x, y in zip(reference, other):
        assert y["train_loss"] == pytest.approx(x["train_loss"], rel=TOLERANCE)
        assert ("val_loss" in x) == ("val_loss" in y)
        if "val_loss" in x:
            assert y["val_loss"] == pytest.approx(x["val_loss"], rel=TOLERANCE)


def test_two_processes_train_as_one_process_with_their_streams_together(one_process, prepared):
    run = prepared("two")
    done = charmony("train", run.name, "--runs-dir", run.dir.parent, "--nproc", 2, "--batch-size", 4, *WORKER_OPTIONS)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("trained run 'two' to step 16") == 1, "only process 0 reports"
    assert_same_losses(metrics(one_process), metrics(run))
    assert [m["step"] for m in metrics(run) if "val_loss" in m] == [8, 16]
    saved = Checkpoint.load(run.checkpoint_path)
    assert saved.world_size == 2 and saved.step == 16
    assert saved.state[0].shape == (1, 8, 32), "the hidden state of all 8 streams is saved"
    assert len(saved.rng) == 2
    reference = Checkpoint.load(one_process.checkpoint_path)
    for name, weights in reference.model.items():
        # Adam turns the smallest rounding differences of near-zero gradients into whole steps, so
        # single weights may differ by a step; the weights as a whole agree closely.
        difference = torch.linalg.norm(saved.model[name] - weights) / torch.linalg.norm(weights)
        assert difference < 1e-3, (name, float(difference))
    assert not [p for p in run.dir.iterdir() if p.name.endswith(".tmp")]


def test_resume_in_two_processes_continues_a_one_process_run(one_process, prepared, invoke):
    run = prepared("grown")

    def crash_at(step):
        if step == 10:
            raise MemoryError("the machine fell over")

    with pytest.raises(MemoryError):
        train(run, SETTINGS, on_step=crash_at)
    assert Checkpoint.load(run.checkpoint_path).step == 8
    # The 8 saved streams are shared out: --batch-size becomes 4 for each of the 2 processes.
    done = charmony("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--nproc", 2)
    assert done.returncode == 0, done.stderr
    assert_same_losses(metrics(one_process), metrics(run))
    assert Checkpoint.load(run.checkpoint_path).train_config.batch_size == 4

    result = invoke("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--nproc", 3, "--max-steps", 20)
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1] == (
        "Error: the checkpoint trains 8 streams, which 3 processes cannot share evenly; "
        "resume with a number of processes that divides 8"
    )


def test_nproc_beyond_the_gpus_of_the_machine(prepared, invoke, monkeypatch):
    run = prepared("gpus")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # as on a machine with one GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    result = invoke("train", run.name, "--runs-dir", run.dir.parent, "--nproc", 2, "--device", "cuda")
    assert result.exit_code == 1
    assert result.output == "Error: --nproc 2 needs 2 GPUs but this machine has 1; use fewer processes, or --device cpu\n"


def test_nproc_under_torchrun_is_refused(prepared, invoke, monkeypatch):
    run = prepared("nested")
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "2")
    result = invoke("train", run.name, "--runs-dir", run.dir.parent, "--nproc", 2)
    assert result.output == "Error: --nproc launches processes itself; under torchrun, leave it out\n"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def worker_of_rank(parent: int, rank: int) -> int:
    for pid in children(parent):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return pid
    raise AssertionError(f"no process of rank {rank} under {parent}")


def start_long_job(run: Run) -> subprocess.Popen:
    job = subprocess.Popen(
        [sys.executable, "-m", "charmony", "train", run.name, "--runs-dir", str(run.dir.parent), "--nproc", "2",
         "--batch-size", "4", *WORKER_OPTIONS[:-6], "--max-steps", "100000", "--eval-every", "1000", "--log-every", "4",
         "--save-every", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + LAUNCH_TIMEOUT
    while not (run.metrics_path.exists() and run.metrics_path.read_text().count("\n") >= 3):
        assert job.poll() is None, job.communicate()
        assert time.monotonic() < deadline, "training never started"
        time.sleep(0.2)
    return job


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds the training processes through /proc")
def test_a_process_that_dies_ends_the_whole_job_with_a_message(prepared):
    run = prepared("dies")
    job = start_long_job(run)
    try:
        os.kill(worker_of_rank(job.pid, 1), signal.SIGKILL)
        out, err = job.communicate(timeout=LAUNCH_TIMEOUT)
    finally:
        job.kill()
    assert job.returncode == 1
    assert err.strip().splitlines() == ["Error: training process 1 of 2 was killed by SIGKILL, so the job stopped"], (
        "one line: neither its partner's traceback nor the launcher's log")
    assert Checkpoint.load(run.checkpoint_path).step % 8 == 0, "the last periodic checkpoint is intact"


def test_ctrl_c_stops_every_process_at_a_saved_step_and_resume_goes_on(prepared):
    run = prepared("stopped")
    job = start_long_job(run)
    try:
        job.send_signal(signal.SIGINT)
        out, err = job.communicate(timeout=LAUNCH_TIMEOUT)
    finally:
        job.kill()
    assert job.returncode == 130, err
    assert "continue with: charmony train stopped --resume --nproc 2" in out
    saved = Checkpoint.load(run.checkpoint_path)
    assert saved.step % 4 == 0, "the processes agree to stop at a log line"
    assert metrics(run)[-1]["step"] == saved.step
    done = charmony("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--nproc", 2, "--max-steps", saved.step + 4)
    assert done.returncode == 0, done.stderr
    assert metrics(run)[-1]["step"] == saved.step + 4


def test_a_process_whose_partner_died_waits_to_be_stopped_quietly_and_else_goes_on_to_tell_its_error():
    # 'waiting' is printed when the wait begins, after await_launcher set SIGTERM back: printed before the call,
    # a SIGTERM sent on a busy machine could reach the handler that ignores it first
    waiting = ("import signal, sys, time; from charmony.pipeline.training import distributed as d; "
               "signal.signal(signal.SIGTERM, lambda *a: None); d.PARTNER_GRACE_SECONDS = float(sys.argv[1]); "
               "sleep = time.sleep; time.sleep = lambda s: (print('waiting', flush=True), sleep(s)); "
               "d.await_launcher(); print('telling its error')")
    stopped = subprocess.Popen([sys.executable, "-c", waiting, "60"], stdout=subprocess.PIPE, text=True)
    try:
        assert stopped.stdout.readline() == "waiting\n"
        stopped.send_signal(signal.SIGTERM)  # as the launcher does when it sees the partner gone
        assert stopped.wait(timeout=30) == -signal.SIGTERM, "SIGTERM ends it at once, silently"
        assert stopped.stdout.read() == ""
    finally:
        stopped.kill()
    alone = subprocess.run([sys.executable, "-c", waiting, "0.1"], capture_output=True, text=True, timeout=60)
    assert alone.returncode == 0 and alone.stdout == "waiting\ntelling its error\n"


def test_a_process_the_launcher_stopped_while_it_worked_ends_by_that_signal_when_its_work_then_fails():
    # the launcher's one SIGTERM reached the training loop's handler (a request to stop after the step); the step's
    # collectives then failed, as the partner is gone, and no second SIGTERM comes: it must not wait to tell its error
    stopped_at_work = ("import os, signal; from charmony.pipeline.system.interrupt import stop_on_interrupt; "
                       "from charmony.pipeline.training import distributed as d; d.PARTNER_GRACE_SECONDS = 60\n"
                       "with stop_on_interrupt() as requested:\n    os.kill(os.getpid(), signal.SIGTERM)\n"
                       "    assert requested.wait(10)\n"
                       "d.await_launcher(); print('telling its error')")
    done = subprocess.run([sys.executable, "-c", stopped_at_work], capture_output=True, text=True, timeout=30)
    assert done.returncode == -signal.SIGTERM and done.stdout == "" and done.stderr == ""
