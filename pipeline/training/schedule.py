"""The learning-rate schedule: linear warm-up, then cosine decay to a tenth of the peak, continued smoothly on resume.

The schedule is saved in each checkpoint. Resuming with another `--max-steps` does not recompute
the cosine from step 0, which would make the learning rate jump (from 5.0e-4 back up to 6.6e-4,
say): it adds a leg that starts where the rate stands and decays from there to the new last step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

FLOOR = 0.1  # the share of the peak the rate decays to


@dataclass(frozen=True)
class Leg:
    """A cosine from `factor` of the peak at step `start` down to the floor at step `end`."""

    start: int
    factor: float
    end: int


@dataclass(frozen=True)
class Schedule:
    """The share of the peak learning rate for each step: warm-up, then one or more cosine legs."""

    warmup: int
    legs: tuple[Leg, ...]

    @classmethod
    def initial(cls, warmup_steps: int, max_steps: int) -> Schedule:
        """Warm up for `warmup_steps` (at most a tenth of `max_steps`), then decay to the floor at `max_steps`."""
        warmup = min(warmup_steps, max_steps // 10)
        return cls(warmup, (Leg(warmup, 1.0, max_steps),))

    def factor(self, step: int) -> float:
        """The share of the peak for the step after `step` steps."""
        if step < self.warmup:
            return (step + 1) / self.warmup
        leg = next(leg for leg in reversed(self.legs) if leg.start <= step)
        progress = min(1.0, (step - leg.start) / max(1, leg.end - leg.start))
        return FLOOR + (leg.factor - FLOOR) * 0.5 * (1 + math.cos(math.pi * progress))

    def extended(self, step: int, max_steps: int) -> Schedule:
        """The schedule of a run resumed at `step` to train to `max_steps`: the rate goes on from where it is."""
        if max_steps == self.legs[-1].end:
            return self
        if step < self.warmup:  # still warming up: the one cosine starts after the warm-up as before
            return Schedule(self.warmup, (Leg(self.warmup, 1.0, max_steps),))
        kept = tuple(leg for leg in self.legs if leg.start < step)
        return Schedule(self.warmup, (*kept, Leg(step, self.factor(step), max_steps)))

    def to_json(self) -> dict:
        """The schedule as plain JSON data."""
        return {"warmup": self.warmup, "legs": [[leg.start, leg.factor, leg.end] for leg in self.legs]}

    @classmethod
    def from_json(cls, data: dict) -> Schedule:
        """The schedule `to_json` gave; a ValueError when it is not one."""
        try:
            legs = tuple(Leg(int(start), float(factor), int(end)) for start, factor, end in data["legs"])
            schedule = cls(int(data["warmup"]), legs)
        except (KeyError, TypeError, ValueError):
            raise ValueError("the learning-rate schedule is damaged") from None
        if not legs or schedule.warmup < 0:
            raise ValueError("the learning-rate schedule is damaged")
        return schedule
