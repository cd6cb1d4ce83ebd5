"""Nothing hangs: a third-party check that never returns is stopped, and a FIFO is refused rather than read."""

import os
import signal
import time
from contextlib import contextmanager

import pytest

from charmony.pipeline.abc.worker import worker
from charmony.pipeline.evaluation.evaluate import texts_valid
from charmony.pipeline.outputs import checks, renders
from charmony.pipeline.outputs.checks import CheckFailure, Checks
from charmony.pipeline.outputs.runner import OutputRunner
from charmony.pipeline.plugin.hookspecs import hookimpl
from charmony.pipeline.plugin.manager import PluginWarning, get_outputs
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Problem, Verdict
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.system.sources import read_text
from charmony.plugins.midi import MidiRenderer

from assertions import assert_user_error

LIMIT = 0.5  # seconds a check may take in these tests


class Sleepy(OutputPlugin):
    name = "sleepy"
    extensions = (".txt",)

    def check(self, text):
        if "wake" in text:
            return Verdict(True)
        time.sleep(3600)


class Vanishes(OutputPlugin):
    name = "vanishes"

    def check(self, text):
        os._exit(9)


class Remembers(OutputPlugin):
    """A checker that hands the renderer what it parsed, and marks where it ran."""

    name = "remembers"

    def check(self, text):
        return Verdict(len(text) < 10, [Problem(1, 1, "long")], {"pid": os.getpid()}, parsed=text.split())


class Slow:
    @hookimpl
    def register_outputs(self, register):
        for plugin in (Sleepy(), Vanishes(), Remembers()):
            register(plugin)


@pytest.fixture
def slow(register_plugin, monkeypatch):
    register_plugin(Slow(), "slow-plugin")
    monkeypatch.setattr(checks, "CHECK_SECONDS", LIMIT)


@contextmanager
def deadline(seconds: int):
    """Fail, rather than hang, when the block takes longer than `seconds`."""
    def give_up(signum, frame):
        raise AssertionError(f"still waiting after {seconds} s")

    previous = signal.signal(signal.SIGALRM, give_up)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_check_that_hangs_is_stopped_and_counts_against_its_sample_in_one_line(slow, invoke, tmp_path):
    first, second, awake = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "c.txt"
    first.write_text("zzz")
    second.write_text("zzz")
    awake.write_text("wake up")
    started = time.monotonic()
    with deadline(30):
        result = invoke("check", first, second, awake, "--with", "sleepy")
    assert time.monotonic() - started < 10 * LIMIT + 5
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        f"{first}: checker 'sleepy' failed: it took more than {LIMIT:g} s and was stopped",
        f"{second}: checker 'sleepy' failed: it took more than {LIMIT:g} s and was stopped",
    ], "one line for each file, and the file after them was checked by a fresh worker"


def test_third_party_checks_run_in_a_worker_and_their_verdicts_come_back_whole(slow, tmp_path):
    path = tmp_path / "long.txt"
    path.write_text("a longer text")
    with OutputRunner(get_outputs(["vanishes", "remembers", "abc"])) as runner, pytest.warns(PluginWarning) as caught:
        outputs = runner.run(path)
        worker = runner.checks.process
        assert worker is not None and worker.is_alive()
    assert not worker.is_alive(), "closing the runner stops its worker"
    verdict = outputs.verdicts["remembers"]
    assert verdict.valid is False and verdict.problems == [Problem(1, 1, "long")]
    assert verdict.details["pid"] != os.getpid(), "the third-party check ran in another process"
    assert verdict.parsed == ["a", "longer", "text"], "what the check parsed reaches the renderers"
    assert outputs.results["vanishes"]["error"] == "its check ended the process it ran in (exit status 9)"
    assert [str(w.message) for w in caught] == [
        "output plugin 'vanishes' from slow-plugin failed in check: its check ended the process it ran in (exit status 9)"]


def test_builtin_checks_stay_in_this_process(slow):
    runner = Checks(get_outputs(["abc"]))
    verdict = runner.check(get_outputs(["abc"])[0], "X:1\nK:C\nC|]\n")
    assert verdict.valid and runner.process is None


def test_evaluate_counts_a_check_that_hangs_as_invalid(slow):
    with deadline(30):
        assert texts_valid(get_outputs(["sleepy"]), ["zzz", "wake up"]) == [False, True]


def test_a_timeout_is_a_check_failure_that_is_not_warned_about(slow):
    runner = Checks(get_outputs(["sleepy"]))
    with pytest.raises(CheckFailure) as caught:
        runner.check(get_outputs(["sleepy"])[0], "zzz")
    assert caught.value.message == f"it took more than {LIMIT:g} s and was stopped" and not caught.value.misbehaved
    assert runner.process is None


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_is_refused_by_check_render_and_evaluate_instead_of_waited_on(invoke, tmp_path, trained_run):
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    with deadline(60):
        with pytest.raises(CorpusError, match=r"pipe\.txt: not a regular file \(a FIFO\); give a file of text$"):
            read_text(fifo)
        checked = invoke("check", fifo)
        rendered = invoke("render", fifo, "--to", "poem")
        evaluated = invoke("evaluate", fifo, "--run", "rhymes", "--runs-dir", trained_run.dir.parent)
    assert checked.exit_code == 1 and checked.output == f"{fifo}: not a regular file (a FIFO); give a file of text\n"
    assert rendered.exit_code == 1 and rendered.output == f"{fifo}: not a regular file (a FIFO); give a file of text\n"
    assert_user_error(evaluated, f"{fifo}: not a regular file (a FIFO)")


class SleepyRenderer(OutputPlugin):
    """A renderer that writes half a file and then sleeps, unless the text says to wake."""

    name = "sleepyrender"
    extensions = (".txt",)

    def render(self, path, out_dir):
        target = out_dir / f"{path.stem}.out"
        target.write_text("half")
        if "wake" not in path.read_text():
            time.sleep(3600)
        target.write_text("whole")
        return [target]


class VanishingRenderer(OutputPlugin):
    name = "vanishingrender"
    extensions = (".txt",)

    def render(self, path, out_dir):
        os._exit(7)


class SlowRenders:
    @hookimpl
    def register_outputs(self, register):
        for plugin in (SleepyRenderer(), VanishingRenderer()):
            register(plugin)


@pytest.fixture
def slow_renders(register_plugin, monkeypatch):
    register_plugin(SlowRenders(), "slow-render-plugin")
    monkeypatch.setattr(renders, "RENDER_SECONDS", LIMIT)


def test_a_render_that_hangs_is_stopped_in_one_line_naming_the_plugin_and_leaves_nothing_behind(slow_renders, invoke, tmp_path):
    asleep, awake, out = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "out"
    asleep.write_text("zzz")
    awake.write_text("wake up")
    started = time.monotonic()
    with deadline(30):
        result = invoke("render", asleep, awake, "--to", "sleepyrender", "--out", out)
    assert time.monotonic() - started < 10 * LIMIT + 5
    assert result.exit_code == 1
    assert result.output.splitlines() == [f"{asleep}: sleepyrender failed: it took more than {LIMIT:g} s and was stopped",
                                          f"{awake} -> {out / 'b.out'}"]
    assert sorted(p.name for p in out.iterdir()) == ["b.out"], "no half-written a.out, no scratch folder"
    assert (out / "b.out").read_text() == "whole", "the next file's render ran in a fresh child and finished"


def test_a_third_party_render_runs_in_a_child_and_one_that_ends_it_is_warned_about(slow_renders, tmp_path):
    path = tmp_path / "wake.txt"
    path.write_text("wake")
    with OutputRunner(get_outputs(["vanishingrender", "sleepyrender"])) as runner, pytest.warns(PluginWarning) as caught:
        outputs = runner.run(path, tmp_path / "out")
    assert outputs.results["vanishingrender"] == {"error": "its render ended the process it ran in (exit status 7)"}
    assert outputs.results["sleepyrender"] == {"files": ["wake.out"]}, "the process running the tests survived os._exit"
    assert [str(w.message) for w in caught] == ["output plugin 'vanishingrender' from slow-render-plugin failed in render: "
                                                "its render ended the process it ran in (exit status 7)"]


class BorrowedMidi(MidiRenderer):
    """A third party's renderer built on charmony's own, which renders in charmony's render worker."""

    name = "borrowedmidi"


class BorrowsTheWorker:
    @hookimpl
    def register_outputs(self, register):
        register(BorrowedMidi())


def test_a_third_party_renderer_on_charmonys_render_worker_renders_from_its_child(register_plugin, tmp_path):
    register_plugin(BorrowsTheWorker(), "borrowing-plugin")
    path = tmp_path / "tune.abc"
    path.write_text("X:1\nT:Tune\nM:4/4\nL:1/4\nK:C\nC D E F|G4|]\n")
    with OutputRunner(get_outputs(["abc", "midi", "borrowedmidi"])) as runner:
        outputs = runner.run(path, tmp_path / "out")  # midi starts this process' worker before borrowedmidi forks
    assert outputs.results["midi"].get("files") == ["tune.mid"], outputs.results["midi"]
    assert outputs.results["borrowedmidi"].get("files") == ["tune.mid"], outputs.results["borrowedmidi"]
    assert (tmp_path / "out" / "tune.mid").read_bytes()[:4] == b"MThd"
    assert worker().process is not None and worker().process.is_alive(), "the parent's worker is still its own"
