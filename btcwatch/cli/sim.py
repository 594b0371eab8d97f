"""`btcwatch sim`: generate the simulated chain or serve it as an Esplora API (no internet)."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Literal

import typer

from btcwatch.chain.network import network_by_name
from btcwatch.errors import ConfigError
from btcwatch.sim.chain import MempoolMode, SimChain
from btcwatch.sim.faults import Faults, parse_kinds
from btcwatch.sim.files import BlockFormat, write_blocks, write_chain
from btcwatch.sim.mainnet import PROFILES, MainnetProfile, mainnet_chain, mainnet_scenario
from btcwatch.sim.prices import scenario_prices, set_prices, story_start
from btcwatch.sim.scenarios import SCENARIOS
from btcwatch.sim.scenarios.vastaamo import VastaamoScenario
from btcwatch.sim.server import SimServer

app = typer.Typer(
    help="A deterministic simulated Bitcoin chain and a loopback Esplora server for it.",
    no_args_is_help=True,
)


def _scenario(
    name: str, victims: int, seed: int, background: int, network: str, start: str | None = None
) -> VastaamoScenario:
    factory = SCENARIOS.get(name)
    if factory is None:
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    net = network_by_name(network)
    if start is None:
        return factory(victims, seed, background=background, network=net)
    return factory(victims, seed, background=background, network=net, emails_at=story_start(start))


StartOption = typer.Option(
    None, "--start", help="Place the story at this date or UTC time (e.g. 2026-09-21)."
)


def _profile(name: str, rate: float, backlog: int, hot_history: int) -> MainnetProfile | None:
    """None for the small profile; the mainnet profile's settings otherwise."""
    if name not in PROFILES:
        raise ConfigError(f"--profile must be {' or '.join(PROFILES)}, got {name!r}")
    if name == "small":
        return None
    return MainnetProfile(mempool_rate=rate, mempool_backlog=backlog, hot_history=hot_history)


def _mainnet_story(
    name: str,
    victims: int,
    seed: int,
    background: int,
    network: str,
    profile: MainnetProfile,
    start: str | None = None,
) -> VastaamoScenario:
    if name not in SCENARIOS:
        raise ConfigError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})")
    return mainnet_scenario(
        victims,
        seed,
        background=background,
        network=network_by_name(network),
        profile=profile,
        emails_at=None if start is None else story_start(start),
    )


_PROFILE_HELP = "small (a few txs a block, for tests) or mainnet (~3,000 txs a block)."
# The mainnet profile's options, shared by `sim serve` and `sim generate`.
ProfileOption = typer.Option("small", "--profile", help=_PROFILE_HELP)
MempoolRateOption = typer.Option(
    5.0, "--mempool-rate", help="mainnet: unrelated txs a simulated second into the mempool."
)
MempoolBacklogOption = typer.Option(
    20_000, "--mempool-backlog", help="mainnet: unrelated txs in the mempool at the start."
)


def _tip(text: str) -> int | Literal["start", "end"]:
    if text == "start":
        return "start"
    if text == "end":
        return "end"
    if text.isdigit():
        return int(text)
    raise ConfigError(f"--tip must be start, end or a block height, got {text!r}")


@app.command("serve")
def serve(
    scenario: str = typer.Option("vastaamo", "--scenario", help="Which story to generate."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback)."),
    port: int = typer.Option(0, "--port", help="TCP port; 0 picks a free one."),
    victims: int = typer.Option(300, "--victims", help="Number of e-mailed victims."),
    seed: int = typer.Option(2020, "--seed", help="Seed: the same seed gives the same chain."),
    background: int = typer.Option(5, "--background", help="Unrelated txs per block."),
    network: str = typer.Option("mainnet", "--network", help="mainnet, testnet, regtest."),
    tip: str = typer.Option(
        "start",
        "--tip",
        help="Where the tip starts: start (before the first payment), end, or a height.",
    ),
    mempool: str = typer.Option(
        "all",
        "--mempool",
        help="all: the next block's txs wait in the mempool; early: only "
        "those the scenario broadcasts early.",
    ),
    faults: float = typer.Option(0.0, "--faults", help="Fraction of requests that fail (0-1)."),
    fault_seed: int = typer.Option(0, "--fault-seed", help="Seed of the fault sequence."),
    fault_kinds: str = typer.Option(
        "500,502,503,slow,drop,truncate", "--fault-kinds", help="Comma-separated fault kinds."
    ),
    rate_limit: float | None = typer.Option(
        None, "--rate-limit", help="Requests per second before answering 429 (token bucket)."
    ),
    ground_truth: Path | None = typer.Option(
        None, "--ground-truth", help="Write the scenario's ground truth JSON here."
    ),
    tagpack: Path | None = typer.Option(
        None, "--tagpack", help="Write the exchanges' hot wallets as a TagPack YAML here."
    ),
    emails: Path | None = typer.Option(
        None, "--emails", help="Write the ransom e-mails (with the ransom addresses) here."
    ),
    auto_advance: float | None = typer.Option(
        None, "--auto-advance", help="Mine the next block every this many seconds."
    ),
    profile: str = ProfileOption,
    mempool_rate: float = MempoolRateOption,
    mempool_backlog: int = MempoolBacklogOption,
    hot_history: int = typer.Option(
        100_000, "--hot-history", help="mainnet: older txs of each exchange's hot wallet."
    ),
    start: str | None = StartOption,
) -> None:
    """Serve the simulated chain as an Esplora API until SIGINT or SIGTERM."""
    if mempool not in ("all", "early"):
        raise ConfigError(f"--mempool must be all or early, got {mempool!r}")
    mode: MempoolMode = "early" if mempool == "early" else "all"
    settings = _profile(profile, mempool_rate, mempool_backlog, hot_history)
    chain: SimChain
    if settings is None:
        story = _scenario(scenario, victims, seed, background, network, start)
        chain = SimChain.from_scenario(story, tip=_tip(tip), mempool=mode)
    else:
        story = _mainnet_story(scenario, victims, seed, background, network, settings, start)
        chain = mainnet_chain(story, profile=settings, tip=_tip(tip), mempool=mode)
        chain.mempool()  # make the backlog now, not on the first request
    if ground_truth is not None:
        story.write_ground_truth(ground_truth)
    if tagpack is not None:
        story.write_tagpack(tagpack)
    if emails is not None:
        story.write_ransom_emails(emails)
    injected = Faults(faults, seed=fault_seed, kinds=parse_kinds(fault_kinds)) if faults else None
    server = SimServer(chain, host=host, port=port, faults=injected, rate_limit=rate_limit)
    set_prices(server, scenario_prices(story))
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    with server:
        typer.echo(f"serving Esplora API at {server.url}")
        sys.stdout.flush()  # scripts wait for this line on a pipe
        if auto_advance:
            while not stop.wait(auto_advance):
                chain.advance()
        else:
            stop.wait()


@app.command("generate")
def generate(
    out: Path = typer.Option(..., "-o", "--out", help="Directory to write into."),
    scenario: str = typer.Option("vastaamo", "--scenario", help="Which story to generate."),
    victims: int = typer.Option(300, "--victims", help="Number of e-mailed victims."),
    seed: int = typer.Option(2020, "--seed", help="Seed: the same seed gives the same chain."),
    background: int = typer.Option(5, "--background", help="Unrelated txs per block."),
    network: str = typer.Option("mainnet", "--network", help="mainnet, testnet, regtest."),
    fmt: str = typer.Option(
        "blk", "--format", help="blk (blk*.dat records) or raw (one file a block)."
    ),
    profile: str = ProfileOption,
    blocks: int = typer.Option(
        6, "--blocks", help="mainnet: blocks of traffic mined after the story's start."
    ),
    mempool_rate: float = MempoolRateOption,
    mempool_backlog: int = MempoolBacklogOption,
    start: str | None = StartOption,
) -> None:
    """Write the raw blocks, ground-truth.json, a tag pack and the ransom e-mails."""
    if fmt not in ("blk", "raw"):
        raise ConfigError(f"--format must be blk or raw, got {fmt!r}")
    if blocks < 0:
        raise ConfigError(f"--blocks must be >= 0, got {blocks}")
    settings = _profile(profile, mempool_rate, mempool_backlog, 0)
    kind: BlockFormat = "raw" if fmt == "raw" else "blk"
    if settings is None:
        written = write_chain(
            _scenario(scenario, victims, seed, background, network, start), out, kind
        )
    else:
        story = _mainnet_story(scenario, victims, seed, background, network, settings, start)
        chain = mainnet_chain(story, profile=settings)
        chain.advance(blocks)
        written = write_blocks(chain, story, out, kind)
    typer.echo(
        f"wrote {written.blocks} blocks ({written.txs} txs) in {len(written.block_files)} "
        f"file(s) and ground truth to {written.directory}"
    )
