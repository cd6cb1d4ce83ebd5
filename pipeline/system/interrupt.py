"""Stopping on a signal: Ctrl-C, SIGTERM or SIGHUP ask training for a checkpoint and a clean stop, and wait
until a set of files is moved into place whole."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

INTERRUPTED_EXIT = 130  # 128 + SIGINT: the exit status a shell expects of a program Ctrl-C stopped
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
# Every stop signal the handler below took since training began: a training process whose work then failed needs
# to know whether its launcher had already asked it to stop (a user's SIGTERM counts the same: the process then
# ends by that signal even if its failure was its own).
RECEIVED: set[int] = set()
AGAIN = b"already stopping: the checkpoint is being saved (kill -9 stops at once, keeping the last periodic checkpoint)\n"


@contextmanager
def stop_on_interrupt() -> Iterator[threading.Event]:
    """Turn Ctrl-C, SIGTERM and SIGHUP (a closed terminal) into a request to stop after the current step.

    A second signal only repeats the request, so that a quick second Ctrl-C cannot skip the
    checkpoint. torchrun passes a signal on to its processes, and each does the same.
    """
    requested = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return

    def handler(signum, frame):
        RECEIVED.add(signum)
        if requested.is_set():
            os.write(2, AGAIN)
        requested.set()

    RECEIVED.clear()
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield requested
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@contextmanager
def interrupts_after() -> Iterator[None]:
    """Hold Ctrl-C back until the block ends, then raise KeyboardInterrupt: for steps that must not stop halfway."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if received:
        raise KeyboardInterrupt
