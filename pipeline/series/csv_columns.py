"""Reading numeric columns of a CSV file: comma, semicolon or tab separated, decimal points or commas.

The UCI ElectricityLoadDiagrams20112014 file reads as it is: `;`-separated, decimal commas, a
timestamp column and one column per client.
"""

from __future__ import annotations

import csv
import math
from array import array
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.series.values import VALUE_LIMIT, out_of_range
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.system.sources import read_pieces

MISSING = {"", "nan", "na", "n/a", "null", "none"}
LINES_BYTES = 1 << 20  # read at a time: each line of a piece is a Python string until it is parsed


@dataclass(frozen=True)
class Column:
    """One numeric column's values, in file order, empty and NaN cells left out."""

    name: str
    values: np.ndarray
    source: Path
    skipped: int = 0  # empty or NaN cells


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, read a piece of LINES_BYTES at a time."""
    carry = ""
    for piece in read_pieces(path, LINES_BYTES):
        lines = (carry + piece).split("\n")
        carry = lines.pop()
        yield from lines
    if carry:
        yield carry


def shortened(cell: str, length: int = 40) -> str:
    """The cell as Python writes it, cut to about `length` characters: a 100,000-digit cell makes no one-line message."""
    text = repr(cell)
    return text if len(text) <= length else f"{text[:length]}... ({len(cell):,} characters)"


def _number(cell: str, decimal_comma: bool) -> float | None:
    """The cell's number (NaN for a missing one), or None when it is not a number."""
    text = cell.strip().strip('"').strip()
    if text.lower() in MISSING:
        return math.nan
    if decimal_comma:
        text = text.replace(",", ".")
    try:
        return float(text)
    except ValueError:
        return None


def read_columns(path: Path, wanted: tuple[str, ...] | None) -> list[Column]:
    """The columns named `wanted` (default: the first numeric one) of a CSV file.

    A CorpusError, naming the file's columns, for a name it lacks, a column that is not numeric,
    or a file without a numeric column; a CorpusError naming the data row for an infinite cell or one beyond
    VALUE_LIMIT (they would swamp the scaling). Empty and NaN cells are skipped with one warning per column.
    """
    lines = (line for line in _lines(path) if line.strip())
    first = next(lines, None)
    if first is None:
        raise CorpusError(f"{path} is empty; give a CSV file with a numeric column")
    delimiter = max(";\t,", key=first.count) if any(mark in first for mark in ";\t,") else ","
    decimal_comma = delimiter != ","
    rows = csv.reader(lines, delimiter=delimiter)
    header = next(csv.reader([first], delimiter=delimiter))
    names = [name.strip().strip('"') or f"column {index + 1}" for index, name in enumerate(header)]
    data: Iterator[list[str]] = rows
    if all(_number(cell, decimal_comma) is not None for cell in header):  # no header: the first line is data
        names, data = [str(index + 1) for index in range(len(header))], chain([header], rows)
    first_row = next(data, None)
    if first_row is None:
        raise CorpusError(f"{path} holds a header but no data rows; give a CSV file with numbers")
    numeric = [name for name, cell in zip(names, first_row) if _number(cell, decimal_comma) is not None]
    listing = ", ".join(names)
    if not numeric:
        raise CorpusError(f"{path} has no numeric column; its columns: {listing}")
    chosen = list(wanted) if wanted else numeric[:1]
    for name in chosen:
        if name not in names:
            raise CorpusError(f"{path} has no column {name!r}; its columns: {listing}")
    indices = [names.index(name) for name in chosen]
    values = [array("d") for _ in chosen]  # 8 bytes a value, where a list of floats takes 32
    skipped = [0] * len(chosen)

    def add(row: list[str], line: int) -> None:
        for slot, index in enumerate(indices):
            number = _number(row[index], decimal_comma) if index < len(row) else math.nan
            if number is None:
                raise CorpusError(
                    f"{path}: column {chosen[slot]!r} is not numeric (data row {line}: {shortened(row[index])}); "
                    f"its numeric columns: {', '.join(numeric)}"
                )
            if out_of_range(number):
                raise CorpusError(
                    f"{path}: column {chosen[slot]!r}, data row {line}: {shortened(row[index])} is not a finite number "
                    f"of at most {VALUE_LIMIT:g} in size; correct that cell"
                )
            if math.isnan(number):
                skipped[slot] += 1
            else:
                values[slot].append(number)

    for line, row in enumerate(chain([first_row], data), start=1):
        add(row, line)
    columns = []
    for name, column in zip(chosen, values):
        if not column:
            raise CorpusError(f"{path}: column {name!r} holds no numbers; its numeric columns: {', '.join(numeric)}")
    for name, column, count in zip(chosen, values, skipped):
        if count:
            warnings.warn(f"{path}: skipped {count:,} empty or NaN cells of column {name!r}", CorpusWarning, stacklevel=2)
        columns.append(Column(name, np.frombuffer(column, dtype=np.float64), path, count))
    return columns
