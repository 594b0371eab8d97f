"""The case report as one self-contained HTML page that loads nothing and runs no script.

Investigators hand these pages on; a label, note or tag chosen by an attacker must stay text.
So every value goes through `html.escape`, the page has no script at all, and a
Content-Security-Policy meta tag (``default-src 'none'``) allows only the one inline style (by
hash) and ``data:`` images. The flow picture is Graphviz's SVG as a ``data:`` image: an SVG
shown through ``<img>`` can neither run script nor fetch anything.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from btcwatch.export.html import csp_source
from btcwatch.money import btc
from btcwatch.report import text as t
from btcwatch.report.facts import CaseReport, Refs, TraceFacts
from btcwatch.report.text import FREEZE_COLUMNS, PAYMENT_COLUMNS
from btcwatch.text import visible

_CSS = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:110em}
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.85em}
th,td{border:1px solid #ccc;padding:.2em .45em;text-align:left;vertical-align:top}
th{background:#f1f1f1}td.num{text-align:right;white-space:nowrap}td.t{white-space:nowrap}
code,.mono{font-family:ui-monospace,monospace;font-size:.95em;word-break:break-all}
.ref{white-space:nowrap}.muted{color:#666}img.flow{max-width:100%;border:1px solid #ccc}
tr.reverted td{text-decoration:line-through;color:#777}
""".strip()


def _policy() -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "style-src " + csp_source(_CSS),
            "img-src data:",
            "script-src 'none'",
            "connect-src 'none'",
            "font-src 'none'",
            "object-src 'none'",
            "frame-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )


class _Html(str):
    """Markup we built ourselves from escaped parts: inserted as is."""


def esc(value: object) -> str:
    return html.escape("" if value is None else visible(str(value), lines=True), quote=True)


def _cite(refs: Refs) -> _Html:
    if not refs:
        return _Html(f'<span class="muted">{t.NO_EVIDENCE}</span>')
    links = " ".join(f'<a class="ref" href="#E{i}">[E{i}]</a>' for i in refs)
    return _Html(links)


def _mono(value: object) -> _Html:
    return _Html(f'<span class="mono">{esc(value)}</span>')


def _num(value: object) -> _Html:
    return _Html(f'<td class="num">{esc(value)}</td>')


def _time(value: str | None) -> _Html:
    return _Html(f'<td class="t">{esc(value)}</td>')


def _td(value: object) -> str:
    if isinstance(value, _Html):
        return value if value.startswith("<td") else f"<td>{value}</td>"
    return f"<td>{esc(value)}</td>"


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], row_classes: Sequence[str] = ()
) -> str:
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = []
    for n, row in enumerate(rows):
        cls = row_classes[n] if n < len(row_classes) and row_classes[n] else ""
        attr = f' class="{esc(cls)}"' if cls else ""
        body.append(f"<tr{attr}>" + "".join(_td(c) for c in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary(r: CaseReport) -> str:
    s = r.summary
    items = [
        f"Addresses watched: {esc(t.roles_line(r))}",
        f"Victims who paid: <b>{s.victims_paid}</b> of {s.ransom_addresses} ransom addresses "
        f"(<b>{s.count}</b> payments)<ul>"
        + "".join(f"<li>{esc(v)}</li>" for v in t.verdict_lines(r))
        + "</ul>",
        f"Received in total: <b>{esc(t.totals_line(r))}</b>, fiat at each payment's day",
    ]
    if r.trace:
        tr = r.trace
        items.append(
            f"Traced: {btc(tr.source_total_sat)} from {tr.sources} payments through "
            f"{tr.txs} transactions ({tr.hops} hops)<ul>"
            + "".join(
                f"<li>{esc(e.entity)}: {btc(e.taint_sat)} ({t.fiat(e.eur)} EUR) "
                f"{_cite(e.evidence)}</li>"
                for e in tr.entities
            )
            + "</ul>"
        )
    demands = _table(
        ["Demand", "Roles", "Labels", "Addresses", "Paid addresses", "Payments", "Received BTC"],
        [
            [
                g.demand or "(none)",
                ", ".join(g.roles),
                ", ".join(g.labels),
                _num(g.addresses),
                _num(g.paid_addresses),
                _num(g.payments),
                _num(t.btc_cell(g.paid_sat)),
            ]
            for g in r.demands
        ],
    )
    lis = "".join(f"<li>{i}</li>" for i in items)
    return f"<h2>The case in numbers</h2><ul>{lis}</ul><h3>Demands</h3>{demands}"


def _payments(r: CaseReport) -> str:
    if not r.payments:
        return "<h2>Payments</h2><p>No payment has been recorded.</p>"
    rows = [
        [
            _num(n),
            _time(p.time),
            _mono(p.address),
            p.label,
            _mono(t.outpoint(p.txid, p.vout)),
            _num(t.btc_cell(p.value_sat)),
            _num(t.fiat(p.eur)),
            _num(t.fiat(p.usd)),
            t.priced_at(p.price_time, p.resolution, p.price_source, r.price_sources),
            p.verdict,
            _num(p.confirmations),
            _cite(p.evidence),
        ]
        for n, p in enumerate(r.payments, 1)
    ]
    headers = list(PAYMENT_COLUMNS)
    return "<h2>Payments</h2>" + _table(headers, rows)


def _timeline(r: CaseReport) -> str:
    if not r.timeline:
        return "<h2>Timeline</h2><p>No event has been recorded.</p>"
    rows = [
        [
            _time(e.time),
            t.KIND_LABELS.get(e.kind, e.kind) + (" (reverted)" if e.reverted else ""),
            _mono(e.address or ""),
            _num(t.btc_cell(e.value_sat)),
            _mono(t.outpoint(e.txid, e.vout)),
            e.note,
            _cite(e.evidence),
        ]
        for e in r.timeline
    ]
    classes = ["reverted" if e.reverted else "" for e in r.timeline]
    headers = ["Time (UTC)", "Event", "Address", "BTC", "Transaction", "Note", "Evidence"]
    return "<h2>Timeline</h2>" + _table(headers, rows, classes)


def _picture(r: CaseReport, svg: str | None, svg_note: str) -> str:
    parts = []
    if svg is not None:
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        alt = f"Flow graph of trace run {r.trace.run_id if r.trace else ''}"
        parts.append(
            f'<p><img class="flow" alt="{esc(alt)}" src="data:image/svg+xml;base64,{data}"></p>'
        )
    elif svg_note:
        parts.append(f'<p class="muted">{esc(svg_note)}</p>')
    if r.graph_files:
        links = "".join(
            f'<li><a href="{esc(where)}">{esc(where)}</a>: {esc(use)}</li>'
            for where, use in t.graph_lines(r)
        )
        parts.append(f"<p>Flow graph files in this bundle:</p><ul>{links}</ul>")
    else:
        cmds = "".join(
            f"<li><code>{esc(where)}</code>: {esc(use)}</li>" for where, use in t.graph_lines(r)
        )
        parts.append(f"<p>The flow graph as files:</p><ul>{cmds}</ul>")
    return "".join(parts)


def _trace(r: CaseReport, tr: TraceFacts, svg: str | None, svg_note: str) -> str:
    params = t.params_line(tr.params)
    out = [
        f"<h2>Where the money went (trace run {tr.run_id})</h2>",
        f"<p>Trace run {tr.run_id}, finished {esc(tr.finished_at)}: {esc(params)}. "
        f"{btc(tr.source_total_sat)} from {tr.sources} payments, {tr.txs} transactions, "
        f"{tr.hops} hops; {btc(tr.fee_taint_sat)} of the tainted money went to fees.</p>",
        _picture(r, svg, svg_note),
        "<h3>By entity</h3>",
        _table(
            ["Entity", "Category", "Tainted BTC", "EUR", "USD", "Endpoints", "Evidence"],
            [
                [
                    e.entity,
                    e.category,
                    _num(t.btc_cell(e.taint_sat)),
                    _num(t.fiat(e.eur)),
                    _num(t.fiat(e.usd)),
                    _num(e.endpoints),
                    _cite(e.evidence),
                ]
                for e in tr.entities
            ],
        ),
    ]
    for n, chain in enumerate(tr.peel_chains, 1):
        out.append(
            f"<h3>Peel chain {n}: {len(chain.steps)} hops, {btc(chain.total_peeled_sat)} "
            f"peeled, {btc(chain.remaining_sat)} left</h3>"
        )
        out.append(
            _table(
                ["Hop", "Peel output", "Address", "BTC", "Entity", "Evidence"],
                [
                    [
                        _num(h),
                        _mono(t.outpoint(s.txid, s.vout)),
                        _mono(s.address or ""),
                        _num(t.btc_cell(s.value_sat)),
                        s.entity or "",
                        _cite(s.evidence),
                    ]
                    for h, s in enumerate(chain.steps, 1)
                ],
            )
        )
    for cj in tr.coinjoins:
        facts = ", ".join(f"{k}={v}" for k, v in cj.facts)
        out.append(
            f'<h3>CoinJoin <span class="mono">{esc(cj.txid)}</span></h3>'
            f"<p>{t.btc_cell(cj.tainted_in_sat)} tainted BTC entered at height {esc(cj.height)} "
            f"({esc(cj.time)}); the trail stops here. {esc(facts)} {_cite(cj.evidence)}</p>"
        )
    out.append("<h3>Clusters (addresses spent together)</h3>")
    if tr.clusters:
        out.append(
            _table(
                ["Cluster", "Addresses", "Members", "Evidence"],
                [
                    [
                        _mono(c.id),
                        _num(len(c.addresses)),
                        _mono(", ".join(c.addresses)),
                        _cite(c.evidence),
                    ]
                    for c in tr.clusters
                ],
            )
        )
    else:
        out.append("<p>None with more than one address.</p>")
    stops = "".join(
        f"<li>{n} {esc(t.STOP_LABELS.get(reason, reason))}</li>" for reason, n in tr.stops
    )
    out.append(f"<h3>Where each branch stopped</h3><ul>{stops}</ul>")
    return "".join(out)


def _freeze(r: CaseReport) -> str:
    out = ["<h2>Freeze requests</h2>"]
    if r.trace is None:
        return out[0] + "<p>None yet: they come from a trace.</p>"
    if not r.freeze_requests:
        return out[0] + "<p>The trace reached no exchange or other tagged entity.</p>"
    tip = r.tip_height if r.tip_height is not None else "unknown"
    out.append(f"<p>Confirmations are counted to the watcher's chain tip at height {tip}.</p>")
    headers = list(FREEZE_COLUMNS)
    for f in r.freeze_requests:
        out.append(
            f"<h3>{esc(f.entity)} ({esc(f.category or 'entity')}): {len(f.rows)} output(s), "
            f"{btc(f.taint_sat)} tainted ({t.fiat(f.eur)} EUR) of "
            f"{btc(f.value_sat)}</h3>"
        )
        rows = [
            [
                _mono(row.deposit_address),
                _mono(row.txid),
                _num(row.vout),
                _num(t.btc_cell(row.taint_sat)),
                _num(t.btc_cell(row.value_sat)),
                _time(row.time),
                _num(row.confirmations),
                _mono(row.swept_by or ""),
                _cite(row.evidence),
            ]
            for row in f.rows
        ]
        out.append(_table(headers, rows))
    return "".join(out)


def _evidence(r: CaseReport) -> str:
    rows = "".join(
        f'<tr id="{esc(e.ref)}"><td>{esc(e.ref)}</td><td>{esc(e.provider)}</td>'
        f'<td class="mono">{esc(e.url)}</td><td>{esc(e.fetched_at)}</td>'
        f'<td class="num">{esc(e.status)}</td><td class="mono">{esc(e.sha256)}'
        f"{'' if e.body_kept else ' (body not kept)'}</td></tr>"
        for e in r.evidence
    )
    head = "".join(
        f"<th>{h}</th>" for h in ("Ref", "Explorer", "URL", "Fetched (UTC)", "Status", "SHA-256")
    )
    prices = (
        "<p>Prices: " + "; ".join(esc(s) for s in t.source_refs(r.price_sources)) + "</p>"
        if r.price_sources
        else ""
    )
    return (
        "<h2>Evidence</h2><p>Each [E…] above names the archived explorer response the figure "
        "was read from; its SHA-256 is of the body exactly as received.</p>"
        f"{prices}<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
    )


def _proofs(r: CaseReport) -> str:
    if not r.proofs:
        return ""
    proven = sum(1 for _, status in r.proofs if status.startswith("proven"))
    rows = "".join(
        f'<tr><td class="mono">{esc(txid)}</td><td>{esc(status)}</td></tr>'
        for txid, status in r.proofs
    )
    return (
        f"<h2>Inclusion proofs</h2><p>{proven} of {len(r.proofs)} transactions named above are "
        "proven in a block: their raw bytes hash to the txid, whose Merkle branch leads to a "
        "block header that meets its proof-of-work target.</p>"
        "<table><thead><tr><th>Transaction</th><th>Proof</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def render_html(r: CaseReport, *, svg: str | None = None, svg_note: str = "") -> str:
    """The page; ``svg`` is the flow picture (Graphviz output) or None with ``svg_note``."""
    c = r.case
    head = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        # The policy is fixed words and base64 hashes: nothing in it to escape.
        f'<meta http-equiv="Content-Security-Policy" content="{_policy()}">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>Case report: {esc(c.name)}</title><style>{_CSS}</style></head><body>"
    )
    intro = [f"<h1>Case report: {esc(c.name)}</h1>"]
    if c.title:
        intro.append(f"<p><b>{esc(c.title)}</b></p>")
    intro.append(
        f"<p>Network: {esc(c.network)}; case opened {esc(c.created_at)}.<br>"
        f"As of: {esc(t.as_of_line(r))}.</p>"
    )
    if c.note:
        intro.append(f"<p>Note: {esc(c.note)}</p>")
    if r.redacted:
        intro.append(f"<p><b>{esc(t.redaction_line(r))}</b></p>")
    trace = (
        _trace(r, r.trace, svg, svg_note)
        if r.trace
        else f"<h2>Where the money went</h2><p>{esc(t.no_trace_line(c.name))}</p>"
    )
    body = "".join(
        [
            *intro,
            _summary(r),
            _payments(r),
            _timeline(r),
            trace,
            _freeze(r),
            _proofs(r),
            _evidence(r),
        ]
    )
    return f"{head}\n{body}\n</body></html>\n"
