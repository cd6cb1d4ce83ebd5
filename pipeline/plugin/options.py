"""Reading a corpus plugin's `--option KEY=VALUE` strings as numbers and choices, with one-line errors."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from typing import overload

from charmony.pipeline.system.errors import CorpusError


@overload
def int_option(options: Mapping[str, str], key: str, default: int, minimum: int = 0,
               maximum: int | None = None) -> int: ...
@overload
def int_option(options: Mapping[str, str], key: str, default: None, minimum: int = 0,
               maximum: int | None = None) -> int | None: ...
def int_option(options: Mapping[str, str], key: str, default: int | None, minimum: int = 0,
               maximum: int | None = None) -> int | None:
    """The whole number given as `key`, from `minimum` to `maximum` (if any), or `default` when it is not given."""
    if key not in options:
        return default
    value = options[key]
    try:
        number = int(value)
    except ValueError:
        number = None
    if maximum is not None and (number is None or not minimum <= number <= maximum):
        raise CorpusError(f"--option {key}={value}: give a whole number from {minimum:,} to {maximum:,}")
    if number is None or number < minimum:
        raise CorpusError(f"--option {key}={value}: give a whole number of at least {minimum}")
    return number


def choice_option(options: Mapping[str, str], key: str, choices: tuple[str, ...]) -> str:
    """The value given as `key`, one of `choices`; the first choice when it is not given."""
    value = options.get(key, choices[0])
    if value not in choices:
        raise CorpusError(f"--option {key}={value}: choose one of {', '.join(choices)}")
    return value


def list_option(options: Mapping[str, str], key: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The comma-separated names given as `key`, a name that holds a comma in double quotes (as in a CSV row), or
    `default` when it is not given."""
    if key not in options:
        return default
    try:
        parts = next(csv.reader([options[key]], skipinitialspace=True, strict=True))
    except (csv.Error, StopIteration):
        raise CorpusError(f"--option {key}={options[key]}: double quotes must enclose a whole name; put a name "
                          'that holds a comma in them, as "like, this"') from None
    return tuple(part.strip() for part in parts if part.strip())
