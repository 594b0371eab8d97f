"""Networks as plain data, passed explicitly: no process-global chain selection."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Network:
    """Address encoding parameters of one Bitcoin network."""

    name: str
    p2pkh_version: int
    p2sh_version: int
    hrp: str

    def __str__(self) -> str:
        return self.name


MAINNET = Network("mainnet", 0x00, 0x05, "bc")
TESTNET = Network("testnet", 0x6F, 0xC4, "tb")
SIGNET = Network("signet", 0x6F, 0xC4, "tb")
REGTEST = Network("regtest", 0x6F, 0xC4, "bcrt")

NETWORKS: dict[str, Network] = {n.name: n for n in (MAINNET, TESTNET, SIGNET, REGTEST)}


def network_by_name(name: str) -> Network:
    """Look a network up by name ("mainnet", "testnet", "signet", "regtest")."""
    try:
        return NETWORKS[name.lower()]
    except KeyError:
        from btcwatch.errors import ConfigError

        raise ConfigError(f"unknown network {name!r} (use one of {', '.join(NETWORKS)})") from None
