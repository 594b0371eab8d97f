"""The base every HTTP explorer shares: it owns the client and the plumbing around it.

Esplora and blockchain.info differ in URLs and parsing only; the request count, the evidence
of the last answer, the learned pace, closing, and "GET JSON, parse it, name the URL when the
body is bad" are the same, so they live here once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from btcwatch.chain.network import Network
from btcwatch.errors import BadResponse, ProviderError
from btcwatch.model import Evidence
from btcwatch.providers._http import HttpClient, HttpOptions
from btcwatch.providers.base import Provider, with_url

__all__ = ["HttpProvider"]


class HttpProvider(Provider):
    """A `Provider` talking to one explorer through one `HttpClient`.

    ``options.rate`` None means the class's ``default_rate`` (requests per second).
    """

    default_rate: float | None = None

    def __init__(
        self, name: str, base_url: str, network: Network, options: HttpOptions | None
    ) -> None:
        opts = options or HttpOptions()
        if opts.rate is None:
            opts = dataclasses.replace(opts, rate=self.default_rate)
        self.name = name
        self.network = network
        self._http = HttpClient(name, base_url, opts)

    @property
    def base_url(self) -> str:
        return self._http.base_url

    @property
    def requests(self) -> int:
        return self._http.requests

    @property
    def last_evidence(self) -> Evidence | None:
        return self._http.last_evidence

    def learned_rates(self) -> dict[str, float | None]:
        return {self._http.base_url: self._http.learned_rate}

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _json(
        self, path: str, parse: Callable[[Any], Any], max_bytes: int, **params: str
    ) -> Any:
        """GET ``path`` as JSON and ``parse`` it; a parse error names the URL it came from."""
        value = await self._http.get_json(path, params or None, max_bytes=max_bytes)
        try:
            return parse(value)
        except ProviderError as exc:  # BadResponse, or NotFound decided from the body
            raise with_url(exc, self._http.url(path)) from None

    def _bad(self, path: str, problem: str) -> BadResponse:
        """A BadResponse about the answer to ``path``."""
        return BadResponse(f"bad response: {problem}", provider=self.name, url=self._http.url(path))
