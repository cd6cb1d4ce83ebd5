"""Training speed with 1, 2 ... threads, on an idle CPU and with other processes keeping CPUs busy.

    python benchmarks/bench_threads.py [--threads 1,2] [--busy 0,1] [--steps 12]

Each case trains the default model (2 x 256 LSTM, 64-wide embedding, batches of 32 x 100) in a
process of its own with `--threads N`, while `busy` other processes spin; the median seconds per
step are printed, and the ratio to one thread. torch's own default is one thread per CPU, which
stalls when anything else wants a CPU, since its threads wait for each other at every operation.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time

STEP = """
import sys, time
import torch, torch.nn.functional as F
from charmony.pipeline.run.config import ModelConfig, TrainConfig
from charmony.pipeline.model.charmodel import CharModel
from charmony.pipeline.system.threads import use_threads
from charmony.pipeline.training.train import make_optimizer, train_step

threads, steps = int(sys.argv[1]), int(sys.argv[2])
use_threads(threads)
torch.manual_seed(0)
model = CharModel(ModelConfig(vocab_size=100, embedding=64))
optimizer = make_optimizer(model, TrainConfig())
x, y = torch.randint(0, 100, (32, 100)), torch.randint(0, 100, (32, 100))
state = model.initial_state(32, "cpu")
times = []
for _ in range(steps):
    start = time.perf_counter()
    _, state = train_step(model, optimizer, x, y, state, 1.0, torch.device("cpu"))
    times.append(time.perf_counter() - start)
print(sorted(times[2:])[len(times[2:]) // 2])
"""


def main() -> None:
    """Print seconds per step for each number of threads and of busy processes."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", default="1,2")
    parser.add_argument("--busy", default="0,1")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    threads = [int(n) for n in args.threads.split(",")]
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at the start")
    for busy in (int(n) for n in args.busy.split(",")):
        hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(busy)]
        try:
            time.sleep(0.5)
            results = {n: [] for n in threads}
            for _ in range(args.rounds):  # alternate, so that changes in the machine's load hit every case alike
                for n in threads:
                    done = subprocess.run([sys.executable, "-c", STEP, str(n), str(args.steps)], capture_output=True,
                                          text=True, check=True, env=dict(os.environ, OMP_NUM_THREADS=str(n)))
                    results[n].append(float(done.stdout))
        finally:
            for hog in hogs:
                hog.kill()
        one = statistics.median(results[threads[0]])
        for n in threads:
            median = statistics.median(results[n])
            print(f"{busy} busy process(es), {n} thread(s): {median:6.3f} s/step, {median / one:5.2f}x {threads[0]} thread(s)")


if __name__ == "__main__":
    main()
