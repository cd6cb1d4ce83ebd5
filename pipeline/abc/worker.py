"""A worker process that renders tunes under a time limit, so that no tune can hang charmony or take it down.

The renderers hand it one job at a time: a function named as "module:function", and its arguments, as JSON
(nothing is pickled). The worker knows no renderer: it imports the job's module when the job comes. A job
that runs out of time, or that kills the worker, costs only its own tune: the worker is stopped, and the
next job starts a new one. One worker serves every renderer of a charmony process, so the
libraries it needs (music21 takes a second or two) are imported once, not once a tune.
"""

from __future__ import annotations

import importlib
import json
import os
import multiprocessing
import multiprocessing.util
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection

from charmony.pipeline.system.child import stop_child
from charmony.pipeline.system.errors import CharmonyError, RenderError

# Starting the worker and importing libraries is not a tune's time: it gets its own, generous limit.
STARTUP_SECONDS = 300


class RenderTimeout(RenderError):
    """A render ran out of time and was stopped."""


class RenderWorker:
    """The child process jobs run in; started on first use, started again after a job that stopped it."""

    def __init__(self) -> None:
        self.process: multiprocessing.process.BaseProcess | None = None
        self.connection: Connection | None = None
        self.loaded: set[str] = set()
        # A process forked to run a third party's check or render starts a worker of its own if it needs one.
        multiprocessing.util.register_after_fork(self, RenderWorker._forget_parents)

    def _forget_parents(self) -> None:
        """In a forked child: let go of the parent's worker, which only the parent may stop or ask."""
        if self.connection is not None:
            self.connection.close()  # this process' copy of the pipe; the parent's end stays open
        self.process, self.connection, self.loaded = None, None, set()

    def load(self, modules: tuple[str, ...]) -> None:
        """Start the worker if it is not running, and have it import `modules` before any tune's time starts."""
        if self.process is None or not self.process.is_alive():
            self.stop()
            context = multiprocessing.get_context("spawn")  # not fork: the parent may hold torch's threads
            self.connection, child = context.Pipe()
            self.process = context.Process(target=serve, args=(child,), daemon=True, name="charmony-render")
            with ignored_by_children():
                self.process.start()
            child.close()
        missing = [module for module in modules if module not in self.loaded]
        if missing:
            self._ask({"load": missing}, STARTUP_SECONDS, "starting the renderer")
            self.loaded.update(missing)

    def run(self, job: str, arguments: dict, seconds: float, what: str) -> dict:
        """The result of the function `job` ("module:function") called with `arguments` in the worker.

        RenderTimeout after `seconds`; `what` names the job in messages.
        """
        self.load(())
        # relative paths in `arguments` mean what they mean here, though the worker started in another folder
        return self._ask({"job": job, "arguments": arguments, "cwd": os.getcwd()}, seconds, what)

    def _ask(self, message: dict, seconds: float, what: str) -> dict:
        try:
            self.connection.send_bytes(json.dumps(message).encode("utf-8"))
            if not self.connection.poll(max(seconds, 0)):
                self.stop()
                raise RenderTimeout(f"{what} took more than {seconds:.0f} s and was stopped")
            answer = json.loads(self.connection.recv_bytes().decode("utf-8"))
        except (EOFError, OSError):
            code = self.process.exitcode if self.process is not None else None
            self.stop()
            raise RenderError(f"the renderer stopped (exit status {code}) during {what}") from None
        except BaseException:  # Ctrl-C while the job runs: it would go on writing into a folder its caller then
            self.stop()        # removes, and its late answer would be read as the next job's
            raise
        if "error" in answer:
            raise RenderError(answer["error"])
        return answer["result"]

    def stop(self) -> None:
        """Stop the worker, if one runs; the next job starts a fresh one."""
        stop_child(self.process, self.connection)
        self.process, self.connection, self.loaded = None, None, set()


@contextmanager
def ignored_by_children() -> Iterator[None]:
    """Start processes that ignore Ctrl-C from their first instruction, while this one receives it once the block ends.

    A Ctrl-C reaches every process of the terminal's group; a worker still starting (before `serve` ignores it)
    would print a traceback of its own. Ignoring it is inherited across exec, so it is ignored here while the
    child starts, and held back meanwhile (blocked, it is not dropped) to be raised here after.
    """
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    resource_tracker.ensure_running()  # it would unblock Ctrl-C while starting, and so drop one that is held back
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def serve(connection: Connection) -> None:
    """The worker's loop: read a job, run it, send back its result or its error in one line; end with the parent."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the worker

    while True:
        try:
            message = json.loads(connection.recv_bytes().decode("utf-8"))
        except (EOFError, OSError):
            return
        answer: dict[str, object]
        try:
            if "load" in message:
                for module in message["load"]:
                    importlib.import_module(module)
                answer = {"result": {}}
            else:
                os.chdir(message["cwd"])
                module, _, function = message["job"].partition(":")
                answer = {"result": getattr(importlib.import_module(module), function)(**message["arguments"])}
        except CharmonyError as error:
            answer = {"error": str(error)}
        except Exception as error:  # music21 raises many kinds; each is one tune's failure, not the worker's
            answer = {"error": f"{type(error).__name__}: {' '.join(str(error).split())}"}
        connection.send_bytes(json.dumps(answer).encode("utf-8"))


_worker = RenderWorker()


def worker() -> RenderWorker:
    """The worker of this charmony process."""
    return _worker
