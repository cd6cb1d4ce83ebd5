"""Running output plugins over files, for `check`, `render` and `sample` alike: checks, renders, and a summary.

A plugin that misbehaves (raises, calls `sys.exit()`, returns something other than a `Verdict`)
is reported for that file, with a warning naming it and its distribution, and the other plugins
and files go on. Renderers write into a private folder first and their files are then moved into
place, so that a symbolic link planted where a file goes is replaced, never followed. Third parties'
checks and renders run in child processes under a time limit (checks.py, renders.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from charmony.pipeline.system.errors import CharmonyError
from charmony.pipeline.outputs.checks import CheckFailure, Checks
from charmony.pipeline.outputs.renders import RenderFailure, render
from charmony.pipeline.plugin.output import OutputPlugin
from charmony.pipeline.plugin.verdict import Verdict
from charmony.pipeline.plugin.manager import PluginWarning, describe_error, plugin_failure, plugin_origin
from charmony.pipeline.run.folder import RENDER_SCRATCH
from charmony.pipeline.system.sources import read_text


@dataclass
class FileOutputs:
    """What the output plugins made of one file: each plugin's result, or why the file could not be read."""

    results: dict[str, dict] = field(default_factory=dict)  # by plugin: verdict, unit, files, skipped, details, error
    unreadable: str | None = None  # e.g. "not UTF-8 (byte 0xe9 at offset 7)"
    verdicts: dict[str, Verdict] = field(default_factory=dict)  # by plugin, as the plugins returned them


def _misbehaved(plugin: OutputPlugin, where: str, error: BaseException | str) -> str:
    """Warn about a plugin that failed in `where`, naming it and its distribution; return the recorded error."""
    origin = plugin_origin("output", plugin.name)
    warnings.warn(plugin_failure("output", plugin.name, f"in {where}", error, origin), PluginWarning, stacklevel=1)
    return describe_error(error)


class OutputRunner:
    """Runs output plugins over files: each plugin that accepts a file checks it and, when rendering, renders it."""

    def __init__(self, plugins: Iterable[OutputPlugin], render: bool = True):
        self.plugins = list(plugins)
        self.render = render
        self.per_file: list[dict] = []
        self.checks = Checks(self.plugins)

    def __enter__(self) -> OutputRunner:
        return self

    def __exit__(self, *exception) -> None:
        self.close()

    def close(self) -> None:
        """Stop the process third-party checks run in, if one was started."""
        self.checks.close()

    def run(self, path: Path, out_dir: Path | None = None) -> FileOutputs:
        """Check (and render into `out_dir`) one file with every plugin that accepts it; nothing raises."""
        outputs = FileOutputs()
        try:
            text = read_text(path, follow_links=False)
        except CharmonyError as error:
            outputs.unreadable = str(error).removeprefix(f"{path}: ")
            self.per_file.append(outputs.results)
            return outputs
        for plugin in self.plugins:
            try:
                accepted = plugin.accepts(path)
            except (Exception, SystemExit) as error:
                _misbehaved(plugin, "accepts", error)
                continue
            if accepted:
                outputs.results[plugin.name] = self._apply(plugin, text, path, out_dir, outputs.verdicts)
        self.per_file.append(outputs.results)
        return outputs

    def _apply(self, plugin: OutputPlugin, text: str, path: Path, out_dir: Path | None, verdicts: dict) -> dict:
        result: dict = {}
        try:
            verdict = self.checks.check(plugin, text)
        except CheckFailure as failure:  # one bad sample or plugin must not stop the others
            result["error"] = failure.message
            if failure.misbehaved:
                _misbehaved(plugin, "check", failure.message)
            return result
        if verdict is not None:
            verdicts[plugin.name] = verdict
            result["verdict"] = verdict.to_json()
            if plugin.unit:
                result["unit"] = plugin.unit
        if self.render and out_dir is not None:
            try:
                written, skipped, details = self._render(plugin, path, out_dir, verdicts)
            except RenderFailure as failure:
                result["error"] = failure.message
                if failure.misbehaved:
                    _misbehaved(plugin, "render", failure.message)
                return result
            if skipped:
                result["skipped"] = skipped
            if written:
                result["files"] = written
            if details:
                result["details"] = details
        return result

    def _render(self, plugin: OutputPlugin, path: Path, out_dir: Path, verdicts: dict) -> tuple[list[str], list[str], dict]:
        """Render in a private folder inside `out_dir`, then move the files into place; their names, what was
        skipped, and the plugin's details of how it rendered them."""
        out_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=RENDER_SCRATCH, dir=out_dir))
        try:
            outcome = render(plugin, path, scratch, verdicts)
            if outcome.details_problem is not None:
                _misbehaved(plugin, "render", f"its details are not JSON ({outcome.details_problem}) and are left out")
            names = []
            for written in map(Path, outcome.files):
                if written.parent.resolve() == scratch.resolve():
                    os.replace(written, out_dir / written.name)  # replaces a link there rather than writing through it
                    names.append(written.name)
                else:
                    names.append(str(written))
            return names, outcome.skipped, outcome.details
        finally:
            shutil.rmtree(scratch, ignore_errors=True)  # with whatever a render stopped half-way had written

    def summary(self) -> dict:
        """Per plugin, the counts over every file run so far, as `summarise` gives them."""
        return summarise(self.per_file, self.plugins)


def summarise(per_file: list[dict], plugins: Sequence[OutputPlugin] = ()) -> dict:
    """Per plugin: how many files (or units, such as tunes) it checked and found valid, what failed or was
    skipped, and the plugin's own summary `line` where it gives one."""
    summary: dict[str, dict] = {}
    verdicts: dict[str, list[Verdict]] = {}
    for results in per_file:
        for name, result in results.items():
            counts = summary.setdefault(name, {"valid": 0, "checked": 0, "errors": 0, "skipped": 0})
            if "verdict" in result:
                unit = result.get("unit")
                details = result["verdict"]["details"]
                if unit:
                    counts["unit"] = unit
                counts["checked"] += details.get(unit, 0) if unit else 1
                counts["valid"] += details.get(f"valid_{unit}", 0) if unit else bool(result["verdict"]["valid"])
                verdicts.setdefault(name, []).append(Verdict.from_json(result["verdict"]))
            if "error" in result:
                counts["errors"] += 1
            counts["skipped"] += len(result.get("skipped", ()))
    for plugin in plugins:
        if plugin.name in verdicts and type(plugin).summarise is not OutputPlugin.summarise:
            try:
                summary[plugin.name]["line"] = str(plugin.summarise(verdicts[plugin.name]))
            except (Exception, SystemExit):  # a summary is a courtesy; a failing one falls back to the count
                pass
    return summary


def summary_line(name: str, counts: dict) -> str:
    """One plugin's summary, as `abc: 17/20 tunes valid`, the plugin's own line, or `midi: 3 skipped`."""
    parts = []
    if counts.get("line"):
        parts.append(counts["line"])
    elif counts["checked"]:
        unit = f" {counts['unit']}" if counts.get("unit") else ""
        parts.append(f"{counts['valid']}/{counts['checked']}{unit} valid")
    if counts["errors"]:
        parts.append(f"{counts['errors']} errors")
    if counts["skipped"]:
        parts.append(f"{counts['skipped']} skipped")
    return f"{name}: {', '.join(parts)}" if parts else ""
