"""btcwatch: a Bitcoin ransom-payment monitor for investigators."""

__version__ = "0.1.0"
