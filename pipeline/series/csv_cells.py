"""The cells of a series CSV file: numbers with decimal points or commas, missing cells, and cells shown in messages."""

from __future__ import annotations

import math

MISSING = {"", "nan", "na", "n/a", "null", "none"}


def cell_text(cell: str) -> str:
    """The cell without the spaces and quotes around it."""
    return cell.strip().strip('"').strip()


def is_missing(cell: str) -> bool:
    """Whether the cell is empty or says its value is missing (NaN, NA, null...)."""
    return cell_text(cell).lower() in MISSING


def cell_number(cell: str, decimal_comma: bool) -> float | None:
    """The cell's number (NaN for a missing one), or None when it is not a number."""
    text = cell.strip().strip('"').strip()  # cell_text, inlined: this runs once a cell
    if text.lower() in MISSING:
        return math.nan
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def shortened(cell: str, length: int = 40) -> str:
    """The cell as Python writes it, cut to about `length` characters: a 100,000-digit cell makes no one-line message."""
    text = repr(cell)
    return text if len(text) <= length else f"{text[:length]}... ({len(cell):,} characters)"
