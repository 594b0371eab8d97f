"""One exception tree, so callers catch exactly what they can handle.

BtcwatchError
 ├── InputError               bad user input: CLI exit code 2
 │    ├── AddressError        an address string that is not valid (names the reason)
 │    ├── AmountError         an amount such as "200EUR" that cannot be read
 │    ├── CaseError           unknown or duplicate case
 │    └── ConfigError         bad setting, explorer name, proxy URL
 ├── ParseError               bytes or JSON that are not what they claim (raw tx, block)
 ├── ProviderError            an explorer failed; carries provider name and URL
 │    ├── NotFound            404: unknown tx, block or address
 │    ├── RateLimited         429 after every retry
 │    ├── Unavailable         5xx, timeouts, connection or proxy failures after every retry
 │    └── BadResponse         malformed or inconsistent body
 ├── StoreError               the database refused (locked too long, schema too new)
 └── LockBusy                 another `watch --once` holds the lock
"""

from __future__ import annotations


class BtcwatchError(Exception):
    """Base of every error btcwatch raises on purpose."""


class InputError(BtcwatchError):
    """The user gave something we cannot use; the message names what and why."""


class AddressError(InputError):
    """An address string failed validation."""


class AmountError(InputError):
    """An amount or demand string could not be parsed."""


class CaseError(InputError):
    """A case that does not exist, or already exists."""


class ConfigError(InputError):
    """A setting that cannot be used (explorer name, proxy URL, TOML file)."""


class ParseError(BtcwatchError):
    """Bytes or a document that do not parse as what they claim to be."""


class ProviderError(BtcwatchError):
    """An explorer request failed for good; the message names provider and URL."""

    def __init__(self, message: str, *, provider: str = "", url: str = "") -> None:
        self.provider = provider
        self.url = url
        prefix = f"{provider}: " if provider else ""
        suffix = f" ({url})" if url else ""
        super().__init__(f"{prefix}{message}{suffix}")


class NotFound(ProviderError):
    """The explorer does not know the tx, block or address (404)."""


class RateLimited(ProviderError):
    """The explorer kept answering 429 after every retry."""


class Unavailable(ProviderError):
    """5xx, timeout, connection or proxy failure after every retry."""


class BadResponse(ProviderError):
    """The explorer answered with a body we cannot trust (malformed, truncated, inconsistent)."""


class StoreError(BtcwatchError):
    """The database could not be read or written."""


class LockBusy(BtcwatchError):
    """Another watch run holds the lock next to the database."""
