"""`Valuer`: prices for a set of moments, from the cache, then the sources in order, checked.

For each hour asked: the cache (rows of the configured sources only) answers first; else the
network sources are asked in the configured order until two have answered. The first hourly
answer is used (else the first daily one); when the other answer for the same hour differs by
more than the tolerance, a ``price_disagreement`` finding is stored. Every answer is cached
with the response it came from, so it is never fetched again. A source that fails is not asked
again in the same call, and what it said becomes the note of a payment left unvalued.
Currencies a source does not quote are derived from its EUR price at the ECB rate of the day.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

import httpx

from btcwatch.errors import InputError, ProviderError
from btcwatch.prices import DAY, PriceLookup, PriceTable
from btcwatch.prices import Price as TablePrice
from btcwatch.prices.book import DAY_SECONDS, HOUR_SECONDS, PriceBook, day_start, hour_start
from btcwatch.prices.ecb import EcbRates
from btcwatch.providers import HttpOptions
from btcwatch.providers.prices import OFFLINE, PriceSource, Quote, make_price_sources
from btcwatch.providers.prices.factory import DEFAULT_PRICES, PRICE_RETRY
from btcwatch.store import Store
from btcwatch.store.prices import (
    PriceDisagreement,
    StoredPrice,
    cached_price_count,
    cached_prices,
    record_price_disagreement,
    save_prices,
)
from btcwatch.timefmt import utc_now

DEFAULT_TOLERANCE = Decimal("0.02")
CURRENCIES = ("EUR", "USD")
Progress = Callable[[int, int], None]


@dataclass(frozen=True, slots=True)
class PriceSettings:
    """One settings object for valuation: sources in order, tolerance, network on or off."""

    specs: tuple[str, ...] = DEFAULT_PRICES
    tolerance: Decimal = DEFAULT_TOLERANCE
    network: bool = True  # False: --offline, only the cache and the bundled table
    proxy: str | None = None
    transport: httpx.AsyncBaseTransport | None = None

    def http_options(self) -> HttpOptions:
        return HttpOptions(transport=self.transport, proxy=self.proxy, retry=PRICE_RETRY)


@dataclass(slots=True)
class UpdateResult:
    hours: int = 0
    fetched: int = 0  # prices newly cached
    requests: int = 0
    problems: list[str] = field(default_factory=list)


def _answered(found: Sequence[StoredPrice | Quote], source: str) -> bool:
    """Enough answers for a currency: two already, or one from this very source."""
    return len(found) >= 2 or any(q.source == source for q in found)


def _price(row: StoredPrice | Quote) -> TablePrice:
    moment = datetime.fromtimestamp(row.time, UTC)
    what = "hourly price" if row.resolution != DAY else "daily price"
    return TablePrice(
        row.currency,
        row.per_btc,
        moment.date(),
        f"{row.source} {what}",
        row.resolution,
        moment if row.resolution != DAY else None,
    )


class Valuer:
    """Prices from the configured sources, through the cache in ``store``."""

    def __init__(
        self,
        settings: PriceSettings,
        store: Store | None = None,
        *,
        sources: Sequence[PriceSource] | None = None,
        table: PriceLookup | None = None,
        ecb: EcbRates | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.settings = settings
        self.store = store
        if sources is None:
            sources = make_price_sources(settings.specs, settings.http_options())
        self.sources = list(sources)
        self.offline = OFFLINE in settings.specs
        self.table = (table or PriceTable.load_default()) if self.offline else None
        self._ecb = ecb
        self._clock = clock
        self.requests = 0

    @property
    def ecb(self) -> EcbRates:
        if self._ecb is None:
            self._ecb = EcbRates.load_default()
        return self._ecb

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.sources]

    async def aclose(self) -> None:
        for source in self.sources:
            await source.aclose()

    async def prepare(
        self, moments: Iterable[datetime], currencies: Sequence[str] = CURRENCIES
    ) -> PriceBook:
        """A book that knows the price of every moment's hour the sources could give."""
        wanted = tuple(dict.fromkeys(c.upper() for c in currencies))
        known: dict[tuple[str, int], TablePrice] = {}
        notes: list[str] = []
        down: dict[str, str] = {}
        for hour in sorted({hour_start(m) for m in moments}):
            for currency, price in (await self._hour(hour, wanted, down)).items():
                key = hour if price.resolution != DAY else day_start(price.day_used)
                known[(currency, key)] = price
        notes.extend(f"{name}: {why}" for name, why in down.items())
        if not self.settings.network and self.sources:
            notes.append("network price sources skipped (offline)")
        if not self.sources:
            notes.append("no network price source configured")
        notes.append("will be valued again on a later watch cycle or events --refresh-fiat")
        return PriceBook(known, self.table, {"*": "; ".join(notes)})

    async def _hour(
        self, hour: int, wanted: Sequence[str], down: dict[str, str]
    ) -> dict[str, TablePrice]:
        """The price of each wanted currency for one hour (missing ones left out)."""
        answers = self._cached(hour, wanted)
        if self.settings.network and any(len(answers.get(c, [])) < 2 for c in wanted):
            for source in self.sources:
                have = [
                    c for c in wanted if any(q.source == source.name for q in answers.get(c, []))
                ]
                need = [c for c in wanted if c not in have and len(answers.get(c, [])) < 2]
                if not need or source.name in down:
                    continue
                try:
                    quotes = await source.quotes(datetime.fromtimestamp(hour, UTC), need)
                except ProviderError as exc:
                    down[source.name] = str(exc)
                    continue
                finally:
                    self.requests = sum(s.requests for s in self.sources)
                self._cache(quotes)
                for q in quotes:
                    if q.currency in need and self._covers(q, hour):
                        answers.setdefault(q.currency, []).append(q)
        chosen: dict[str, TablePrice] = {}
        for currency in wanted:
            found = answers.get(currency, [])
            if found:
                chosen[currency] = self._choose(currency, hour, found)
        euro = chosen.get("EUR")
        for currency in wanted:
            if currency not in chosen and euro is not None:
                try:
                    chosen[currency] = self.ecb.convert(euro, currency)
                except InputError:
                    continue
        return chosen

    @staticmethod
    def _covers(q: StoredPrice | Quote, hour: int) -> bool:
        if q.resolution == DAY:
            return q.time == hour // DAY_SECONDS * DAY_SECONDS
        return q.time == hour

    def _cached(self, hour: int, wanted: Sequence[str]) -> dict[str, list[StoredPrice | Quote]]:
        if self.store is None:
            return {}
        order = {name: n for n, name in enumerate(self.names)}
        day = hour // DAY_SECONDS * DAY_SECONDS
        out: dict[str, list[StoredPrice | Quote]] = {}
        for currency in wanted:
            rows = [
                r
                for r in cached_prices(self.store, currency, day, hour)
                if r.source in order and self._covers(r, hour)
            ]
            rows.sort(key=lambda r: order[r.source])
            if rows:
                out[currency] = list(rows)
        return out

    def _cache(self, quotes: Sequence[Quote]) -> None:
        if self.store is None or not quotes:
            return
        by_evidence: dict[int, list[Quote]] = {}
        for q in quotes:
            by_evidence.setdefault(id(q.evidence), []).append(q)
        for group in by_evidence.values():
            save_prices(
                self.store,
                [(q.currency, q.time, q.resolution, q.per_btc, q.source) for q in group],
                group[0].evidence,
            )

    def _choose(self, currency: str, hour: int, found: Sequence[StoredPrice | Quote]) -> TablePrice:
        """The first hourly answer (else the first), checked against another of its kind."""
        order = {name: n for n, name in enumerate(self.names)}
        ranked = sorted(found, key=lambda q: (q.resolution == DAY, order.get(q.source, 99)))
        used = ranked[0]
        check = ""
        for other in ranked[1:]:
            if other.resolution != used.resolution or other.source == used.source:
                continue
            difference = abs(other.per_btc - used.per_btc) / used.per_btc
            apart = f"{difference * 100:.2f}%"
            if difference <= self.settings.tolerance:
                check = f"checked against {other.source} ({apart} apart)"
            else:
                check = (
                    f"price_disagreement: {other.source} says {other.per_btc} ({apart} apart, "
                    f"more than {self.settings.tolerance * 100:.0f}%)"
                )
            if difference > self.settings.tolerance and self.store is not None:
                record_price_disagreement(
                    self.store,
                    PriceDisagreement(
                        currency,
                        used.time,
                        used.resolution,
                        used.source,
                        used.per_btc,
                        other.source,
                        other.per_btc,
                        difference.quantize(Decimal("0.0001")),
                        self.settings.tolerance,
                    ),
                )
            break
        price = _price(used)
        return replace(price, source=f"{price.source}; {check}") if check else price

    async def update(
        self,
        start: datetime,
        end: datetime,
        currencies: Sequence[str] = CURRENCIES,
        progress: Progress | None = None,
    ) -> UpdateResult:
        """Fill the cache for every hour of [start, end] (sources are asked only when missing)."""
        first = hour_start(start)
        last = hour_start(min(end, self._clock()))
        total = max(0, (last - first) // HOUR_SECONDS + 1)
        result = UpdateResult(hours=total)
        down: dict[str, str] = {}
        before = self._count()
        for n, hour in enumerate(range(first, last + 1, HOUR_SECONDS)):
            await self._hour(hour, tuple(c.upper() for c in currencies), down)
            if progress is not None:
                progress(n + 1, total)
            if down and len(down) == len(self.sources):
                break
        result.fetched = self._count() - before
        result.requests = self.requests
        result.problems = [f"{name}: {why}" for name, why in down.items()]
        return result

    def _count(self) -> int:
        if self.store is None:
            return 0
        return cached_price_count(self.store)


def moments_of(times: Iterable[int | None]) -> list[datetime]:
    """Unix times -> aware datetimes, skipping unknown ones."""
    return [datetime.fromtimestamp(t, UTC) for t in times if t]
