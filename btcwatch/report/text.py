"""Wording and number formats shared by the Markdown and HTML reports (so they say the same)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from btcwatch.money import btc, format_btc
from btcwatch.report.facts import CaseReport, Refs

KIND_LABELS = {
    "payment_received": "payment received",
    "payment_confirmed": "payment confirmed",
    "funds_moved": "funds moved",
    "co_spent": "co-spent",
    "reverted": "reverted",
    "funds_at_exchange": "funds at exchange",
}
VERDICT_LABELS = {
    "exact": "matched the demand on time",
    "late": "matched the late demand",
    "partial": "paid less than demanded",
    "over": "paid more than demanded",
    "none": "no demand to compare with",
}
STOP_LABELS = {
    "exchange_deposit": "exchange deposit (swept by the exchange)",
    "tagged": "tagged entity",
    "coinjoin": "CoinJoin",
    "unspent": "unspent",
    "hop_limit": "hop limit",
    "min_value": "below minimum value",
    "fanout": "large fan-out",
    "no_address": "no address",
    "tx_limit": "transaction limit of the trace",
    "provider_error": "explorer error",
}
NO_EVIDENCE = "no stored response"


def btc_cell(sats: int | None) -> str:
    """The number in a "BTC" column ("" when unknown); sentences use `money.btc`."""
    return "" if sats is None else format_btc(sats)


def fiat(value: Decimal | None) -> str:
    return "n/a" if value is None else f"{value:.2f}"


def priced_at(
    price_time: str | None,
    resolution: str | None,
    source: str | None = None,
    sources: tuple[str, ...] = (),
) -> str:
    """Which price made a payment's fiat: ``2026-09-21T14:00Z hour [P1]`` or ``2020-10-24 day``;
    ``[Pn]`` points at the n-th entry of the report's price-source list (`source_refs`)."""
    if not price_time:
        return "n/a"
    shown = price_time.replace(":00Z", "Z") if price_time.endswith(":00:00Z") else price_time
    ref = f" [P{sources.index(source) + 1}]" if source in sources else ""
    return f"{shown} {resolution or 'day'}{ref}"


def source_refs(sources: tuple[str, ...]) -> list[str]:
    """The report's price sources as ``[P1] name`` entries, the targets of `priced_at`."""
    return [f"[P{n}] {s}" for n, s in enumerate(sources, 1)]


def cite(refs: Refs) -> str:
    """Footnote references such as ``[E12] [E13]`` (see the evidence table)."""
    return " ".join(f"[E{i}]" for i in refs) if refs else NO_EVIDENCE


def outpoint(txid: str | None, vout: int | None) -> str:
    if not txid:
        return ""
    return txid if vout is None else f"{txid}:{vout}"


def roles_line(report: CaseReport) -> str:
    total = sum(n for _, n in report.watchlist)
    parts = ", ".join(f"{n} {role}" for role, n in report.watchlist)
    return f"{total} ({parts})" if parts else "0"


def verdict_lines(report: CaseReport) -> list[str]:
    return [f"{n} {VERDICT_LABELS[v]} ({v})" for v, n in report.summary.by_verdict if n]


def totals_line(report: CaseReport) -> str:
    s = report.summary
    line = f"{btc(s.total_sat)} = {fiat(s.total_eur)} EUR = {fiat(s.total_usd)} USD"
    if s.fiat_missing:
        line += f" (fiat leaves out {s.fiat_missing} payment(s) without a price)"
    return line


def as_of_line(report: CaseReport) -> str:
    parts = [f"chain tip seen by the watcher: {report.tip_height or 'unknown'}"]
    if report.last_event_at:
        parts.append(f"last event recorded {report.last_event_at}")
    if report.trace:
        parts.append(f"trace run {report.trace.run_id} finished {report.trace.finished_at}")
    if report.generated_at:
        parts.append(f"report generated {report.generated_at}")
    return "; ".join(parts)


GRAPH_FILE_USES = {
    ".html": "interactive viewer, opens offline",
    ".graphml": "yEd, Gephi, networkx",
    ".gexf": "Gephi, with a timeline",
    ".json": "networkx node-link JSON",
    ".dot": "Graphviz source",
    ".svg": "Graphviz drawing",
}


def graph_lines(report: CaseReport) -> list[tuple[str, str]]:
    """Where to find the flow graph, as (file or command, what it is for) pairs."""
    if report.trace is None:
        return []
    if report.graph_files:
        return [
            (name, GRAPH_FILE_USES.get(name[name.rfind(".") :], "")) for name in report.graph_files
        ]
    case = report.case.name
    return [
        (
            f"btcwatch export --case {case} --format html -o flow.html",
            "interactive viewer, opens offline",
        ),
        (f"btcwatch export --case {case} --format graphml -o flow.graphml", "yEd, Gephi"),
        (
            f"btcwatch evidence --case {case} -o DIR",
            "this report with every graph format, the database and the raw responses",
        ),
    ]


def no_trace_line(case: str) -> str:
    return (
        "No trace has been run for this case yet, so nothing is known about where the money "
        f"went: run `btcwatch trace --case {case}`, then report again."
    )


def redaction_line(report: CaseReport) -> str:
    """Say what was hidden: the pseudonyms are not the investigator's labels."""
    if not report.redacted:
        return ""
    return (
        f"Redacted ({', '.join(report.redacted)}): the labels, notes and e-mail sources of victim "
        "and ransom addresses are replaced by pseudonyms (victim-...); amounts and addresses are "
        "as recorded."
    )


def joined(items: Iterable[str]) -> str:
    return ", ".join(items)


def params_line(params: Iterable[tuple[str, object]]) -> str:
    """A trace's parameters as words, ``taint=haircut; stop_at=exchange, mixer or sanctioned``:
    a list reads as a list, never as Python's ``['exchange', 'mixer']``."""
    return "; ".join(f"{key}={_words(value)}" for key, value in params)


def _words(value: object) -> str:
    if not isinstance(value, list | tuple):
        return str(value)
    items = [str(v) for v in value]
    if len(items) < 2:
        return items[0] if items else "nothing"
    return ", ".join(items[:-1]) + " or " + items[-1]


#: Column headings of the payments table, the same in every format.
PAYMENT_COLUMNS = (
    "#",
    "Time (UTC)",
    "Address",
    "Label",
    "Output",
    "BTC",
    "EUR",
    "USD",
    "Priced at",
    "Verdict",
    "Conf.",
    "Evidence",
)

#: Column headings of a freeze-request table, the same in every format.
FREEZE_COLUMNS = (
    "Deposit address",
    "Transaction",
    "Output",
    "Tainted BTC",
    "Output BTC",
    "Time (UTC)",
    "Conf.",
    "Swept by",
    "Evidence",
)
