"""Find and load the real mainnet blocks and vectors in the shared data folder beside the repo.

Tests that need them skip with the path they looked for when the folder is absent.
"""

from __future__ import annotations

import bz2
import functools
from dataclasses import dataclass
from pathlib import Path

import pytest

from btcwatch.chain.tx import unframe_block

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"

GENESIS_HASH = "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f"


def shared(*parts: str) -> Path:
    """A path under shared/data, or skip the test naming what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real test data missing: {path} (expected shared/ beside the repo)")
    return path


@dataclass(frozen=True)
class BlockCase:
    """A real block file and what is known about it independently of our parser."""

    file: str
    height: int | None  # BIP34 height, None for version-1 blocks
    hash: str | None = None  # from the file name, where it has one


BLOCK_CASES = [
    BlockCase("block413567.raw", 413567),
    BlockCase("block702861.raw", 702861),
    BlockCase(
        "block-0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2.blk",
        574200,
        "0000000000000000001602407ac49862a7bca9d00f7f402db20b7be2f5de59d2",
    ),
    BlockCase(
        "block-00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab.blk",
        540107,
        "00000000000000000021868c2cefc52a480d173c849412fe81c4e5ab806f94ab",
    ),
    BlockCase("block-2011-hex.txt", None),
    BlockCase("block744517-hex.txt", 744517),
    BlockCase("block794466-hex.txt", 794466),
    BlockCase("277647.dat.bz2", 277647),
]


@functools.cache
def _read(file: str) -> bytes:
    path = shared("blocks", file)
    data = path.read_bytes()
    if file.endswith(".bz2"):
        data = bz2.decompress(data)
    if file.endswith(".txt"):
        data = bytes.fromhex(data.decode("ascii"))
    return data


def block_bytes(file: str) -> bytes:
    """The bare serialised block in ``file`` (hex decoded, bz2 opened, blk framing removed)."""
    return unframe_block(_read(file))


def blk_file(file: str) -> bytes:
    """A file as a node's blk*.dat would hold it (several magic + length + block records)."""
    return _read(file)
