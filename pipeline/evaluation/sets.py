"""Which samples `charmony evaluate` scores together, and writing its figures into a folder's samples.json.

Each folder given is one set: the files its samples.json lists or, without one, its files with the run's
sample extension. The files given on their own make one more set. Without any, the set is the run's newest
folder of samples (under `runs/RUN/samples/`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.evaluation.evaluate import Evaluation, copying_is_quick, evaluate_texts
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.samples_file import REPORT, SampleSet, latest_sample_set, read_sample_set
from charmony.pipeline.system.errors import RunError
from charmony.pipeline.system.sources import read_text

ADVICE = "sample again, or remove it to evaluate the files alone"


@dataclass
class EvaluatedFiles:
    """Sample files evaluated together, and the set whose samples.json receives the figures, if any."""

    label: str
    files: list[Path]
    sample_set: SampleSet | None = None


def folder_files(folder: Path, extension: str) -> EvaluatedFiles:
    """The samples of one folder: those its samples.json lists, else its files with `extension`."""
    sample_set = read_sample_set(folder, ADVICE)
    if sample_set is not None:
        files = sample_set.files()
    else:
        files = sorted(p for p in folder.iterdir() if p.suffix == extension and p.is_file())
    if not files:
        raise RunError(f"{folder} holds no samples ({REPORT} or {extension} files); give a folder written by `charmony sample`")
    return EvaluatedFiles(str(folder), files, sample_set)


def files_to_evaluate(paths: list[Path], extension: str) -> list[EvaluatedFiles]:
    """The sets to evaluate for folders and files given on the command line (see the module docstring)."""
    sets = [folder_files(path, extension) for path in paths if path.is_dir()]
    loose = [path for path in paths if not path.is_dir()]
    if loose:
        sets.append(EvaluatedFiles("files", loose))
    return sets


def latest_files(run: Run) -> EvaluatedFiles:
    """The samples the run drew last (see `samples_file.latest_sample_set`)."""
    latest = latest_sample_set(run)
    files = latest.files()
    if not files:
        raise RunError(f"{latest.folder} holds no samples ({REPORT} lists none that are there); sample again with "
                       f"`charmony sample {run.name}`")
    return EvaluatedFiles(str(latest.folder), files, latest)


def recorded_run(paths: list[Path]) -> str | None:
    """The run named by the samples.json of the first folder given that has one."""
    for path in paths:
        if path.is_dir():
            sample_set = read_sample_set(path, ADVICE)
            if sample_set is not None and sample_set.run is not None:
                return sample_set.run
    return None


def evaluate_files(run: Run, evaluated: EvaluatedFiles, copying: bool = True) -> Evaluation:
    """Evaluate the files and, for a folder of samples, write the figures into its samples.json."""
    evaluation = evaluate_texts(run, [read_text(path, follow_links=False) for path in evaluated.files], copying)
    if evaluated.sample_set is not None:
        record_evaluation(evaluated.sample_set, evaluation, [path.name for path in evaluated.files])
    return evaluation


def evaluate_written(run: Run, sample_set: SampleSet) -> Evaluation:
    """Evaluate a set `sample` just wrote, as `sample` does (copying only where it is quick), and record the figures."""
    files = sample_set.files()
    evaluation = evaluate_texts(run, [read_text(path, follow_links=False) for path in files], copying_is_quick(run))
    record_evaluation(sample_set, evaluation, [path.name for path in files])
    return evaluation


def record_evaluation(sample_set: SampleSet, evaluation: Evaluation, files: list[str]) -> None:
    """Put the set's figures into its report as "evaluation", and each file's into its entry; write samples.json."""
    own = dict(zip(files, evaluation.samples))
    sample_set.report["evaluation"] = evaluation.to_json()
    for entry in sample_set.samples:
        entry.pop("evaluation", None)  # a file no longer there keeps no figures of an earlier evaluation
        if entry["file"] in own:
            entry["evaluation"] = own[entry["file"]]
    sample_set.write()
