"""The price cache (m006_price_cache): first answer wins, evidence linked, findings kept once."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

from btcwatch.model import Evidence
from btcwatch.store import Store
from btcwatch.store.prices import (
    PriceDisagreement,
    cached_prices,
    price_disagreements,
    record_price_disagreement,
    save_prices,
)


def evidence(body: bytes) -> Evidence:
    return Evidence(
        "mempool.space",
        "http://127.0.0.1:8999/api/v1/historical-price?currency=EUR&timestamp=1789999380",
        "2026-12-07T22:00:00Z",
        200,
        hashlib.sha256(body).hexdigest(),
        body,
    )


def test_cache_rows_point_at_their_archived_answer_and_are_never_overwritten(
    db_path: Path,
) -> None:
    with Store.open(db_path) as store:
        names = [r["name"] for r in store.database_for_tests().table("_sqlite_migrations").rows]
        assert "m006_price_cache" in names
        body = b'{"prices":[{"time":1789999200,"EUR":50000,"USD":58000}]}'
        rows = [
            ("EUR", 1789999200, "hour", Decimal(50000), "mempool.space"),
            ("USD", 1789999200, "hour", Decimal(58000), "mempool.space"),
        ]
        assert save_prices(store, rows, evidence(body)) == 2
        again = [("EUR", 1789999200, "hour", Decimal(1), "mempool.space")]
        assert save_prices(store, again, evidence(b"{}")) == 0
        (eur,) = cached_prices(store, "eur", 1789999200, 1789999200)
        assert (eur.per_btc, eur.fetched_at) == (Decimal(50000), "2026-12-07T22:00:00Z")
        stored = store.database_for_tests().table("evidence").get(eur.evidence_id)
        assert stored["body"] == body and stored["sha256"] == hashlib.sha256(body).hexdigest()


def test_disagreements_are_kept_once(store: Store) -> None:
    d = PriceDisagreement(
        "EUR",
        1789999200,
        "hour",
        "mempool.space",
        Decimal(50000),
        "kraken",
        Decimal(52000),
        Decimal("0.04"),
        Decimal("0.02"),
    )
    assert record_price_disagreement(store, d) is True
    assert record_price_disagreement(store, d) is False
    (found,) = price_disagreements(store, "EUR")
    assert (found.other_source, found.difference) == ("kraken", Decimal("0.04"))
    assert found.recorded_at
