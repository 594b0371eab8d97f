"""The case report as Markdown, for people: read in a terminal, a Git forge or a word processor.

Everything that came from outside (labels, notes, titles, tags, URLs) goes through `md`, which
escapes Markdown and HTML syntax, so a hostile label renders as text in any Markdown viewer.
"""

from __future__ import annotations

from collections.abc import Sequence

from btcwatch.money import btc
from btcwatch.report import text as t
from btcwatch.report.facts import CaseReport, TraceFacts
from btcwatch.report.text import FREEZE_COLUMNS, PAYMENT_COLUMNS
from btcwatch.text import visible

_SPECIAL = {
    "\\": "\\\\",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "|": "\\|",
    "#": "\\#",
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
}


def md(value: object) -> str:
    """Plain text for a Markdown table cell or line: specials escaped, line ends flattened."""
    flat = visible(" ".join(str(value).split()))
    return "".join(_SPECIAL.get(c, c) for c in flat)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> list[str]:
    """A pipe table; cells are escaped here, except citations made by `text.cite`."""
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        out.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return out


class _Cite(str):
    """A citation we made ourselves: its brackets are meant literally and stay unescaped."""


def _cite(refs: tuple[int, ...]) -> _Cite:
    return _Cite(t.cite(refs))


def _cell(value: object) -> str:
    if isinstance(value, _Cite):
        return str(value)
    return md("" if value is None else value)


def _summary(r: CaseReport) -> list[str]:
    s = r.summary
    lines = [
        "## The case in numbers",
        "",
        f"- Addresses watched: {md(t.roles_line(r))}",
        f"- Victims who paid: {s.victims_paid} of {s.ransom_addresses} ransom addresses "
        f"({s.count} payments)",
    ]
    lines += [f"  - {md(v)}" for v in t.verdict_lines(r)]
    lines.append(f"- Received in total: {md(t.totals_line(r))}, fiat at each payment's day")
    if r.trace:
        lines.append(
            f"- Traced: {btc(r.trace.source_total_sat)} from {r.trace.sources} payments "
            f"through {r.trace.txs} transactions ({r.trace.hops} hops)"
        )
        for e in r.trace.entities:
            lines.append(
                f"  - {md(e.entity)}: {btc(e.taint_sat)} ({t.fiat(e.eur)} EUR) {_cite(e.evidence)}"
            )
    lines += ["", "### Demands", ""]
    lines += _table(
        ["Demand", "Roles", "Labels", "Addresses", "Paid addresses", "Payments", "Received BTC"],
        [
            [
                g.demand or "(none)",
                ", ".join(g.roles),
                ", ".join(g.labels),
                g.addresses,
                g.paid_addresses,
                g.payments,
                t.btc_cell(g.paid_sat),
            ]
            for g in r.demands
        ],
    )
    return [*lines, ""]


def _payments(r: CaseReport) -> list[str]:
    lines = ["## Payments", ""]
    if not r.payments:
        return [*lines, "No payment has been recorded.", ""]
    lines += _table(
        list(PAYMENT_COLUMNS),
        [
            [
                n,
                p.time,
                p.address,
                p.label,
                t.outpoint(p.txid, p.vout),
                t.btc_cell(p.value_sat),
                t.fiat(p.eur),
                t.fiat(p.usd),
                t.priced_at(p.price_time, p.resolution, p.price_source, r.price_sources),
                p.verdict,
                p.confirmations,
                _cite(p.evidence),
            ]
            for n, p in enumerate(r.payments, 1)
        ],
    )
    return [*lines, ""]


def _timeline(r: CaseReport) -> list[str]:
    lines = ["## Timeline", ""]
    if not r.timeline:
        return [*lines, "No event has been recorded.", ""]
    lines += _table(
        ["Time (UTC)", "Event", "Address", "BTC", "Transaction", "Note", "Evidence"],
        [
            [
                e.time,
                t.KIND_LABELS.get(e.kind, e.kind) + (" (reverted)" if e.reverted else ""),
                e.address,
                t.btc_cell(e.value_sat),
                t.outpoint(e.txid, e.vout),
                e.note,
                _cite(e.evidence),
            ]
            for e in r.timeline
        ],
    )
    return [*lines, ""]


def _trace(r: CaseReport, tr: TraceFacts) -> list[str]:
    params = t.params_line(tr.params)
    lines = [
        f"## Where the money went (trace run {tr.run_id})",
        "",
        f"Trace run {tr.run_id}, finished {md(tr.finished_at)}: {md(params)}. "
        f"{btc(tr.source_total_sat)} from {tr.sources} payments, {tr.txs} transactions, "
        f"{tr.hops} hops; {btc(tr.fee_taint_sat)} of the tainted money went to fees.",
        "",
        "Flow graph:",
        "",
    ]
    lines += [f"- `{where}`: {md(use)}" for where, use in t.graph_lines(r)]
    lines += ["", "### By entity", ""]
    lines += _table(
        ["Entity", "Category", "Tainted BTC", "EUR", "USD", "Endpoints", "Evidence"],
        [
            [
                e.entity,
                e.category,
                t.btc_cell(e.taint_sat),
                t.fiat(e.eur),
                t.fiat(e.usd),
                e.endpoints,
                _cite(e.evidence),
            ]
            for e in tr.entities
        ],
    )
    for n, chain in enumerate(tr.peel_chains, 1):
        lines += [
            "",
            f"### Peel chain {n}: {len(chain.steps)} hops, {btc(chain.total_peeled_sat)} "
            f"peeled, {btc(chain.remaining_sat)} left",
            "",
        ]
        lines += _table(
            ["Hop", "Peel output", "Address", "BTC", "Entity", "Evidence"],
            [
                [
                    h,
                    t.outpoint(s.txid, s.vout),
                    s.address,
                    t.btc_cell(s.value_sat),
                    s.entity,
                    _cite(s.evidence),
                ]
                for h, s in enumerate(chain.steps, 1)
            ],
        )
    for cj in tr.coinjoins:
        facts = ", ".join(f"{k}={v}" for k, v in cj.facts)
        lines += [
            "",
            f"### CoinJoin {cj.txid}",
            "",
            f"{t.btc_cell(cj.tainted_in_sat)} tainted BTC entered at height {cj.height} "
            f"({md(cj.time)}); the trail stops here. {md(facts)} {_cite(cj.evidence)}",
        ]
    lines += ["", "### Clusters (addresses spent together)", ""]
    if tr.clusters:
        lines += _table(
            ["Cluster", "Addresses", "Members", "Evidence"],
            [
                [c.id, len(c.addresses), ", ".join(c.addresses), _cite(c.evidence)]
                for c in tr.clusters
            ],
        )
    else:
        lines.append("None with more than one address.")
    lines += ["", "### Where each branch stopped", ""]
    lines += [f"- {n} {md(t.STOP_LABELS.get(reason, reason))}" for reason, n in tr.stops]
    return [*lines, ""]


def _freeze(r: CaseReport) -> list[str]:
    lines = ["## Freeze requests", ""]
    if r.trace is None:
        return [*lines, "None yet: they come from a trace.", ""]
    if not r.freeze_requests:
        return [*lines, "The trace reached no exchange or other tagged entity.", ""]
    tip = r.tip_height if r.tip_height is not None else "unknown"
    lines.append(f"Confirmations are counted to the watcher's chain tip at height {tip}.")
    for f in r.freeze_requests:
        lines += [
            "",
            f"### {md(f.entity)} ({md(f.category or 'entity')}): {len(f.rows)} output(s), "
            f"{btc(f.taint_sat)} tainted ({t.fiat(f.eur)} EUR) of {btc(f.value_sat)}",
            "",
        ]
        lines += _table(
            list(FREEZE_COLUMNS),
            [
                [
                    row.deposit_address,
                    row.txid,
                    row.vout,
                    t.btc_cell(row.taint_sat),
                    t.btc_cell(row.value_sat),
                    row.time,
                    row.confirmations,
                    row.swept_by or "",
                    _cite(row.evidence),
                ]
                for row in f.rows
            ],
        )
    return [*lines, ""]


def _evidence(r: CaseReport) -> list[str]:
    lines = [
        "## Evidence",
        "",
        "Each [E…] above names the archived explorer response the figure was read from; its "
        "SHA-256 is of the body exactly as received.",
        "",
    ]
    if r.price_sources:
        lines += ["Prices: " + "; ".join(md(s) for s in t.source_refs(r.price_sources)), ""]
    lines += _table(
        ["Ref", "Explorer", "URL", "Fetched (UTC)", "Status", "SHA-256"],
        [
            [
                e.ref,
                e.provider,
                e.url,
                e.fetched_at,
                e.status,
                e.sha256 + ("" if e.body_kept else " (body not kept)"),
            ]
            for e in r.evidence
        ],
    )
    return [*lines, ""]


def _proofs(r: CaseReport) -> list[str]:
    if not r.proofs:
        return []
    proven = sum(1 for _, status in r.proofs if status.startswith("proven"))
    lines = [
        "## Inclusion proofs",
        "",
        f"{proven} of {len(r.proofs)} transactions named above are proven in a block: their "
        "raw bytes hash to the txid, whose Merkle branch leads to a block header that meets its "
        "proof-of-work target (`btcwatch verify` re-checks this offline).",
        "",
    ]
    lines += _table(["Transaction", "Proof"], [[txid, status] for txid, status in r.proofs])
    return [*lines, ""]


def render_markdown(r: CaseReport) -> str:
    """The whole report; the same report always gives the same text."""
    c = r.case
    lines = [f"# Case report: {md(c.name)}", ""]
    if c.title:
        lines += [f"**{md(c.title)}**", ""]
    lines.append(f"Network: {md(c.network)}; case opened {md(c.created_at)}.  ")
    lines.append(f"As of: {md(t.as_of_line(r))}.")
    if c.note:
        lines += ["", f"Note: {md(c.note)}"]
    if r.redacted:
        lines += ["", f"**{md(t.redaction_line(r))}**"]
    lines.append("")
    lines += _summary(r) + _payments(r) + _timeline(r)
    lines += (
        _trace(r, r.trace)
        if r.trace
        else ["## Where the money went", "", md(t.no_trace_line(c.name)), ""]
    )
    lines += _freeze(r) + _proofs(r) + _evidence(r)
    return "\n".join(lines).rstrip("\n") + "\n"
