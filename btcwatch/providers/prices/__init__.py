"""BTC price sources: mempool.space-compatible APIs, Kraken OHLC, and their pure parsers.

Each source answers "the price of one BTC in the hour of this moment" with `Quote` values
(hourly where the source has them, else daily) and the raw response they came from; the
choice between sources, cross-checking and caching happen above, in `btcwatch.valuation`.
"""

from btcwatch.providers.prices.base import PriceSource, Quote
from btcwatch.providers.prices.factory import (
    KNOWN_SOURCES,
    OFFLINE,
    make_price_sources,
    parse_price_specs,
)

__all__ = [
    "KNOWN_SOURCES",
    "OFFLINE",
    "PriceSource",
    "Quote",
    "make_price_sources",
    "parse_price_specs",
]
