"""samples.json, the record of one folder of samples: its one reader and its one writer.

`charmony sample` writes it beside the samples; `evaluate` adds its figures to it; the gallery and the
CLI read it. Its keys: the settings the samples were drawn with at the top level (run, corpus,
checkpoint, step, seed, temperature, …, created), "samples" with one entry per sample (number, file,
characters, finished, raw, outputs and, once evaluated, evaluation), "summary" of the output plugins,
"written" (every file written, with its SHA-256) and, once evaluated, "evaluation".

An entry's "raw" is the sample as the model wrote it, kept only where the corpus plugin's `finish`
changed it (ABC: the `X:` line renumbered, `T:` and `C:` put in); the file holds the finished text.
It is kept inline rather than in a file of its own: it is about as long as the sample, and only
the samples that differ carry it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from charmony.pipeline.run.folder import Run
from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.system.errors import RunError

REPORT = "samples.json"


def created_now() -> str:
    """The time a set of samples is drawn, as samples.json records it (UTC, ISO 8601)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass
class SampleSet:
    """One folder of samples drawn in one go, and what its samples.json says about them."""

    folder: Path
    report: dict  # samples.json: settings at the top level, one entry per sample under "samples"

    @property
    def samples(self) -> list[dict]:
        """One entry per sample: file, characters, finished, raw (where finishing changed it), outputs and, where evaluated, evaluation."""
        return self.report["samples"]

    @property
    def run(self) -> str | None:
        """The name of the run the samples were drawn from, as recorded."""
        run = self.report.get("run")
        return run if isinstance(run, str) else None

    def files(self) -> list[Path]:
        """The sample files the report lists that are still in the folder."""
        names = [entry["file"] for entry in self.samples]
        return [self.folder / name for name in names if Path(name).name == name and (self.folder / name).is_file()]

    def drawn(self) -> tuple[str, str]:
        """A key that orders sets by when they were drawn: the recorded time, else the sample files' newest time."""
        created = self.report.get("created")
        if isinstance(created, str):
            return created, self.folder.name
        times = [path.stat().st_mtime for path in self.files()]
        stamp = datetime.fromtimestamp(max(times, default=0.0), timezone.utc).isoformat(timespec="microseconds")
        return stamp, self.folder.name

    def write(self) -> None:
        """Write the report back as the folder's samples.json, atomically."""
        write_json(self.folder / REPORT, self.report)


def read_sample_set(folder: Path, advice: str) -> SampleSet | None:
    """The folder's samples and their samples.json; None when it has none, a RunError (ending in `advice`) when damaged."""
    path = folder / REPORT
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as error:
        raise RunError(f"{path} is not valid JSON ({error}); {advice}") from None
    except OSError as error:
        raise RunError(f"{path} cannot be read ({error.strerror}); {advice}") from None
    samples = report.get("samples") if isinstance(report, dict) else None
    if not isinstance(samples, list) or not all(isinstance(e, dict) and isinstance(e.get("file"), str) for e in samples):
        raise RunError(f"{path} is damaged (no list of samples with their files); {advice}")
    return SampleSet(folder, report)


def run_sample_sets(run: Run) -> list[SampleSet]:
    """The sets of samples under the run's samples/ folder, in the order they were drawn."""
    if not run.samples_dir.is_dir():
        return []
    found = [read_sample_set(path, f"sample again with `charmony sample {run.name}`") for path in run.samples_dir.iterdir()
             if path.is_dir() and not path.name.startswith(".")]  # a hidden folder is a set still being written
    return sorted((found_set for found_set in found if found_set is not None), key=SampleSet.drawn)


def latest_sample_set(run: Run) -> SampleSet:
    """The run's set of samples drawn last, or a RunError saying how to make one."""
    sets = run_sample_sets(run)
    if not sets:
        raise RunError(f"run {run.name!r} has no samples in {run.samples_dir}; sample some with `charmony sample {run.name}`, "
                       "or name the folders or files to evaluate")
    return sets[-1]
