"""Start-up of the light commands: `charmony --help` and `charmony check` on one tune, against `python -c "import click"`.

    python benchmarks/bench_startup.py [--rounds 10]

Each command runs as a fresh process, in alternating rounds, and the medians are compared. Goals:
`charmony --help` under 0.3 s and `charmony check` on one tune under 1 s (the check imports the
built-in plugins, ABC checker included, but neither torch, numpy nor music21).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TUNE = "X:1\nT:Scale\nM:4/4\nL:1/8\nK:D\nDEFG ABcd|edcB AGFE|D8|]\n"
GOALS = {"charmony --help": 0.3, "charmony check tune.abc": 1.0}


def seconds(command: list[str], cwd: Path) -> float:
    """Wall time of one run of `command`."""
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def main() -> None:
    """Print the median start-up of each command and its ratio to importing click alone."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        cwd = Path(folder)
        (cwd / "tune.abc").write_text(TUNE)
        commands = {
            'python -c "import click"': [sys.executable, "-c", "import click"],
            "charmony --help": [sys.executable, "-m", "charmony", "--help"],
            "charmony check tune.abc": [sys.executable, "-m", "charmony", "check", "tune.abc"],
        }
        for command in commands.values():  # warm the file cache and the bytecode
            seconds(command, cwd)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(seconds(command, cwd))
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}, {args.rounds} rounds")
    baseline = statistics.median(times['python -c "import click"'])
    for name, runs in times.items():
        median = statistics.median(runs)
        goal = f"  (goal: under {GOALS[name]} s: {'met' if median < GOALS[name] else 'missed'})" if name in GOALS else ""
        print(f"{name:28s} {median:6.3f} s median, {median / baseline:5.1f}x import click{goal}")


if __name__ == "__main__":
    main()
