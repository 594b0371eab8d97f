"""The offline HTML viewer in a real headless Chromium (Debian's), driven over the DevTools pipe.

What a person relies on, checked in the browser itself: every node is drawn; the page makes no
network request, logs no error and trips no CSP rule; a click shows a node's details with a
hostile label as plain text (no alert, no injected element); search and deep links work.
Skipped when /usr/bin/chromium is missing (``scripts/install_test_deps.sh`` installs it).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from cdp_pipe import Chromium, Page
from export_graphs import SCRIPT_LABEL, addr, build_flow_graph, build_wannacry_graph, txid

from btcwatch.export.html import write_html

CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="no /usr/bin/chromium: run scripts/install_test_deps.sh (apt-get install chromium)",
    ),
]

RENDERED = (
    "document.body.getAttribute('data-rendered-nodes') !== '0'"
    " && document.body.getAttribute('data-rendered-nodes')"
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    folder = tmp_path_factory.mktemp("chromium")
    chromium = Chromium(str(CHROMIUM), folder / "profile", folder / "chromium.log")
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def flow_page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_html(build_flow_graph(), tmp_path_factory.mktemp("viewer") / "flow.html")[0]


def _open(browser: Chromium, path: Path, fragment: str = "") -> Page:
    page = Page(browser)
    page.send(
        "Emulation.setDeviceMetricsOverride",
        {"width": 1400, "height": 900, "deviceScaleFactor": 1, "mobile": False},
    )
    page.open(path.as_uri() + fragment)
    page.wait_for(RENDERED)
    return page


def _problems(page: Page) -> list[str]:
    """Everything that counts as an error: console, log, exceptions, dialogs, page counters."""
    found = [
        f"log: {e['params']['entry'].get('text')}"
        for e in page.events("Log.entryAdded")
        if e["params"]["entry"]["level"] == "error"
    ]
    found += [
        f"console.{e['params']['type']}: {e['params']['args']}"
        for e in page.events("Runtime.consoleAPICalled")
        if e["params"]["type"] in ("error", "assert")
    ]
    found += [
        f"exception: {e['params']['exceptionDetails']}"
        for e in page.events("Runtime.exceptionThrown")
    ]
    found += [f"dialog: {e['params']}" for e in page.events("Page.javascriptDialogOpening")]
    counters = page.eval(
        "[document.body.getAttribute('data-errors'),"
        " document.body.getAttribute('data-csp-violations')]"
    )
    if counters != ["0", "0"]:
        found.append(f"page counters (errors, csp violations): {counters}")
    return found


def _requests(page: Page) -> list[str]:
    return [e["params"]["request"]["url"] for e in page.events("Network.requestWillBeSent")]


def test_renders_every_node_offline_without_errors(browser: Chromium, flow_page: Path) -> None:
    page = _open(browser, flow_page)
    assert page.eval("document.body.getAttribute('data-rendered-nodes')") == "20"
    assert page.eval("document.body.getAttribute('data-rendered-edges')") == "21"
    positions = page.eval(
        "btcwatchViewer.cy.nodes().map(function (n) {"
        " var p = n.renderedPosition(); return Math.round(p.x) + ',' + Math.round(p.y); })"
    )
    assert len(set(positions)) == 20, "two nodes drawn on the same spot"
    assert page.eval("document.getElementById('cy').querySelector('canvas') !== null")
    assert page.eval("document.getElementById('legend').textContent").count("ransomware") == 1
    assert _requests(page) == [flow_page.as_uri()], "only the page itself may be loaded"
    assert page.events("Network.loadingFailed") == []
    assert _problems(page) == []


def test_click_shows_details_and_a_script_label_as_text(
    browser: Chromium, flow_page: Path, tmp_path: Path
) -> None:
    page = _open(browser, flow_page)
    node = f"addr:{addr('exchange-2')}"
    x, y = page.eval(
        f"(function () {{ var n = btcwatchViewer.cy.getElementById({json.dumps(node)});"
        " var p = n.renderedPosition();"
        " var box = document.getElementById('cy').getBoundingClientRect();"
        " return [box.left + p.x, box.top + p.y]; }())"
    )
    page.click(x, y)
    assert page.wait_for("document.body.getAttribute('data-selected')") == node

    details = page.eval("document.getElementById('details').textContent")
    assert SCRIPT_LABEL in details
    assert 'Exchange "Big" & Co' in details
    assert "0.01500000 BTC" in details
    assert txid("peel-2") in details  # the txid of its incoming flow
    assert "sha256=" in details  # the evidence string
    assert page.eval("document.querySelectorAll('#details *').length") > 0
    assert page.eval("document.querySelectorAll('#details script, #details b').length") == 0
    assert page.eval("document.scripts.length") == 3
    assert page.events("Page.javascriptDialogOpening") == []
    assert _problems(page) == []
    shot = page.send("Page.captureScreenshot", {"format": "png"})["data"]
    (tmp_path / "viewer.png").write_bytes(base64.b64decode(shot))


def test_deep_link_shows_eur_values_and_quotes(browser: Chromium, flow_page: Path) -> None:
    node = f"addr:{addr('ransom-1')}"
    page = _open(browser, flow_page, f"#node={node}")
    assert page.wait_for("document.body.getAttribute('data-selected')") == node
    details = page.eval("document.getElementById('details').textContent")
    assert 'Ransom address #1 ("ransom_man" & co)' in details
    # an EUR value names its price (issue 11 item 3)
    assert "0.01790000 BTC (200.00 EUR, hourly price of 2020-10-23T06:00:00Z)" in details
    assert "0.01790000 BTC (200.00 EUR, daily price of 2020-10-24)" in details
    assert "0.03580000 BTC (3580000 sats)" in details
    assert _problems(page) == []


def test_search_by_label_and_txid(browser: Chromium, flow_page: Path) -> None:
    page = _open(browser, flow_page)
    page.eval("document.getElementById('search').focus()")
    page.send("Input.insertText", {"text": "KRYPTOPÖRSSI"})
    assert page.wait_for("document.body.getAttribute('data-search-hits')") == "1"
    page.eval(
        "var s = document.getElementById('search'); s.value = '';"
        " s.dispatchEvent(new Event('input'))"
    )
    page.send("Input.insertText", {"text": txid("peel-1")[:12]})
    assert page.wait_for("document.getElementById('search-count').textContent") == "1 match"
    page.send("Input.dispatchKeyEvent", {"type": "keyDown", "key": "Enter", "code": "Enter",
                                         "windowsVirtualKeyCode": 13})  # fmt: skip
    assert page.wait_for("document.body.getAttribute('data-selected')") == f"tx:{txid('peel-1')}"
    assert "optimal_change" in page.eval("document.getElementById('details').textContent")
    assert page.eval("btcwatchViewer.cy.$('.faded').length") > 0
    assert _problems(page) == []


def test_a_blocked_request_would_be_caught(browser: Chromium, flow_page: Path) -> None:
    """Negative control: the counters the other tests read do see a CSP-blocked fetch."""
    page = _open(browser, flow_page)
    page.eval("var i = new Image(); i.src = 'http://127.0.0.1:9/x.png'; document.body.append(i)")
    assert (
        page.wait_for(
            "document.body.getAttribute('data-csp-violations') !== '0'"
            " && document.body.getAttribute('data-csp-violations')"
        )
        == "1"
    )
    assert "127.0.0.1:9" in page.eval("document.getElementById('banner').textContent")
    assert any("127.0.0.1:9" in p for p in _problems(page))


def test_real_wannacry_cashout_renders(browser: Chromium, tmp_path: Path) -> None:
    path = write_html(build_wannacry_graph(), tmp_path / "wannacry.html")[0]
    page = _open(browser, path)
    assert page.eval("document.body.getAttribute('data-rendered-nodes')") == "18"
    assert page.eval("document.body.getAttribute('data-rendered-edges')") == "361"
    assert _requests(page) == [path.as_uri()]
    assert _problems(page) == []
