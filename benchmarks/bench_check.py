"""`charmony check` on generated ABC collections of 3,000, 12,000 and 60,000 tunes: time per tune and peak memory.

    python benchmarks/bench_check.py [--sizes 3000,12000,60000] [--folder /tmp]

Each size is checked in its own process, so that its peak resident memory (getrusage's maxrss) is its own;
the memory of that process after importing charmony is printed beside it. Checking is linear when the
time per tune stays the same from size to size, and bounded in memory when the peak does.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

NOTES = "GABcdefg"
# Runs `charmony check FILE` in this process after importing it, then prints seconds, import MB and peak MB.
MEASURE = """
import resource, sys, time
from charmony.cli import main
imported = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.argv = ["charmony", "check", sys.argv[1]]
start = time.perf_counter()
try:
    main()
except SystemExit as exit:
    status = exit.code
seconds = time.perf_counter() - start
print(seconds, imported / 1024, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, status)
"""


def tune(number: int) -> str:
    """A 4/4 reel of four bars in G with a pickup, about 240 bytes, its notes varied by its number."""
    a, b, c = (NOTES[(number * k) % 8] for k in (1, 3, 5))
    return (f"X:{number}\nT:Reel number {number}\nC:Generated\nR:reel\nM:4/4\nL:1/8\nQ:1/4=120\nK:G\n"
            f"D|{a}2B{b} c2e{c}|d2B{a} ({b}d) BG|{c}A{a}B {b}dgd|e2d{a} G3:|\n"
            f"|:g|f2a{b} gfe{c}|d2B{a} {b}A{c}B|{a}gfe dBAG|{c}2BG G3:|\n\n")


def write_collection(path: Path, tunes: int) -> None:
    """`tunes` generated tunes in one file."""
    with path.open("w", encoding="utf-8") as handle:
        for number in range(1, tunes + 1):
            handle.write(tune(number))


def measure(path: Path) -> tuple[float, float, float]:
    """Seconds `check` takes on `path`, and the MB resident after importing and at the peak, in a fresh process."""
    report = subprocess.run([sys.executable, "-c", MEASURE, str(path)], capture_output=True, text=True, check=True)
    seconds, imported, peak, status = report.stdout.split()[-4:]
    if status not in ("None", "0"):
        raise SystemExit(f"check found problems in the generated tunes:\n{report.stdout[-2000:]}")
    return float(seconds), float(imported), float(peak)


def main() -> None:
    """Check each size and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="3000,12000,60000", help="numbers of tunes, separated by commas")
    parser.add_argument("--folder", type=Path, default=None, help="where the collections are written (then deleted)")
    arguments = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="charmony-bench-check-", dir=arguments.folder))
    try:
        print(f"{'tunes':>8} {'MB':>6} {'seconds':>8} {'ms/tune':>8} {'peak MB':>8} {'after import':>13}")
        for size in (int(part) for part in arguments.sizes.split(",")):
            path = work / f"tunes-{size}.abc"
            write_collection(path, size)
            seconds, imported, peak = measure(path)
            megabytes = path.stat().st_size / (1 << 20)
            print(f"{size:8,} {megabytes:6.1f} {seconds:8.1f} {1000 * seconds / size:8.2f} {peak:8.0f} {imported:13.0f}",
                  flush=True)
            path.unlink()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
