"""Every figure of the bundled report, recomputed from the bundled database and prices."""

from __future__ import annotations

import json
from typing import Any

from btcwatch.errors import BtcwatchError
from btcwatch.prices import PriceTable
from btcwatch.report.gather import build_report
from btcwatch.report.jsonfmt import render_json
from btcwatch.report.markdown import render_markdown
from btcwatch.store import Store

MAX_DIFFS = 25


def json_diff(said: Any, fresh: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as ``path: report says X, recomputed Y``."""
    where = path or "(top)"
    if isinstance(said, dict) and isinstance(fresh, dict):
        out: list[str] = []
        for key in list(said) + [k for k in fresh if k not in said]:
            sub = f"{path}.{key}" if path else str(key)
            if key not in fresh:
                out.append(f"{sub}: in the report, not in the recomputation")
            elif key not in said:
                out.append(f"{sub}: recomputed but missing from the report")
            else:
                out += json_diff(said[key], fresh[key], sub)
        return out
    if isinstance(said, list) and isinstance(fresh, list):
        if len(said) != len(fresh):
            return [f"{where}: the report lists {len(said)} entries, recomputed {len(fresh)}"]
        out = []
        for i, (a, b) in enumerate(zip(said, fresh, strict=True)):
            out += json_diff(a, b, f"{path}[{i}]")
        return out
    if said != fresh:
        return [f"{where}: the report says {_short(said)}, recomputed {_short(fresh)}"]
    return []


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def recompute(
    store: Store,
    case: str,
    run_id: int | None,
    report_json: str,
    report_md: str | None,
    prices: PriceTable | None,
) -> tuple[int, list[str]]:
    """(figures compared, problems): report.json (and report.md) against a fresh rendering."""
    try:
        said = json.loads(report_json)
    except ValueError as exc:
        return 0, [f"report.json is not JSON: {exc}"]
    if not isinstance(said, dict):
        return 0, ["report.json is not a JSON object"]
    try:
        report = build_report(
            store,
            case,
            prices=prices,
            run_id=run_id,
            generated_at=said.get("generated_at"),
            graph_files=tuple(said.get("graph_files") or ()),
        )
    except BtcwatchError as exc:
        return 0, [f"the report cannot be recomputed from the bundled data: {exc}"]
    fresh_text = render_json(report)
    fresh = json.loads(fresh_text)
    diffs = json_diff(said, fresh)
    problems = [f"report.json {d}" for d in diffs[:MAX_DIFFS]]
    if len(diffs) > MAX_DIFFS:
        problems.append(f"report.json: and {len(diffs) - MAX_DIFFS} more differences")
    if not diffs and fresh_text != report_json:
        problems.append("report.json: same values, different bytes than btcwatch writes")
    if report_md is not None and render_markdown(report) != report_md:
        problems.append("report.md differs from the report recomputed from the bundled data")
    return _count_leaves(fresh), problems


def _count_leaves(value: Any) -> int:
    if isinstance(value, dict):
        return sum(_count_leaves(v) for v in value.values())
    if isinstance(value, list):
        return sum(_count_leaves(v) for v in value)
    return 1
