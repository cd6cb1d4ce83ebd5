"""Reading corpus source files as UTF-8 text, a piece at a time, with clear errors for everything else."""

from __future__ import annotations

import codecs
import errno
import hashlib
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from charmony.pipeline.system.errors import CorpusError


READ_BYTES = 1 << 22  # bytes read and decoded at a time
PART_CHARS = 1 << 22  # a document longer than this is handed on in parts
SEPARATOR_CHARS = 1 << 16  # the longest separator found where a long document is cut into parts


def open_regular(path: Path, follow_links: bool = True) -> BinaryIO:
    """The file at `path` opened for reading, or a CorpusError when it cannot be, or is not a regular file.

    It is opened without blocking and then looked at, so that a FIFO or a device is refused rather than waited on.
    With `follow_links` false a symbolic link is refused too: samples are read this way, so that a link planted
    among them cannot publish the file it points to.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else os.O_NOFOLLOW)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_links:
            raise CorpusError(f"{path}: a symbolic link, not a plain file; charmony reads samples only from plain files, "
                              "so put the file itself there") from None
        raise CorpusError(f"cannot read {path}: {error.strerror}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise CorpusError(f"{path}: not a regular file ({_file_kind(mode)}); give a file of text")
    if hasattr(os, "set_blocking"):
        os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_pieces(path: Path, size: int | None = None, follow_links: bool = True) -> Iterator[str]:
    """A file's text in pieces of about `size` (default READ_BYTES) bytes, checked and normalised as `read_text` does.

    A CorpusError names the file and the offset of a NUL byte or of a byte that is not UTF-8. With
    `follow_links` false, only a plain file is read (see `open_regular`).
    """
    size = size or READ_BYTES
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0  # of the block being decoded, in the file
    held = ""  # a trailing "\r", kept until the next piece shows whether "\n" follows
    first = True
    handle = open_regular(path, follow_links)
    with handle:
        while True:
            try:
                block = handle.read(size)
            except OSError as error:
                raise CorpusError(f"cannot read {path}: {error.strerror}") from None
            nul = block.find(b"\0")
            if nul >= 0:
                raise CorpusError(f"{path}: binary file (NUL byte at offset {offset + nul}); give a UTF-8 text file")
            pending = decoder.getstate()[0]  # bytes of a character cut by the previous block
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as error:
                bad = (pending + block)[error.start]
                raise CorpusError(
                    f"{path}: not UTF-8 (byte 0x{bad:02x} at offset {offset - len(pending) + error.start}); "
                    "convert it, e.g. `iconv -t UTF-8`"
                ) from None
            offset += len(block)
            text = held + text
            held = ""
            if block and text.endswith("\r"):
                text, held = text[:-1], "\r"
            if first and text:
                text, first = text.removeprefix("\ufeff"), False
            if text:
                yield text.replace("\r\n", "\n") if "\r" in text else text
            if not block:
                return


def _file_kind(mode: int) -> str:
    """What a file that is not a regular one is, in words."""
    kinds = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISDIR, "a folder"))
    return next((name for test, name in kinds if test(mode)), "not a file of data")


def read_text(path: Path, follow_links: bool = True) -> str:
    """A file's text, or a CorpusError naming the file and the offending byte offset (see `read_pieces`)."""
    return "".join(read_pieces(path, follow_links=follow_links))


def split_pieces(pieces: Iterable[str], separator: re.Pattern | None) -> Iterator[tuple[str, bool]]:
    """Cut text that comes in pieces into documents where `separator` matches (None: one document).

    Yields (text, continues): a document longer than PART_CHARS comes in parts, each but the
    last with continues=True, so that no document is ever held whole. Documents are the same as
    `separator.split` gives on the whole text, for separators shorter than SEPARATOR_CHARS.
    """
    if separator is None:
        previous = None
        for piece in pieces:
            if previous is not None:
                yield previous, True
            previous = piece
        yield previous or "", False
        return
    # The start of a document whose end has not been seen, after one character of context for ^ and \b.
    carry, begin = "", 0
    for piece in pieces:
        text = carry + piece
        start = begin
        unsettled = len(text)  # from here on, a separator may still grow or appear with the next piece
        for match in separator.finditer(text, begin):
            if match.end() > len(text) - SEPARATOR_CHARS:
                unsettled = match.start()
                break
            yield text[start:match.start()], False
            start = match.end()
        cut = min(unsettled, len(text) - SEPARATOR_CHARS)
        if cut - start > PART_CHARS:
            yield text[start:cut], True
            start = cut
        carry, begin = text[max(0, start - 1):], min(start, 1)
    start = begin
    for match in separator.finditer(carry, begin):
        yield carry[start:match.start()], False
        start = match.end()
    yield carry[start:], False


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
