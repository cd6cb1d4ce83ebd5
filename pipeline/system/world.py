"""The processes a stage runs on: one, or several as torchrun starts them, and what they agree on together.

torchrun starts one process per GPU (or, on CPUs, as many as asked) and tells each its place in
the environment: RANK and WORLD_SIZE over all machines, LOCAL_RANK on its own. Processes talk
over NCCL on GPUs and gloo on CPUs. One process is a world of size 1, where every collective
below does nothing, so the training loop has a single path.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist

from charmony.pipeline.system.errors import ConfigError


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
