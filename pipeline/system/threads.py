"""How many CPU threads torch computes with: --threads, $CHARMONY_THREADS, $OMP_NUM_THREADS, or a default that holds up under load."""

from __future__ import annotations

import os

from charmony.pipeline.system.errors import ConfigError

THREADS_ENV = "CHARMONY_THREADS"
THREADS_PER_CPU = 4


def available_cpus() -> int:
    """The CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def thread_limit() -> int:
    """The most threads (or processes) a setting may ask for: four per CPU of the machine.

    Far more makes libgomp hang or crash (100,000 threads: a segmentation fault) instead of saying why.
    """
    return THREADS_PER_CPU * (os.cpu_count() or 1)


def check_threads(setting: str, count: int) -> None:
    """A ConfigError unless `count` threads or processes, as `setting` asks, are from 1 to `thread_limit()`."""
    if not 1 <= count <= thread_limit():
        raise ConfigError(f"{setting} must be from 1 to {thread_limit():,} ({THREADS_PER_CPU} per CPU of this machine's "
                          f"{os.cpu_count() or 1}), not {count:,}")


def default_threads(cpus: int | None = None) -> int:
    """One thread below two CPUs' worth, else one CPU left free.

    torch's own default (one thread per CPU) stalls when anything else wants a CPU: its threads
    wait for each other at every operation, so a step took 5 to 9 s instead of 0.3 s on a busy
    2-CPU machine. Leaving a CPU free costs little when the machine is idle (benchmarks/README.md).
    """
    cpus = cpus or available_cpus()
    return 1 if cpus <= 2 else cpus - 1


def threads_to_use(given: int | None, processes: int = 1) -> int:
    """Threads for each of `processes` training processes on this machine: given, from the environment, or the default."""
    if given is not None:
        check_threads("--threads", given)
        return given
    for variable in (THREADS_ENV, "OMP_NUM_THREADS"):  # torchrun sets OMP_NUM_THREADS for its processes
        value = os.environ.get(variable, "").strip()
        if value:
            if not value.isdigit() or int(value) < 1:
                raise ConfigError(f"${variable}={value}: give a whole number of threads, at least 1")
            check_threads(f"${variable}", int(value))
            return int(value)
    return max(1, default_threads() // processes)


def use_threads(given: int | None, processes: int = 1) -> int:
    """Set torch's CPU threads as `threads_to_use` says; return how many.

    torch is told only when it would use another number: changing it in a training process of a
    gloo job now and then aborts that process, so launchers pass the number in OMP_NUM_THREADS,
    which torch reads when it starts.
    """
    import torch

    threads = threads_to_use(given, processes)
    if torch.get_num_threads() != threads:
        torch.set_num_threads(threads)
    return threads
