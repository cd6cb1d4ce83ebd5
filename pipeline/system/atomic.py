"""Atomic file writes: a temporary file in the same folder, then a rename over the target."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def current_umask() -> int:
    """The process' umask (reading it means setting it, so it is set straight back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed.

    The file gets the permissions any new file of the user's gets (0644 under the usual umask 022).
    Replacing `path` replaces a symbolic link there, never the file it points to.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o666 & ~current_umask())  # mkstemp makes it private; the result is the user's file
    finally:
        os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        with temporary.open("rb+") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_json(path: Path, data) -> None:
    """Write `data` as indented UTF-8 JSON, atomically."""
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
