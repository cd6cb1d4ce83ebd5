"""Running output plugins' renders: charmony's own in this process, a third party's in a child process under a time limit.

A third-party render that hangs would hang `render`, `sample --render` and `gallery` with it, so each runs in a
child forked from this process, as third-party checks do (see checks.py): it has every plugin object and
verdict as this process has them. The child writes into the runner's private scratch folder and sends back,
as JSON, the names of what it wrote; a render that takes longer than RENDER_SECONDS is stopped by killing
the child, and the runner then removes the scratch folder, so nothing half-written is left behind.

Where fork is not offered, every render runs in this process without a time limit.
"""

from __future__ import annotations

import json
import multiprocessing
import signal
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path

from charmony.pipeline.outputs.checks import is_builtin
from charmony.pipeline.plugin.manager import describe_error
from charmony.pipeline.plugin.output import OutputPlugin, Rendered
from charmony.pipeline.plugin.verdict import Verdict
from charmony.pipeline.system.child import stop_child

# How long one third-party render of one file may take before it is stopped.
RENDER_SECONDS = 120.0


class RenderFailure(Exception):
    """A render that raised, called sys.exit(), returned something else than paths, or ran out of time.

    `message` says how, as the report and samples.json show it; `misbehaved` is True for what is surely the
    plugin's fault (sys.exit(), a dead process), which the runner also warns about.
    """

    def __init__(self, message: str, misbehaved: bool):
        super().__init__(message)
        self.message, self.misbehaved = message, misbehaved


@dataclass
class RenderOutcome:
    """What a render wrote, what it skipped and its details, or why its details were left out."""

    files: list[str]
    skipped: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    details_problem: str | None = None  # why the plugin's details are not a JSON object


def run_render(plugin: OutputPlugin, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict]) -> RenderOutcome:
    """The plugin's render of `path` into `out_dir` in this process, or a RenderFailure saying how it failed."""
    try:
        rendered = plugin.render_checked(path, out_dir, dict(verdicts))
        if isinstance(rendered, Rendered):
            outcome = RenderOutcome([str(f) for f in rendered.files], [str(reason) for reason in rendered.skipped])
            outcome.details, outcome.details_problem = _json_details(rendered.details)
            return outcome
        if isinstance(rendered, (list, tuple)):
            return RenderOutcome([str(f) for f in rendered])
        raise TypeError(f"render returned {type(rendered).__name__}, not a list of paths or a Rendered")
    except (Exception, SystemExit) as error:  # one bad sample or plugin must not stop the others
        raise RenderFailure(describe_error(error), isinstance(error, SystemExit)) from None


def render(plugin: OutputPlugin, path: Path, out_dir: Path, verdicts: Mapping[str, Verdict],
           seconds: float | None = None) -> RenderOutcome:
    """The plugin's render of `path` into `out_dir`: a third party's in a child stopped after `seconds`."""
    if is_builtin(plugin) or "fork" not in multiprocessing.get_all_start_methods():
        return run_render(plugin, path, out_dir, verdicts)
    limit = RENDER_SECONDS if seconds is None else seconds
    context = multiprocessing.get_context("fork")
    connection, child = context.Pipe(duplex=False)
    # Not a daemon: a render may start processes of its own (charmony's render worker, a synthesizer); it is
    # stopped below whatever happens.
    process = context.Process(target=_render_and_answer, args=(child, plugin, path, out_dir, verdicts),
                              daemon=False, name="charmony-render")
    with warnings.catch_warnings():
        # Python 3.12 warns of fork beside threads (torch's, after sampling): the child runs only the plugin's render.
        warnings.filterwarnings("ignore", message=r".*fork\(\) may lead to deadlocks", category=DeprecationWarning)
        process.start()
    child.close()
    try:
        if not connection.poll(limit):
            raise RenderFailure(f"it took more than {limit:g} s and was stopped", False)
        try:
            answer = json.loads(connection.recv_bytes().decode("utf-8"))
        except (EOFError, OSError):
            process.join(1)  # to learn its exit status
            raise RenderFailure(f"its render ended the process it ran in (exit status {process.exitcode})", True) from None
    finally:
        stop_child(process, connection)
    if "failed" in answer:
        raise RenderFailure(*answer["failed"])
    return RenderOutcome(**answer["outcome"])


def _render_and_answer(connection: Connection, plugin: OutputPlugin, path: Path, out_dir: Path,
                       verdicts: Mapping[str, Verdict]) -> None:
    """The child: render, and send back the outcome or how the render failed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the child
    answer: dict[str, object]
    try:
        answer = {"outcome": vars(run_render(plugin, path, out_dir, verdicts))}
    except RenderFailure as failure:
        answer = {"failed": [failure.message, failure.misbehaved]}
    connection.send_bytes(json.dumps(answer).encode("utf-8"))


def _json_details(details) -> tuple[dict, str | None]:
    """A renderer's `Rendered.details` as samples.json keeps them, or nothing and why they cannot be kept."""
    if not isinstance(details, dict):
        return {}, f"they are a {type(details).__name__}, not a dict"
    if not all(isinstance(key, str) for key in details):
        return {}, "their keys are not all strings"
    try:
        json.dumps(details, allow_nan=False)
    except (TypeError, ValueError) as error:
        return {}, str(error)
    return details, None
