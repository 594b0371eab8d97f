"""Settings, read once at the CLI edge: flags over BTCWATCH_* environment over a TOML file.

Nothing below the CLI reads the environment; everything gets its settings passed in.

The TOML file (``--config``, ``BTCWATCH_CONFIG``, or ``config.toml`` in the user config
directory) uses the same names as the environment without the prefix, in lower case::

    db = "/var/lib/btcwatch/cases.db"
    explorer = ["mempool", "blockstream"]
    proxy = "socks5://127.0.0.1:9050"
    network = "mainnet"
    confirmations = 1
    mempool = "hot"      # watch, block mode: hot | full | off
    hot_set = 20         # watch: addresses whose mempool a block-mode tick reads
    budget = 300         # watch: requests per tick (default: from the explorer's rate)
    webhook_secret = "..."
    prices = "mempool,kraken,offline"   # price sources in order (or a list)
    price_tolerance = "2%"              # two sources further apart: price_disagreement
    offline = false     # true (or --offline, BTCWATCH_OFFLINE=1): no network price source is
                        # asked and no Merkle proof fetched; explorers are still used
    [smtp]
    host = "localhost"
    port = 25
    sender = "btcwatch@example.org"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import platformdirs

from btcwatch.errors import ConfigError

APP = "btcwatch"
DEFAULT_EXPLORERS = ("mempool", "blockstream")
DEFAULT_PRICES = ("mempool", "kraken", "offline")


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    sender: str = "btcwatch@localhost"
    username: str | None = None
    password: str | None = None
    starttls: bool = False


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable, with the value's origin resolved already."""

    db: Path
    explorers: tuple[str, ...] = DEFAULT_EXPLORERS
    proxy: str | None = None
    network: str = "mainnet"
    confirmations: int = 1
    rate: float | None = None
    retries: int = 5  # tries per request before an explorer counts as failed
    webhook_secret: str | None = None
    # watch: the tick's cost (see btcwatch/watch/mempool.py, hotset.py, budget.py)
    mempool: str = "hot"
    hot_set: int = 20
    budget: int | None = None  # None: derived from the explorer's rate and the interval
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    prices: tuple[str, ...] = DEFAULT_PRICES
    price_tolerance: Decimal = Decimal("0.02")
    offline: bool = False  # prices and proofs only: explorer commands still need an explorer


_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def _bool(value: Any, name: str) -> bool:
    """``true``/``1``/``yes``/``on`` (TOML booleans too); anything unclear is refused."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false (1 or 0), not {value!r}")


def _tolerance(value: Any) -> Decimal:
    """``0.02``, ``"2%"`` -> Decimal("0.02"); between 0 and 1."""
    text = str(value).strip()
    try:
        share = Decimal(text[:-1]) / 100 if text.endswith("%") else Decimal(text)
    except InvalidOperation:
        raise ConfigError(f"price_tolerance must be e.g. 0.02 or 2%, not {value!r}") from None
    if not (share.is_finite() and 0 <= share < 1):
        raise ConfigError(f"price_tolerance must be between 0 and 1 (2% = 0.02), not {value!r}")
    return share


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir(APP)) / "btcwatch.db"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP)) / "config.toml"


def _split_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


def _read_toml(path: Path, explicit: bool) -> dict[str, Any]:
    if not path.exists():
        if explicit:
            raise ConfigError(f"config file {path} does not exist")
        return {}
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cannot read config file {path}: not UTF-8 text "
            f"(byte {exc.start} is 0x{exc.object[exc.start]:02x})"
        ) from None


def _int(value: Any, name: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


def _positive(value: int, name: str) -> int:
    if value < 1:
        raise ConfigError(f"{name} must be at least 1, not {value}")
    return value


def load_settings(
    *,
    config_path: Path | None = None,
    env: Mapping[str, str] | None = None,
    **flags: Any,
) -> Settings:
    """Merge defaults, the TOML file, ``BTCWATCH_*`` variables and flags (None = not given)."""
    env = os.environ if env is None else env
    explicit = config_path is not None or "BTCWATCH_CONFIG" in env
    path = config_path or Path(env.get("BTCWATCH_CONFIG", "") or default_config_path())
    raw: dict[str, Any] = _read_toml(path, explicit)

    for key in (
        "db",
        "explorer",
        "proxy",
        "network",
        "confirmations",
        "rate",
        "retries",
        "webhook_secret",
        "mempool",
        "hot_set",
        "budget",
        "prices",
        "price_tolerance",
        "offline",
    ):
        value = env.get(f"BTCWATCH_{key.upper()}")
        if value:
            raw[key] = value
    for key, value in flags.items():
        if value is not None and value != () and value != []:
            raw[key] = value

    explorers = raw.get("explorer", DEFAULT_EXPLORERS)
    if isinstance(explorers, str):
        explorers = _split_list(explorers)
    smtp_raw = dict(raw.get("smtp", {}))
    for key in ("host", "port", "sender", "username", "password"):
        value = env.get(f"BTCWATCH_SMTP_{key.upper()}")
        if value:
            smtp_raw[key] = value
    try:
        smtp = SmtpSettings(**smtp_raw)
        smtp = replace(smtp, port=_int(smtp.port, "smtp.port"))
    except TypeError as exc:
        raise ConfigError(f"bad [smtp] settings: {exc}") from None
    prices = raw.get("prices", DEFAULT_PRICES)
    if isinstance(prices, str):
        prices = _split_list(prices)
    rate = raw.get("rate")
    try:
        rate_value = None if rate is None else float(rate)
    except ValueError:
        raise ConfigError(f"rate must be requests per second, not {rate!r}") from None
    return Settings(
        db=Path(raw.get("db") or default_db_path()).expanduser(),
        explorers=tuple(explorers),
        proxy=raw.get("proxy") or None,
        network=str(raw.get("network", "mainnet")),
        confirmations=_int(raw.get("confirmations", 1), "confirmations"),
        rate=rate_value,
        retries=_positive(_int(raw.get("retries", 5), "retries"), "retries"),
        webhook_secret=raw.get("webhook_secret") or None,
        mempool=str(raw.get("mempool", "hot")).strip().lower(),
        hot_set=_int(raw.get("hot_set", 20), "hot_set"),
        budget=None if raw.get("budget") is None else _int(raw["budget"], "budget"),
        smtp=smtp,
        prices=tuple(str(p) for p in prices),
        price_tolerance=_tolerance(raw.get("price_tolerance", "0.02")),
        offline=_bool(raw.get("offline", False), "offline"),
    )
