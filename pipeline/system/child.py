"""Worker processes that charmony talks to over a pipe: stopping one for good."""

from __future__ import annotations

import multiprocessing
from multiprocessing.connection import Connection


def stop_child(process: multiprocessing.process.BaseProcess | None, connection: Connection | None) -> None:
    """Close the pipe to a worker and kill it if it still runs, waiting until it is gone."""
    if connection is not None:
        connection.close()
    if process is not None:
        if process.is_alive():
            process.kill()
        process.join()
