"""What `charmony sample` says when it is done: the samples themselves when no --out was given, then a summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from charmony.pipeline.evaluation.evaluate import evaluation_text
from charmony.pipeline.outputs.runner import summary_line
from charmony.pipeline.sampling.sample import Sample


def sample_lines(samples: Sequence[Sample], report: dict, target: Path, show_texts: bool) -> list[str]:
    """The samples' texts (with `show_texts`), where they were written, each output plugin's summary and the evaluation."""
    lines = []
    if show_texts:
        for number, item in enumerate(samples, start=1):
            lines += [f"--- sample {number} ---", item.text]
        lines.append("---")
    finished = sum(item.finished for item in samples)
    lines.append(f"{len(samples)} {report['mode']} samples (seed {report['seed']}, {finished} ended by themselves) written to {target}")
    lines += [summary_line(name, counts) for name, counts in report["summary"].items() if summary_line(name, counts)]
    if "evaluation" in report:
        lines.append(evaluation_text(report["evaluation"]))
    return lines
