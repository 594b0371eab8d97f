"""Writing output files so that a full disk or a crash never leaves half a file behind.

Everything is written to a temporary name in the target's own folder (same file system, so
the final ``os.replace`` is atomic) and renamed over the target only when complete; on any
failure the temporary file is removed and the error goes on. `describe_os_error` turns the
errors a disk gives (full, read-only, no permission) into the one line a user sees.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_folder_files", "atomic_path", "describe_os_error", "write_atomic"]


def _partial(target: Path) -> Path:
    return target.with_name(f".{target.name}.partial-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; renamed to ``target`` if the block succeeds."""
    partial = _partial(target)
    try:
        yield partial
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(OSError):
            partial.unlink()
        raise


def write_atomic(target: Path, data: bytes) -> None:
    """``target.write_bytes(data)``, but never a truncated ``target``."""
    with atomic_path(target) as partial, partial.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


@contextlib.contextmanager
def atomic_folder_files(folder: Path) -> Iterator[Path]:
    """Yield a temporary folder; its files are moved into ``folder`` (created) at the end."""
    partial = _partial(folder)
    shutil.rmtree(partial, ignore_errors=True)
    try:
        partial.mkdir()
        yield partial
        folder.mkdir(parents=True, exist_ok=True)
        for item in sorted(partial.iterdir()):
            os.replace(item, folder / item.name)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def describe_os_error(exc: OSError, fallback: str = "") -> str:
    """One line for an OSError: what happened, and to which file."""
    where = exc.filename or fallback
    target = f" {where}" if where else ""
    if exc.errno == errno.ENOSPC:
        return f"disk full writing{target}"
    if exc.errno == errno.EDQUOT:
        return f"disk quota exceeded writing{target}"
    if exc.errno == errno.EROFS:
        return f"read-only file system: cannot write{target}"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied:{target}" if target else "permission denied"
    if exc.errno == errno.EFBIG:
        return f"file too large writing{target}"
    reason = exc.strerror or str(exc) or type(exc).__name__
    return f"{reason}:{target}" if target else reason
