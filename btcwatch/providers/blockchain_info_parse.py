"""blockchain.info's JSON, parsed: pure functions from its answers to `btcwatch.model` values.

No I/O. Inputs and spends name other txs by blockchain.info's ``tx_index``, so the parsers
take the tx_index -> txid mapping the provider (blockchain_info.py) resolved, and
``input_refs``/``spender_refs`` say which indexes a body needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from btcwatch.chain.network import MAINNET, Network
from btcwatch.errors import BadResponse
from btcwatch.model import (
    AddressStats,
    BlockInfo,
    BlockRef,
    OutPoint,
    OutSpend,
    Tip,
    Tx,
    TxIn,
    TxOut,
)
from btcwatch.providers.base import MAX_SATS, U32, Field, output_address

__all__ = [
    "NAME",
    "RawaddrPage",
    "input_refs",
    "parse_block",
    "parse_block_ref",
    "parse_latestblock",
    "parse_multiaddr",
    "parse_outspends",
    "parse_rawaddr_page",
    "parse_tx",
    "spender_refs",
    "stats_from_history",
    "tx_index_of",
]

NAME = "blockchain.info"


def tx_index_of(obj: object, *, provider: str = NAME) -> tuple[int, str]:
    """A tx object's own (tx_index, txid): what resolves other txs' inputs."""
    f = Field(obj, "tx", provider)
    return f["tx_index"].as_int(), f["hash"].as_txid()


def _prev_out(vin: Field) -> Field | None:
    """The spent output, or None for a coinbase input (no prev_out, or n = 0xffffffff)."""
    prev = vin.get("prev_out")
    if prev is None or prev["n"].as_int(0, U32) == U32:
        return None
    return prev


def input_refs(obj: object, *, provider: str = NAME) -> set[int]:
    """The tx_indexes whose txids ``parse_tx`` needs for this tx's inputs."""
    refs = set()
    for vin in Field(obj, "tx", provider)["inputs"].items():
        prev = _prev_out(vin)
        if prev is not None:
            refs.add(prev["tx_index"].as_int())
    return refs


def spender_refs(obj: object, *, provider: str = NAME) -> set[int]:
    """The tx_indexes of the txs that spend this tx's outputs (``spending_outpoints``)."""
    refs = set()
    for out in Field(obj, "tx", provider)["out"].items():
        for point in (out.get("spending_outpoints") or Field([], "", provider)).items():
            refs.add(point["tx_index"].as_int())
    return refs


def parse_block_ref(tx: Field) -> BlockRef | None:
    height = tx.get("block_height")
    if height is None:
        return None
    return BlockRef(height=height.as_int(), hash=None, time=tx["time"].as_int())


def _parse_out(out: Field, network: Network) -> TxOut:
    script = out["script"].as_hex()
    claimed = out.get("addr")
    address = output_address(script, None if claimed is None else claimed.as_str(), network, out)
    return TxOut(value=out["value"].as_int(0, MAX_SATS), script=script, address=address)


def parse_tx(
    obj: object,
    network: Network = MAINNET,
    *,
    txids: Mapping[int, str] | None = None,
    provider: str = NAME,
) -> Tx:
    """A ``/rawtx`` (or ``/rawaddr`` ``txs[]``) object as a `Tx`.

    ``txids`` maps the tx_indexes of spent txs to their txids (see `input_refs`); an input
    whose tx_index is not in it raises BadResponse naming the tx_index. A ``fee`` that
    disagrees with the prev_out values is an inconsistent body.
    """
    tx = Field(obj, "tx", provider)
    known = txids or {}
    inputs = []
    for vin in tx["inputs"].items():
        sequence = vin["sequence"].as_int(0, U32)
        prev = _prev_out(vin)
        if prev is None:
            inputs.append(TxIn(prevout=None, sequence=sequence))
            continue
        index = prev["tx_index"].as_int()
        prev_txid = known.get(index)
        if prev_txid is None:
            raise prev.fail(
                f"spends tx_index {index}, whose txid is not known (see /rawtx/{index})"
            )
        spent = _parse_out(prev, network)
        inputs.append(
            TxIn(
                prevout=OutPoint(prev_txid, prev["n"].as_int(0, U32)),
                sequence=sequence,
                prev_value=spent.value,
                prev_script=spent.script,
                prev_address=spent.address,
            )
        )
    outputs = []
    for i, out in enumerate(tx["out"].items()):
        if out.has("n") and out["n"].as_int() != i:
            raise out["n"].fail(f"is {out['n'].value}, expected {i} (outputs out of order)")
        outputs.append(_parse_out(out, network))
    if not inputs or not outputs:
        raise tx.fail("has no inputs or no outputs")
    size, weight = tx.get("size"), tx.get("weight")
    parsed = Tx(
        txid=tx["hash"].as_txid(),
        version=tx["ver"].as_int(-(2**31), U32),
        locktime=tx["lock_time"].as_int(0, U32),
        inputs=tuple(inputs),
        outputs=tuple(outputs),
        block=parse_block_ref(tx),
        size=None if size is None else size.as_int(1),
        weight=None if weight is None else weight.as_int(1),
    )
    fee = tx.get("fee")
    if fee is not None and parsed.fee is not None and fee.as_int(0) != parsed.fee:
        raise fee.fail(f"is {fee.value} but inputs minus outputs is {parsed.fee}")
    return parsed


def parse_outspends(
    obj: object,
    spenders: Mapping[int, tuple[str, BlockRef | None]],
    *,
    provider: str = NAME,
) -> list[OutSpend]:
    """Outspends from a ``/rawtx`` object's ``out[].spent`` and ``spending_outpoints``.

    ``spenders`` maps the spending txs' tx_indexes (see `spender_refs`) to (txid, block).
    """
    result = []
    for out in Field(obj, "tx", provider)["out"].items():
        points = out.get("spending_outpoints")
        spent = out["spent"].as_bool()
        if not spent:
            result.append(OutSpend(spent=False))
            continue
        if points is None or not points.items():
            raise out.fail("is spent but the body does not say by which tx")
        point = points.items()[0]
        index = point["tx_index"].as_int()
        if index not in spenders:
            raise point.fail(f"names tx_index {index}, whose txid is not known")
        txid, block = spenders[index]
        result.append(OutSpend(True, txid, point["n"].as_int(0, U32), block))
    return result


def parse_latestblock(obj: object, *, provider: str = NAME) -> Tip:
    f = Field(obj, "latestblock", provider)
    return Tip(height=f["height"].as_int(), hash=f["hash"].as_txid())


def parse_block(obj: object, *, provider: str = NAME) -> BlockInfo:
    """A ``/rawblock`` object or one entry of ``/block-height``'s ``blocks``."""
    f = Field(obj, "block", provider)
    prev = f["prev_block"].as_txid()
    return BlockInfo(
        height=f["height"].as_int(),
        hash=f["hash"].as_txid(),
        prev_hash=None if prev == "0" * 64 else prev,
        time=f["time"].as_int(),
        tx_count=f["n_tx"].as_int(1) if f.has("n_tx") else None,
    )


def parse_multiaddr(obj: object, *, provider: str = NAME) -> dict[str, AddressStats]:
    """``/multiaddr``: totals only (txo counts 0, unconfirmed folded in; see module doc)."""
    result = {}
    for entry in Field(obj, "multiaddr", provider)["addresses"].items():
        received = entry["total_received"].as_int()
        sent = entry["total_sent"].as_int()
        if entry["final_balance"].as_int() != received - sent:
            raise entry.fail("has final_balance != total_received - total_sent")
        address = entry["address"].as_str()
        result[address] = AddressStats(
            address=address,
            funded_txo_count=0,
            funded_txo_sum=received,
            spent_txo_count=0,
            spent_txo_sum=sent,
            tx_count=entry["n_tx"].as_int(),
        )
    return result


@dataclass(frozen=True, slots=True)
class RawaddrPage:
    """One ``/rawaddr`` page: the address's totals and up to 50 raw tx objects."""

    address: str
    n_tx: int
    total_received: int
    total_sent: int
    final_balance: int
    txs: tuple[object, ...]
    txids: tuple[str, ...]


def parse_rawaddr_page(obj: object, *, provider: str = NAME) -> RawaddrPage:
    f = Field(obj, "rawaddr", provider)
    items = f["txs"].items()
    return RawaddrPage(
        address=f["address"].as_str(),
        n_tx=f["n_tx"].as_int(),
        total_received=f["total_received"].as_int(),
        total_sent=f["total_sent"].as_int(),
        final_balance=f["final_balance"].as_int(),
        txs=tuple(item.value for item in items),
        txids=tuple(item["hash"].as_txid() for item in items),
    )


def stats_from_history(
    address: str,
    script: bytes,
    txs: Sequence[object],
    totals: RawaddrPage | None = None,
    *,
    provider: str = NAME,
) -> AddressStats:
    """Esplora-style stats counted from a complete rawaddr history (raw tx objects).

    Outputs paying ``script`` are funded txos, inputs spending it are spent txos; txs
    without ``block_height`` go to the mempool fields. With ``totals`` the counts must add up
    to blockchain.info's own totals (with or without unconfirmed amounts), else BadResponse.
    """
    sums = {"chain": [0, 0, 0, 0, 0], "mempool": [0, 0, 0, 0, 0]}
    hex_script = script.hex()
    for obj in txs:
        tx = Field(obj, "tx", provider)
        row = sums["chain" if tx.get("block_height") is not None else "mempool"]
        touched = False
        for out in tx["out"].items():
            if out["script"].as_str().lower() == hex_script:
                row[0] += 1
                row[1] += out["value"].as_int(0, MAX_SATS)
                touched = True
        for vin in tx["inputs"].items():
            prev = _prev_out(vin)
            if prev is not None and prev["script"].as_str().lower() == hex_script:
                row[2] += 1
                row[3] += prev["value"].as_int(0, MAX_SATS)
                touched = True
        if not touched:
            raise tx.fail(f"is in the history of {address} but does not involve it")
        row[4] += 1
    c, m = sums["chain"], sums["mempool"]
    stats = AddressStats(address, *c, *m)
    if totals is not None:
        if totals.n_tx != c[4] + m[4]:
            raise BadResponse(
                f"bad response: {address} has n_tx {totals.n_tx} but {c[4] + m[4]} txs were"
                " listed (history changed while paging?)",
                provider=provider,
            )
        options = [(c[1] + m[1], c[3] + m[3]), (c[1], c[3])]
        reported = (totals.total_received, totals.total_sent)
        if reported not in options or totals.final_balance != reported[0] - reported[1]:
            raise BadResponse(
                f"bad response: totals of {address} (received {reported[0]}, sent"
                f" {reported[1]}, balance {totals.final_balance}) do not match its history",
                provider=provider,
            )
    return stats
