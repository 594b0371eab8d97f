"""The simulator's HTTP vocabulary: replies, errors, requests and the route table.

Every route family (Esplora core, control, proofs, blockchain.info, prices, the mainnet
profile's knobs) speaks these, so they live below `SimServer` (sim/server.py) and the
families import them without importing the server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

__all__ = ["HEX64", "Handler", "HttpError", "Reply", "Request", "Routes", "int_arg", "txid_arg"]

HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class Reply:
    """An HTTP answer before it is written."""

    __slots__ = ("body", "content_type", "status")

    def __init__(self, status: int, body: bytes, content_type: str) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type

    @classmethod
    def json(cls, value: Any) -> Reply:
        body = json.dumps(value, separators=(",", ":")).encode()
        return cls(200, body, "application/json")

    @classmethod
    def text(cls, text: str, status: int = 200) -> Reply:
        return cls(status, text.encode(), "text/plain")

    @classmethod
    def binary(cls, data: bytes) -> Reply:
        return cls(200, data, "application/octet-stream")


class HttpError(Exception):
    """Raised by a route to answer with a status and a text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def txid_arg(text: str) -> str:
    """A 64-hex path or query argument, lower-cased; 400 as Esplora answers otherwise."""
    if not HEX64.match(text):
        raise HttpError(400, "Invalid hex string")
    return text.lower()


def int_arg(text: str, what: str) -> int:
    """A non-negative decimal argument; 400 ``Invalid <what>`` otherwise."""
    if not text.isdigit():
        raise HttpError(400, f"Invalid {what}")
    return int(text)


class Request:
    """What a route sees: path parameters and the query string."""

    __slots__ = ("body", "params", "query")

    def __init__(self, params: dict[str, str], query: dict[str, list[str]], body: bytes) -> None:
        self.params = params
        self.query = query
        self.body = body

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


Handler = Callable[[Request], Reply]


class Routes:
    """Method + path patterns in registration order; the first match wins.

    A pattern part ``:name`` captures one path segment, ``:name=literal`` captures it only
    when it equals ``literal`` (one handler for ``/address/:id`` and ``/scripthash/:id``).
    """

    def __init__(self) -> None:
        self._routes: list[tuple[str, tuple[str, ...], Handler]] = []

    def add(self, method: str, path: str, handler: Handler) -> None:
        self._routes.append((method, tuple(p for p in path.split("/") if p), handler))

    def match(self, method: str, path: str) -> tuple[str, Handler | None, dict[str, str]]:
        """(name for the request counter, handler or None, path parameters)."""
        parts = tuple(p for p in path.split("/") if p)
        for verb, pattern, handler in self._routes:
            if verb != method or len(pattern) != len(parts):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, parts, strict=True):
                if want.startswith(":"):
                    name, _, literal = want[1:].partition("=")
                    if literal and literal != got:
                        break
                    params[name] = got
                elif want != got:
                    break
            else:
                shown = "/".join(p.partition("=")[2] or p for p in pattern)
                return f"{verb} /{shown}", handler, params
        return f"{method} (unknown)", None, {}
