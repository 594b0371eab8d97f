"""RFC 6455 for the simulator's one WebSocket route: the upgrade answer and frame reading/writing.

Server side only: client frames must be masked, server frames are not; text, binary,
continuation, close, ping and pong; a frame or message larger than ``max_size`` closes the
connection with 1009 instead of being buffered. Written by hand (stdlib) so that the fault
knobs can put on the wire what no WebSocket library would send.
"""

from __future__ import annotations

import base64
import hashlib
import socket
import struct
from collections.abc import Callable

__all__ = [
    "CLOSE",
    "PING",
    "PONG",
    "TEXT",
    "FrameReader",
    "ProtocolViolation",
    "SocketGone",
    "accept_key",
    "frame",
    "frame_header",
]

CONT, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class SocketGone(Exception):
    """The peer went away (EOF, reset) or the server is stopping."""


class ProtocolViolation(Exception):
    """The peer broke the protocol: close with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def accept_key(key: str) -> str:
    """Sec-WebSocket-Accept for a client's Sec-WebSocket-Key."""
    digest = hashlib.sha1((key.strip() + _GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def frame_header(opcode: int, length: int) -> bytes:
    """A final, unmasked frame header announcing ``length`` payload bytes."""
    first = 0x80 | opcode
    if length < 126:
        return struct.pack("!BB", first, length)
    if length < 1 << 16:
        return struct.pack("!BBH", first, 126, length)
    return struct.pack("!BBQ", first, 127, length)


def frame(opcode: int, payload: bytes) -> bytes:
    return frame_header(opcode, len(payload)) + payload


def _unmask(data: bytes, mask: bytes) -> bytes:
    if not data:
        return data
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class FrameReader:
    """Reads client frames from a socket with a short timeout, so a stopping server is noticed."""

    def __init__(self, sock: socket.socket, alive: Callable[[], bool], max_size: int) -> None:
        self._sock = sock
        self._alive = alive
        self._buf = bytearray()
        self.max_size = max_size

    def _read(self, n: int) -> bytes:
        while len(self._buf) < n:
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                if not self._alive():
                    raise SocketGone("server stopping") from None
                continue
            except OSError as exc:
                raise SocketGone(str(exc)) from None
            if not chunk:
                raise SocketGone("end of stream")
            self._buf += chunk
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def frame(self) -> tuple[bool, int, bytes]:
        """(fin, opcode, unmasked payload) of the next frame."""
        b0, b1 = self._read(2)
        if b0 & 0x70:
            raise ProtocolViolation(1002, "reserved bits set without an extension")
        fin, opcode, masked, length = bool(b0 & 0x80), b0 & 0x0F, b1 & 0x80, b1 & 0x7F
        if length == 126:
            (length,) = struct.unpack("!H", self._read(2))
        elif length == 127:
            (length,) = struct.unpack("!Q", self._read(8))
        if not masked:
            raise ProtocolViolation(1002, "client frames must be masked")
        if opcode >= 0x8 and (length > 125 or not fin):
            raise ProtocolViolation(1002, "control frames are short and unfragmented")
        if length > self.max_size:
            raise ProtocolViolation(1009, f"frame of {length} bytes is over {self.max_size}")
        mask = self._read(4)
        return fin, opcode, _unmask(self._read(length), mask)

    def message(self, on_control: Callable[[int, bytes], bool]) -> tuple[int, bytes]:
        """The next data message (TEXT or BINARY, reassembled); control frames go to
        ``on_control``, which returns False to end the session (a close)."""
        parts: list[bytes] = []
        kind: int | None = None
        size = 0
        while True:
            fin, opcode, payload = self.frame()
            if opcode >= 0x8:
                if opcode not in (CLOSE, PING, PONG):
                    raise ProtocolViolation(1002, f"unknown opcode {opcode}")
                if not on_control(opcode, payload):
                    raise SocketGone("closed by the client")
                continue
            if opcode == CONT:
                if kind is None:
                    raise ProtocolViolation(1002, "continuation without a message")
            elif opcode in (TEXT, BINARY):
                if kind is not None:
                    raise ProtocolViolation(1002, "new message inside a fragmented one")
                kind = opcode
            else:
                raise ProtocolViolation(1002, f"unknown opcode {opcode}")
            size += len(payload)
            if size > self.max_size:
                raise ProtocolViolation(1009, f"message over {self.max_size} bytes")
            parts.append(payload)
            if fin:
                return kind, b"".join(parts)
