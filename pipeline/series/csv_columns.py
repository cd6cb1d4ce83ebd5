"""Reading numeric columns of a CSV file: comma, semicolon or tab separated, decimal points or commas.

The UCI ElectricityLoadDiagrams20112014 file reads as it is: `;`-separated, decimal commas, a
timestamp column and one column per client. A missing value (an empty or NaN cell, a row too short,
a blank line between rows) keeps its row's place in time: it is filled in (series/gaps.py) and marked;
those before a column's first number or after its last are left out.
"""

from __future__ import annotations

import csv
import math
import warnings
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path

import numpy as np

from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.series.csv_cells import cell_number, shortened
from charmony.pipeline.series.gaps import fill_gaps, known_span, missing_text
from charmony.pipeline.series.time_column import Spacing, TimeColumn, TimeOrder, find_time_column, label_columns
from charmony.pipeline.series.values import VALUE_LIMIT, out_of_range
from charmony.pipeline.system.errors import CorpusError
from charmony.pipeline.system.sources import read_pieces

CLAUSES = 4  # groups of columns that miss values alike, named in the warning
LINES_BYTES = 1 << 20  # read at a time: each line of a piece is a Python string until it is parsed


@dataclass(frozen=True)
class Column:
    """One numeric column's values, one per data row in file order from its first number to its last, its missing
    values between them filled in."""

    name: str
    values: np.ndarray
    source: Path
    missing: np.ndarray | None = None  # True where the row had no value (filled in `values`); None: none had
    spacing: Spacing | None = None  # how far apart the rows are, by the time column, where that suggests a season
    trimmed: int = 0  # missing values left out before the first number and after the last


def _lines(path: Path) -> Iterator[str]:
    """The file's lines, read a piece of LINES_BYTES at a time."""
    carry = ""
    for piece in read_pieces(path, LINES_BYTES):
        lines = (carry + piece).split("\n")
        carry = lines.pop()
        yield from lines
    if carry:
        yield carry


def _row_lines(path: Path) -> Iterator[str]:
    """The file's lines from its first one that is not blank; a blank line between two others is kept (a row
    of missing values), blank lines at the end are not."""
    blanks = -1  # before the first line that is not blank
    for line in _lines(path):
        if not line.strip():
            blanks += blanks >= 0
            continue
        if blanks > 0:
            yield from [""] * blanks
        blanks = 0
        yield line


def _numeric(names: list[str], first_row: list[str], decimal_comma: bool, time: TimeColumn | None) -> list[str]:
    """The columns whose first data row holds a number, but the time column."""
    return [name for index, name in enumerate(names) if (time is None or index != time.index)
            and cell_number(first_row[index] if index < len(first_row) else "", decimal_comma) is not None]


def listed(names: list[str]) -> str:
    """Column names as `--option column=` takes them: comma-separated, each with a comma in double quotes."""
    return ", ".join(f'"{name}"' if "," in name else name for name in names)


def _quoting(names: list[str], wanted: str) -> str:
    """Where a column's name holds a comma, how to name it: one that holds `wanted` where there is one."""
    named = [name for name in names if "," in name]
    comma = next((name for name in named if wanted in name), named[0] if named else None)
    return f"; a name with a comma goes in double quotes: --option 'column=\"{comma}\"'" if comma else ""


def read_columns(path: Path, wanted: tuple[str, ...] | None, time: str = "") -> list[Column]:
    """The columns named `wanted` (default: the first numeric one that is not a label: the time column, one named
    like a part of a calendar, or an unnamed first column) of a CSV file.

    A CorpusError, naming the file's columns, for a name it lacks, a column that is not numeric or holds
    no number, or a file without a numeric column; a CorpusError naming the data row for an infinite cell or
    one beyond VALUE_LIMIT (they would swamp the scaling), and for a time column (`time`, or one named like
    a time) that does not increase. Missing values between numbers are filled in, those at the ends left out,
    with one warning for the file.
    """
    lines = _row_lines(path)
    first = next(lines, None)
    if first is None:
        raise CorpusError(f"{path} is empty; give a CSV file with a numeric column")
    delimiter = max(";\t,", key=first.count) if any(mark in first for mark in ";\t,") else ","
    decimal_comma = delimiter != ","
    rows = csv.reader(lines, delimiter=delimiter)
    header = next(csv.reader([first], delimiter=delimiter))
    names = [name.strip().strip('"') or f"column {index + 1}" for index, name in enumerate(header)]
    unnamed_first = not header[0].strip().strip('"')  # the index pandas writes
    data: Iterator[list[str]] = rows
    if all(cell_number(cell, decimal_comma) is not None for cell in header):  # no header: the first line is data
        names, data, unnamed_first = [str(index + 1) for index in range(len(header))], chain([header], rows), False
    first_row = next(data, None)
    if first_row is None:
        raise CorpusError(f"{path} holds a header but no data rows; give a CSV file with numbers")
    labels = label_columns(names, unnamed_first)
    found = find_time_column(names, time, list(wanted or ()), labels)
    numeric = _numeric(names, first_row, decimal_comma, found)
    if not numeric and found is not None and not found.strict:  # a label is the only number: it is the values
        found = None
        numeric = _numeric(names, first_row, decimal_comma, found)
    listing = listed(names)
    if not numeric:
        raise CorpusError(f"{path} has no numeric column; its columns: {listing}")
    unlabelled = [name for name in numeric if names.index(name) not in labels]
    chosen = list(wanted) if wanted else unlabelled[:1] or numeric[:1]
    for name in chosen:
        if name not in names:
            raise CorpusError(f"{path} has no column {name!r}; its columns: {listing}{_quoting(names, name)}")
    indices = [names.index(name) for name in chosen]
    values = [array("d") for _ in chosen]  # 8 bytes a value, where a list of floats takes 32
    order = TimeOrder(path, names[found.index], decimal_comma, found.strict) if found else None
    time_at = found.index if found else 0

    def add(row: list[str], line: int) -> None:
        if order is not None:
            order.check(row[time_at] if time_at < len(row) else "", line)
        for slot, index in enumerate(indices):
            number = cell_number(row[index], decimal_comma) if index < len(row) else math.nan
            if number is None:
                raise CorpusError(
                    f"{path}: column {chosen[slot]!r} is not numeric (data row {line}: {shortened(row[index])}); "
                    f"its numeric columns: {listed(numeric)}"
                )
            if out_of_range(number):
                raise CorpusError(
                    f"{path}: column {chosen[slot]!r}, data row {line}: {shortened(row[index])} is not a finite number "
                    f"of at most {VALUE_LIMIT:g} in size; correct that cell"
                )
            values[slot].append(number)

    for line, row in enumerate(chain([first_row], data), start=1):
        add(row, line)
    if order is not None:
        order.finish()
    read = [np.frombuffer(column, dtype=np.float64) for column in values]
    for name, column in zip(chosen, read):
        if np.isnan(column).all():
            raise CorpusError(f"{path}: column {name!r} holds no numbers, only missing values; "
                              f"its numeric columns: {listed(numeric)}")
    columns = []
    alike: dict[tuple[int, int, int], list[str]] = {}  # (filled, left out, rows): the columns that missed so
    for name, column in zip(chosen, read):
        span = known_span(column)
        filled, missing = fill_gaps(column[span])
        trimmed = len(column) - len(filled)
        if missing.any() or trimmed:
            alike.setdefault((int(missing.sum()), trimmed, len(column)), []).append(name)
        columns.append(Column(name, filled, path, missing if missing.any() else None, order.spacing() if order else None,
                              trimmed))
    if alike:
        groups = list(alike.items())
        said = "; ".join(missing_text(columns_alike, *counts) for counts, columns_alike in groups[:CLAUSES])
        rest = sum(len(columns_alike) for _, columns_alike in groups[CLAUSES:])
        more = f"; {rest:,} more {'column misses' if rest == 1 else 'columns miss'} values otherwise" if rest else ""
        warnings.warn(f"{path}: {said}{more}", CorpusWarning, stacklevel=2)
    return columns
