"""Raw explorer answers and proven bytes against the database rows they produced.

Each check returns problems as sentences; an empty list means the rows are what the raw
bytes say. Nothing here touches the network: it only re-reads what the bundle holds.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from btcwatch.chain.network import network_by_name
from btcwatch.chain.tx import RawTx, parse_block, parse_tx
from btcwatch.errors import BtcwatchError
from btcwatch.model import Tx
from btcwatch.providers.esplora_parse import parse_tx as parse_esplora_tx
from btcwatch.providers.esplora_raw import find_tx_json


def compare_raw(txid: str, raw: RawTx, row: Tx, what: str) -> list[str]:
    """Outputs (value, script) and spent outpoints of ``row`` against raw bytes."""
    problems: list[str] = []
    if len(raw.outputs) != len(row.outputs):
        problems.append(
            f"tx {txid}: {what} has {len(raw.outputs)} outputs, database {len(row.outputs)}"
        )
    for vout, (a, b) in enumerate(zip(raw.outputs, row.outputs, strict=False)):
        if a.value != b.value:
            problems.append(
                f"tx {txid} output {vout}: {what} says {a.value} sat, database {b.value} sat"
            )
        if a.script != b.script:
            problems.append(f"tx {txid} output {vout}: {what} and database differ in script")
    if len(raw.inputs) != len(row.inputs):
        problems.append(
            f"tx {txid}: {what} has {len(raw.inputs)} inputs, database {len(row.inputs)}"
        )
    for vin, (ri, di) in enumerate(zip(raw.inputs, row.inputs, strict=False)):
        spent = None if ri.is_coinbase else (ri.prev_txid, ri.prev_vout)
        stored = None if di.prevout is None else (di.prevout.txid, di.prevout.vout)
        if spent != stored:
            problems.append(f"tx {txid} input {vin}: {what} spends {spent}, database {stored}")
    return problems


def _compare_json(txid: str, parsed: Tx, row: Tx, ref: str) -> list[str]:
    problems: list[str] = []
    if parsed.outputs != row.outputs:
        problems.append(f"tx {txid}: outputs differ between {ref} and the database")
    for vin, (a, b) in enumerate(zip(parsed.inputs, row.inputs, strict=False)):
        if (a.prevout, a.prev_value, a.prev_script) != (b.prevout, b.prev_value, b.prev_script):
            problems.append(f"tx {txid} input {vin}: {ref} and the database differ")
    if len(parsed.inputs) != len(row.inputs):
        problems.append(f"tx {txid}: input count differs between {ref} and the database")
    a_height = parsed.block.height if parsed.block else None
    b_height = row.block.height if row.block else None
    if a_height is not None and a_height != b_height:
        problems.append(f"tx {txid}: {ref} says height {a_height}, database {b_height}")
    return problems


def check_answer(txid: str, url: str, body: bytes, row: Tx, network: str, ref: str) -> list[str]:
    """Re-parse the raw answer a transaction was stored from and compare with its rows."""
    if url.endswith("/raw"):
        try:
            block = parse_block(body)
        except BtcwatchError as exc:
            return [f"{ref} ({url}) is not a whole block: {exc}"]
        raw = next((t for t in block.txs if t.txid == txid), None)
        if raw is None:
            return [f"{ref} ({url}) does not contain tx {txid}"]
        return compare_raw(txid, raw, row, ref)
    if url.endswith("/hex"):
        try:
            return compare_raw(txid, parse_tx(bytes.fromhex(body.decode().strip())), row, ref)
        except (BtcwatchError, ValueError) as exc:
            return [f"{ref} ({url}) is not a raw transaction: {exc}"]
    if "/rawaddr/" in url or "/rawtx/" in url or "/multiaddr" in url:
        return []  # blockchain.info's format: bound by the Merkle proof's raw bytes instead
    try:
        obj = find_tx_json(json.loads(body), txid)
    except ValueError:
        return [f"{ref} ({url}) is not JSON"]
    if obj is None:
        # An older link may cite an answer that only names the tx (as an input's prevout);
        # the Merkle-proven raw bytes bind its values then. One that never names it is wrong.
        return [] if txid.encode() in body else [f"{ref} ({url}) does not name tx {txid}"]
    try:
        parsed = parse_esplora_tx(obj, network_by_name(network))
    except BtcwatchError as exc:
        return [f"{ref} ({url}) does not parse: {exc}"]
    return _compare_json(txid, parsed, row, ref)


def check_parents(txs: dict[str, Tx]) -> list[str]:
    """Prevout values and scripts of the database against the parent's own (proven) outputs."""
    problems: list[str] = []
    for tx in txs.values():
        for vin, txin in enumerate(tx.inputs):
            if txin.prevout is None or txin.prev_value is None:
                continue
            parent = txs.get(txin.prevout.txid)
            if parent is None or txin.prevout.vout >= len(parent.outputs):
                continue
            out = parent.outputs[txin.prevout.vout]
            if out.value != txin.prev_value or (
                txin.prev_script is not None and out.script != txin.prev_script
            ):
                problems.append(
                    f"tx {tx.txid} input {vin}: the database says it spends "
                    f"{txin.prev_value} sat but {txin.prevout} is {out.value} sat"
                )
    return problems


def check_spends(
    outputs: Sequence[tuple[str, int, int, str, str | None]], txs: dict[str, Tx]
) -> list[str]:
    """Watched outputs (txid, vout, value, script hex, spent_by) against the transactions."""
    problems: list[str] = []
    for txid, vout, value, script_hex, spent_by in outputs:
        tx = txs.get(txid)
        if tx is None:
            problems.append(f"watched output {txid}:{vout}: its transaction is not in the bundle")
            continue
        if vout >= len(tx.outputs):
            problems.append(f"watched output {txid}:{vout}: the tx has no such output")
            continue
        out = tx.outputs[vout]
        if out.value != value or out.script.hex() != script_hex:
            problems.append(
                f"watched output {txid}:{vout}: recorded {value} sat, the tx pays {out.value} sat"
            )
        if spent_by is not None:
            spender = txs.get(spent_by)
            if spender is None:
                problems.append(f"watched output {txid}:{vout}: spender {spent_by} not in bundle")
            elif not any(
                i.prevout is not None and (i.prevout.txid, i.prevout.vout) == (txid, vout)
                for i in spender.inputs
            ):
                problems.append(
                    f"watched output {txid}:{vout}: {spent_by} is recorded as its spender "
                    "but does not spend it"
                )
    return problems
