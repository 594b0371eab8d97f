"""Write a generated chain to disk: blk-file records or one .raw per block, plus its story.

The blk form is what a node keeps (network magic + length + block, files rolled at 128 MiB),
so block-scan code can be pointed at it as at a real ``blocks/`` directory. Stale blocks are
written too, in the order the network saw them, as a node stores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from btcwatch.chain.tx import BLK_MAGICS
from btcwatch.errors import ConfigError
from btcwatch.sim.blocks import Scenario

if TYPE_CHECKING:
    from btcwatch.sim.chain import SimChain

__all__ = ["BlockFormat", "Written", "write_blocks", "write_chain"]

BLK_FILE_SIZE = 128 * 1024 * 1024
BlockFormat = Literal["blk", "raw"]


@dataclass(frozen=True, slots=True)
class Written:
    """What `write_chain` produced."""

    directory: Path
    blocks: int
    txs: int
    block_files: tuple[Path, ...]
    ground_truth: Path
    tagpack: Path
    emails: Path
    mempool_only: Path


def write_chain(scenario: Scenario, out: Path | str, fmt: BlockFormat = "blk") -> Written:
    """Generate ``scenario`` block by block into ``out`` (created if needed)."""
    blocks = (
        (b.height, b.hash, b.serialize(), 0 if b.stale else len(b.txs))
        for b in scenario.iter_blocks()
    )
    return _write(scenario, blocks, out, fmt)


def write_blocks(
    chain: SimChain, scenario: Scenario, out: Path | str, fmt: BlockFormat = "blk"
) -> Written:
    """Write ``chain``'s best blocks up to its tip (the mainnet profile's way), plus the story."""
    blocks = ((r.height, r.hash, r.serialize(), len(r.entries)) for r in chain.best_blocks())
    return _write(scenario, blocks, out, fmt)


def _write(
    scenario: Scenario,
    blocks: Iterable[tuple[int, str, bytes, int]],
    out: Path | str,
    fmt: BlockFormat,
) -> Written:
    if fmt not in ("blk", "raw"):
        raise ConfigError(f"block format must be blk or raw, got {fmt!r}")
    directory = Path(out)
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file; --out takes a folder")
    directory.mkdir(parents=True, exist_ok=True)
    magic = BLK_MAGICS.get(scenario.network.name, BLK_MAGICS["mainnet"])
    files: list[Path] = []
    handle = None
    written = 0
    count = txs = 0
    try:
        for height, block_hash, data, tx_count in blocks:
            count += 1
            txs += tx_count
            if fmt == "raw":
                path = directory / f"{height}-{block_hash}.raw"
                path.write_bytes(data)
                files.append(path)
                continue
            if handle is None or written + len(data) + 8 > BLK_FILE_SIZE:
                if handle is not None:
                    handle.close()
                path = directory / f"blk{len(files):05d}.dat"
                handle = path.open("wb")
                files.append(path)
                written = 0
            handle.write(magic + len(data).to_bytes(4, "little") + data)
            written += len(data) + 8
    finally:
        if handle is not None:
            handle.close()
    mempool_only = directory / "mempool-only.hex"
    mempool_only.write_text(
        "".join(f"{m.tx.serialize().hex()}\n" for m in scenario.mempool_only()), encoding="ascii"
    )
    return Written(
        directory,
        count,
        txs,
        tuple(files),
        scenario.write_ground_truth(directory / "ground-truth.json"),
        scenario.write_tagpack(directory / "exchanges.tagpack.yaml"),
        scenario.write_ransom_emails(directory / "ransom-emails.txt"),
        mempool_only,
    )
