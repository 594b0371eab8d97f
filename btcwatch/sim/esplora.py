"""Esplora JSON shapes for the simulator: transactions, statuses, blocks, address stats.

Field names, order and types follow Blockstream's electrs REST API (and mempool.space, which
implements it), e.g. ``scriptpubkey_type`` "v0_p2wpkh", ``scriptpubkey_address`` absent for
scripts without an address, ``witness`` only on inputs that have one, ``prevout`` null for a
coinbase. Script assembly uses electrs' opcode names (OP_PUSHBYTES_20, OP_PUSHNUM_1, OP_CSV).
"""

from __future__ import annotations

from typing import Any

from btcwatch.chain.address import script_to_address
from btcwatch.chain.network import Network
from btcwatch.chain.script import ScriptType, classify
from btcwatch.sim.chain import SimChain
from btcwatch.sim.records import AddressRecord, BlockRecord, Stats, TxEntry

__all__ = [
    "address_json",
    "asm",
    "block_json",
    "mempool_json",
    "outspend_json",
    "script_type_name",
    "status_json",
    "tx_json",
    "utxo_json",
]

_OPCODES: dict[int, str] = {
    0x00: "OP_0",
    0x4C: "OP_PUSHDATA1",
    0x4D: "OP_PUSHDATA2",
    0x4E: "OP_PUSHDATA4",
    0x4F: "OP_PUSHNUM_NEG1",
    0x50: "OP_RESERVED",
    0xB1: "OP_CLTV",
    0xB2: "OP_CSV",
    0xBA: "OP_CHECKSIGADD",
    0xFF: "OP_INVALIDOPCODE",
}
_NAMES = (
    "NOP VER IF NOTIF VERIF VERNOTIF ELSE ENDIF VERIFY RETURN TOALTSTACK FROMALTSTACK 2DROP 2DUP "
    "3DUP 2OVER 2ROT 2SWAP IFDUP DEPTH DROP DUP NIP OVER PICK ROLL ROT SWAP TUCK CAT SUBSTR LEFT "
    "RIGHT SIZE INVERT AND OR XOR EQUAL EQUALVERIFY RESERVED1 RESERVED2 1ADD 1SUB 2MUL 2DIV "
    "NEGATE ABS NOT 0NOTEQUAL ADD SUB MUL DIV MOD LSHIFT RSHIFT BOOLAND BOOLOR NUMEQUAL "
    "NUMEQUALVERIFY NUMNOTEQUAL LESSTHAN GREATERTHAN LESSTHANOREQUAL GREATERTHANOREQUAL MIN MAX "
    "WITHIN RIPEMD160 SHA1 SHA256 HASH160 HASH256 CODESEPARATOR CHECKSIG CHECKSIGVERIFY "
    "CHECKMULTISIG CHECKMULTISIGVERIFY NOP1"
)
for _i, _name in enumerate(_NAMES.split()):
    _OPCODES[0x61 + _i] = "OP_" + _name
for _i in range(1, 17):
    _OPCODES[0x50 + _i] = f"OP_PUSHNUM_{_i}"
for _i in range(0xB3, 0xBA):
    _OPCODES[_i] = f"OP_NOP{_i - 0xAF}"
for _i in range(0xBB, 0xFF):
    _OPCODES[_i] = f"OP_RETURN_{_i}"

_TYPE_NAMES = {
    ScriptType.P2PKH: "p2pkh",
    ScriptType.P2SH: "p2sh",
    ScriptType.P2WPKH: "v0_p2wpkh",
    ScriptType.P2WSH: "v0_p2wsh",
    ScriptType.P2TR: "v1_p2tr",
    ScriptType.P2PK: "p2pk",
    ScriptType.MULTISIG: "multisig",
    ScriptType.OP_RETURN: "op_return",
    ScriptType.WITNESS_UNKNOWN: "unknown",
    ScriptType.NONSTANDARD: "unknown",
}
# Difficulty 1 target (bits 0x1d00ffff), what explorers divide by.
_DIFF1 = 0xFFFF << 208


def asm(script: bytes) -> str:
    """Script assembly as electrs prints it."""
    out: list[str] = []
    i, n = 0, len(script)
    while i < n:
        op = script[i]
        i += 1
        if 0x01 <= op <= 0x4E:
            if op <= 0x4B:
                size, name = op, f"OP_PUSHBYTES_{op}"
            else:
                width = {0x4C: 1, 0x4D: 2, 0x4E: 4}[op]
                if i + width > n:
                    out.append("<unexpected end>")
                    break
                size = int.from_bytes(script[i : i + width], "little")
                i += width
                name = _OPCODES[op]
            if i + size > n:
                out.append(f"{name} <push past end>")
                break
            out.append(f"{name} {script[i : i + size].hex()}")
            i += size
        else:
            out.append(_OPCODES[op])
    return " ".join(out)


def script_type_name(script: bytes) -> str:
    if not script:
        return "empty"
    return _TYPE_NAMES[classify(script)]


def _vout(script: bytes, value: int, network: Network) -> dict[str, Any]:
    item: dict[str, Any] = {
        "scriptpubkey": script.hex(),
        "scriptpubkey_asm": asm(script),
        "scriptpubkey_type": script_type_name(script),
    }
    address = script_to_address(script, network)
    if address is not None:
        item["scriptpubkey_address"] = address
    item["value"] = value
    return item


def status_json(chain: SimChain, entry: TxEntry) -> dict[str, Any]:
    block = entry.block
    if block is None or not block.best:
        return {"confirmed": False}
    return {
        "confirmed": True,
        "block_height": block.height,
        "block_hash": block.hash,
        "block_time": block.time,
    }


def _last_push(script_sig: bytes) -> bytes | None:
    """The data of the last push in a scriptSig (the redeem script of a P2SH spend)."""
    i, last = 0, None
    n = len(script_sig)
    while i < n:
        op = script_sig[i]
        i += 1
        if 0x01 <= op <= 0x4E:
            if op <= 0x4B:
                size = op
            else:
                width = {0x4C: 1, 0x4D: 2, 0x4E: 4}[op]
                size = int.from_bytes(script_sig[i : i + width], "little")
                i += width
            last = script_sig[i : i + size]
            i += size
        else:
            last = None
    return last


def tx_json(chain: SimChain, entry: TxEntry) -> dict[str, Any]:
    """GET /tx/:txid."""
    tx = entry.parse()
    net = chain.network
    vin: list[dict[str, Any]] = []
    for txin in tx.inputs:
        item: dict[str, Any] = {"txid": txin.prev_txid, "vout": txin.prev_vout}
        prev_script = b""
        if txin.is_coinbase:
            item["prevout"] = None
        else:
            prev_script, value = chain.prevout(txin.prev_txid, txin.prev_vout)
            item["prevout"] = _vout(prev_script, value, net)
        item["scriptsig"] = txin.script_sig.hex()
        item["scriptsig_asm"] = asm(txin.script_sig)
        if txin.witness:
            item["witness"] = [w.hex() for w in txin.witness]
        item["is_coinbase"] = txin.is_coinbase
        item["sequence"] = txin.sequence
        redeem = None
        if prev_script and classify(prev_script) is ScriptType.P2SH:
            redeem = _last_push(txin.script_sig)
            if redeem is not None:
                item["inner_redeemscript_asm"] = asm(redeem)
        wrapped_wsh = redeem is not None and classify(redeem) is ScriptType.P2WSH
        if txin.witness and (wrapped_wsh or classify(prev_script) is ScriptType.P2WSH):
            item["inner_witnessscript_asm"] = asm(txin.witness[-1])
        vin.append(item)
    return {
        "txid": entry.txid,
        "version": tx.version,
        "locktime": tx.locktime,
        "vin": vin,
        "vout": [_vout(o.script, o.value, net) for o in tx.outputs],
        "size": entry.size,
        "weight": entry.weight,
        "fee": entry.fee,
        "status": status_json(chain, entry),
    }


def outspend_json(chain: SimChain, entry: TxEntry, vout: int) -> dict[str, Any]:
    """GET /tx/:txid/outspend/:vout."""
    found = chain.outspend(entry.txid, vout)
    if found is None:
        return {"spent": False}
    spender, vin = found
    return {
        "spent": True,
        "txid": spender.txid,
        "vin": vin,
        "status": status_json(chain, spender),
    }


def _stats(stats: Stats) -> dict[str, int]:
    return {
        "funded_txo_count": stats.funded_txo_count,
        "funded_txo_sum": stats.funded_txo_sum,
        "spent_txo_count": stats.spent_txo_count,
        "spent_txo_sum": stats.spent_txo_sum,
        "tx_count": stats.tx_count,
    }


_EMPTY = Stats(0, 0, 0, 0, 0)


def address_json(
    chain: SimChain, key: str, value: str, rec: AddressRecord | None
) -> dict[str, Any]:
    """GET /address/:a (key "address") or /scripthash/:h (key "scripthash")."""
    chain_stats = chain.chain_stats(rec) if rec else _EMPTY
    mempool_stats = chain.mempool_stats(rec) if rec else _EMPTY
    return {key: value, "chain_stats": _stats(chain_stats), "mempool_stats": _stats(mempool_stats)}


def utxo_json(chain: SimChain, entry: TxEntry, vout: int, value: int) -> dict[str, Any]:
    return {"txid": entry.txid, "vout": vout, "status": status_json(chain, entry), "value": value}


def difficulty(bits: int) -> float:
    exponent, mantissa = bits >> 24, bits & 0x7FFFFF
    target = mantissa << (8 * (exponent - 3)) if exponent >= 3 else mantissa >> (8 * (3 - exponent))
    return _DIFF1 / target if target else 0.0


def block_json(chain: SimChain, rec: BlockRecord) -> dict[str, Any]:
    """GET /block/:hash."""
    header = rec.header
    times = [rec.time]
    for height in range(rec.height - 10, rec.height):
        ancestor = chain.block_at(height)
        if ancestor is not None:
            times.append(ancestor.time)
    times.sort()
    return {
        "id": rec.hash,
        "height": rec.height,
        "version": header.version,
        "timestamp": header.time,
        "tx_count": len(rec.entries),
        "size": rec.size,
        "weight": rec.weight,
        "merkle_root": header.merkle_root,
        "previousblockhash": header.prev_hash,
        "mediantime": times[len(times) // 2],
        "nonce": header.nonce,
        "bits": header.bits,
        "difficulty": difficulty(header.bits),
    }


def mempool_json(chain: SimChain) -> dict[str, Any]:
    """GET /mempool: count, vsize, total fee and an Electrum-style fee histogram."""
    entries = chain.mempool()
    rated = sorted(((e.fee / e.vsize, e.vsize) for e in entries), reverse=True)
    histogram: list[list[float]] = []
    bucket_vsize = 0
    for rate, vsize in rated:
        bucket_vsize += vsize
        if bucket_vsize >= 50_000:
            histogram.append([round(rate, 2), bucket_vsize])
            bucket_vsize = 0
    if bucket_vsize:
        histogram.append([round(rated[-1][0], 2), bucket_vsize])
    return {
        "count": len(entries),
        "vsize": sum(e.vsize for e in entries),
        "total_fee": sum(e.fee for e in entries),
        "fee_histogram": histogram,
    }
