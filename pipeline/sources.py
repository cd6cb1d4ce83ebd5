"""Reading corpus source files as UTF-8 text, with clear errors for everything else."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

from charmony.pipeline.errors import CorpusError


def read_text(path: Path) -> str:
    """A file's text, or a CorpusError naming the file and the offending byte offset."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise CorpusError(f"cannot read {path}: {error.strerror}") from None
    nul = data.find(b"\0")
    if nul >= 0:
        raise CorpusError(f"{path}: binary file (NUL byte at offset {nul}); give a UTF-8 text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        bad = data[error.start]
        raise CorpusError(
            f"{path}: not UTF-8 (byte 0x{bad:02x} at offset {error.start}); convert it, e.g. `iconv -t UTF-8`"
        ) from None
    return text.removeprefix("\ufeff").replace("\r\n", "\n")


def expand(sources: list[Path], pattern: str = "*") -> Iterator[Path]:
    """The files named by `sources`: files as given, directories searched recursively for `pattern`."""
    for source in sources:
        if not source.exists():
            raise CorpusError(f"source {source} does not exist; check the --source path")
        if not source.is_dir() and not source.is_file():
            raise CorpusError(f"source {source} is not a regular file or folder; save the text to a file first")
        if source.is_dir():
            files = sorted(
                path for path in source.rglob(pattern)
                if path.is_file() and not any(part.startswith(".") for part in path.relative_to(source).parts)
            )
            if not files:
                raise CorpusError(f"directory {source} holds no files matching {pattern!r}")
            yield from files
        else:
            yield source


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
