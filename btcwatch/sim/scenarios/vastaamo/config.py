"""The Vastaamo scenario's knobs and the facts of the case it is modelled on.

The demands (40 BTC from the company, 200 EUR within 24 hours then 500 EUR from each patient)
and the e-mail date are the public facts of October 2020; the offsets of the extortionist's
moves and the fictional exchanges are the story's. `VastaamoConfig` is what a caller varies.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from btcwatch.chain.network import MAINNET, Network
from btcwatch.chain.script import ScriptType
from btcwatch.errors import BtcwatchError, InputError

__all__ = ["EMAILS_AT", "EXCHANGES", "EurRate", "VastaamoConfig", "default_eur_per_btc"]

SATS = 100_000_000
EMAILS_AT = datetime(2020, 10, 24, 8, 0, tzinfo=UTC)
COMPANY_DEMAND_BTC = 40
DEMAND_EUR = Decimal(200)
LATE_DEMAND_EUR = Decimal(500)
DEADLINE_BLOCKS = 144  # 24 hours
LATE_END = 288  # the late window closes after 48 hours
SWEEP_OFFSETS = (48, 96, 144, 192, 240, 292)
MERGE_OFFSET = 294
PEEL_OFFSET = 298
DENOMINATION = 10_000_000  # 0.1 BTC, Wasabi 1.x's base denomination
MAX_ATTACKER_EQUAL = 100
FIXED_EUR_PER_BTC = Decimal(10_000)

#: Fictional exchanges: name, script type of their wallets, share of victims who use them.
EXCHANGES: tuple[tuple[str, ScriptType, int], ...] = (
    ("Coinbank", ScriptType.P2PKH, 30),
    ("Bitharbor", ScriptType.P2SH, 25),
    ("Polarex", ScriptType.P2WPKH, 20),
    ("Nordvault", ScriptType.P2WSH, 15),
    ("Satoshi Square", ScriptType.P2TR, 10),
)

EurRate = Callable[[date], Decimal]


def default_eur_per_btc() -> tuple[EurRate, str]:
    """The bundled daily EUR close (btcwatch.prices), else a fixed 10,000 EUR/BTC."""
    try:
        from btcwatch.prices import PriceTable

        table = PriceTable.load_default()
        table.price(EMAILS_AT.date(), "EUR")
    except (ImportError, OSError, BtcwatchError):
        return (lambda _day: FIXED_EUR_PER_BTC), "fixed 10,000 EUR/BTC"

    last = table.last_day("EUR")

    def rate(day: date) -> Decimal:
        # A story placed after the table (``--start 2026-09-21``) keeps its last close.
        return table.price(min(day, last), "EUR").per_btc

    return rate, f"{table.source} (days after {last}: its last close, fictional)"


@dataclass(frozen=True, slots=True)
class VastaamoConfig:
    """The knobs of the scenario; the same config always yields the same chain."""

    victims: int = 300
    seed: int = 2020
    background: int = 5
    network: Network = MAINNET
    emails_at: datetime = EMAILS_AT
    eur_per_btc: EurRate | None = None
    peel_hops: int = 8
    coinjoin_peers: int = 30
    sweep_batch: int = 20
    exchanges: tuple[tuple[str, ScriptType, int], ...] = EXCHANGES
    #: Coins funded for the mainnet profile's traffic (0: none, the small chain is unchanged).
    traffic_coins: int = 0
    traffic_hot_sat: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.victims <= 1_000_000:
            raise InputError(f"victims must be 1..1,000,000, got {self.victims}")
        if self.background < 0:
            raise InputError(f"background must be >= 0, got {self.background}")
        if not 1 <= self.peel_hops <= 100:
            raise InputError(f"peel_hops must be 1..100, got {self.peel_hops}")
        if not 2 <= self.coinjoin_peers <= 400:
            raise InputError(f"coinjoin_peers must be 2..400, got {self.coinjoin_peers}")
        if not 2 <= self.sweep_batch <= 500:
            raise InputError(f"sweep_batch must be 2..500, got {self.sweep_batch}")
        if not self.exchanges:
            raise InputError("at least one exchange is needed")
        if self.emails_at.tzinfo is None:
            raise InputError("emails_at must be timezone-aware (UTC)")
