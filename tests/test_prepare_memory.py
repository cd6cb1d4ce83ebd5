"""`charmony prepare` streams: its peak resident memory, less that of the same command on a tiny input, stays small.

Each test generates an input of some megabytes, runs `charmony prepare` on it in a child process
and on a tiny input of the same kind (the baseline: the interpreter, numpy and the corpus' modules),
and bounds the difference. The bounds sit well above what streaming needs and well below what the
code that read whole files and held whole documents' tokens needed (in brackets: that code's peak
above the baseline on these inputs, and this code's).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # each test prepares several megabytes twice in child processes

MB = 1 << 20
WORDS = ("the", "and", "of", "a", "to", "in", "music", "tune", "café", "naïve", "rhythm", "—", "harmony", "bar", "key")
HAN = [chr(code) for code in range(0x4E00, 0x4E00 + 3000)]

# Linux counts the memory of the process a child was forked from in the child's peak, so the child
# is started from this small process, which prints its peak in kilobytes and its exit status.
MEASURE = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
_, status, usage = os.wait4(child.pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status), child.stderr.read().decode()[-2000:])
"""


def peak_mb(corpus: str, source: Path, runs: Path) -> float:
    """The peak resident MB of `charmony prepare corpus --source source`, which must succeed."""
    command = [sys.executable, "-m", "charmony", "prepare", corpus, "--source", str(source), "--run", source.stem,
               "--runs-dir", str(runs)]
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    report = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True,
                            env=environment, timeout=600).stdout
    kilobytes, status, errors = report.split(" ", 2)
    assert status == "0", errors
    return int(kilobytes) / 1024


def prepared_beyond_baseline(corpus: str, write, tmp_path: Path, megabytes: float) -> tuple[float, float]:
    """MB of input written by `write(folder, megabytes)`, and the peak of preparing it less the tiny input's peak."""
    tiny, large = tmp_path / "tiny", tmp_path / "large"
    tiny.mkdir()
    large.mkdir()
    baseline = peak_mb(corpus, write(tiny, 0.02), tmp_path / "runs")
    source = write(large, megabytes)
    size = sum(path.stat().st_size for path in [source, *source.rglob("*")] if path.is_file()) / MB
    return size, peak_mb(corpus, source, tmp_path / "runs") - baseline


def write_words(folder: Path, megabytes: float, line_break: float) -> Path:
    """Random words, a line break after a `line_break` share of them."""
    rng, path = random.Random(0), folder / "words.txt"
    with path.open("w", encoding="utf-8") as handle:
        while handle.tell() < megabytes * MB:
            handle.write("".join(rng.choice(WORDS) + ("\n" if rng.random() < line_break else " ") for _ in range(10_000)))
    return path


def write_poems(folder: Path, megabytes: float) -> Path:
    """chinese-poetry JSON: one file, a list of poems of four or eight lines of five or seven characters."""
    rng, poems, size = random.Random(0), [], 0
    while size < megabytes * MB:
        length = rng.choice((5, 7))
        lines = ["".join(rng.choices(HAN, k=length)) + "，" + "".join(rng.choices(HAN, k=length)) + "。"
                 for _ in range(rng.choice((2, 4)))]
        poems.append({"title": "".join(rng.choices(HAN, k=4)), "author": "".join(rng.choices(HAN, k=3)), "paragraphs": lines})
        size += 3 * sum(map(len, lines)) + 80
    path = folder / "poems.json"
    path.write_text(json.dumps(poems, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def write_series(folder: Path, megabytes: float) -> Path:
    """A CSV file of an hour column and a load column, about 100,000 rows a megabyte."""
    rng, path = random.Random(0), folder / "load.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("hour,load\n")
        handle.writelines(f"{row % 24},{rng.uniform(0.5, 3.0):.3f}\n" for row in range(int(megabytes * 100_000)))
    return path


def write_code(folder: Path, megabytes: float) -> Path:
    """A folder of small Python modules."""
    root = folder / "code"
    root.mkdir()
    module = "".join(f"def {word}_{n}(value):\n    \"\"\"Return value.\"\"\"\n    return value + {n}\n\n\n"
                     for n, word in enumerate(WORDS[:8] * 40))
    for number in range(max(1, round(megabytes * MB / len(module)))):
        (root / f"module_{number}.py").write_text(module, encoding="utf-8")
    return root


def test_words_on_one_long_line_are_prepared_in_parts(tmp_path):
    size, used = prepared_beyond_baseline("words", lambda folder, mb: write_words(folder, mb, 0.0), tmp_path, 8)
    assert used < 100, f"{used:.0f} MB above the baseline for {size:.1f} MB of words on one line (was 160 MB, now ~35)"


def test_words_on_many_lines_are_prepared_in_parts(tmp_path):
    size, used = prepared_beyond_baseline("words", lambda folder, mb: write_words(folder, mb, 0.05), tmp_path, 8)
    assert used < 100, f"{used:.0f} MB above the baseline for {size:.1f} MB of words (was 167 MB, now ~35)"


def test_a_poetry_json_file_is_decoded_a_poem_at_a_time(tmp_path):
    size, used = prepared_beyond_baseline("poetry", write_poems, tmp_path, 16)
    assert used < 70, f"{used:.0f} MB above the baseline for {size:.1f} MB of poems (was 109 MB, now ~27)"


def test_a_long_series_is_held_as_floats_and_handed_on_in_parts(tmp_path):
    size, used = prepared_beyond_baseline("series", write_series, tmp_path, 14)
    assert used < 100, f"{used:.0f} MB above the baseline for {size:.1f} MB of CSV (was 140 MB, now ~45)"


def test_one_large_text_document_is_encoded_a_slice_at_a_time(tmp_path):
    size, used = prepared_beyond_baseline("text", lambda folder, mb: write_words(folder, mb, 0.1), tmp_path, 16)
    assert used < 66, f"{used:.0f} MB above the baseline for {size:.1f} MB of text (was 80 MB, now ~52)"


def test_code_files_are_read_one_at_a_time(tmp_path):
    size, used = prepared_beyond_baseline("code", write_code, tmp_path, 8)
    assert used < 3 * size, f"{used:.0f} MB above the baseline for {size:.1f} MB of source files"
