"""Running output plugins' checks: charmony's own in this process, third parties' in a worker that can be stopped.

A third-party check that hangs would hang `check`, `sample` and `evaluate` with it, and a thread cannot
be stopped, so those checks run in a child process forked from this one: it has every plugin object as
this process has it, registered in a test or loaded from a distribution alike, and nothing need be
importable. Texts and verdicts go between the two as JSON, as the render worker's jobs do: nothing is unpickled. A check that takes longer than its time limit is stopped by
killing the child (the next check forks a new one) and counts against its sample. The built-in checkers
are charmony's own code and stay in this process, where they are fastest.

Where fork is not offered, every check runs in this process without a time limit.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import warnings
from collections.abc import Iterable
from multiprocessing.connection import Connection

from charmony.pipeline.plugin.manager import BUILTIN_ORIGIN, describe_error, plugin_origin
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Verdict
from charmony.pipeline.system.child import stop_child

# How long one third-party check of one file may take before it is stopped.
CHECK_SECONDS = 60.0
# How often the worker looks whether the process that started it is still there.
ORPHAN_POLL_SECONDS = 1.0


class CheckFailure(Exception):
    """A check that raised, called sys.exit(), returned something else than a Verdict, or ran out of time.

    `message` says how, as the report and samples.json show it; `misbehaved` is True for what is surely the
    plugin's fault rather than the sample's (sys.exit(), a wrong return, a dead process), which the runner
    also warns about. A raise or a timeout may be the sample's doing, and is told once, with the sample.
    """

    def __init__(self, message: str, misbehaved: bool):
        super().__init__(message)
        self.message, self.misbehaved = message, misbehaved


def run_check(plugin: OutputPlugin, text: str) -> Verdict | None:
    """The plugin's verdict on `text` in this process, or a CheckFailure saying how the check failed."""
    try:
        verdict = plugin.check(text)
    except (Exception, SystemExit) as error:  # one bad sample or plugin must not stop the others
        raise CheckFailure(describe_error(error), isinstance(error, SystemExit)) from None
    if verdict is not None and not isinstance(verdict, Verdict):
        raise CheckFailure(f"it returned {type(verdict).__name__}, not a Verdict or None", True)
    return verdict


def is_builtin(plugin: OutputPlugin) -> bool:
    """Whether charmony itself registered the output plugin."""
    return plugin_origin("output", plugin.name) == BUILTIN_ORIGIN


class Checks:
    """Runs the checks of a set of output plugins; third parties' in a worker, each under `seconds`."""

    def __init__(self, plugins: Iterable[OutputPlugin], seconds: float | None = None):
        self.plugins = {plugin.name: plugin for plugin in plugins}
        self.seconds = CHECK_SECONDS if seconds is None else seconds
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None

    def check(self, plugin: OutputPlugin, text: str) -> Verdict | None:
        """The plugin's verdict on `text`, or a CheckFailure saying how its check failed."""
        if is_builtin(plugin) or "fork" not in multiprocessing.get_all_start_methods():
            return run_check(plugin, text)
        connection = self._start()
        try:
            connection.send_bytes(json.dumps([plugin.name, text]).encode("utf-8"))
            if not connection.poll(self.seconds):
                self.close()
                raise CheckFailure(f"it took more than {self.seconds:g} s and was stopped", False)
            answer = json.loads(connection.recv_bytes().decode("utf-8"))
        except (EOFError, OSError):
            if self.process is not None:
                self.process.join(1)  # to learn its exit status
            code = self.process.exitcode if self.process is not None else None
            self.close()
            raise CheckFailure(f"its check ended the process it ran in (exit status {code})", True) from None
        if "failed" in answer:
            raise CheckFailure(*answer["failed"])
        return _verdict_from_json(answer["verdict"])

    def _start(self) -> Connection:
        """The connection to the worker, started first if it is not running."""
        if self.process is not None and self.process.is_alive() and self.connection is not None:
            return self.connection
        self.close()
        context = multiprocessing.get_context("fork")
        self.connection, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, self.connection, self.plugins, os.getpid()),
                                       daemon=True, name="charmony-check")
        with warnings.catch_warnings():
            # Python 3.12 warns of fork beside threads (torch's, after sampling): the child runs only the plugin's check.
            warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning)
            self.process.start()
        child.close()
        return self.connection

    def close(self) -> None:
        """Stop the worker, if one runs; the next check starts a fresh one."""
        stop_child(self.process, self.connection)
        self.process, self.connection = None, None


def _serve(connection: Connection, parents_end: Connection, plugins: dict[str, OutputPlugin], parent: int) -> None:
    """The worker's loop: check each text it is sent with the plugin named, and send back the outcome."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the worker
    parents_end.close()
    while True:
        while not connection.poll(ORPHAN_POLL_SECONDS):
            if os.getppid() != parent:
                return
        try:
            name, text = json.loads(connection.recv_bytes().decode("utf-8"))
        except (EOFError, OSError):
            return
        try:
            answer = json.dumps({"verdict": _verdict_to_json(run_check(plugins[name], text))})
        except CheckFailure as failure:
            answer = json.dumps({"failed": [failure.message, failure.misbehaved]})
        except (TypeError, ValueError) as error:  # details that are not JSON data, against the interface
            answer = json.dumps({"failed": [f"its verdict cannot be sent back from its process: {describe_error(error)}", True]})
        connection.send_bytes(answer.encode("utf-8"))


def _verdict_to_json(verdict: Verdict | None) -> dict | None:
    """The verdict as JSON data, with `parsed` where that is JSON data too (it is dropped otherwise)."""
    if verdict is None:
        return None
    data = verdict.to_json()
    try:
        json.dumps(verdict.parsed)
        data["parsed"] = verdict.parsed
    except (TypeError, ValueError):  # whatever the plugin put in `parsed`
        pass
    return data


def _verdict_from_json(data: dict | None) -> Verdict | None:
    """The verdict `_verdict_to_json` gave."""
    if data is None:
        return None
    verdict = Verdict.from_json(data)
    verdict.parsed = data.get("parsed")
    return verdict
