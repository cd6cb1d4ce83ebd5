"""music21's warnings, which it writes straight to stderr, sent to charmony's log instead."""

from __future__ import annotations

import contextlib
import io
import logging
from collections.abc import Iterator

LOG = logging.getLogger("charmony.music21")


class LogLines(io.TextIOBase):
    """A text stream that logs each line written to it (at INFO: Python's last-resort handler shows none)."""

    def __init__(self, logger: logging.Logger = LOG) -> None:
        self.logger = logger
        self.pending = ""

    def writable(self) -> bool:
        """Whether it may be written to: always."""
        return True

    def write(self, text: str) -> int:
        """Log each whole line of `text`; a partial line waits for the rest."""
        lines = (self.pending + text).split("\n")
        self.pending = lines.pop()
        for line in lines:
            if line.strip():
                self.logger.info("%s", line.strip())
        return len(text)

    def flush(self) -> None:
        """Log a pending partial line."""
        if self.pending.strip():
            self.logger.info("%s", self.pending.strip())
        self.pending = ""


@contextlib.contextmanager
def music21_warnings_logged() -> Iterator[None]:
    """While in the block, what is written to stderr (music21's warnings) goes to the `charmony.music21` log."""
    stream = LogLines()
    with contextlib.redirect_stderr(stream):
        try:
            yield
        finally:
            stream.flush()
