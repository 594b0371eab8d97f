"""The trace's I/O room: the only part of `btcwatch.trace` that reads the store or asks a provider.

`source` (the store-backed `CachedChain`), `service` (`btcwatch trace` as a library call) and
`stored` (saving a run and reopening it) feed the pure core (`follow`, `analyse`, `graph`) with
data and keep what it returns; import-linter keeps the store, providers and HTTP out of every
other trace module.
"""
