"""Deciding which source files make good training text, and cleaning them: binary, generated, minified, licences."""

from __future__ import annotations

import re

# Within the first lines, these mark a file written by a program rather than a person.
GENERATED = re.compile(
    r"auto-?generated|automatically generated|@generated|do not edit|generated (?:by|from|with) \S",
    re.IGNORECASE,
)
GENERATED_WITHIN_LINES = 5
# Minified code is a few very long lines; hand-written code has short lines.
MINIFIED_LINE = 1000
MINIFIED_AVERAGE = 100
LICENCE_WORDS = re.compile(r"licen[cs]e|copyright|\(c\)|SPDX-License-Identifier", re.IGNORECASE)
# The comments at the top of a file: `#` or `//` lines and `/* ... */` blocks, blank lines between.
# A `#!` line stays, and so does a C preprocessor line such as `#include`.
LEADING_COMMENTS = re.compile(r"(?:[ \t]*(?:#(?![!a-z])|//)[^\n]*\n|[ \t]*/\*(?:[^*]|\*(?!/))*\*/[ \t]*\n|[ \t]*\n)+")


def source_text(data: bytes) -> str | None:
    """A file's bytes as text, or None for a binary file: a NUL byte, or not UTF-8."""
    if b"\0" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def is_generated(text: str) -> bool:
    """Whether the first lines say a program wrote the file (`Auto-generated`, `DO NOT EDIT`, ...)."""
    return bool(GENERATED.search("\n".join(text.split("\n", GENERATED_WITHIN_LINES)[:GENERATED_WITHIN_LINES])))


def is_minified(text: str) -> bool:
    """Whether the file is a few very long lines, as minified code and data dumps are."""
    lines = text.split("\n")
    return max(map(len, lines)) > MINIFIED_LINE or len(text) / len(lines) > MINIFIED_AVERAGE


def strip_licence(text: str) -> str:
    """The text without a leading comment block that names a licence or copyright."""
    shebang = text[: text.index("\n") + 1] if text.startswith("#!") and "\n" in text else ""
    rest = text[len(shebang):]
    header = LEADING_COMMENTS.match(rest)
    if header and LICENCE_WORDS.search(header.group()):
        rest = rest[header.end():]
    return shebang + rest
