"""A Vastaamo-like extortion, block by block, with its ground truth.

Modelled on the public facts of the October 2020 case: an extortionist who had stolen a
psychotherapy provider's patient records demanded 40 BTC from the company, then e-mailed
patients asking for about 200 EUR in bitcoin within 24 hours and 500 EUR after that. Everything
else (exchanges, names, amounts, addresses) is invented; exchange names are fictional.

The story, in block offsets from the e-mail wave (10 minutes a block):
  victims withdraw from exchange hot wallets (batched withdrawals), then pay their own ransom
  address: on time (200 EUR, first 144 blocks), late (500 EUR), partial, twice, or never; a few
  payments sit in the mempool for several blocks, one is replaced by fee (RBF), one is first
  confirmed in a block that a 1-block reorg orphans. The extortionist sweeps the ransom
  addresses in co-spending batches (+48, +96, ... +292), merges the sweeps, peels payments to
  exchange deposit addresses off a chain of 1-in-2-out transactions, and mixes the rest in an
  equal-output CoinJoin. Exchanges sweep deposits into their (tagged) hot wallets, a stranger
  sends dust to attacker addresses, and unrelated users transact in every block.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from btcwatch.chain.network import MAINNET, Network
from btcwatch.sim.blocks import MempoolOnly, PlannedBlock
from btcwatch.sim.scenarios.vastaamo.config import (
    EMAILS_AT,
    EurRate,
    VastaamoConfig,
    default_eur_per_btc,
)
from btcwatch.sim.scenarios.vastaamo.story import Story
from btcwatch.sim.scenarios.vastaamo.truth import ground_truth

__all__ = ["VastaamoConfig", "VastaamoScenario", "default_eur_per_btc", "vastaamo"]


class VastaamoScenario:
    """The scenario: generate its blocks (repeatably) and read its ground truth."""

    name = "vastaamo"

    def __init__(self, config: VastaamoConfig) -> None:
        self.config = config
        self.network = config.network
        self._truth: dict[str, Any] | None = None
        self._mempool_only: list[MempoolOnly] = []
        self._blocks: list[PlannedBlock] | None = None
        self.story: Story | None = None  # the last generation run (its coins and keys)

    def iter_blocks(self) -> Iterator[PlannedBlock]:
        """Generate the chain from the seed, block by block (stale blocks come first).

        Streaming: nothing but the scenario's own entities is kept, so a million transactions
        fit in modest memory. The ground truth is recorded as a side effect.
        """
        story = Story(self.config)
        self.story = story
        yield from story.blocks()
        self._mempool_only = list(story.mempool_only)
        self._truth = ground_truth(story)

    @property
    def blocks(self) -> list[PlannedBlock]:
        """All blocks, kept in memory (convenient for small chains and tests)."""
        if self._blocks is None:
            self._blocks = list(self.iter_blocks())
        return self._blocks

    def mempool_only(self) -> list[MempoolOnly]:
        """Transactions broadcast but never mined (the fee-replaced payment)."""
        self.ground_truth()
        return list(self._mempool_only)

    def ground_truth(self) -> dict[str, Any]:
        if self._truth is None:
            for _ in self.iter_blocks():
                pass
        assert self._truth is not None
        return self._truth

    def default_tip(self) -> int:
        """Where a served chain starts: just before the first ransom payment is seen."""
        return int(self.ground_truth()["start_tip_height"])

    def write_ground_truth(self, path: Path | str) -> Path:
        target = Path(path)
        target.write_text(json.dumps(self.ground_truth(), indent=1) + "\n", encoding="utf-8")
        return target

    def write_tagpack(self, path: Path | str) -> Path:
        import yaml

        target = Path(path)
        text = yaml.safe_dump(self.ground_truth()["tagpack"], sort_keys=False)
        target.write_text(text, encoding="utf-8")
        return target

    def write_ransom_emails(self, path: Path | str) -> Path:
        target = Path(path)
        target.write_text(self.ground_truth()["ransom_emails"], encoding="utf-8")
        return target


def vastaamo(
    victims: int = 300,
    seed: int = 2020,
    *,
    background: int = 5,
    network: Network = MAINNET,
    eur_per_btc: EurRate | None = None,
    emails_at: datetime = EMAILS_AT,
    peel_hops: int = 8,
    coinjoin_peers: int = 30,
    sweep_batch: int = 20,
) -> VastaamoScenario:
    """The Vastaamo-like extortion scenario (see the module docstring for the story)."""
    config = VastaamoConfig(
        victims=victims,
        seed=seed,
        background=background,
        network=network,
        emails_at=emails_at,
        eur_per_btc=eur_per_btc,
        peel_hops=peel_hops,
        coinjoin_peers=coinjoin_peers,
        sweep_batch=sweep_batch,
    )
    return VastaamoScenario(config)
