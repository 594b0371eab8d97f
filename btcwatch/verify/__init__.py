"""``btcwatch verify``: check an evidence bundle offline, trusting none of its files.

The manifest only shows that files did not change after export; a forger can rewrite it. So
the facts are re-derived from the rawest thing the bundle holds and compared with the rest:

1. the manifest's hashes, and every file listed (nothing missing, nothing extra);
2. every archived explorer answer: its SHA-256 against the database and ``responses/``, then
   re-parsed and compared with the database rows it produced (values, scripts, spends,
   heights);
3. every transaction the case relies on: txid recomputed from raw bytes, Merkle branch to a
   header that hashes right, meets its own target and the network's proof-of-work limit, and
   the raw bytes against the database rows;
4. every figure of ``report.json`` (and ``report.md``) recomputed from the bundled database
   and price table.

No provider is built and, while it runs, any attempt to open a socket fails.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import socket
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from btcwatch.chain.block import parse_header
from btcwatch.chain.tx import parse_tx
from btcwatch.errors import BtcwatchError, InputError, StoreError
from btcwatch.prices import PriceTable
from btcwatch.proofs import check_proof, pow_limit_for
from btcwatch.report.bundle import DATABASE, MANIFEST, META, PRICES, RESPONSES, case_txids
from btcwatch.report.refs import evidence_rows
from btcwatch.store import Store
from btcwatch.store.chaindata import load_txs
from btcwatch.store.evidence import evidence_body
from btcwatch.store.proofs import StoredHeader, confirmed_txs, headers, proofs
from btcwatch.store.readonly import open_immutable
from btcwatch.store.watchstate import watched_outputs
from btcwatch.verify.figures import recompute
from btcwatch.verify.rows import check_answer, check_parents, check_spends, compare_raw

__all__ = ["VerifyResult", "verify_bundle"]

REQUIRED = ("report.json", DATABASE, META, "README.txt")


@dataclass
class VerifyResult:
    """The outcome; ``ok`` only when ``problems`` is empty."""

    bundle: str
    case: str | None = None
    network: str | None = None
    simulated: bool = False
    files: int = 0
    responses: int = 0
    figures: int = 0
    txs_total: int = 0
    txs_proven: int = 0
    heights: dict[str, int] = field(default_factory=dict)  # how each block's height is known
    unproven: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "bundle": self.bundle,
            "case": self.case,
            "network": self.network,
            "simulated": self.simulated,
            "files_checked": self.files,
            "responses_checked": self.responses,
            "figures_checked": self.figures,
            "txs_proven": self.txs_proven,
            "txs_total": self.txs_total,
            "heights": dict(sorted(self.heights.items())),
            "unproven": [{"txid": t, "why": w} for t, w in sorted(self.unproven.items())],
            "problems": list(self.problems),
        }


@contextlib.contextmanager
def no_network() -> Iterator[None]:
    """Make every socket connection attempt fail while verifying (belt and braces)."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise BtcwatchError("btcwatch verify opens no network connection")

    saved = (socket.socket.connect, socket.socket.connect_ex, socket.create_connection)
    socket.socket.connect = refuse  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = refuse  # type: ignore[method-assign,assignment]
    socket.create_connection = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.create_connection = saved  # type: ignore[method-assign]


def verify_bundle(path: Path) -> VerifyResult:
    """Check the bundle folder ``path``; InputError when it is no folder at all."""
    if not path.is_dir():
        raise InputError(f"{path} is not a folder (give the evidence bundle's folder)")
    with no_network():
        try:
            return _verify(path)
        except sqlite3.DatabaseError as exc:  # a table dropped or mangled after the quick check
            raise StoreError(f"cannot read the bundled database: {exc}") from exc
        except (ValueError, TypeError) as exc:  # e.g. a proof's branch is not JSON any more
            raise StoreError(f"the bundled database holds malformed data: {exc}") from exc


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_manifest(root: Path, result: VerifyResult) -> None:
    manifest = root / MANIFEST
    if not manifest.is_file():
        result.problems.append(f"{MANIFEST} is missing")
        return
    listed: set[str] = set()
    for number, line in enumerate(manifest.read_text(encoding="utf-8").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        rel = PurePosixPath(name)
        if not sep or len(digest) != 64 or rel.is_absolute() or ".." in rel.parts:
            result.problems.append(f"{MANIFEST} line {number} is malformed")
            continue
        listed.add(name)
        file = root / name
        if not file.is_file():
            result.problems.append(f"{name} is listed in {MANIFEST} but missing")
        elif _sha256(file) != digest:
            result.problems.append(f"{name} does not match its SHA-256 in {MANIFEST}")
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    for name in sorted(on_disk - listed - {MANIFEST}):
        result.problems.append(f"{name} is in the bundle but not in {MANIFEST}")
    for name in REQUIRED:
        if name not in on_disk:
            result.problems.append(f"{name} is missing from the bundle")
    result.files = len(listed)


def _check_responses(root: Path, store: Store, result: VerifyResult) -> None:
    """responses/ files and index.csv against the database's evidence table."""
    index = root / RESPONSES / "index.csv"
    if not index.is_file():
        result.problems.append(f"{RESPONSES}/index.csv is missing")
        return
    with index.open(newline="", encoding="utf-8") as handle:
        listed = list(csv.DictReader(handle))
    rows = {r.id: r for r in evidence_rows(store, (int(x["id"]) for x in listed if x["id"]))}
    for entry in listed:
        ev_id = int(entry["id"])
        row = rows.get(ev_id)
        if row is None:
            result.problems.append(f"E{ev_id} is listed in index.csv but not in the database")
            continue
        if entry["sha256"] != row.sha256:
            result.problems.append(f"E{ev_id}: index.csv and the database disagree on its SHA-256")
        if entry["file"]:
            file = root / entry["file"]
            if not file.is_file():
                result.problems.append(f"E{ev_id}: {entry['file']} is missing")
            elif _sha256(file) != row.sha256:
                result.problems.append(
                    f"E{ev_id}: {entry['file']} does not hash to the SHA-256 the explorer's "
                    "answer was archived with (the raw answer was changed)"
                )
        result.responses += 1


def _limit(result: VerifyResult) -> int:
    return pow_limit_for(result.network or "mainnet", simulated=result.simulated)


def _check_txs(store: Store, txids: set[str], result: VerifyResult) -> None:
    """Raw answers, Merkle proofs and headers of every transaction the case relies on."""
    wanted = sorted(txids)
    result.txs_total = len(wanted)
    txs = load_txs(store, wanted)
    blocks = confirmed_txs(store, wanted)
    stored = proofs(store, wanted)
    heads = headers(store, {p.block_hash for p in stored.values()})
    limit = _limit(result)
    for txid in wanted:
        row = txs.get(txid)
        if row is None:
            result.problems.append(f"tx {txid} is named by the case but not in the database")
            continue
        ev_id = blocks[txid].evidence_id
        if ev_id is not None:
            body = evidence_body(store, ev_id)
            meta = evidence_rows(store, [ev_id])
            if not meta:
                result.problems.append(f"tx {txid}: its evidence E{ev_id} is not in the database")
            elif body and hashlib.sha256(body).hexdigest() != meta[0].sha256:
                result.problems.append(f"E{ev_id}: the archived body does not match its SHA-256")
            elif body:
                result.problems += check_answer(
                    txid, meta[0].url, body, row, result.network or "mainnet", f"E{ev_id}"
                )
        proof = stored.get(txid)
        if proof is None:
            if row.block is None:
                result.unproven[txid] = "unconfirmed"
            else:
                result.unproven[txid] = "no Merkle proof in the bundle"
                result.problems.append(f"tx {txid} is confirmed but has no Merkle proof")
            continue
        problem = check_proof(proof, heads.get(proof.block_hash), limit)
        if problem is not None:
            result.unproven[txid] = problem
            result.problems.append(f"tx {txid} is not proven: {problem}")
            continue
        if row.block is None or (row.block.height, row.block.hash) != (
            proof.block_height,
            proof.block_hash,
        ):
            result.problems.append(
                f"tx {txid}: the database puts it at "
                f"{(row.block.height if row.block else None)}, its proof in block "
                f"{proof.block_height}"
            )
        try:
            raw = parse_tx(bytes.fromhex(proof.raw_hex))
        except (BtcwatchError, ValueError) as exc:
            result.problems.append(f"tx {txid}: proven raw bytes do not parse: {exc}")
            continue
        before = len(result.problems)
        result.problems += compare_raw(txid, raw, row, "the proven raw tx")
        if len(result.problems) == before:
            result.txs_proven += 1
    _check_header_chain([heads[h] for h in {p.block_hash for p in stored.values()} if h in heads],
                        result)  # fmt: skip
    result.problems += check_parents(txs)
    if result.case is not None:
        outs = [
            (o.outpoint.txid, o.outpoint.vout, o.value, o.script_hex, o.spent_by)
            for o in watched_outputs(store, result.case)
        ]
        result.problems += check_spends(outs, {**txs, **load_txs(store, _spenders(outs, txs))})


def _check_header_chain(used: list[StoredHeader], result: VerifyResult) -> None:
    """Headers at consecutive heights must link by their previous-block hash.

    A height read from a BIP34 coinbase is proven by the block itself; one stated by the
    explorer is only as good as that link to a neighbour, so both kinds are counted.
    """
    by_height: dict[int, list[StoredHeader]] = {}
    for header in used:
        by_height.setdefault(header.height, []).append(header)
        result.heights[header.height_source] = result.heights.get(header.height_source, 0) + 1
    for height, (header, *more) in sorted(by_height.items()):
        below = by_height.get(height - 1)
        if more or not below or len(below) > 1:
            continue  # a reorg left two blocks at a height: nothing to link
        try:
            prev = parse_header(bytes.fromhex(header.header_hex)).prev_hash
        except (ValueError, BtcwatchError):
            continue  # a malformed header is reported by the proof check
        if prev != below[0].hash:
            result.problems.append(
                f"block {header.hash} at height {height} does not follow block "
                f"{below[0].hash} at height {height - 1}: a height is wrong"
            )


def _spenders(outs: list[tuple[str, int, int, str, str | None]], txs: dict[str, Any]) -> list[str]:
    return sorted({o[4] for o in outs if o[4] is not None and o[4] not in txs})


def _read_meta(root: Path, result: VerifyResult) -> dict[str, Any] | None:
    try:
        meta = json.loads((root / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        result.problems.append(f"{META} cannot be read: {exc}")
        return None
    if not isinstance(meta, dict) or not isinstance(meta.get("case"), str):
        result.problems.append(f"{META} does not name the case")
        return None
    result.case = meta["case"]
    result.network = str(meta.get("network") or "mainnet")
    result.simulated = bool(meta.get("simulated"))
    return meta


def _verify(root: Path) -> VerifyResult:
    result = VerifyResult(str(root))
    _check_manifest(root, result)
    meta = _read_meta(root, result)
    if meta is None or not (root / DATABASE).is_file():
        return result
    store = open_immutable(root / DATABASE)  # StoreError: one line, exit 1
    try:
        _check_responses(root, store, result)
        run_id = meta.get("trace_run_id")
        run = run_id if isinstance(run_id, int) else None
        assert result.case is not None
        _check_txs(store, case_txids(store, result.case, run), result)
        prices = None
        if (root / PRICES).is_file():
            source = meta.get("prices_source")
            prices = PriceTable.from_csv(root / PRICES, str(source) if source else None)
        report_json = root / "report.json"
        if report_json.is_file():
            md = root / "report.md"
            result.figures, problems = recompute(
                store,
                result.case,
                run,
                report_json.read_text(encoding="utf-8"),
                md.read_text(encoding="utf-8") if md.is_file() else None,
                prices,
            )
            result.problems += problems
    finally:
        store.close()
    return result
