"""An exponential moving average of the weights (Polyak averaging): what validation scores and best.pt keeps.

On a small corpus the model is best after a few hundred steps, and the weights at any one step of a
noisy descent differ from seed to seed more than the average of the last few dozen steps does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


def misfit(averaged: dict[str, torch.Tensor], shapes: dict[str, torch.Size]) -> str | None:
    """Why a saved average does not fit parameters of these names and `shapes` ("lacks NAME", "holds NAME, which
    is no parameter of the model's shape"); None where it holds exactly one tensor of the right shape for each."""
    missing = next((name for name in shapes if name not in averaged), None)
    if missing is not None:
        return f"lacks {missing}"
    wrong = next((name for name, value in averaged.items() if shapes.get(name) != value.shape), None)
    return None if wrong is None else f"holds {wrong}, which is no parameter of the model's shape"


class WeightAverage:
    """The average of a model's weights over its last steps, each step's weight `1 - decay`."""

    def __init__(self, model: torch.nn.Module, decay: float, saved: dict[str, torch.Tensor] | None = None):
        self.decay = decay
        self.parameters = dict(model.named_parameters())
        self.averaged = {name: parameter.detach().clone() for name, parameter in self.parameters.items()}
        # the same tensors in one order, for the update every step
        self._pairs = ([self.averaged[name] for name in self.parameters], [p.detach() for p in self.parameters.values()])
        if saved is not None:
            if misfit(saved, {name: tensor.shape for name, tensor in self.averaged.items()}) is not None:
                raise KeyError("the saved average does not fit the model")
            for name, tensor in saved.items():
                self.averaged[name].copy_(tensor)

    def update(self) -> None:
        """Move the average towards the weights after a step."""
        with torch.no_grad():
            torch._foreach_lerp_(*self._pairs, 1 - self.decay)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The averaged weights by parameter name, for a checkpoint (on the CPU)."""
        return {name: tensor.detach().to("cpu", copy=True) for name, tensor in self.averaged.items()}

    @contextmanager
    def applied(self) -> Iterator[None]:
        """The model holds the averaged weights inside the block, and its own again after it."""
        kept = {name: parameter.detach().clone() for name, parameter in self.parameters.items()}
        with torch.no_grad():
            for name, parameter in self.parameters.items():
                parameter.copy_(self.averaged[name])
        try:
            yield
        finally:
            with torch.no_grad():
                for name, parameter in self.parameters.items():
                    parameter.copy_(kept[name])
