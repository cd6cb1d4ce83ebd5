"""Ctrl-C during `charmony sample`: exit status 130, one line, and a sample folder complete or absent."""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from abc_tunes import SOPRANO
from charmony.pipeline.data.prepare import prepare
from charmony.pipeline.run.config import PrepareConfig
from charmony.pipeline.run.folder import SAMPLE_STAGING, Run
from charmony.pipeline.run.samples_file import REPORT, read_sample_set
from charmony.pipeline.training.train import train
from tiny import TINY_TRAIN


@pytest.fixture(scope="module")
def bach_run(tmp_path_factory) -> Run:
    root = tmp_path_factory.mktemp("interrupt")
    source = root / "tunes.abc"
    source.write_text("\n".join(SOPRANO), encoding="utf-8")
    run = Run(root / "runs" / "bach")
    prepare(run, PrepareConfig("bach", [source], val_fraction=0.2, options={"instances": "30"}))
    train(run, dataclasses.replace(TINY_TRAIN, max_steps=30))
    return run


def as_from_a_terminal() -> None:
    """In the child before it starts: Ctrl-C acted on, as a terminal starts a command, even where this test runs with it
    ignored (a job put in the background by a shell without job control ignores SIGINT, and its children inherit that)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def interrupted_sample(run: Run, out: Path) -> tuple[int, str, float] | None:
    """Start `charmony sample` rendering scores and audio, press Ctrl-C once it writes its set; exit status, stderr, seconds
    waited; None when the command was done before the Ctrl-C could be sent (a machine too quick, or too loaded, to catch it)."""
    command = [sys.executable, "-m", "charmony", "sample", run.name, "--runs-dir", str(run.dir.parent), "--num-samples", "8",
               "--max-length", "300", "--seed", "1", "--out", str(out), "--render", "midi,score,audio", "--no-evaluate"]
    environment = dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment, start_new_session=True,
                               preexec_fn=as_from_a_terminal)
    started = time.monotonic()
    def staging() -> bool:  # a set is staged beside a new folder, or inside one that is there (or locked) already
        try:
            places = [out.parent, out] if out.is_dir() else [out.parent]
            return any(p.name.startswith(SAMPLE_STAGING) for place in places for p in place.iterdir())
        except FileNotFoundError:  # the folder went while we looked
            return False

    while process.poll() is None and not staging():
        assert time.monotonic() - started < 120, "sample never began writing its set"
        time.sleep(0.02)
    waited = time.monotonic() - started
    time.sleep(0.3)  # into the rendering
    if process.poll() is not None:
        process.communicate()
        return None
    os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C in a terminal: to the whole process group
    _, stderr = process.communicate(timeout=60)
    return process.returncode, stderr.decode(), waited


@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "folder written before"])
def test_ctrl_c_while_rendering_exits_130_with_one_line_and_keeps_nothing_half_written(bach_run, tmp_path, existing):
    out = tmp_path / "tunes"
    if existing:
        out.mkdir()
        (out / "notes.txt").write_text("mine", encoding="utf-8")
    for _ in range(3):
        result = interrupted_sample(bach_run, out)
        if result is not None:
            break
        shutil.rmtree(out, ignore_errors=True)
        if existing:
            out.mkdir()
            (out / "notes.txt").write_text("mine", encoding="utf-8")
    assert result is not None, "sample finished before each of three Ctrl-Cs could reach it"
    status, stderr, _ = result
    assert status == 130, stderr
    assert [line for line in stderr.splitlines() if line.strip()] == ["charmony sample: interrupted"]
    left = sorted(p.name for p in out.iterdir()) if out.exists() else []
    if REPORT in left:  # the interrupt came after the set was in place: it is whole
        sample_set = read_sample_set(out, "")
        assert sample_set is not None and len(sample_set.files()) == 8
    else:
        assert left == (["notes.txt"] if existing else [])
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(SAMPLE_STAGING)]
