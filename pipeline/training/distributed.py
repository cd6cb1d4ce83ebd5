"""Launching training on several processes with torchrun, and refusing more processes than the machine has GPUs.

torchrun starts one process per GPU (or, on CPUs, as many as asked) and tells each its place in
the environment: RANK and WORLD_SIZE over all machines, LOCAL_RANK on its own. Processes talk
over NCCL on GPUs and gloo on CPUs. One process is a world of size 1, where every collective
below does nothing, so the training loop has a single path.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import uuid

import torch

from charmony.pipeline.system.errors import CharmonyError, ConfigError
from charmony.pipeline.system.interrupt import INTERRUPTED_EXIT, RECEIVED

# How long a training process whose work failed waits to be stopped by its launcher, as it is when a partner died
# first and took the collectives down with it: that failure is the partner's, and the partner's alone is told.
# Generous, since a launcher on a busy machine can take seconds to notice a death; only an error that is the
# process' own (a bug, not a user's mistake) waits it out.
PARTNER_GRACE_SECONDS = 10.0
# The launcher's own log lines (which process it stops, which failed) say again what its one error line says.
LAUNCHER_LOGGERS = ("torch.distributed.elastic", "torch.distributed.launcher")


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
    loggers = [logging.getLogger(name) for name in LAUNCHER_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
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
        # A process killed by a signal said nothing; one that exited with a status said why, above.
        if failure.exitcode < 0:
            how = f"was killed by {failure.signal_name()}, so the job stopped"
        else:
            how = f"exited with status {failure.exitcode}, so the job stopped; see its message above"
        raise LaunchFailed(f"training process {rank} of {nproc} {how}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def await_launcher() -> None:
    """In a training process whose work failed, give the launcher time to stop it before its error is told.

    When a partner process dies, this one's collectives fail too, and the launcher stops it with SIGTERM
    as soon as it sees the partner gone: ended so, it prints nothing, and the launcher names the partner
    alone. An error that is this process' own is still told, after the wait. The launcher sends SIGTERM once:
    where it came while this process was still at work (taken as a request to stop after the step, whose
    collectives then failed), the process ends by it now, as it would have.
    """
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if signal.SIGTERM in RECEIVED:
        os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(PARTNER_GRACE_SECONDS)
