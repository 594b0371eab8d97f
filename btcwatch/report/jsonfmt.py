"""The case report as JSON: the same facts as the Markdown and HTML, for scripts and archives.

Stable keys, in this order (amounts in satoshis as integers, BTC and fiat as decimal strings,
times as ISO 8601 UTC strings, ``null`` when unknown; ``evidence`` lists are evidence ids, the
``id`` of the ``evidence`` entries at the end and of the database's evidence table)::

    format            "btcwatch-case-report"
    version           1
    case              {name, title, note, network, created_at}
    generated_at      string | null (only when the caller passes one: the output is deterministic)
    as_of             {tip_height, last_event_at, trace_run_id}
    watchlist         {role: count}
    demands           [{demand, roles, labels, addresses, paid_addresses, payments, paid_sat}]
    summary           {payments, victims_paid, ransom_addresses,
                       by_verdict {exact, late, partial, over, none},
                       total_sat, total_btc, total_eur, total_usd, fiat_missing}
    payments          [{address, role, label, txid, vout, value_sat, value_btc, eur, usd,
                        price_day, price_time, resolution, price_source, time, height,
                        confirmations, verdict, compared_to,
                        expected_sat, ratio, evidence}]
    timeline          [{time, kind, address, txid, vout, value_sat, height, reverted, note,
                        evidence}]
    trace             null (no finished trace) | {run_id, started_at, finished_at, params,
                       sources, source_total_sat, txs, hops, fee_taint_sat, stops {reason: n},
                       entities [{entity, category, taint_sat, taint_btc, eur, usd, endpoints,
                                  evidence}],
                       peel_chains [{start_txid, hops, total_peeled_sat, remaining_sat,
                                     steps [{txid, vout, address, value_sat, entity,
                                             evidence}]}],
                       coinjoins [{txid, tainted_in_sat, height, time, facts, evidence}],
                       clusters [{id, size, addresses, evidence}]}
    freeze_requests   [{entity, category, outputs, taint_sat, taint_btc, value_sat, eur,
                        rows [{deposit_address, txid, vout, value_sat, taint_sat, time, height,
                               confirmations, reason, swept_by, evidence}]}]
    graph_files       [path]  (in an evidence bundle, relative to the bundle)
    price_sources     [string]
    evidence          [{id, ref, provider, url, fetched_at, status, sha256, body_kept}]
    proofs            [{txid, status}]  status: "proven in block H" | "not proven (why)"
    redacted          ["victims"]  (only in a ``report --redact victims``: labels are pseudonyms)
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from btcwatch.money import format_btc
from btcwatch.report.facts import CaseReport, TraceFacts

FORMAT = "btcwatch-case-report"
VERSION = 1


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else f"{value:.2f}"


def _trace(tr: TraceFacts) -> dict[str, Any]:
    return {
        "run_id": tr.run_id,
        "started_at": tr.started_at,
        "finished_at": tr.finished_at,
        "params": dict(tr.params),
        "sources": tr.sources,
        "source_total_sat": tr.source_total_sat,
        "txs": tr.txs,
        "hops": tr.hops,
        "fee_taint_sat": tr.fee_taint_sat,
        "stops": dict(tr.stops),
        "entities": [
            {
                "entity": e.entity,
                "category": e.category,
                "taint_sat": e.taint_sat,
                "taint_btc": format_btc(e.taint_sat),
                "eur": _dec(e.eur),
                "usd": _dec(e.usd),
                "endpoints": e.endpoints,
                "evidence": list(e.evidence),
            }
            for e in tr.entities
        ],
        "peel_chains": [
            {
                "start_txid": c.start_txid,
                "hops": len(c.steps),
                "total_peeled_sat": c.total_peeled_sat,
                "remaining_sat": c.remaining_sat,
                "steps": [
                    {
                        "txid": s.txid,
                        "vout": s.vout,
                        "address": s.address,
                        "value_sat": s.value_sat,
                        "entity": s.entity,
                        "evidence": list(s.evidence),
                    }
                    for s in c.steps
                ],
            }
            for c in tr.peel_chains
        ],
        "coinjoins": [
            {
                "txid": cj.txid,
                "tainted_in_sat": cj.tainted_in_sat,
                "height": cj.height,
                "time": cj.time,
                "facts": dict(cj.facts),
                "evidence": list(cj.evidence),
            }
            for cj in tr.coinjoins
        ],
        "clusters": [
            {
                "id": c.id,
                "size": len(c.addresses),
                "addresses": list(c.addresses),
                "evidence": list(c.evidence),
            }
            for c in tr.clusters
        ],
    }


def to_json(r: CaseReport) -> dict[str, Any]:
    """The report as plain JSON data with the keys documented in this module."""
    data = _to_json(r)
    if r.redacted:  # only then: an unredacted report keeps exactly its documented keys
        data["redacted"] = list(r.redacted)
    return data


def _to_json(r: CaseReport) -> dict[str, Any]:
    s = r.summary
    c = r.case
    return {
        "format": FORMAT,
        "version": VERSION,
        "case": {
            "name": c.name,
            "title": c.title,
            "note": c.note,
            "network": c.network,
            "created_at": c.created_at,
        },
        "generated_at": r.generated_at,
        "as_of": {
            "tip_height": r.tip_height,
            "last_event_at": r.last_event_at,
            "trace_run_id": r.trace.run_id if r.trace else None,
        },
        "watchlist": dict(r.watchlist),
        "demands": [
            {
                "demand": g.demand,
                "roles": list(g.roles),
                "labels": list(g.labels),
                "addresses": g.addresses,
                "paid_addresses": g.paid_addresses,
                "payments": g.payments,
                "paid_sat": g.paid_sat,
            }
            for g in r.demands
        ],
        "summary": {
            "payments": s.count,
            "victims_paid": s.victims_paid,
            "ransom_addresses": s.ransom_addresses,
            "by_verdict": dict(s.by_verdict),
            "total_sat": s.total_sat,
            "total_btc": format_btc(s.total_sat),
            "total_eur": _dec(s.total_eur),
            "total_usd": _dec(s.total_usd),
            "fiat_missing": s.fiat_missing,
        },
        "payments": [
            {
                "address": p.address,
                "role": p.role,
                "label": p.label,
                "txid": p.txid,
                "vout": p.vout,
                "value_sat": p.value_sat,
                "value_btc": format_btc(p.value_sat),
                "eur": _dec(p.eur),
                "usd": _dec(p.usd),
                "price_day": p.price_day,
                "time": p.time,
                "height": p.height,
                "confirmations": p.confirmations,
                "verdict": p.verdict,
                "compared_to": p.compared_to,
                "expected_sat": p.expected_sat,
                "ratio": p.ratio,
                "evidence": list(p.evidence),
                "price_time": p.price_time,
                "resolution": p.resolution,
                "price_source": p.price_source,
            }
            for p in r.payments
        ],
        "timeline": [
            {
                "time": e.time,
                "kind": e.kind,
                "address": e.address,
                "txid": e.txid,
                "vout": e.vout,
                "value_sat": e.value_sat,
                "height": e.height,
                "reverted": e.reverted,
                "note": e.note,
                "evidence": list(e.evidence),
            }
            for e in r.timeline
        ],
        "trace": _trace(r.trace) if r.trace else None,
        "freeze_requests": [
            {
                "entity": f.entity,
                "category": f.category,
                "outputs": len(f.rows),
                "taint_sat": f.taint_sat,
                "taint_btc": format_btc(f.taint_sat),
                "value_sat": f.value_sat,
                "eur": _dec(f.eur),
                "rows": [
                    {
                        "deposit_address": row.deposit_address,
                        "txid": row.txid,
                        "vout": row.vout,
                        "value_sat": row.value_sat,
                        "taint_sat": row.taint_sat,
                        "time": row.time,
                        "height": row.height,
                        "confirmations": row.confirmations,
                        "reason": row.reason,
                        "swept_by": row.swept_by,
                        "evidence": list(row.evidence),
                    }
                    for row in f.rows
                ],
            }
            for f in r.freeze_requests
        ],
        "graph_files": list(r.graph_files),
        "price_sources": list(r.price_sources),
        "evidence": [
            {
                "id": e.id,
                "ref": e.ref,
                "provider": e.provider,
                "url": e.url,
                "fetched_at": e.fetched_at,
                "status": e.status,
                "sha256": e.sha256,
                "body_kept": e.body_kept,
            }
            for e in r.evidence
        ],
        "proofs": [{"txid": txid, "status": status} for txid, status in r.proofs],
    }


def render_json(r: CaseReport) -> str:
    """Indented UTF-8 JSON, one trailing newline; the same report gives the same bytes."""
    return json.dumps(to_json(r), indent=2, ensure_ascii=False) + "\n"
