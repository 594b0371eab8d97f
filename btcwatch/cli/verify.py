"""`verify`: check an evidence bundle offline; exit 0 when everything holds, 1 otherwise."""

from __future__ import annotations

from pathlib import Path

import typer

from btcwatch.cli.context import EXIT_FAILURE, emit_json, info
from btcwatch.verify import verify_bundle


def verify(
    bundle: Path = typer.Argument(..., help="The evidence bundle's folder."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable result on stdout."),
) -> None:
    """Check an evidence bundle offline: hashes, raw answers, Merkle proofs, every figure."""
    result = verify_bundle(bundle)
    if as_json:
        emit_json(result.to_json())
    else:
        for problem in result.problems:
            typer.echo(f"FAIL {problem}")
        waiting = [t for t, why in sorted(result.unproven.items()) if why == "unconfirmed"]
        for txid in waiting:
            typer.echo(f"note tx {txid} was unconfirmed when bundled: nothing to prove yet")
        sim = " (simulated chain: regtest proof of work)" if result.simulated else ""
        typer.echo(
            f"{'OK' if result.ok else 'NOT OK'}: {result.files} files, "
            f"{result.responses} raw answers, {result.txs_proven} of {result.txs_total} "
            f"transactions proven in a block{sim}, {result.figures} report figures recomputed"
        )
    if not result.ok:
        info(f"btcwatch: error: the bundle does not verify ({len(result.problems)} problems)")
        raise typer.Exit(EXIT_FAILURE)
