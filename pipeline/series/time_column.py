"""A series CSV file's time column: found by its name (or `--option time=`), its times checked to increase.

The times only order the rows; the values are placed by their row, so a missing time is a blank cell
in a row, not a row left out. Times are numbers or ISO dates (2011-01-01 00:15:00); a column of
other times (mon, tue) cannot be ordered and is only left out of the values.
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from pathlib import Path

from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.series.csv_cells import cell_number, cell_text, is_missing, shortened
from charmony.pipeline.system.errors import CorpusError

TIME_NAMES = re.compile(r"time|date|timestamp|datetime|date[ _-]?time|ds", re.IGNORECASE)


def find_time_column(names: list[str], named: str, values: list[str]) -> int | None:
    """The index of the time column: the one `named` (by --option time), else the first named like a time that is
    not among `values`; None when there is none. A CorpusError when `named` is missing or is also a value column."""
    if named:
        if named not in names:
            raise CorpusError(f"--option time={named}: the file has no such column; its columns: {', '.join(names)}")
        if named in values:
            raise CorpusError(f"--option time={named} is also a value column (--option column); name another")
        return names.index(named)
    return next((index for index, name in enumerate(names) if TIME_NAMES.fullmatch(name) and name not in values), None)


def time_key(text: str, decimal_comma: bool) -> tuple[str, float] | None:
    """The time as (kind, seconds or number) for comparing with others of its kind, or None when it is neither."""
    number = cell_number(text, decimal_comma)
    if number is not None:
        return "number", number
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return "date", moment.timestamp()


class TimeOrder:
    """Checks, row by row, that a time column's times increase; a CorpusError in one line where one does not."""

    def __init__(self, path: Path, name: str, decimal_comma: bool):
        self.path, self.name, self.decimal_comma = path, name, decimal_comma
        self.last: tuple[tuple[str, float], str, int] | None = None  # key, cell, data row
        self.unordered: tuple[str, int] | None = None  # the first cell that is not a time, and its data row

    def check(self, cell: str, row: int) -> None:
        """Check the time of data row `row` against the last one seen; a blank time is skipped."""
        if self.unordered is not None or is_missing(cell):
            return
        text = cell_text(cell)
        key = time_key(text, self.decimal_comma)
        if key is None or (self.last is not None and key[0] != self.last[0][0]):
            self.unordered = text, row
            return
        if self.last is not None:
            last_key, last_text, last_row = self.last
            where = f"{self.path}: the time column {self.name!r}"
            if key[1] == last_key[1]:
                raise CorpusError(f"{where} repeats {shortened(text)} at data row {row:,} (first at data row {last_row:,}); "
                                  "keep one row per time")
            if key[1] < last_key[1]:
                raise CorpusError(f"{where} goes backwards at data row {row:,} ({shortened(text)} after "
                                  f"{shortened(last_text)}): sort the file by time")
        self.last = key, text, row

    def finish(self) -> None:
        """Warn once when the column held a cell that is not a time, so its order went unchecked."""
        if self.unordered is not None:
            text, row = self.unordered
            warnings.warn(f"{self.path}: the time column {self.name!r} holds {shortened(text)} at data row {row:,}, "
                          "neither a number nor an ISO date, so its order is not checked", CorpusWarning, stacklevel=3)
