"""A lock file next to the database, so overlapping cron ticks never run twice at once.

flock is released by the kernel when the process dies, so a SIGKILLed run never leaves a stale lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from btcwatch.errors import LockBusy


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".watch.lock")


@contextmanager
def watch_lock(db_path: Path) -> Iterator[Path]:
    """Hold the watch lock for ``db_path`` or raise LockBusy at once (never block cron)."""
    path = lock_path(db_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "another process"
            raise LockBusy(f"another watch is running on {db_path} (pid {holder})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield path
    finally:
        os.close(fd)
