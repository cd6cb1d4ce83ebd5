"""Choosing the device and the precision to compute in."""

from __future__ import annotations

import contextlib

import torch

from charmony.pipeline.system.errors import ConfigError


def resolve_device(name: str) -> torch.device:
    """`auto` picks CUDA when there is a GPU and the CPU otherwise; `cuda` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device must be auto, cpu or cuda, not {name!r}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda: this machine has no usable CUDA GPU; use --device cpu or --device auto")
    if device.type not in ("cpu", "cuda"):
        raise ConfigError(f"--device must be auto, cpu or cuda, not {name!r}")
    return device


def autocast(device: torch.device):
    """bf16 autocast on CUDA (weights stay fp32); full precision on the CPU."""
    if device.type == "cuda":
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()
