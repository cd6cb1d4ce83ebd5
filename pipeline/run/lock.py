"""One writer per run: `prepare`, `train` and `sample` (into the run) hold an exclusive lock on its folder.

The lock is `flock` on a file in the run folder (`runs/NAME/.lock`), which holds the holder's
PID, host and command so that a second command can say who has the run. The kernel releases it
when the holder exits, however it exits, so the lock of a killed process is stale as soon as it
dies and the next command simply takes it over. Whoever takes the lock also removes what a killed
holder left behind: temporary files of atomic writes and `prepare`'s staging folders.

A training job of several processes counts as one holder: process 0 takes the lock for all of
them, and `train --nproc` takes it in the launcher and hands it down through the environment.

`sample --out DIR` locks DIR in the same way (`folder_lock`), so that two samplers never mix their
files there; that lock file goes when it is released, as DIR belongs to the user rather than to a run.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from charmony.pipeline.system.errors import RunError
from charmony.pipeline.run.folder import RENDER_SCRATCH, SAMPLE_STAGING, Run
from charmony.pipeline.run.previous import settle_previous_training

if TYPE_CHECKING:
    import torch

    from charmony.pipeline.system.world import World

# Set by a launcher that holds a run's lock for the processes it starts: "LOCK_PATH:PID".
LOCK_ENV = "CHARMONY_RUN_LOCK"


LOCK_NAME = ".lock"


def lock_path(run: Run) -> Path:
    """The lock file of a run."""
    return run.dir / LOCK_NAME


def holder(path: Path) -> dict:
    """What the lock file says about its holder (empty if it cannot be read)."""
    for _ in range(20):  # the holder writes its record just after taking the lock
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(record, dict):
                return record
        except (OSError, ValueError):
            pass
        time.sleep(0.01)
    return {}


def _holder_words(record: dict) -> str:
    """Who holds a lock, as its record says: `charmony train` (PID 12, since 2026-01-02 10:11:12)."""
    who = f"`charmony {record.get('command', '?')}` (PID {record.get('pid', '?')}"
    who += f" on {record['host']}" if record.get("host") and record["host"] != socket.gethostname() else ""
    return who + (f", since {record['since']})" if record.get("since") else ")")


def busy_message(run: Run, record: dict, command: str) -> str:
    """The one line for a command that finds the run locked."""
    advice = "wait for it to finish or stop it"
    if command == "sample":
        advice += ", or sample into another folder with --out DIR"
    return f"run {run.name!r} is in use by {_holder_words(record)}; {advice}"


def remove_leftovers(run: Run) -> None:
    """Delete what a killed holder of the lock left behind: atomic writes' temporaries, prepare's staging
    folders, sets of samples not yet moved into place, the output plugins' scratch folders, and the earlier
    training's files a restart set aside."""
    for staging in run.dir.parent.glob(f".{run.name}.prepare-*"):
        shutil.rmtree(staging, ignore_errors=True)
    if run.dir.is_dir():
        settle_previous_training(run)
        for temporary in run.dir.rglob(".*.tmp"):
            if temporary.is_file() and not temporary.is_symlink():
                temporary.unlink(missing_ok=True)
        if run.samples_dir.is_dir():  # sets staged beside their folder, and what each folder holds
            for samples in [run.samples_dir, *run.samples_dir.glob("*/")]:
                remove_scratch(samples)


def remove_scratch(folder: Path) -> None:
    """Delete the output plugins' scratch folders, staged samples and atomic writes' temporaries a killed process left in `folder`."""
    for scratch in [*folder.glob(f"{RENDER_SCRATCH}*"), *folder.glob(f"{SAMPLE_STAGING}*")]:
        if scratch.is_dir() and not scratch.is_symlink():
            shutil.rmtree(scratch, ignore_errors=True)
    for temporary in folder.glob(".*.tmp"):
        if temporary.is_file() and not temporary.is_symlink():
            temporary.unlink(missing_ok=True)


def _inherited(path: Path) -> bool:
    """Whether the launcher of this process holds the lock for it."""
    value = os.environ.get(LOCK_ENV, "")
    where, _, pid = value.rpartition(":")
    return bool(where) and where == str(path.resolve()) and str(holder(path).get("pid")) == pid


@contextmanager
def _flock(path: Path, command: str, busy: Callable[[dict], str], tidy: Callable[[], None],
           keep: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on `path`, creating its folder (and that folder's parent) as needed.

    A RunError of `busy(record of the holder)` when another process holds it. Once it is held, `tidy`
    removes what a killed holder left behind. Unless `keep`, the lock file goes when the lock is released;
    a folder made for it goes too when nothing else was put there.
    """
    import fcntl

    folder = path.parent
    made = [parent for parent in (folder.parent, folder) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(handle)
            raise RunError(busy(holder(path))) from None
        try:
            if os.fstat(handle).st_ino == os.stat(path).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(handle)  # its holder removed the file while we waited for it: lock the new one
    try:
        record = {"pid": os.getpid(), "host": socket.gethostname(), "command": command,
                  "since": datetime.now(timezone.utc).astimezone().strftime("%Y-%m-%d %H:%M:%S")}
        os.ftruncate(handle, 0)
        os.pwrite(handle, (json.dumps(record) + "\n").encode(), 0)
        tidy()
        yield
    finally:
        alone = os.listdir(folder) == [path.name]
        if not keep or (made and alone):  # a first prepare that failed leaves nothing behind
            path.unlink()  # while still locked, so that no one can lock the file being removed
        if made and alone:
            for parent in reversed(made):
                with contextlib.suppress(OSError):
                    parent.rmdir()
        os.close(handle)  # releases the lock


@contextmanager
def run_lock(run: Run, command: str, world: World | None = None, device: torch.device | None = None,
             for_children: bool = False) -> Iterator[None]:
    """Hold the run's lock for `command` (prepare, train, sample), or raise a RunError naming its holder.

    In a training job of several processes process 0 takes it for all; every process must enter.
    With `for_children`, processes started meanwhile (as `train --nproc` starts them) count as holders.
    """
    path = lock_path(run)
    if _inherited(path):
        yield
    elif world is None or world.size == 1:
        with _flock(path, command, *_run_lock_parts(run, command)), _lend(path, for_children):
            yield
    else:
        with _job_lock(path, command, run, world, device):
            yield


def _run_lock_parts(run: Run, command: str) -> tuple[Callable[[dict], str], Callable[[], None]]:
    """What a run's lock says when it is busy, and how it tidies after a killed holder."""
    return (lambda record: busy_message(run, record, command)), (lambda: remove_leftovers(run))


@contextmanager
def folder_lock(folder: Path, command: str) -> Iterator[None]:
    """Hold a lock on a folder written outside any run (`sample --out DIR`), or raise a RunError naming its holder.

    The lock file (`DIR/.lock`) goes when the lock is released, and so does DIR when nothing was written to it.
    """
    def busy(record: dict) -> str:
        return (f"folder {folder} is in use by {_holder_words(record)}; wait for it to finish or stop it, "
                "or write into another folder")

    with _flock(folder / LOCK_NAME, command, busy, lambda: remove_scratch(folder), keep=False):
        yield


@contextmanager
def _lend(path: Path, for_children: bool) -> Iterator[None]:
    """Tell processes started meanwhile that their launcher holds the lock."""
    if not for_children:
        yield
        return
    before = os.environ.get(LOCK_ENV)
    os.environ[LOCK_ENV] = f"{path.resolve()}:{os.getpid()}"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(LOCK_ENV, None)
        else:
            os.environ[LOCK_ENV] = before


@contextmanager
def _job_lock(path: Path, command: str, run: Run, world: World, device) -> Iterator[None]:
    """Process 0 takes the lock, and every process learns whether it could."""
    with ExitStack() as held:
        refused = None
        if world.main:
            try:
                held.enter_context(_flock(path, command, *_run_lock_parts(run, command)))
            except RunError as error:
                refused = error
        if world.any([refused is not None], device)[0]:
            import torch.distributed as dist

            # Every process leaves, so the group can be torn down now; left to exit, gloo aborts the others.
            if dist.is_initialized():
                dist.destroy_process_group()
            raise refused or RunError(busy_message(run, holder(path), command))
        yield
