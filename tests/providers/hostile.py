"""Hostile explorers as small asyncio servers on 127.0.0.1:0, each in a thread of the test.

- ``endless``: answers 200 and streams a body that never ends (no Content-Length).
- ``trickle``: answers 200 and sends one byte every ``every`` seconds, forever.
- ``busy``: answers 503 at once, every time (a client retries with backoff).

Both answer every request the same way, whatever the path, so any client request hits them.
Subprocesses under test reach them over real sockets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"


@dataclass
class Hostile:
    url: str  # an Esplora base URL (…/api)
    requests: int = 0


async def _serve(mode: str, every: float, state: Hostile, writer: asyncio.StreamWriter) -> None:
    state.requests += 1
    if mode == "busy":
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy")
        await writer.drain()
        return
    writer.write(_HEAD)
    chunk = b"a" * 65536
    while True:
        if mode == "endless":
            writer.write(chunk)
            await writer.drain()
        else:
            writer.write(b"a")
            await writer.drain()
            await asyncio.sleep(every)


@contextmanager
def hostile_explorer(mode: str, every: float = 5.0) -> Iterator[Hostile]:
    """Serve ``mode`` ("endless", "trickle" or "busy") until the block ends."""
    if mode not in ("endless", "trickle", "busy"):
        raise ValueError(mode)
    loop = asyncio.new_event_loop()
    state = Hostile("")
    ready = threading.Event()
    stopped: asyncio.Event | None = None

    tasks: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            tasks.add(task)
        try:
            while True:  # keep-alive: a client may send its retries on the same connection
                await reader.readuntil(b"\r\n\r\n")
                await _serve(mode, every, state, writer)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            if task is not None:
                tasks.discard(task)

    async def main() -> None:
        nonlocal stopped
        stopped = asyncio.Event()
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        state.url = f"http://127.0.0.1:{port}/api"
        ready.set()
        async with server:
            await stopped.wait()
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield state
    finally:
        if stopped is not None:
            loop.call_soon_threadsafe(stopped.set)
        thread.join(10)
