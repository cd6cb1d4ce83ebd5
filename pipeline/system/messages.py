"""One-line messages for the errors a user can act on: charmony's own, a system error, running out of memory."""

from __future__ import annotations

import errno
import re

from charmony.pipeline.system.errors import CharmonyError

# A full disk, a full quota, a file beyond `ulimit -f`.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
ALLOCATION = re.compile(r"allocate (\d+) bytes|[Tt]ried to allocate ([\d.]+ [KMGTP]i?B)")


def user_message(error: BaseException) -> str | None:
    """The one line to show for an error the user can act on; None for any other (a bug, to show in full)."""
    if isinstance(error, CharmonyError):
        return str(error)
    if isinstance(error, BrokenPipeError):
        return None
    if isinstance(error, MemoryError):
        return out_of_memory(error)
    if isinstance(error, OSError):  # an unwritable --out, a full disk: the system's own words say it best
        where = f"{error.filename}: " if error.filename else ""
        advice = "; free some space, or write elsewhere (--runs-dir, --out), and run it again" if error.errno in NO_SPACE else ""
        return f"{where}{error.strerror or error}{advice}"
    # torch.OutOfMemoryError is a RuntimeError, and the CPU allocator raises a plain one
    if isinstance(error, RuntimeError) and ("allocate" in str(error) or "out of memory" in str(error)):
        return out_of_memory(error)
    return None


def out_of_memory(error: BaseException) -> str:
    """The one-line message for running out of memory, with the size that could not be allocated."""
    text = str(error).strip()
    found = ALLOCATION.search(text)
    if found and found.group(1):
        what = f"tried to allocate {int(found.group(1)):,} bytes ({size(int(found.group(1)))})"
    elif found:
        what = f"tried to allocate {found.group(2)}"
    else:
        what = text.splitlines()[0] if text else type(error).__name__
    return (
        f"out of memory ({what}); lower --batch-size, --seq-len, --hidden or --layers for training, "
        "--num-samples or --max-length for sampling; checkpoints already written are intact"
    )


def size(count: float) -> str:
    """Bytes in binary units: 98.2 TiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if count < 1024 or unit == "TiB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{count:.0f} B"
        count /= 1024
    return f"{count:.1f} PiB"
