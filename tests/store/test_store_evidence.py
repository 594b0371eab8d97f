"""store/evidence: each stored transaction points at the response it came from, and reads back.

The responses are the real recorded Esplora answers (breez-esplora, tests/data/recorded/
PROVENANCE.md): an address's /txs page naming two transactions, and one /outspends answer.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from btcwatch.model import Evidence, Tx
from btcwatch.providers.esplora import parse_tx
from btcwatch.store import Store
from btcwatch.store.chaindata import save_evidence, save_txs
from btcwatch.store.evidence import (
    EvidenceLog,
    ResponseRow,
    TxEvidence,
    evidence_body,
    evidence_rows,
    index_by_txid,
    store_with_evidence,
    tx_evidence,
)

RECORDED = Path(__file__).resolve().parents[1] / "data" / "recorded" / "breez-esplora"
ADDRESS = "bc1qvhykeqcpdzu0pdvy99xnh9ckhwzcfskct6h6l2"
PAGE = RECORDED / f"address_{ADDRESS}_txs.json"
SPEND = "5e0668bf1cd24f2f8656ee82d4886f5303a06b26838e24b7db73afc59e228985"
OUTSPENDS = RECORDED / f"tx_{SPEND}_outspends.json"
BASE = "http://127.0.0.1:3000/api"


def response(
    url: str, body: bytes, status: int = 200, at: str = "2026-12-01T10:00:00Z"
) -> Evidence:
    return Evidence("esplora", url, at, status, hashlib.sha256(body).hexdigest(), body)


def page_txs() -> list[Tx]:
    return [parse_tx(obj) for obj in json.loads(PAGE.read_text())]


def test_a_tx_points_at_its_own_response_before_the_page_that_lists_it(store: Store) -> None:
    txs = page_txs()
    other = next(tx for tx in txs if tx.txid != SPEND)
    page = response(f"{BASE}/address/{ADDRESS}/txs", PAGE.read_bytes())
    single = next(o for o in json.loads(PAGE.read_text()) if o["txid"] == SPEND)
    own = response(f"{BASE}/tx/{SPEND}", json.dumps(single).encode())
    log = EvidenceLog()
    log(page)
    log(own)
    store_with_evidence(store, txs, log)
    assert log.items == []  # drained
    links = tx_evidence(store, [SPEND, other.txid])
    assert links[SPEND].url == own.url and links[SPEND].sha256 == own.sha256
    assert links[other.txid].url == page.url
    assert links[SPEND].ref == f"esplora {own.url} {own.fetched_at} sha256:{own.sha256}"


def test_responses_are_archived_in_url_order_whatever_order_they_arrived(store: Store) -> None:
    log = EvidenceLog()
    for name in ("c", "a", "b"):
        log(response(f"{BASE}/block/{name}", b"{}"))
    store_with_evidence(store, (), log)
    assert [r.url for r in evidence_rows(store, [1, 2, 3])] == [
        f"{BASE}/block/a",
        f"{BASE}/block/b",
        f"{BASE}/block/c",
    ]


def test_a_tx_stored_without_a_link_cites_none_and_an_unknown_one_is_absent(store: Store) -> None:
    tx = page_txs()[0]
    save_txs(store, [tx])
    links = tx_evidence(store, [tx.txid, "ef" * 32, ""])
    assert links == {tx.txid: TxEvidence(tx.txid, None)}
    assert links[tx.txid].ref is None


def test_tx_evidence_answers_for_more_txids_than_one_query_takes(store: Store) -> None:
    tx = page_txs()[0]
    ev_id = save_evidence(store, response(f"{BASE}/tx/{tx.txid}", b"{}"))
    save_txs(store, [tx], evidence=ev_id)
    wanted = [f"{n:064x}" for n in range(1, 1100)] + [tx.txid]
    assert {t: link.id for t, link in tx_evidence(store, wanted).items()} == {tx.txid: ev_id}


def test_rows_and_bodies_read_back_exactly_and_say_when_only_the_hash_was_kept(
    store: Store,
) -> None:
    body = OUTSPENDS.read_bytes()
    kept = save_evidence(store, response(f"{BASE}/tx/{SPEND}/outspends", body))
    hashed = save_evidence(store, response(f"{BASE}/block/x/raw", b"\x00" * 99), keep_body=False)
    empty = save_evidence(store, response(f"{BASE}/mempool/txids", b"", status=404))
    rows = evidence_rows(store, [empty, 999, kept, hashed, kept])
    assert [r.id for r in rows] == sorted([kept, hashed, empty])  # by id, unknown left out
    by_id = {r.id: r for r in rows}
    assert by_id[kept] == ResponseRow(
        kept,
        "esplora",
        f"{BASE}/tx/{SPEND}/outspends",
        "2026-12-01T10:00:00Z",
        200,
        hashlib.sha256(body).hexdigest(),
        True,
    )
    assert not by_id[hashed].body_kept
    assert by_id[empty].body_kept and by_id[empty].status == 404  # an empty body is whole
    assert evidence_body(store, kept) == body
    assert evidence_body(store, hashed) == b""
    assert evidence_body(store, 12345) == b""


def test_index_prefers_the_tx_answer_then_a_list_holding_it_then_a_mention() -> None:
    a, b, c = "aa" * 32, "bb" * 32, "cc" * 32
    mention = response(f"{BASE}/x", json.dumps({"note": f"{a} {b} {c}"}).encode())
    holds = response(f"{BASE}/address/z/txs", json.dumps([{"txid": a, "vin": []}]).encode())
    direct = response(f"{BASE}/tx/{b}", json.dumps({"txid": b, "vin": []}).encode())
    failed = response(f"{BASE}/tx/{c}", b"not found", status=404)
    raw = response(f"{BASE}/block/h/raw", b"\x01\x02")
    index = index_by_txid(
        [(1, mention), (2, holds), (3, direct), (4, failed), (5, raw)],
        {raw.url: ["dd" * 32]},
    )
    assert index == {a: 2, b: 3, c: 1, "dd" * 32: 5}
