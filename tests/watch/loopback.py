"""Small loopback servers that receive alerts: a webhook endpoint and an SMTP responder.

Both listen on 127.0.0.1 on a free port, record what arrives, and answer as told; they run in
a thread of the test process, so a subprocess under test reaches them over real sockets.
"""

from __future__ import annotations

import email
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class WebhookServer:
    """Answers each POST with the next status of ``statuses`` (the last one repeats).

    ``hold`` makes the server wait (without answering) on POSTs while it is clear; ``held``
    is set when a POST is waiting, so a test can act while a sender is mid-delivery.
    """

    statuses: list[int] = field(default_factory=lambda: [200])
    received: list[Received] = field(default_factory=list)
    hold: threading.Event | None = None
    held: threading.Event = field(default_factory=threading.Event)
    url: str = ""
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self) -> int:
        with self._lock:
            status = self.statuses[0]
            if len(self.statuses) > 1:
                self.statuses.pop(0)
            return status

    def event_ids(self) -> list[str]:
        return [r.headers["X-Btcwatch-Event"] for r in self.received]


@contextmanager
def webhook_server(statuses: list[int] | None = None) -> Iterator[WebhookServer]:
    hook = WebhookServer(statuses=list(statuses or [200]))

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with hook._lock:
                hook.received.append(Received(self.path, dict(self.headers.items()), body))
            if hook.hold is not None:
                hook.held.set()
                hook.hold.wait(30)
            status = hook.answer()
            payload = b"ok" if status < 300 else b"nope"
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    hook.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield hook
    finally:
        if hook.hold is not None:
            hook.hold.set()
        server.shutdown()
        thread.join()
        server.server_close()


@dataclass
class Mailbox:
    """What the SMTP responder accepted: (envelope sender, recipients, parsed message)."""

    port: int = 0
    messages: list[tuple[str, list[str], Message]] = field(default_factory=list)


@contextmanager
def smtp_server() -> Iterator[Mailbox]:
    """A minimal SMTP server (RFC 5321 happy path: EHLO/HELO, MAIL, RCPT, DATA, QUIT)."""
    box = Mailbox()

    class Handler(socketserver.StreamRequestHandler):
        def reply(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")
            self.wfile.flush()

        def handle(self) -> None:
            self.reply("220 localhost test SMTP")
            sender, rcpts = "", list[str]()
            while True:
                raw = self.rfile.readline()
                if not raw:
                    return
                command = raw.decode().strip()
                verb = command[:4].upper()
                if verb in ("EHLO", "HELO"):
                    self.reply("250 localhost")
                elif verb == "MAIL":
                    sender, rcpts = command.split(":", 1)[1].strip(" <>"), []
                    self.reply("250 OK")
                elif verb == "RCPT":
                    rcpts.append(command.split(":", 1)[1].strip(" <>"))
                    self.reply("250 OK")
                elif verb == "DATA":
                    self.reply("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (line := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(line[1:] if line.startswith(b"..") else line)
                    box.messages.append(
                        (
                            sender,
                            rcpts,
                            email.message_from_bytes(b"".join(lines), policy=policy.default),
                        )
                    )
                    self.reply("250 OK queued")
                elif verb == "QUIT":
                    self.reply("221 Bye")
                    return
                else:
                    self.reply("250 OK")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    box.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
