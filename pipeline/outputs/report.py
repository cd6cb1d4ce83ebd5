"""What `charmony check` and `charmony render` say about each file the output plugins ran over."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from charmony.pipeline.outputs.runner import FileOutputs, OutputRunner, summary_line
from charmony.pipeline.plugin.manager import get_outputs, outputs


@dataclass
class FileReport:
    """The lines said about one file, in order, each marked for stderr or not, and whether the file failed."""

    path: Path | None = None  # None for the summary after the last file
    lines: list[tuple[str, bool]] = field(default_factory=list)  # (line, whether it goes to stderr)
    failed: bool = False
    handled: bool = True  # False when no plugin checked the file and none failed on it

    def say(self, line: str, error: bool = False) -> None:
        """Add a line, to stderr when `error`."""
        self.lines.append((line, error))


def check_report(path: Path, checked: FileOutputs) -> FileReport:
    """A checked file's problems, `path:line:column: message` each, and the checkers that failed; failed when invalid."""
    report = FileReport(path)
    if checked.unreadable is not None:
        report.say(f"{path}: {checked.unreadable}")
        report.failed = True
        return report
    for name, result in checked.results.items():
        if "error" in result:
            report.say(f"{path}: checker {name!r} failed: {result['error']}")
            report.failed = True
    for verdict in checked.verdicts.values():
        for problem in verdict.problems:
            report.say(f"{path}:{problem.line}:{problem.column}: {problem.message}")
        report.failed |= not verdict.valid
    report.handled = bool(checked.verdicts) or any("error" in result for result in checked.results.values())
    return report


def render_report(path: Path, target: Path, rendered: FileOutputs) -> FileReport:
    """A rendered file's written files and details, and on stderr what failed or was skipped; failed when either."""
    report = FileReport(path)
    if rendered.unreadable is not None:
        report.say(f"{path}: {rendered.unreadable}", error=True)
        report.failed = True
    for name, result in rendered.results.items():
        for written in result.get("files", []):
            report.say(f"{path} -> {target / written}")
        for key, value in result.get("details", {}).items():
            report.say(f"{path}: {name}: {key}: {value}")
        if "error" in result:
            report.say(f"{path}: {name} failed: {result['error']}", error=True)
        for reason in result.get("skipped", []):
            report.say(f"{path}: {name}: {reason}", error=True)
        report.failed |= "error" in result or "skipped" in result
    return report


def check_files(files: Sequence[Path], names: list[str]) -> Iterator[FileReport]:
    """Check each file with the named output plugins (with none named, every one), one report per file."""
    with OutputRunner(get_outputs(names) if names else list(outputs().values()), render=False) as runner:
        for path in files:
            yield check_report(path, runner.run(path))


def render_files(files: Sequence[Path], names: list[str], out_dir: Path | None) -> Iterator[FileReport]:
    """Render each file with the named output plugins into `out_dir` (else beside it), one report per file, then
    one of the plugins' summaries."""
    with OutputRunner(get_outputs(names)) as runner:
        for path in files:
            target = out_dir or path.parent
            yield render_report(path, target, runner.run(path, target))
    yield FileReport(lines=[(summary_line(name, counts), False) for name, counts in runner.summary().items() if counts["checked"]])
