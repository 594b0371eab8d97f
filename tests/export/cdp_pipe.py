"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe`` (stdlib only).

Chromium reads NUL-terminated JSON commands from fd 3 and writes replies and events to fd 4, so
the browser test needs no websocket library, no TCP port and no downloaded browser driver:
only Debian's ``chromium``. Events are kept per session so a test can assert on everything
the page did (network requests, console messages, exceptions, dialogs).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import queue
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The flags this machine needs (no GPU, no sandbox as root, nothing phoning home).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-pipe",
)
WAIT_S = 60.0  # a guard against a hung browser, not a performance assertion


class CdpError(RuntimeError):
    pass


class Chromium:
    def __init__(self, binary: str, user_data_dir: Path, log_path: Path) -> None:
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()

        def fds_3_and_4() -> None:  # runs in the child between fork and exec
            cmd = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            out = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(cmd, 3)
            os.dup2(out, 4)

        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={user_data_dir}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=self._log,
            preexec_fn=fds_3_and_4,
            close_fds=False,  # our other fds are non-inheritable (PEP 446) and close on exec
        )
        os.close(to_child_r)
        os.close(from_child_w)
        self._next_id = 0
        self._inbox: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self.events: list[dict[str, Any]] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        buffer = b""
        while True:
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                self._inbox.put(None)
                return
            buffer += chunk
            *messages, buffer = buffer.split(b"\0")
            for raw in messages:
                self._inbox.put(json.loads(raw))

    def _take(self) -> dict[str, Any]:
        try:
            message = self._inbox.get(timeout=WAIT_S)
        except queue.Empty:
            raise CdpError(f"no message from Chromium within {WAIT_S} s") from None
        if message is None:
            raise CdpError("Chromium closed the DevTools pipe")
        if "method" in message:
            self.events.append(message)
        return message

    def send(self, method: str, params: dict[str, Any] | None = None, session: str = "") -> Any:
        self._next_id += 1
        command: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self._to_child, json.dumps(command).encode() + b"\0")
        while True:
            message = self._take()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise CdpError(f"{method}: {message['error']}")
                return message.get("result", {})

    def wait_event(self, session: str, predicate: Callable[[dict[str, Any]], bool]) -> None:
        if any(e.get("sessionId") == session and predicate(e) for e in self.events):
            return
        while True:
            message = self._take()
            if message.get("sessionId") == session and "method" in message and predicate(message):
                return

    def session_events(self, session: str, method: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("sessionId") == session and e["method"] == method]

    def close(self) -> None:
        with contextlib.suppress(CdpError):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=WAIT_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        self._reader.join(timeout=WAIT_S)
        os.close(self._from_child)
        self._log.close()


class Page:
    """One tab attached in flat mode, with the domains the tests watch enabled."""

    def __init__(self, browser: Chromium) -> None:
        self.browser = browser
        target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})[
            "sessionId"
        ]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")

    def send(self, method: str, params: dict[str, Any] | None = None) -> Any:
        return self.browser.send(method, params, self.session)

    def open(self, url: str) -> None:
        self.send("Page.navigate", {"url": url})
        self.browser.wait_event(self.session, lambda e: e["method"] == "Page.loadEventFired")

    def eval(self, expression: str, *, await_promise: bool = False) -> Any:
        reply = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": await_promise},
        )
        if "exceptionDetails" in reply:
            raise CdpError(f"page threw: {reply['exceptionDetails']}")
        return reply["result"].get("value")

    def wait_for(self, condition_js: str) -> Any:
        """Resolve when the JS expression is truthy (checked every 50 ms inside the page)."""
        return self.eval(
            "new Promise(function (resolve) { (function check() {"
            f" var v = ({condition_js}); if (v) {{ resolve(v); }} else {{ setTimeout(check, 50); }}"
            " }()); })",
            await_promise=True,
        )

    def click(self, x: float, y: float) -> None:
        base = {"x": x, "y": y, "button": "left", "clickCount": 1}
        self.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x, "y": y})
        self.send("Input.dispatchMouseEvent", {"type": "mousePressed", **base})
        self.send("Input.dispatchMouseEvent", {"type": "mouseReleased", **base})

    def events(self, method: str) -> list[dict[str, Any]]:
        return self.browser.session_events(self.session, method)
