"""Fitting the learning-rate schedule to --max-minutes: the cosine ends when the time does, not at --max-steps."""

from __future__ import annotations

from dataclasses import dataclass, field

from charmony.pipeline.training.schedule import Schedule

FIT_AT = (0.05, 0.2, 0.5)  # shares of the budget after which the schedule is fitted to the steps the rest allows
SPARE = 0.97  # of the remaining time counted on, for the last evaluation and checkpoint


@dataclass
class TimeBudget:
    """When training started (seconds, monotonic), at which step, and when it must stop."""

    started: float
    first_step: int
    deadline: float
    fits_left: list[float] = field(default_factory=lambda: list(FIT_AT))

    def fitted(self, schedule: Schedule, step: int, max_steps: int, now: float) -> Schedule:
        """The schedule ending at the step that the steps' pace so far reaches by the deadline (at most `max_steps`),
        refitted at each share of FIT_AT; unchanged between them."""
        if not self.fits_left or now - self.started < self.fits_left[0] * (self.deadline - self.started):
            return schedule
        while self.fits_left and now - self.started >= self.fits_left[0] * (self.deadline - self.started):
            self.fits_left.pop(0)
        pace = (step - self.first_step) / max(now - self.started, 1e-9)
        end = min(max_steps, step + max(1, int(pace * (self.deadline - now) * SPARE)))
        return schedule if end == schedule.legs[-1].end else schedule.extended(step, end)
