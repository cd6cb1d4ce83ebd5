"""Peak resident memory of `charmony prepare` for each corpus on about 100 MB of generated input.

    python benchmarks/bench_prepare_memory.py [--mb 100] [--corpus poetry --corpus words-line ...] [--folder /tmp]

Each corpus' input is generated under --folder (deleted after), `charmony prepare` runs in its own
process, and the report gives the input's size, the process' peak RSS, that peak less the baseline
(the peak of the same command on a tiny input of the same kind: the interpreter, numpy and the
corpus' modules), and that difference per byte of input (the goal: under about 3). --mb 10 gives
a quick run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from bench_prepare import child_peak  # this folder is on sys.path when a script here runs

MB = 1 << 20
WORDS = np.array(["the", "and", "of", "a", "to", "in", "music", "tune", "café", "naïve", "rhythm", "—", "harmony", "bar", "key"])
# Common characters of classical verse, and the marks that end its half-lines and couplets.
HAN_POOL = np.array([chr(code) for code in range(0x4E00, 0x4E00 + 3000)])
BASELINE_MB = 0.02  # the tiny input whose peak is the baseline
ROWS_PER_MB = 100_000  # series rows per MB asked for: 100 MB is the 10 million rows of the issue

def _write_blocks(path: Path, megabytes: float, block: Callable[[np.random.Generator], str]) -> None:
    """Write generated blocks of text to `path` until it holds `megabytes` MB."""
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as handle:
        while (room := int(megabytes * MB) - handle.tell()) > 0:
            handle.write(block(rng)[:room])


def _words(rng: np.random.Generator, count: int, line_breaks: float) -> str:
    separators = np.where(rng.random(count) < line_breaks, "\n", " ")
    return "".join(np.char.add(rng.choice(WORDS, size=count), separators))


def write_words_line(folder: Path, megabytes: float) -> Path:
    """One line of words, with no line break at all."""
    path = folder / "line.txt"
    _write_blocks(path, megabytes, lambda rng: _words(rng, 200_000, 0.0))
    return path


def write_words_lines(folder: Path, megabytes: float) -> Path:
    """Words in lines of about 20."""
    path = folder / "lines.txt"
    _write_blocks(path, megabytes, lambda rng: _words(rng, 200_000, 0.05))
    return path


def write_text(folder: Path, megabytes: float) -> Path:
    """Words in lines of about 10, read by the `text` corpus as one document."""
    path = folder / "text.txt"
    _write_blocks(path, megabytes, lambda rng: _words(rng, 200_000, 0.1))
    return path


def _poem(rng: np.random.Generator, number: int) -> dict:
    length, couplets = rng.choice([5, 7]), rng.choice([2, 4])
    characters = rng.choice(HAN_POOL, size=(couplets, 2, length))
    paragraphs = ["".join(pair[0]) + "，" + "".join(pair[1]) + "。" for pair in characters]
    return {"author": "".join(rng.choice(HAN_POOL, size=3)), "paragraphs": paragraphs,
            "title": "".join(rng.choice(HAN_POOL, size=4)), "id": f"poem-{number}"}


def write_poetry(folder: Path, megabytes: float) -> Path:
    """One JSON file in the chinese-poetry layout: a list of poems with title, author and paragraphs."""
    path = folder / "poet.tang.json"
    rng = np.random.default_rng(0)
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[\n")
        number = 0
        while handle.tell() < megabytes * MB:
            if number:
                handle.write(",\n")
            handle.write(json.dumps(_poem(rng, number), ensure_ascii=False, indent=2))
            number += 1
        handle.write("\n]\n")
    return path


def write_series(folder: Path, megabytes: float) -> Path:
    """A CSV file of an hour column and a load column, ROWS_PER_MB rows per MB asked for."""
    path = folder / "load.csv"
    rng = np.random.default_rng(0)
    rows, block = int(megabytes * ROWS_PER_MB), 1_000_000
    with path.open("w", encoding="utf-8") as handle:
        handle.write("hour,load\n")
        for start in range(0, rows, block):
            hours = np.arange(start, min(rows, start + block)) % 24
            load = 1.5 + np.sin(hours / 24 * 2 * np.pi) + rng.normal(0, 0.3, len(hours))
            handle.write("".join(f"{hour},{value:.3f}\n" for hour, value in zip(hours.tolist(), load.tolist())))
    return path


def write_code(folder: Path, megabytes: float) -> Path:
    """A folder of Python files of about 20 KB each."""
    root = folder / "code"
    root.mkdir()
    rng = np.random.default_rng(0)
    written, number = 0, 0
    while written < megabytes * MB:
        functions = []
        while sum(map(len, functions)) < 20_000:
            name, argument = rng.choice(WORDS[:8], size=2)
            functions.append(f"def {name}_{len(functions)}({argument}):\n    \"\"\"Return {argument}.\"\"\"\n"
                             f"    total = {argument} * {int(rng.integers(100))}\n    return total + {len(functions)}\n\n\n")
        text = "".join(functions)
        (root / f"module_{number:05d}.py").write_text(text, encoding="utf-8")
        written += len(text.encode())
        number += 1
    return root


# name: (corpus, writer, options)
CASES: dict[str, tuple[str, Callable[[Path, float], Path], tuple[str, ...]]] = {
    "poetry": ("poetry", write_poetry, ()),
    "words-line": ("words", write_words_line, ()),
    "words-lines": ("words", write_words_lines, ()),
    "series": ("series", write_series, ()),
    "text": ("text", write_text, ()),
    "code": ("code", write_code, ()),
}


def input_bytes(path: Path) -> int:
    """The size of a file, or of all the files under a folder."""
    return path.stat().st_size if path.is_file() else sum(file.stat().st_size for file in path.rglob("*") if file.is_file())


def prepare_command(corpus: str, source: Path, runs: Path, options: tuple[str, ...] = ()) -> list[str]:
    """The `charmony prepare` command line for `corpus` read from `source` into a run under `runs`."""
    command = [sys.executable, "-m", "charmony", "prepare", corpus, "--source", str(source), "--run", "bench",
               "--runs-dir", str(runs)]
    for option in options:
        command += ["--option", option]
    return command


def prepare_peak(case: str, megabytes: float, folder: Path) -> tuple[float, float, float]:
    """Generate `megabytes` MB of input for `case` and prepare it: input MB, seconds and peak resident MB."""
    corpus, writer, options = CASES[case]
    work = Path(tempfile.mkdtemp(prefix="charmony-memory-", dir=folder))
    try:
        (work / "input").mkdir()
        source = writer(work / "input", megabytes)
        seconds, peak = child_peak(prepare_command(corpus, source, work / "runs", options))
        return input_bytes(source) / MB, seconds, peak
    finally:
        shutil.rmtree(work, ignore_errors=True)


def measure(case: str, megabytes: float, folder: Path) -> dict:
    """The figures of `case` on `megabytes` MB of input, beside its baseline on BASELINE_MB."""
    _, _, baseline = prepare_peak(case, BASELINE_MB, folder)
    size, seconds, peak = prepare_peak(case, megabytes, folder)
    return {"case": case, "input_mb": size, "seconds": seconds, "peak_mb": peak, "baseline_mb": baseline,
            "ratio": (peak - baseline) / size}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=100, help="input size in MB (default 100)")
    parser.add_argument("--corpus", action="append", choices=list(CASES), help="which case (default: all)")
    parser.add_argument("--folder", type=Path, default=Path(tempfile.gettempdir()), help="where to write inputs (deleted after)")
    args = parser.parse_args()
    print(f"{'case':12} {'input MB':>9} {'seconds':>8} {'peak MB':>8} {'baseline MB':>12} {'(peak - baseline) / input':>26}")
    for case in args.corpus or list(CASES):
        figures = measure(case, args.mb, args.folder)
        print(f"{case:12} {figures['input_mb']:9.1f} {figures['seconds']:8.1f} {figures['peak_mb']:8.0f} "
              f"{figures['baseline_mb']:12.0f} {figures['ratio']:26.2f}", flush=True)


if __name__ == "__main__":
    main()
