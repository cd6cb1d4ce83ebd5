"""The sample folders a gallery shows: found in a run or named by the user, each read from its samples.json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.system.errors import RunError
from charmony.pipeline.run.folder import Run

REPORT = "samples.json"


@dataclass(frozen=True)
class SampleSet:
    """One folder of samples drawn in one go, and what its samples.json says about them."""

    folder: Path
    report: dict  # samples.json: settings at the top level, one entry per sample under "samples"

    @property
    def samples(self) -> list[dict]:
        """One entry per sample: file, characters, finished, outputs and, where evaluated, evaluation."""
        return self.report["samples"]


def run_sample_folders(run: Run) -> list[Path]:
    """The folders under the run's samples/ that hold a samples.json, oldest first."""
    if not run.samples_dir.is_dir():
        return []
    found = [path for path in run.samples_dir.iterdir() if (path / REPORT).is_file()]
    return sorted(found, key=lambda path: ((path / REPORT).stat().st_mtime, path.name))


def read_sample_set(folder: Path, run: Run) -> SampleSet:
    """The samples of one folder, or a RunError when it is not a sample folder of this run."""
    path = folder / REPORT
    if not folder.is_dir():
        raise RunError(f"{folder} is not a folder; give --samples a folder that `charmony sample` wrote")
    if not path.is_file():
        raise RunError(f"{folder} is not a sample folder (it has no {REPORT}); give --samples a folder that `charmony sample` wrote")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise RunError(f"{path} is not valid JSON ({error}); sample again with `charmony sample {run.name}`") from None
    samples = report.get("samples") if isinstance(report, dict) else None
    if not isinstance(samples, list) or not all(isinstance(e, dict) and isinstance(e.get("file"), str) for e in samples):
        raise RunError(f"{path} is damaged (no list of samples with their files); sample again with `charmony sample {run.name}`")
    owner = report.get("run")
    if owner != run.name:
        hint = f"make its gallery with `charmony gallery {owner} --samples {folder}`" if isinstance(owner, str) else "sample again"
        raise RunError(f"{folder} holds samples of run {owner!r}, not of {run.name!r}; {hint}")
    return SampleSet(folder, report)


def sample_sets(run: Run, folders: list[Path]) -> list[SampleSet]:
    """The sample sets to show: the folders given, or else every sample folder of the run."""
    if not folders:
        folders = run_sample_folders(run)
        if not folders:
            raise RunError(f"run {run.name!r} has no samples yet; run `charmony sample {run.name}` first, or give --samples DIR")
    return [read_sample_set(folder, run) for folder in folders]
