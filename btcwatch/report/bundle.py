"""An evidence bundle: one folder an investigator can hand over, verify and re-open years later.

It holds the report (Markdown, HTML, JSON), the latest trace's graph files, a consistent copy of
the database (``VACUUM INTO`` reads one snapshot, so a watcher may keep writing meanwhile),
the raw explorer responses the facts rest on (named by evidence id and SHA-256, listed in
``responses/index.csv``), a README and ``MANIFEST.sha256`` (``sha256sum -c`` format).

The folder is written next to its destination under a temporary name and renamed into place
at the end, so a folder with the bundle's name is always a complete bundle.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from btcwatch import __version__
from btcwatch.errors import InputError, StoreError
from btcwatch.export import export_graph
from btcwatch.export.flowgraph import run_graph
from btcwatch.prices import DEFAULT_FILE, PriceTable
from btcwatch.report.gather import build_report, pick_run
from btcwatch.report.html import render_html
from btcwatch.report.jsonfmt import render_json
from btcwatch.report.markdown import render_markdown
from btcwatch.report.picture import flow_svg
from btcwatch.report.refs import EvidenceIndex, evidence_rows
from btcwatch.resources import data_file
from btcwatch.store import Store
from btcwatch.store.cases import get_case
from btcwatch.store.events import list_events
from btcwatch.store.evidence import evidence_body
from btcwatch.store.traces import run_txids

MANIFEST = "MANIFEST.sha256"
DATABASE = "database/btcwatch.sqlite"
RESPONSES = "responses"
#: Graph formats written for the latest trace, with their file names in the bundle.
GRAPH_FILES = (
    ("html", "graph/flow.html"),
    ("graphml", "graph/flow.graphml"),
    ("gexf", "graph/flow.gexf"),
    ("json", "graph/flow.json"),
    ("dot", "graph/flow.dot"),
)
SVG_FILE = "graph/flow.svg"
INDEX_COLUMNS = ("id", "provider", "url", "fetched_at", "status", "sha256", "file")
#: What produced the bundle and how to re-check it (read by ``btcwatch verify``).
META = "bundle.json"
PRICES = "prices/prices.csv"


@dataclass(frozen=True, slots=True)
class Bundle:
    """What was written: the folder and its files (relative, sorted), the trace it shows."""

    path: Path
    files: tuple[str, ...]
    run_id: int | None
    responses: int


def check_target(out: Path) -> None:
    """Refuse to mix a bundle into anything that already exists."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise InputError(f"{out} already exists and is not an empty folder; choose a new one")


def _suffix(body: bytes) -> str:
    if body[:1] in (b"{", b"["):
        return ".json"
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return ".bin"
    return ".txt"


def case_txids(store: Store, case: str, run_id: int | None) -> set[str]:
    """Every transaction the case relies on: its events' and the traced run's."""
    txids = {e.txid for e in list_events(store, case=case) if e.txid}
    if run_id is not None:
        txids.update(run_txids(store, run_id))
    return txids


def _case_evidence_ids(store: Store, case: str, run_id: int | None) -> set[int]:
    """Every response behind the case's events and the traced transactions."""
    return set(EvidenceIndex(store).refs(*sorted(case_txids(store, case, run_id))))


def _write_responses(store: Store, root: Path, ids: Iterable[int]) -> int:
    folder = root / RESPONSES
    folder.mkdir()
    index = io.StringIO()
    writer = csv.writer(index, lineterminator="\n")
    writer.writerow(INDEX_COLUMNS)
    rows = evidence_rows(store, ids)
    for row in rows:
        name = ""
        if row.body_kept:
            body = evidence_body(store, row.id)
            name = f"{RESPONSES}/E{row.id}-{row.sha256}{_suffix(body)}"
            (root / name).write_bytes(body)
        writer.writerow(
            [row.id, row.provider, row.url, row.fetched_at, row.status, row.sha256, name]
        )
    (folder / "index.csv").write_text(index.getvalue(), encoding="utf-8")
    return len(rows)


def _copy_database(store: Store, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        store.backup_to(target)
    except Exception as exc:  # sqlite3.Error, but the driver is the store's business
        raise StoreError(f"cannot copy the database into {target}: {exc}") from exc


def build_commit() -> str:
    """The git commit of this btcwatch checkout, or "unknown" for an installed release."""
    here = Path(__file__).resolve().parent
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    text = done.stdout.strip()
    return text if done.returncode == 0 and len(text) == 40 else "unknown"


def _readme(
    case: str, generated_at: str | None, run_id: int | None, svg: bool, meta: dict[str, object]
) -> str:
    trace = (
        f"The graph files show trace run {run_id} of the case."
        if run_id is not None
        else "No trace had been run for this case, so there are no graph files."
    )
    lines = [
        f"btcwatch evidence bundle for case {case}",
        *([f"Generated {generated_at}."] if generated_at else []),
        "",
        "Contents",
        "  report.md, report.html, report.json",
        "        the case report; the same facts in each. report.html opens offline and loads",
        "        nothing. Every figure cites [E<id>]: a raw explorer response listed below.",
        "  graph/flow.html     the money flow as an interactive page (offline)",
        "  graph/flow.graphml  for yEd, Gephi, networkx; graph/flow.gexf for Gephi's timeline",
        "  graph/flow.json     networkx node-link JSON; graph/flow.dot for Graphviz"
        + ("; graph/flow.svg its drawing" if svg else ""),
        f"  {DATABASE}",
        "        a consistent copy of the whole btcwatch database (SQLite 3; Datasette, sqlite3),",
        "        with every archived response in its evidence table",
        f"  {RESPONSES}/E<id>-<sha256>.<ext>",
        "        the raw responses the facts rest on, byte for byte as the explorer sent them;",
        f"        {RESPONSES}/index.csv lists id, explorer, URL, time fetched, HTTP status,",
        "        SHA-256 and file (empty when only the hash was archived)",
        f"  {PRICES}   the price table the fiat figures were computed with",
        f"  {META}         what produced this bundle (btcwatch version and commit)",
        f"  {MANIFEST}     the SHA-256 of every other file",
        "",
        trace,
        "",
        f"Produced by btcwatch {meta['btcwatch_version']} (commit {meta['btcwatch_commit']}).",
        *(
            [
                "The case ran on btcwatch's simulated chain: its blocks carry regtest proof of",
                "work, and `btcwatch verify` holds them to that limit and says so.",
            ]
            if meta.get("simulated")
            else []
        ),
        "",
        "How to verify",
        "  1. Files unchanged since export. In this folder run:   sha256sum -c MANIFEST.sha256",
        "     (macOS: shasum -a 256 -c MANIFEST.sha256). Every line must end in OK.",
        "     A response's SHA-256 appears in its file name, in index.csv, in the report's",
        "     evidence table and in the database's evidence table.",
        "  2. The facts themselves, offline (no network connection is opened):",
        "        btcwatch verify THIS_FOLDER            (add --json for machine-readable output)",
        "     It re-checks the manifest, re-parses every raw explorer answer against the database",
        "     rows made from it, recomputes every txid from raw bytes and proves it by its Merkle",
        "     branch against a block header that meets its proof-of-work target, and recomputes",
        "     every figure of report.json. Exit 0: everything holds; exit 1: it lists each",
        "     difference. The manifest alone cannot catch a forger who rewrites it; step 2 can.",
        "  3. Reproduce the numbers from the recorded answers only: in a new database, create",
        "     the case and add its addresses and demands (as report.json lists them), then run",
        "        btcwatch --db NEW.db watch --case CASE --once --explorer replay:THIS_FOLDER",
        "        btcwatch --db NEW.db trace --case CASE --explorer replay:THIS_FOLDER --json",
        "        btcwatch --db NEW.db report --case CASE --format json",
        "     Anything the original run did not ask fails with 'not recorded in the bundle'.",
        "",
    ]
    return "\n".join(lines)


def _manifest(root: Path) -> str:
    entries = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel == MANIFEST:
            continue
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        entries.append(f"{digest}  {rel}\n")
    return "".join(entries)


def _fill(
    store: Store,
    case: str,
    root: Path,
    *,
    prices: PriceTable | None,
    run_id: int | None,
    generated_at: str | None,
    simulated: bool = False,
    price_file: Path | None = None,
) -> tuple[int | None, int]:
    run = pick_run(store, case, run_id)
    graph = run_graph(store, run.id, prices) if run is not None else None
    files: list[str] = []
    svg, svg_note = (None, "") if graph is None else flow_svg(graph)
    if graph is not None:
        (root / "graph").mkdir()
        for fmt, name in GRAPH_FILES:
            export_graph(graph, fmt, root / name)
            files.append(name)
        if svg is not None:
            (root / SVG_FILE).write_text(svg, encoding="utf-8")
            files.append(SVG_FILE)
    report = build_report(
        store,
        case,
        prices=prices,
        run_id=run.id if run else None,
        generated_at=generated_at,
        graph_files=tuple(files),
    )
    (root / "report.md").write_text(render_markdown(report), encoding="utf-8")
    (root / "report.html").write_text(
        render_html(report, svg=svg, svg_note=svg_note), encoding="utf-8"
    )
    (root / "report.json").write_text(render_json(report), encoding="utf-8")
    _copy_database(store, root / DATABASE)
    if prices is not None:  # the table the fiat figures were computed with
        (root / "prices").mkdir()
        shutil.copyfile(price_file or data_file(*DEFAULT_FILE), root / PRICES)
    meta: dict[str, object] = {
        "format": "btcwatch-evidence-bundle",
        "version": 1,
        "btcwatch_version": __version__,
        "btcwatch_commit": build_commit(),
        "case": case,
        "network": get_case(store, case).network,
        "simulated": simulated,
        "trace_run_id": run.id if run else None,
        "generated_at": generated_at,
        "prices_source": prices.source if prices is not None else None,
    }
    (root / META).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    cited = {e.id for e in report.evidence} | _case_evidence_ids(
        store, case, run.id if run else None
    )
    count = _write_responses(store, root, cited)
    (root / "README.txt").write_text(
        _readme(case, generated_at, run.id if run else None, svg is not None, meta),
        encoding="utf-8",
    )
    return (run.id if run else None), count


def write_bundle(
    store: Store,
    case: str,
    out: Path,
    *,
    prices: PriceTable | None = None,
    run_id: int | None = None,
    generated_at: str | None = None,
    simulated: bool = False,
    price_file: Path | None = None,
) -> Bundle:
    """Write the bundle folder ``out`` (missing or empty); InputError when it holds anything.

    ``simulated`` marks a case run on btcwatch's simulator (regtest proof of work);
    ``price_file`` is the CSV ``prices`` was read from (default: the shipped table).
    """
    get_case(store, case)
    check_target(out)
    if not out.parent.is_dir():
        raise InputError(f"cannot write {out}: the folder {out.parent} does not exist")
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    if partial.exists():
        shutil.rmtree(partial)
    partial.mkdir()
    try:
        used_run, responses = _fill(
            store,
            case,
            partial,
            prices=prices,
            run_id=run_id,
            generated_at=generated_at,
            simulated=simulated,
            price_file=price_file,
        )
        (partial / MANIFEST).write_text(_manifest(partial), encoding="utf-8")
        check_target(out)
        with contextlib.suppress(FileNotFoundError):
            out.rmdir()
        partial.rename(out)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    files = tuple(sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()))
    return Bundle(out, files, used_run, responses)
