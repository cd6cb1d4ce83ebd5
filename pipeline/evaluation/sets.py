"""Which samples `charmony evaluate` scores together, and writing its figures into a folder's samples.json.

Each folder given is one set: the files its samples.json lists or, without one, its files with the run's
sample extension. The files given on their own make one more set. Without any, the set is the run's newest
folder of samples (under `runs/RUN/samples/`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.system.atomic import write_json
from charmony.pipeline.system.errors import RunError
from charmony.pipeline.evaluation.evaluate import Evaluation, copying_is_quick, evaluate_texts
from charmony.pipeline.run.folder import Run
from charmony.pipeline.sampling.folder import REPORT
from charmony.pipeline.system.sources import read_text


@dataclass
class SampleSet:
    """Sample files evaluated together, and the folder whose samples.json receives the figures, if any."""

    label: str
    files: list[Path]
    folder: Path | None = None


def read_samples_json(folder: Path) -> dict | None:
    """A folder's samples.json, None when it has none, or a RunError when it cannot be read."""
    path = folder / REPORT
    if not path.is_file():
        return None
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RunError(f"{path} cannot be read ({error}); sample again, or remove it to evaluate the files alone") from None
    if not isinstance(report, dict) or not isinstance(report.get("samples"), list):
        raise RunError(f"{path} holds no list of samples; sample again, or remove it to evaluate the files alone")
    return report


def listed_files(folder: Path, report: dict) -> list[Path]:
    """The sample files a samples.json lists that are still in its folder."""
    names = [entry.get("file") for entry in report["samples"] if isinstance(entry, dict)]
    return [folder / name for name in names if isinstance(name, str) and Path(name).name == name and (folder / name).is_file()]


def folder_set(folder: Path, extension: str) -> SampleSet:
    """The samples of one folder: those its samples.json lists, else its files with `extension`."""
    report = read_samples_json(folder)
    files = listed_files(folder, report) if report else sorted(p for p in folder.iterdir() if p.suffix == extension and p.is_file())
    if not files:
        raise RunError(f"{folder} holds no samples ({REPORT} or {extension} files); give a folder written by `charmony sample`")
    return SampleSet(str(folder), files, folder if report else None)


def sample_sets(paths: list[Path], extension: str) -> list[SampleSet]:
    """The sets to evaluate for folders and files given on the command line (see the module docstring)."""
    sets = [folder_set(path, extension) for path in paths if path.is_dir()]
    loose = [path for path in paths if not path.is_dir()]
    if loose:
        sets.append(SampleSet("files", loose))
    return sets


def recorded_run(paths: list[Path]) -> str | None:
    """The run named by the samples.json of the first folder given that has one."""
    for path in paths:
        if path.is_dir():
            report = read_samples_json(path)
            if report and isinstance(report.get("run"), str):
                return report["run"]
    return None


def latest_samples(run: Run) -> Path:
    """The run's folder of samples drawn last (by its sample files' times: evaluating rewrites samples.json)."""
    folders = [path.parent for path in run.samples_dir.glob(f"*/{REPORT}")] if run.samples_dir.is_dir() else []
    if not folders:
        raise RunError(f"run {run.name!r} has no samples in {run.samples_dir}; sample some with `charmony sample {run.name}`, "
                       "or name the folders or files to evaluate")

    def drawn(folder: Path) -> float:
        times = [p.stat().st_mtime for p in folder.iterdir() if p.name != REPORT and not p.name.startswith(".")]
        return max(times, default=0.0)

    return max(folders, key=lambda folder: (drawn(folder), folder.name))


def evaluate_set(run: Run, sample_set: SampleSet, copying: bool = True) -> Evaluation:
    """Evaluate a set's files and, for a folder of samples, write the figures into its samples.json."""
    evaluation = evaluate_texts(run, [read_text(path) for path in sample_set.files], copying)
    if sample_set.folder is not None:
        report = read_samples_json(sample_set.folder)
        if report is not None:
            record_evaluation(sample_set.folder, report, evaluation, [path.name for path in sample_set.files])
    return evaluation


def evaluate_written(run: Run, folder: Path, report: dict) -> Evaluation:
    """Evaluate the samples `write_samples` just wrote into `folder`, as `sample` does (copying only where it is
    quick), and add the figures to `report` and to the folder's samples.json."""
    files = listed_files(folder, report)
    evaluation = evaluate_texts(run, [read_text(path) for path in files], copying_is_quick(run))
    record_evaluation(folder, report, evaluation, [path.name for path in files])
    return evaluation


def record_evaluation(folder: Path, report: dict, evaluation: Evaluation, files: list[str]) -> None:
    """Put the set's figures into `report` as "evaluation", and each file's into its entry; write it atomically
    as the folder's samples.json."""
    own = dict(zip(files, evaluation.samples))
    report["evaluation"] = evaluation.to_json()
    for entry in report["samples"]:
        if isinstance(entry, dict):
            entry.pop("evaluation", None)  # a file no longer there keeps no figures of an earlier evaluation
            if entry.get("file") in own:
                entry["evaluation"] = own[entry["file"]]
    write_json(folder / REPORT, report)
