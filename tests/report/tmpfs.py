"""A small tmpfs for disk-full and read-only-mount tests (needs root; the test skips otherwise)."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def mounted_tmpfs(point: Path, size: str) -> Iterator[Path]:
    """Mount a tmpfs of ``size`` (e.g. ``2m``) on ``point``; unmounted afterwards."""
    point.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("needs root to mount a tmpfs")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(point)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True)


def remount_read_only(point: Path) -> None:
    done = subprocess.run(["mount", "-o", "remount,ro", str(point)], capture_output=True)
    assert done.returncode == 0, done.stderr


def fill(point: Path, leave: int) -> None:
    """Fill the file system until only about ``leave`` bytes are free."""
    free = os.statvfs(point).f_bavail * os.statvfs(point).f_frsize
    if free > leave:
        (point / "filler").write_bytes(b"\0" * (free - leave))
