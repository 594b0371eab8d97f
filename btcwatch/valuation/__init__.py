"""Valuation: which price a payment gets, from which source, checked and cached.

Above the providers (price sources) and the store (price cache), below watch, trace and
report, which receive a ready `btcwatch.prices.book.PriceBook` and stay pure.
"""

from btcwatch.valuation.service import DEFAULT_TOLERANCE, PriceSettings, UpdateResult, Valuer

__all__ = ["DEFAULT_TOLERANCE", "PriceSettings", "UpdateResult", "Valuer"]
