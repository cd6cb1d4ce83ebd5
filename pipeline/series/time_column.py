"""A series CSV file's time column: found by its name (or `--option time=`), its times checked to increase.

The times only order the rows; the values are placed by their row, so a missing time is a blank cell
in a row, not a row left out. Times are numbers or ISO dates (2011-01-01 00:15:00); a column of
other times (mon, tue) cannot be ordered and is only left out of the values.

Columns named like a part of a calendar (year, month, day, ...) and a first column without a name (the
index pandas writes) are labels, not values: they are left out of the default value column. Where no column
is named like a time, the first of them is read as one, but only to learn the rows' spacing: one that does
not increase (a month column that starts again each year) is no error. The spacing (an hour, a month, a
year) says which season the data has (`Spacing`).
"""

from __future__ import annotations

import re
import warnings
from datetime import datetime, timezone
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from charmony.pipeline.plugin.corpus import CorpusWarning
from charmony.pipeline.series.csv_cells import cell_number, cell_text, is_missing, shortened
from charmony.pipeline.system.errors import CorpusError

TIME_NAMES = re.compile(r"time|date|timestamp|datetime|date[ _-]?time|ds", re.IGNORECASE)
CALENDAR_NAMES = re.compile(r"years?|quarters?|months?|weeks?|days?|hours?|minutes?|period|index|unnamed: ?0", re.IGNORECASE)
MONTH = re.compile(r"\d{4}-\d{2}")  # 1949-01: a month, as AirPassengers' CSV writes it
DAY = 86_400  # seconds
# (the shortest step, the longest, in seconds; the steps of a season; the spacing and the season in words)
WEEKLY, YEARLY, NONE = "a season of a week", "a season of a year", "no season"
DATED = ((DAY, DAY, 7, "a day", WEEKLY), (7 * DAY, 7 * DAY, 52, "a week", YEARLY), (28 * DAY, 31 * DAY, 12, "a month", YEARLY),
         (89 * DAY, 92 * DAY, 4, "a quarter", YEARLY), (365 * DAY, 366 * DAY, 1, "a year", NONE))
STEADY = 0.9  # the share of a file's steps that must be of one spacing for it to suggest a season
SPACED_ROWS = 10_000  # the spacing is read from the steps between the first rows


@dataclass(frozen=True)
class Spacing:
    """How far apart a file's rows are, and the season that spacing suggests (`--option period`)."""

    words: str  # "an hour", "a month"
    period: int  # steps of the season: 24 for hourly rows (a day), 12 for monthly ones (a year), 1 for yearly ones
    season: str  # "a season of a day", "a season of a year"; "no season" for yearly rows


def spacing_of(step: float, kind: str, name: str) -> Spacing | None:
    """The spacing of rows `step` apart (seconds between dates, or the difference of numbered times in a column
    `name`), where it is one that suggests a season; None where it is not."""
    if kind == "number":
        return Spacing("a year", 1, NONE) if step == 1 and name.lower().rstrip("s") == "year" else None
    if 0 < step < DAY and DAY % step == 0:
        minutes = step / 60
        words = ("an hour" if step == 3600 else "half an hour" if step == 1800 else
                 f"{minutes:g} minutes" if minutes >= 1 else f"{step:g} seconds")
        return Spacing(words, int(DAY // step), "a season of a day")
    return next((Spacing(words, period, season) for low, high, period, words, season in DATED if low <= step <= high), None)


@dataclass(frozen=True)
class TimeColumn:
    """Where the time column is, and whether its times must increase (one named like a time or by --option time)."""

    index: int
    strict: bool


def label_columns(names: list[str], unnamed_first: bool) -> set[int]:
    """The columns that are labels of the rows, not values: named like a time or a part of a calendar, and a
    first column without a name (the index pandas writes)."""
    found = {index for index, name in enumerate(names) if TIME_NAMES.fullmatch(name) or CALENDAR_NAMES.fullmatch(name)}
    return found | ({0} if unnamed_first and len(names) > 1 else set())


def find_time_column(names: list[str], named: str, values: list[str], labels: set[int]) -> TimeColumn | None:
    """The time column: the one `named` (by --option time), else the first named like a time that is not among
    `values`, else (its order unchecked) the first other of the `labels` (`label_columns`: one named like a part of
    a calendar before an unnamed first column); None when there is none. A CorpusError when `named` is missing or
    is also a value column."""
    if named:
        if named not in names:
            raise CorpusError(f"--option time={named}: the file has no such column; its columns: {', '.join(names)}")
        if named in values:
            raise CorpusError(f"--option time={named} is also a value column (--option column); name another")
        return TimeColumn(names.index(named), True)
    free = [index for index, name in enumerate(names) if name not in values]
    timed = next((index for index in free if TIME_NAMES.fullmatch(names[index])), None)
    if timed is not None:
        return TimeColumn(timed, True)
    if len(labels) == len(names):  # nothing else to read: the values are among them
        return None
    calendar = [index for index in free if index in labels and CALENDAR_NAMES.fullmatch(names[index])]
    return next((TimeColumn(index, False) for index in calendar + [index for index in free if index in labels]), None)


def time_key(text: str, decimal_comma: bool) -> tuple[str, float] | None:
    """The time as (kind, seconds or number) for comparing with others of its kind, or None when it is neither."""
    number = cell_number(text, decimal_comma)
    if number is not None:
        return "number", number
    try:
        moment = datetime.fromisoformat(f"{text}-01" if MONTH.fullmatch(text) else text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return "date", moment.timestamp()


class TimeOrder:
    """Checks, row by row, that a time column's times increase; a CorpusError in one line where one does not
    (only where `strict`: a label column that does not increase is left unchecked). It also counts the steps
    between the first SPACED_ROWS times, for `spacing`."""

    def __init__(self, path: Path, name: str, decimal_comma: bool, strict: bool = True):
        self.path, self.name, self.decimal_comma, self.strict = path, name, decimal_comma, strict
        self.last: tuple[tuple[str, float], str, int] | None = None  # key, cell, data row
        self.unordered: tuple[str, int] | None = None  # the first cell that is not a time, and its data row
        self.steps: Counter[float] = Counter()  # each step between two times, and how often it was taken

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
            if key[1] <= last_key[1] and not self.strict:
                self.unordered = text, row
                return
            where = f"{self.path}: the time column {self.name!r}"
            if key[1] == last_key[1]:
                raise CorpusError(f"{where} repeats {shortened(text)} at data row {row:,} (first at data row {last_row:,}); "
                                  "keep one row per time")
            if key[1] < last_key[1]:
                raise CorpusError(f"{where} goes backwards at data row {row:,} ({shortened(text)} after "
                                  f"{shortened(last_text)}): sort the file by time")
            if row <= SPACED_ROWS:
                self.steps[key[1] - last_key[1]] += 1
        self.last = key, text, row

    def spacing(self) -> Spacing | None:
        """The spacing of nearly all (STEADY) of the rows, where it suggests a season; None otherwise."""
        if not self.steps or self.unordered is not None or self.last is None:
            return None
        kind = self.last[0][0]
        found: Counter[Spacing | None] = Counter()
        for step, count in self.steps.items():
            found[spacing_of(step, kind, self.name)] += count
        spacing, count = found.most_common(1)[0]
        return spacing if count >= STEADY * sum(found.values()) else None

    def finish(self) -> None:
        """Warn once when the time column held a cell that is not a time, so its order went unchecked."""
        if self.unordered is not None and self.strict:
            text, row = self.unordered
            warnings.warn(f"{self.path}: the time column {self.name!r} holds {shortened(text)} at data row {row:,}, "
                          "neither a number nor an ISO date, so its order is not checked", CorpusWarning, stacklevel=3)
