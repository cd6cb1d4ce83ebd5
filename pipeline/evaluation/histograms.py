"""The overlap of two histograms, the style measure every evaluation shares."""

from __future__ import annotations

from collections import Counter


def overlap(samples: Counter, reference: Counter) -> float | None:
    """The overlap area of two histograms, each normalised to sum to 1; None when either is empty."""
    total_samples, total_reference = sum(samples.values()), sum(reference.values())
    if not total_samples or not total_reference:
        return None
    return sum(min(count / total_samples, reference.get(bin_, 0) / total_reference) for bin_, count in samples.items())
