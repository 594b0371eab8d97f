"""Esplora's JSON, parsed: pure functions from an explorer's answer to `btcwatch.model` values.

No I/O: `EsploraProvider` (esplora.py) fetches, these normalise, and anything malformed raises
BadResponse naming the field. Addresses are rendered by btcwatch from the script (see
`base.output_address`), never taken on the explorer's word.
"""

from __future__ import annotations

from collections.abc import Sequence

from btcwatch.chain.network import MAINNET, Network
from btcwatch.errors import BadResponse
from btcwatch.model import AddressStats, BlockInfo, BlockRef, OutPoint, OutSpend, Tx, TxIn, TxOut
from btcwatch.providers.base import MAX_SATS, U32, Field, output_address

__all__ = [
    "parse_address_stats",
    "parse_block",
    "parse_hash_text",
    "parse_outspends",
    "parse_outspends_batch",
    "parse_status",
    "parse_tx",
    "parse_txids",
]

NULL_TXID = "0" * 64


def parse_status(status: Field) -> BlockRef | None:
    """A tx ``status`` (or an outspend's): None while unconfirmed."""
    if not status["confirmed"].as_bool():
        return None
    return BlockRef(
        height=status["block_height"].as_int(),
        hash=status["block_hash"].as_txid(),
        time=status["block_time"].as_int(),
    )


def _parse_txout(out: Field, network: Network) -> TxOut:
    script = out["scriptpubkey"].as_hex()
    claimed = out.get("scriptpubkey_address")
    address = output_address(script, None if claimed is None else claimed.as_str(), network, out)
    return TxOut(value=out["value"].as_int(0, MAX_SATS), script=script, address=address)


def _parse_txin(vin: Field, network: Network) -> TxIn:
    sequence = vin["sequence"].as_int(0, U32)
    flag = vin.get("is_coinbase")
    prev_txid = vin["txid"].as_txid()
    prev_vout = vin["vout"].as_int(0, U32)
    coinbase = flag.as_bool() if flag is not None else (prev_txid == NULL_TXID and prev_vout == U32)
    if coinbase:
        return TxIn(prevout=None, sequence=sequence)
    if not vin.has("prevout"):
        raise vin.fail("has no 'prevout'")
    prevout = vin.get("prevout")
    if prevout is None:  # explicit null: the server did not resolve it
        return TxIn(OutPoint(prev_txid, prev_vout), sequence)
    spent = _parse_txout(prevout, network)
    return TxIn(
        prevout=OutPoint(prev_txid, prev_vout),
        sequence=sequence,
        prev_value=spent.value,
        prev_script=spent.script,
        prev_address=spent.address,
    )


def parse_tx(obj: object, network: Network = MAINNET, *, provider: str = "esplora") -> Tx:
    """An Esplora tx object (``/tx/:txid``, address and block tx lists) as a `Tx`.

    A ``fee`` that disagrees with the prevout values is an inconsistent body (BadResponse).
    """
    tx = Field(obj, "tx", provider)
    inputs = tuple(_parse_txin(v, network) for v in tx["vin"].items())
    outputs = tuple(_parse_txout(v, network) for v in tx["vout"].items())
    if not inputs or not outputs:
        raise tx.fail("has no inputs or no outputs")
    size, weight = tx.get("size"), tx.get("weight")
    parsed = Tx(
        txid=tx["txid"].as_txid(),
        version=tx["version"].as_int(-(2**31), U32),
        locktime=tx["locktime"].as_int(0, U32),
        inputs=inputs,
        outputs=outputs,
        block=parse_status(tx["status"]),
        size=None if size is None else size.as_int(1),
        weight=None if weight is None else weight.as_int(1),
    )
    fee = tx.get("fee")
    if fee is not None and parsed.fee is not None and fee.as_int(0) != parsed.fee:
        raise fee.fail(f"is {fee.value} but inputs minus outputs is {parsed.fee}")
    return parsed


def _parse_outspend(item: Field) -> OutSpend:
    if not item["spent"].as_bool():
        return OutSpend(spent=False)
    status = item.get("status")
    return OutSpend(
        spent=True,
        txid=item["txid"].as_txid(),
        vin=item["vin"].as_int(0, U32),
        block=None if status is None else parse_status(status),
    )


def parse_outspends(obj: object, *, provider: str = "esplora") -> list[OutSpend]:
    """``/tx/:txid/outspends``: one entry per output, in output order."""
    return [_parse_outspend(item) for item in Field(obj, "outspends", provider).items()]


def parse_outspends_batch(
    obj: object, txids: Sequence[str], *, provider: str = "esplora"
) -> dict[str, list[OutSpend]]:
    """mempool.space ``/txs/outspends?txids=a,b``: a list of outspend lists in txid order."""
    lists = Field(obj, "outspends", provider).items()
    if len(lists) != len(txids):
        raise BadResponse(
            f"bad response: {len(lists)} outspend lists for {len(txids)} txids", provider=provider
        )
    return {
        txid: [_parse_outspend(item) for item in entry.items()]
        for txid, entry in zip(txids, lists, strict=True)
    }


def _stats(f: Field, prefix: str) -> dict[str, int]:
    names = ("funded_txo_count", "funded_txo_sum", "spent_txo_count", "spent_txo_sum", "tx_count")
    return {prefix + n: f[n].as_int() for n in names}


def parse_address_stats(obj: object, *, provider: str = "esplora") -> AddressStats:
    """``/address/:a``: confirmed (chain_stats) and mempool (mempool_stats) summaries."""
    f = Field(obj, "address", provider)
    address = f["address"].as_str()
    return AddressStats(
        address=address,
        **_stats(f["chain_stats"], ""),
        **_stats(f["mempool_stats"], "mempool_"),
    )


def parse_block(obj: object, *, provider: str = "esplora") -> BlockInfo:
    """``/block/:hash`` (and each entry of ``/blocks``)."""
    f = Field(obj, "block", provider)
    prev = f.get("previousblockhash")
    return BlockInfo(
        height=f["height"].as_int(),
        hash=f["id"].as_txid(),
        prev_hash=None if prev is None else prev.as_txid(),
        time=f["timestamp"].as_int(),
        tx_count=f["tx_count"].as_int(1) if f.has("tx_count") else None,
    )


def parse_txids(obj: object, *, what: str = "txids", provider: str = "esplora") -> list[str]:
    return [item.as_txid() for item in Field(obj, what, provider).items()]


def parse_hash_text(text: str, *, what: str = "hash", provider: str = "esplora") -> str:
    return Field(text, what, provider).as_txid()
