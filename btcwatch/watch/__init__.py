"""Watching ransom addresses: poll (address or block-scan mode), diff into events, alert.

`service.run_watch` is the entry point the CLI uses; `runner.run_cycle` is one cycle.
"""
