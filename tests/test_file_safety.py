"""Files on a full disk, planted links and damaged files: one line and a non-zero exit, nothing lost or left half-written."""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import torch

from assertions import assert_user_error
from tiny import TINY_TRAIN

from charmony.pipeline.abc.render import soundfont
from charmony.pipeline.run.lock import run_lock
from charmony.pipeline.run.previous import PreviousTraining, aside_path
from charmony.pipeline.training.train import train

TUNE = """X:1
T:Long
M:4/4
L:1/4
K:G
|: G A B c | d2 d B | c B A G | A4 :|
|: G A B c | d2 d B | c B A G | A4 :|
"""

# Runs the CLI with files limited to argv[1] bytes; SIGXFSZ ignored, so a longer write fails as on a full disk.
LIMITED_CLI = """
import resource, signal, sys
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (int(sys.argv[1]), resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
from charmony.cli import main
sys.argv = ["charmony", *sys.argv[2:]]
main()
"""


def on_a_full_disk(limit: int, *args, **kwargs) -> subprocess.CompletedProcess:
    """`charmony ARGS` in a child process whose files cannot grow past `limit` bytes."""
    return subprocess.run([sys.executable, "-c", LIMITED_CLI, str(limit), *map(str, args)], capture_output=True,
                          text=True, timeout=300, **kwargs)


@contextmanager
def file_size_limit(limit: int):
    """Limit this process' files to `limit` bytes, a write past it failing as on a full disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, previous)


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.strip()]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under `folder` by its relative path, with its bytes."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*")) if path.is_file()}


def no_fluidsynth_path(tmp_path: Path) -> str:
    empty = tmp_path / "bin"
    empty.mkdir(exist_ok=True)
    return str(empty)


@pytest.mark.parametrize("player", ["fluidsynth", "built-in"])
def test_audio_rendered_on_a_full_disk_is_an_error_and_leaves_no_file(tmp_path, player):
    if player == "fluidsynth" and (shutil.which("fluidsynth") is None or soundfont() is None):
        pytest.skip("FluidSynth or its SoundFont is not installed")
    (tmp_path / "tune.abc").write_text(TUNE)
    env = dict(os.environ) if player == "fluidsynth" else dict(os.environ, PATH=no_fluidsynth_path(tmp_path))
    out = tmp_path / "out"
    done = on_a_full_disk(65536, "render", tmp_path / "tune.abc", "--to", "audio", "--out", out, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "-> " not in done.stdout and "Traceback" not in done.stderr
    [line] = error_lines(done.stderr)
    assert "tune 1 (line 1) is not rendered" in line and ("File too large" in line or "disk full" in line), line
    assert list(out.iterdir()) == [], "no WAV, cut short or whole, and no scratch folder"


def test_a_wav_that_fluidsynth_cut_short_is_an_error(tmp_path):
    if soundfont() is None:
        pytest.skip("no General MIDI SoundFont is installed")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # A FluidSynth that writes a second of silence however long the tune, and says nothing: a disk that filled up silently.
    fake = bin_dir / "fluidsynth"
    fake.write_text(f"#!{sys.executable}\nimport sys, wave\ntarget = sys.argv[sys.argv.index('-F') + 1]\n"
                    "with wave.open(target, 'wb') as out:\n"
                    "    out.setnchannels(2); out.setsampwidth(2); out.setframerate(44100); out.writeframes(bytes(4 * 44100))\n")
    fake.chmod(0o755)
    (tmp_path / "tune.abc").write_text(TUNE)
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "charmony", "render", str(tmp_path / "tune.abc"), "--to", "audio", "--out", str(out)],
                          capture_output=True, text=True, timeout=300, env=dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}"))
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert "FluidSynth wrote only 1.0 s of the 32.0 s tune; is the disk full?" in line, line
    assert list(out.iterdir()) == []


def test_sampling_into_the_run_on_a_full_disk_leaves_nothing(trained_run, copy_of):
    run = copy_of(trained_run)
    before = snapshot(run.dir)
    done = on_a_full_disk(2000, "sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", 16, "--max-length", 40,
                          "--seed", 1, "--device", "cpu")
    assert done.returncode == 1, done.stdout + done.stderr
    [line] = error_lines(done.stderr)
    assert line.startswith("Error: cannot write the samples into ") and "is the disk full? Nothing of this set was kept" in line
    assert {name: data for name, data in snapshot(run.dir).items() if name != ".lock"} == \
        {name: data for name, data in before.items() if name != ".lock"}, "nothing of the set is left"


def test_sampling_into_a_used_folder_on_a_full_disk_keeps_the_earlier_set(trained_run, copy_of, invoke, tmp_path):
    run = copy_of(trained_run)
    out = tmp_path / "out"
    common = ("--runs-dir", run.dir.parent, "--max-length", 40, "--device", "cpu", "--out", out)
    assert invoke("sample", run.name, *common, "--num-samples", 2, "--seed", 1).exit_code == 0
    before = snapshot(out)
    done = on_a_full_disk(2000, "sample", run.name, *common, "--num-samples", 16, "--seed", 2)
    assert done.returncode == 1 and "Error: cannot write the samples" in done.stderr, done.stderr
    assert snapshot(out) == before
    assert sorted(path.name for path in out.iterdir()) == ["sample_001.txt", "sample_002.txt", "samples.json"]


def test_a_restart_on_a_full_disk_keeps_the_earlier_training(prepared, invoke):
    run = prepared("restart-full")
    train(run, TINY_TRAIN.with_settings(max_steps=4, eval_every=2, log_every=1))
    before = snapshot(run.dir)
    with file_size_limit(run.checkpoint_path.stat().st_size // 2):
        restarted = invoke("train", run.name, "--runs-dir", run.dir.parent, "--restart", "--max-steps", 4, "--eval-every", 2,
                           "--layers", 1, "--hidden", 32, "--embedding", 16, "--seq-len", 16, "--batch-size", 8, "--device", "cpu")
    assert_user_error(restarted, "cannot write", "is the disk full? The previous checkpoint is kept")
    after = snapshot(run.dir)
    for name in ("checkpoint.pt", "best.pt", "metrics.jsonl"):
        assert after[name] == before[name], f"{name} changed"
    assert not [name for name in after if name.endswith((".tmp", ".previous"))]


def test_a_killed_restart_is_settled_when_the_run_is_next_locked(prepared):
    run = prepared("restart-killed")
    train(run, TINY_TRAIN.with_settings(max_steps=4, eval_every=2))
    before = snapshot(run.dir)
    PreviousTraining(run)  # set aside, and then the process is killed before it saves or puts them back
    run.metrics_path.write_text('{"step": 1}\n')  # what the new training logged before it was killed
    with run_lock(run, "train"):
        pass
    assert {name: data for name, data in snapshot(run.dir).items() if name in before and name != ".lock"} == \
        {name: data for name, data in before.items() if name != ".lock"}
    assert not aside_path(run.checkpoint_path).exists() and not aside_path(run.metrics_path).exists()
    # A restart killed after it saved a checkpoint keeps the new training.
    PreviousTraining(run)
    run.best_path.write_bytes(b"new")
    with run_lock(run, "train"):
        pass
    assert run.best_path.read_bytes() == b"new" and not run.checkpoint_path.exists()
    assert not [path for path in run.dir.iterdir() if path.name.endswith(".previous")]


@pytest.fixture
def linked_samples(trained_run, copy_of, invoke, tmp_path):
    """A run whose only set of samples has sample_001.txt replaced by a link to a secret file."""
    run = copy_of(trained_run)
    shutil.rmtree(run.samples_dir, ignore_errors=True)  # other tests may have sampled into the shared run
    assert invoke("sample", run.name, "--runs-dir", run.dir.parent, "--num-samples", 2, "--max-length", 20,
                  "--seed", 1, "--device", "cpu").exit_code == 0
    [folder] = run.samples_dir.iterdir()
    secret = tmp_path / "passwd"
    secret.write_text("root:x:0:0:root:/root:/bin/bash\n")
    (folder / "sample_001.txt").unlink()
    (folder / "sample_001.txt").symlink_to(secret)
    return run, folder


def test_the_gallery_refuses_a_linked_sample_and_publishes_nothing(linked_samples, invoke):
    run, folder = linked_samples
    made = invoke("gallery", run.name, "--runs-dir", run.dir.parent)
    assert_user_error(made, "sample_001.txt: a symbolic link, not a plain file")
    assert not (run.dir / "gallery").exists()
    assert not [path for path in run.dir.iterdir() if path.name.startswith(".gallery")]


def test_the_gallery_never_links_a_linked_rendered_file(linked_samples, invoke, tmp_path):
    run, folder = linked_samples
    (folder / "sample_001.txt").unlink()
    (folder / "sample_001.txt").write_text("plain")
    (folder / "samples.json").rename(folder / "real.json")
    (folder / "samples.json").symlink_to(folder / "real.json")
    made = invoke("gallery", run.name, "--runs-dir", run.dir.parent)
    assert_user_error(made, "samples.json: a symbolic link, not a plain file")


def test_evaluate_and_render_refuse_a_linked_sample(linked_samples, invoke):
    run, folder = linked_samples
    assert_user_error(invoke("evaluate", folder, "--run", run.name, "--runs-dir", run.dir.parent),
                      "sample_001.txt: a symbolic link, not a plain file")
    rendered = invoke("render", folder / "sample_001.txt", "--to", "poem", "--out", folder.parent / "rendered")
    assert rendered.exit_code == 1
    assert "sample_001.txt: a symbolic link, not a plain file" in rendered.output and "root:x" not in rendered.output


def test_a_metrics_line_that_is_not_utf8_does_not_stop_a_resume(prepared, invoke):
    run = prepared("metrics-bytes")
    train(run, TINY_TRAIN.with_settings(max_steps=4, log_every=1, eval_every=2))
    lines = run.metrics_path.read_bytes().splitlines()
    lines[1] = lines[1].replace(b'"step"', b'"\xff\xfe"')  # a damaged line: invalid UTF-8, and no step any more
    lines[2] = lines[2][:-1] + b', "note": "caf\xe9"}'  # invalid UTF-8 inside a string: the record is still whole
    run.metrics_path.write_bytes(b"\n".join(lines) + b"\n")
    resumed = invoke("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--max-steps", 6)
    assert resumed.exit_code == 0, resumed.output
    records = [json.loads(line) for line in run.metrics_path.read_text(encoding="utf-8").splitlines()]
    assert [record["step"] for record in records] == [1, 3, 4, 5, 6]
    assert records[1]["note"] == "caf\ufffd"


def damage_checkpoint(path: Path, **changes) -> None:
    payload = torch.load(path, map_location="cpu", weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_a_checkpoint_with_nan_weights_is_refused_with_one_line(trained_run, copy_of, invoke):
    run = copy_of(trained_run)
    payload = torch.load(run.best_path, map_location="cpu", weights_only=True)
    name = next(iter(payload["model"]))
    payload["model"][name] = torch.full_like(payload["model"][name], math.nan)
    torch.save(payload, run.best_path)
    before = sorted(run.samples_dir.iterdir()) if run.samples_dir.exists() else []
    sampled = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--max-length", 5, "--device", "cpu")
    assert_user_error(sampled, f"{run.best_path} holds weights that are not numbers (NaN or infinite, in {name})",
                      "use another checkpoint")
    assert (sorted(run.samples_dir.iterdir()) if run.samples_dir.exists() else []) == before


def test_a_checkpoint_of_a_later_format_is_refused(trained_run, copy_of, invoke):
    run = copy_of(trained_run)
    damage_checkpoint(run.best_path, format=99)
    sampled = invoke("sample", run.name, "--runs-dir", run.dir.parent, "--max-length", 5, "--device", "cpu")
    assert_user_error(sampled, "best.pt is of checkpoint format 99", "reads formats 1 to 2")


def test_a_nan_best_loss_is_not_reported_and_is_replaced_at_the_next_evaluation(prepared, invoke):
    run = prepared("damaged-best")
    train(run, TINY_TRAIN.with_settings(max_steps=4, eval_every=2))
    damage_checkpoint(run.checkpoint_path, best_val_loss=math.nan)
    resumed = invoke("train", run.name, "--runs-dir", run.dir.parent, "--resume", "--max-steps", 5)
    assert resumed.exit_code == 0, resumed.output
    assert "nan nats" not in resumed.output and "best validation loss 3." in resumed.output, resumed.output
    assert torch.load(run.best_path, weights_only=True)["step"] == 5, "the first evaluation after the damage is the best"
