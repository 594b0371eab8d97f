"""An independent validator for generated chains, built only on btcwatch.chain parsing.

It replays raw blocks the way a node would, short of signatures: proof of work, merkle roots,
parent links, BIP34 heights, witness commitments, coinbase value and maturity, no spend of a
missing or already spent output, no negative fee, and standard, addressable outputs.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from btcwatch.chain.address import Address, script_to_address
from btcwatch.chain.network import Network
from btcwatch.chain.script import ScriptType, classify
from btcwatch.chain.tx import merkle_root, parse_block
from btcwatch.sim.blocks import subsidy
from btcwatch.sim.chain import SimChain
from btcwatch.sim.scenarios import VastaamoScenario

ADDRESS_TYPES = {
    ScriptType.P2PKH,
    ScriptType.P2SH,
    ScriptType.P2WPKH,
    ScriptType.P2WSH,
    ScriptType.P2TR,
}
WITNESS_COMMITMENT_HEAD = bytes.fromhex("6a24aa21a9ed")


def sha256d(data: bytes) -> bytes:
    return hashlib.sha256(hashlib.sha256(data).digest()).digest()


@dataclass
class Report:
    blocks: int = 0
    txs: int = 0
    types: set[ScriptType] = field(default_factory=set)
    utxo: dict[tuple[str, int], tuple[int, bytes]] = field(default_factory=dict)
    tip_hash: str = ""


def check_chain(
    raws: Iterable[bytes], first_height: int, network: Network, *, op_return: bool = False
) -> Report:
    """Validate best-chain blocks in order; raises AssertionError naming the first problem.

    ``op_return`` allows zero-value OP_RETURN outputs (the mainnet profile has them); they
    are unspendable, so they never enter the UTXO set.
    """
    report = Report()
    utxo: dict[tuple[str, int], tuple[int, bytes, int, bool]] = {}
    prev: str | None = None
    checked_addresses: dict[bytes, bool] = {}
    for i, data in enumerate(raws):
        height = first_height + i
        block = parse_block(data)
        where = f"block {height} {block.hash}"
        assert block.serialize() == data, f"{where}: does not re-serialise identically"
        assert block.header.meets_target(), f"{where}: fails its proof of work"
        assert block.header.merkle_root == block.computed_merkle_root(), f"{where}: merkle root"
        if prev is not None:
            assert block.header.prev_hash == prev, f"{where}: does not link to {prev}"
        assert block.height_from_coinbase() == height, f"{where}: BIP34 height"
        coinbase, *txs = block.txs
        assert coinbase.inputs[0].is_coinbase and len(coinbase.inputs) == 1
        fees = 0
        for tx in txs:
            assert not any(txin.is_coinbase for txin in tx.inputs), f"{where}: second coinbase"
            spent = 0
            for txin in tx.inputs:
                op = (txin.prev_txid, txin.prev_vout)
                assert op in utxo, f"{where}: {tx.txid} spends missing or spent {op}"
                value, _script, born, is_coinbase = utxo.pop(op)
                if is_coinbase:
                    assert height - born >= 100, f"{where}: {tx.txid} spends immature coinbase"
                spent += value
            out = sum(o.value for o in tx.outputs)
            assert spent >= out, f"{where}: {tx.txid} has a negative fee"
            fees += spent - out
            for vout, o in enumerate(tx.outputs):
                kind = classify(o.script)
                if op_return and kind is ScriptType.OP_RETURN:
                    assert o.value == 0, f"{where}: {tx.txid}:{vout} burns coins"
                    report.types.add(kind)
                    continue
                assert o.value > 0, f"{where}: {tx.txid}:{vout} is empty"
                assert kind in ADDRESS_TYPES, f"{where}: {tx.txid}:{vout} is {kind}"
                report.types.add(kind)
                if o.script not in checked_addresses:
                    text = script_to_address(o.script, network)
                    assert text is not None
                    assert Address.parse(text, network).script == o.script
                    checked_addresses[o.script] = True
                utxo[(tx.txid, vout)] = (o.value, o.script, height, False)
        claimed = sum(o.value for o in coinbase.outputs)
        assert claimed <= subsidy(height) + fees, f"{where}: coinbase claims too much"
        if any(tx.has_witness for tx in txs):
            commitments = [
                o.script for o in coinbase.outputs if o.script[:6] == WITNESS_COMMITMENT_HEAD
            ]
            assert commitments, f"{where}: segwit block without witness commitment"
            root = merkle_root(["00" * 32, *(tx.wtxid for tx in txs)])
            reserved = coinbase.inputs[0].witness[0]
            expected = sha256d(bytes.fromhex(root)[::-1] + reserved)
            assert commitments[-1][6:] == expected, f"{where}: wrong witness commitment"
        for vout, o in enumerate(coinbase.outputs):
            if o.value:
                utxo[(coinbase.txid, vout)] = (o.value, o.script, height, True)
        prev = block.hash
        report.blocks += 1
        report.txs += len(block.txs)
    report.utxo = {op: (v, s) for op, (v, s, _, _) in utxo.items()}
    report.tip_hash = prev or ""
    return report


def make_chain(
    scenario: VastaamoScenario, tip: int | str | None = "start", mempool: str = "all"
) -> SimChain:
    """A fresh chain over the scenario's cached blocks (cheap: no regeneration)."""
    start = scenario.default_tip() if tip == "start" else tip
    return SimChain.from_blocks(
        scenario.blocks,
        network=scenario.network,
        mempool_only=scenario.mempool_only(),
        tip=start,  # type: ignore[arg-type]
        mempool=mempool,  # type: ignore[arg-type]
    )
