"""The `sample` stage as the CLI runs it: draw samples, write them with samples.json, and score them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from charmony.pipeline.evaluation.sets import evaluate_written
from charmony.pipeline.run.config import SampleConfig
from charmony.pipeline.run.folder import Run
from charmony.pipeline.run.lock import folder_lock, run_lock
from charmony.pipeline.run.samples_file import SampleSet
from charmony.pipeline.sampling.folder import new_samples_dir, write_samples
from charmony.pipeline.sampling.sample import Sample, sample


def sample_to_folder(run: Run, config: SampleConfig, out_dir: Path | None = None) -> tuple[list[Sample], dict, Path]:
    """Draw samples and write them with samples.json into `out_dir`, or into a new folder under the run.

    Writing into the run holds its lock, as `prepare` and `train` do; writing into `out_dir` holds that folder's.
    With `config.evaluate`, the samples are then scored against the run (`evaluation.sets.evaluate_written`),
    and the report holds the figures as "evaluation".
    Returns the samples, the report written to samples.json, and the folder.
    """
    return draw_to_folder(run, "sample", lambda: sample(run, config), config.evaluate, out_dir)


def draw_to_folder(run: Run, command: str, draw: Callable[[], tuple[list[Sample], dict]], evaluate: bool,
                   out_dir: Path | None) -> tuple[list[Sample], dict, Path]:
    """Under the lock of the run (or of `out_dir`), `draw` samples and write them as a sample set; score them with
    `evaluate`. `command` names who holds the lock."""
    with run_lock(run, command) if out_dir is None else folder_lock(out_dir, command):
        samples, metadata = draw()
        target = out_dir or new_samples_dir(run, metadata["step"], metadata["seed"])
        report = write_samples(samples, metadata, target, run.manifest().extension, metadata["outputs"], run.profile())
        if evaluate:
            evaluate_written(run, SampleSet(target, report))
    return samples, report, target
