"""One writer per run: real concurrent commands, a killed holder, what it left behind, file permissions."""

import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

from tiny import TINY_TRAIN

from assertions import assert_user_error

from charmony.pipeline.run.lock import folder_lock, lock_path, run_lock
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.sampling.sample import sample
from charmony.pipeline.sampling.folder import write_samples
from charmony.pipeline.training.train import train

TINY = ["--layers", "1", "--hidden", "32", "--embedding", "16", "--seq-len", "16", "--batch-size", "8",
        "--lr", "0.01", "--device", "cpu", "--threads", "1"]


def charmony(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "charmony", *map(str, args)], capture_output=True, text=True,
                          timeout=120, **kwargs)


def last_step(metrics) -> int:
    lines = metrics.read_text().splitlines() if metrics.exists() else []
    return json.loads(lines[-1])["step"] if lines else 0


def start_training(runs_dir, *extra, past_step=0) -> subprocess.Popen:
    """A long training in another process, once it has logged a step beyond `past_step`."""
    process = subprocess.Popen(
        [sys.executable, "-m", "charmony", "train", "--runs-dir", str(runs_dir), "--max-steps", "100000",
         "--log-every", "1", "--save-every", "1", *TINY, *map(str, extra)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    metrics = runs_dir / "text" / "metrics.jsonl"
    deadline = time.monotonic() + 90
    while last_step(metrics) <= past_step and time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.05)
    return process


@pytest.mark.slow
def test_a_second_command_on_a_busy_run_names_the_holder_and_a_killed_holder_is_taken_over(rhymes_file, runs_dir):
    assert charmony("prepare", "text", "--source", rhymes_file, "--runs-dir", runs_dir).returncode == 0
    first = start_training(runs_dir)
    try:
        for args in (("train", "--resume"), ("prepare", "text", "--source", rhymes_file), ("sample", "--max-length", 5)):
            refused = charmony(*args, "--runs-dir", runs_dir)
            assert refused.returncode == 1, refused.stderr
            assert refused.stderr.strip().splitlines() == [refused.stderr.strip()], "one line"
            assert f"Error: run 'text' is in use by `charmony train` (PID {first.pid}, since " in refused.stderr
        assert "or sample into another folder with --out DIR" in refused.stderr
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        first.kill()
    run = Run(runs_dir / "text")
    # What the killed process would have left, had it died while writing.
    (run.dir / ".checkpoint.pt.abc123.tmp").write_bytes(b"half a checkpoint")
    (runs_dir / ".text.prepare-xyz").mkdir()
    (runs_dir / ".text.prepare-xyz" / "train.bin").write_bytes(b"\0")
    step = json.loads(run.metrics_path.read_text().splitlines()[-1])["step"]
    resumed = charmony("train", "--runs-dir", runs_dir, "--resume", "--max-steps", step + 3, "--threads", "1")
    assert resumed.returncode == 0, resumed.stderr
    assert not (run.dir / ".checkpoint.pt.abc123.tmp").exists() and not (runs_dir / ".text.prepare-xyz").exists()
    assert json.loads(lock_path(run).read_text())["pid"] != first.pid


@pytest.mark.slow
def test_two_prepares_of_one_run_never_mix(tmp_path, runs_dir):
    sources = []
    for letter in "ab":
        source = tmp_path / f"{letter}.txt"
        source.write_text((letter * 50 + "\n") * 20_000)
        sources.append(source)
    processes = [subprocess.Popen([sys.executable, "-m", "charmony", "prepare", "text", "--source", str(source),
                                   "--run", "mixed", "--runs-dir", str(runs_dir)],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for source in sources]
    results = [process.communicate(timeout=120) + (process.returncode,) for process in processes]
    assert any(code == 0 for _, _, code in results)
    for _, err, code in results:
        assert code == 0 or "Error: run 'mixed' is in use by `charmony prepare`" in err
    run = Run(runs_dir / "mixed")
    manifest, vocab = run.manifest(), run.vocabulary()
    assert manifest.vocab_sha256 == vocab.sha256 and manifest.sources[0].path in map(str, sources)
    letter = vocab.decode(run.tokens("train")[:1].tolist())
    assert manifest.sources[0].path == str(tmp_path / f"{letter}.txt"), "the token files come from the manifest's source"


def test_files_follow_the_users_umask(prepared, tmp_path):
    previous = os.umask(0o022)
    try:
        run = prepared("modes")
        train(run, TINY_TRAIN.with_settings(max_steps=3))
        samples, metadata = sample(run, SampleConfig(num_samples=1, max_length=5, seed=1, device="cpu"))
        write_samples(samples, metadata, tmp_path / "out", ".txt", [])
    finally:
        os.umask(previous)
    written = [run.manifest_path, run.vocab_path, run.split_path("train"), run.checkpoint_path, run.best_path,
               run.metrics_path, tmp_path / "out" / "samples.json", lock_path(run)]
    assert {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in written} == {path.name: "0o644" for path in written}


@pytest.mark.slow
def test_a_training_job_of_several_processes_is_one_holder(rhymes_file, runs_dir):
    assert charmony("prepare", "text", "--source", rhymes_file, "--runs-dir", runs_dir).returncode == 0
    run = Run(runs_dir / "text")
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "charmony",
                "train", "--runs-dir", str(runs_dir), *TINY, "--batch-size", "4", "--max-steps", "4", "--eval-every", "2"]
    with run_lock(run, "prepare"):  # under torchrun, process 0 asks for the lock for all, and the whole job is turned away
        refused = subprocess.run(torchrun, capture_output=True, text=True, timeout=120)
    assert refused.returncode != 0
    assert refused.stderr.count(f"Error: run 'text' is in use by `charmony prepare` (PID {os.getpid()}, since ") == 2, refused.stderr
    assert "terminate called" not in refused.stderr and "exitcode  : -6" not in refused.stderr, "each process left cleanly"
    trained = subprocess.run(torchrun, capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0 and "trained run 'text' to step 4" in trained.stdout, trained.stderr

    job = start_training(runs_dir, "--batch-size", 4, "--resume", "--nproc", 2, past_step=4)
    try:  # the launcher of --nproc holds the lock for its processes
        busy = charmony("sample", "--runs-dir", runs_dir, "--max-length", 5)
        assert busy.returncode == 1 and f"is in use by `charmony train` (PID {job.pid}, since " in busy.stderr, busy.stderr
        job.send_signal(signal.SIGTERM)
        assert job.wait(timeout=90) == 130, job.stderr.read()
    finally:
        job.kill()
    assert charmony("sample", "--runs-dir", runs_dir, "--max-length", 5, "--seed", 1).returncode == 0


def test_taking_the_lock_removes_what_a_killed_holder_left_and_nothing_else(tmp_path):
    run = Run(tmp_path / "runs" / "poems")
    folder = run.samples_dir / "step000010-seed1"
    (folder / ".charmony-render-x1y2").mkdir(parents=True)
    (folder / ".charmony-render-x1y2" / "sample_001.mid").write_bytes(b"MThd")
    (folder / ".sample_002.txt.k3.tmp").write_text("half a sample")
    (folder / "sample_001.txt").write_text("a whole sample")
    (run.dir / ".metrics.jsonl.q9.tmp").write_text("{")
    with run_lock(run, "sample"):
        pass
    assert sorted(p.name for p in folder.iterdir()) == ["sample_001.txt"]
    assert not (run.dir / ".metrics.jsonl.q9.tmp").exists() and (run.dir / ".lock").exists()


def test_a_second_sample_into_a_busy_out_folder_names_the_first_and_the_lock_goes_with_it(trained_run, invoke, tmp_path):
    out = tmp_path / "out"
    args = ("sample", "rhymes", "--runs-dir", trained_run.dir.parent, "--max-length", 5, "--seed", 1, "--out", out)
    with folder_lock(out, "sample"):  # as a first `charmony sample --out` holds it while it writes
        refused = invoke(*args)
        assert sorted(p.name for p in out.iterdir()) == [".lock"], "the second wrote nothing"
    assert_user_error(refused, f"folder {out} is in use by `charmony sample` (PID {os.getpid()}, since ")
    assert not out.exists(), "a folder made only for the lock goes with it"
    out.mkdir()
    (out / ".charmony-render-k1").mkdir()  # what a killed `sample --out` leaves behind
    (out / ".sample_001.txt.k2.tmp").write_text("half a sample")
    assert invoke(*args).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["sample_001.txt", "samples.json"], "no lock, no leftovers"
