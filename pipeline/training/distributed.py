"""Launching training on several processes with torchrun, and refusing more processes than the machine has GPUs.

torchrun starts one process per GPU (or, on CPUs, as many as asked) and tells each its place in
the environment: RANK and WORLD_SIZE over all machines, LOCAL_RANK on its own. Processes talk
over NCCL on GPUs and gloo on CPUs. One process is a world of size 1, where every collective
below does nothing, so the training loop has a single path.
"""

from __future__ import annotations

import signal
import sys
import uuid

import torch

from charmony.pipeline.system.errors import CharmonyError, ConfigError
from charmony.pipeline.system.interrupt import INTERRUPTED_EXIT



class LaunchFailed(CharmonyError):
    """A training process failed, so the whole job was stopped."""


class LaunchInterrupted(CharmonyError):
    """The training processes were stopped by Ctrl-C or SIGTERM after saving a checkpoint."""


def check_gpus(nproc: int, device: torch.device) -> None:
    """Refuse more processes on CUDA than this machine has GPUs."""
    if device.type == "cuda" and nproc > torch.cuda.device_count():
        raise ConfigError(
            f"--nproc {nproc} needs {nproc} GPUs but this machine has {torch.cuda.device_count()}; "
            "use fewer processes, or --device cpu"
        )


def launch(nproc: int, args: list[str]) -> None:
    """Run `python -m charmony ARGS` as `nproc` processes of one job on this machine, as `torchrun --standalone` does.

    Raises LaunchInterrupted when every process stopped on a signal, LaunchFailed when one failed.
    """
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    config = LaunchConfig(
        min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
        rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
    )
    handled = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)
    previous = {sig: signal.getsignal(sig) for sig in handled}
    try:
        elastic_launch(config, sys.executable)("-m", "charmony", *args)
    except SignalException as error:
        # The launcher passed the signal on to every process, which saved a checkpoint and stopped.
        raise LaunchInterrupted(f"stopped by {error.sigval.name}") from None
    except ChildFailedError as error:
        failures = error.failures
        if all(failure.exitcode == INTERRUPTED_EXIT for failure in failures.values()):
            raise LaunchInterrupted("stopped by a signal") from None
        # The cause rather than its consequences: a process killed outright comes before one that
        # failed when its partner vanished, and both before those the launcher stopped with SIGTERM.
        rank, failure = min(failures.items(), key=lambda item: (item[1].exitcode == -signal.SIGTERM, item[1].exitcode >= 0, item[0]))
        how = f"was killed by {failure.signal_name()}" if failure.exitcode < 0 else f"exited with status {failure.exitcode}"
        raise LaunchFailed(f"training process {rank} of {nproc} {how}, so the job stopped; see its message above") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
