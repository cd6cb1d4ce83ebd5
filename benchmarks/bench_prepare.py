"""`prepare` on a generated corpus of 1 GB: MB/s, peak resident memory, and train's first-step latency.

    python benchmarks/bench_prepare.py [--mb 1024] [--folder /tmp]

The corpus is one text file read as a single document (split=none, the hardest case: nothing can
be held whole). Prepare runs in its own process, so that its peak resident memory is its own;
that of a process which only imports charmony and torch is printed beside it. For comparison, a
classic whole-file loader (read the text, a list of ids, then an array, as char-rnn-style
recipes do) runs on a 32 MB slice of the same corpus.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

MB = 1 << 20
WORDS = ("the", "and", "of", "a", "to", "in", "music", "tune", "café", "naïve", "rhythm", "—", "harmony", "é", "bar", "key")
CLASSIC_MB = 32
CLASSIC_LOADER = """
import sys
import numpy as np
text = open(sys.argv[1], encoding="utf-8").read()
chars = sorted(set(text))
index = {c: i for i, c in enumerate(chars)}
ids = np.array([index[c] for c in text], dtype=np.uint16)
"""


def write_corpus(path: Path, megabytes: int) -> None:
    """Random words and line breaks, `megabytes` MB of UTF-8, written a block at a time."""
    rng = np.random.default_rng(0)
    words = rng.choice(np.array(WORDS), size=2_000_000)
    breaks = np.where(rng.random(len(words)) < 0.1, "\n", " ")
    block = "".join(np.char.add(words, breaks)).encode()
    with path.open("wb") as handle:
        written = 0
        while written < megabytes * MB:
            piece = block[: megabytes * MB - written].decode(errors="ignore").encode()  # whole characters only
            if not piece:
                break
            handle.write(piece)
            written += len(piece)


# Linux counts the memory of the process a child was forked from in the child's peak, so children
# are started from this small process, whose report is "seconds peak-kilobytes".
MEASURE = """
import os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(time.perf_counter() - start, usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def child_peak(command: list[str]) -> tuple[float, float]:
    """Seconds and peak resident MB of a child process."""
    report = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True).stdout
    seconds, kilobytes, status = report.split()
    if status != "0":
        raise SystemExit(f"{command} failed")
    return float(seconds), int(kilobytes) / 1024


def first_step_seconds(runs_dir: Path, name: str) -> float:
    """Seconds from calling train() until its first step is done, on the CPU."""
    from charmony.pipeline.run.folder import Run
    from charmony.pipeline.run.config import TrainConfig
    from charmony.pipeline.training.train import train

    class FirstStep(Exception):
        pass

    def stop(step: int) -> None:
        raise FirstStep

    config = dataclasses.replace(TrainConfig(), device="cpu", max_steps=10)
    start = time.perf_counter()
    try:
        train(Run(runs_dir / name), config, restart=True, on_step=stop)
    except FirstStep:
        return time.perf_counter() - start
    raise SystemExit("training ended before its first step")


def prepare_figures(megabytes: int, folder: Path) -> dict:
    """Generate the corpus in `folder`, measure, and delete everything again."""
    work = Path(tempfile.mkdtemp(prefix="charmony-bench-", dir=folder))
    try:
        corpus = work / "corpus.txt"
        write_corpus(corpus, megabytes)
        python = [sys.executable, "-c"]
        _, imports = child_peak([*python, "import charmony.cli"])
        seconds, peak = child_peak([sys.executable, "-m", "charmony", "prepare", "text", "--source", str(corpus),
                                    "--run", "big", "--runs-dir", str(work / "runs")])
        first_step = first_step_seconds(work / "runs", "big")
        sample = work / "classic.txt"
        with corpus.open("rb") as source, sample.open("wb") as target:
            target.write(source.read(CLASSIC_MB * MB).decode(errors="ignore").encode())
        sample_mb = sample.stat().st_size / MB
        _, classic = child_peak([*python, CLASSIC_LOADER, str(sample)])
        _, bare = child_peak([*python, "import numpy"])
        return {
            "megabytes": megabytes, "seconds": seconds, "peak_mb": peak, "import_mb": imports,
            "first_step": first_step, "classic_ratio": (classic - bare) / sample_mb, "classic_mb": sample_mb,
        }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def print_figures(figures: dict) -> None:
    """The prepare lines of the benchmark report."""
    size = figures["megabytes"]
    print(f"prepare {size:,} MB, one document     {size / figures['seconds']:12,.1f} MB/s   "
          f"({figures['seconds']:.0f} s, both passes and the hashes)")
    print(f"prepare peak resident memory    {figures['peak_mb']:12,.0f} MB     "
          f"(goal < 1,024 MB; importing charmony and torch alone: {figures['import_mb']:,.0f} MB) "
          f"= {figures['peak_mb'] / size:.2f}x the file")
    print(f"classic whole-file loader       {figures['classic_ratio']:12,.1f} x the file size in memory (measured on {figures['classic_mb']:.0f} MB, less the interpreter)")
    print(f"train first step on it (CPU)    {figures['first_step']:12,.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=1024, help="corpus size in MB")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()), help="where to write it (deleted after)")
    args = parser.parse_args()
    print_figures(prepare_figures(args.mb, args.folder))


if __name__ == "__main__":
    main()
