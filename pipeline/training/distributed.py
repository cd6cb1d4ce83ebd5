"""Training on several processes with PyTorch's DistributedDataParallel, as torchrun launches them.

torchrun starts one process per GPU (or, on CPUs, as many as asked) and tells each its place in
the environment: RANK and WORLD_SIZE over all machines, LOCAL_RANK on its own. Processes talk
over NCCL on GPUs and gloo on CPUs. One process is a world of size 1, where every collective
below does nothing, so the training loop has a single path.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from charmony.pipeline.system.errors import CharmonyError, ConfigError

INTERRUPTED_EXIT = 130


class LaunchFailed(CharmonyError):
    """A training process failed, so the whole job was stopped."""


class LaunchInterrupted(CharmonyError):
    """The training processes were stopped by Ctrl-C or SIGTERM after saving a checkpoint."""


@dataclass(frozen=True)
class World:
    """This process' place among the training processes (a lone process is rank 0 of 1)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    local_size: int = 1

    @classmethod
    def from_environment(cls) -> World:
        """The world torchrun describes in the environment, or a world of one."""
        env = os.environ
        if "RANK" not in env or "WORLD_SIZE" not in env:
            return cls()
        return cls(int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", 0)), int(env.get("LOCAL_WORLD_SIZE", 1)))

    @property
    def main(self) -> bool:
        """Whether this process writes checkpoints, metrics and messages."""
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """This process' own device: on CUDA, the GPU of its local rank."""
        if device.type != "cuda" or self.size == 1:
            return device
        count = torch.cuda.device_count()
        if self.local_rank >= count:
            raise ConfigError(
                f"torchrun started {self.local_size} processes on a machine with {count} GPU(s); "
                f"use --nproc-per-node {count} or fewer, or --device cpu"
            )
        return torch.device("cuda", self.local_rank)

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of `tensor` over all processes (on the device the backend needs)."""
        if self.size > 1:
            dist.all_reduce(tensor)
        return tensor

    def any(self, flags: list[bool], device: torch.device) -> list[bool]:
        """For each flag, whether any process has it set."""
        if self.size == 1:
            return flags
        return [bool(x) for x in self.sum(torch.tensor(flags, dtype=torch.float32, device=device)).tolist()]

    def gather(self, tensor: torch.Tensor, device: torch.device) -> list[torch.Tensor]:
        """Every process' `tensor` (same shape everywhere), in rank order, on the CPU."""
        if self.size == 1:
            return [tensor.cpu()]
        local = tensor.to(device)
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local)
        return [part.cpu() for part in parts]


@contextmanager
def process_group(world: World, device: torch.device):
    """Join the other training processes for the duration: NCCL on GPUs, gloo on CPUs."""
    if world.size == 1 or dist.is_initialized():
        yield
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
        dist.init_process_group("nccl", device_id=device)
    else:  # each process' CPU threads are set by train (threads.py), sharing the machine's CPUs
        dist.init_process_group("gloo")
    yield
    # Only after success: a process leaving on an error must not wait here for the others. The
    # barrier lets every process finish (process 0 its last checkpoint) before any tears down.
    dist.barrier()
    dist.destroy_process_group()


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
