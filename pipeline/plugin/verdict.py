"""What a checker says of a sample: whether it is valid, and each problem at its line and column."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a sample, at a 1-based line and column."""

    line: int
    column: int
    message: str


@dataclass
class Verdict:
    """What a checker concluded about one sample."""

    valid: bool
    problems: list[Problem] = field(default_factory=list)
    # Checker-specific figures, e.g. {"bars": 32, "bars_ok": 30}; JSON-serialisable.
    details: dict = field(default_factory=dict)
    # What the checker built on the way (e.g. the parsed tunes), for renderers of the same file; never saved.
    parsed: Any = field(default=None, compare=False, repr=False)

    def to_json(self) -> dict:
        """The verdict as plain JSON data (without `parsed`)."""
        return {"valid": self.valid, "problems": [asdict(p) for p in self.problems], "details": self.details}

    @classmethod
    def from_json(cls, data: dict) -> Verdict:
        """The verdict `to_json` gave."""
        return cls(data["valid"], [Problem(**p) for p in data.get("problems", [])], data.get("details", {}))
