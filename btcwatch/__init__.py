"""btcwatch: a Bitcoin ransom-payment monitor for investigators."""

__version__ = "0.2.0"
