"""The database schema as a history of migrations: safe to re-run, readable with plain sqlite3.

Table and column names are meant for investigators browsing the file in Datasette; JSON columns
appear only where the structure varies (event details, heuristic facts).
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("btcwatch")


@migrations()
def m001_cases_and_addresses(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE cases (
            name TEXT PRIMARY KEY,
            title TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            network TEXT NOT NULL DEFAULT 'mainnet',
            created_at TEXT NOT NULL
        );
        CREATE TABLE addresses (
            id INTEGER PRIMARY KEY,
            case_name TEXT NOT NULL REFERENCES cases(name),
            address TEXT NOT NULL,
            script_hex TEXT NOT NULL,
            script_type TEXT NOT NULL,
            role TEXT NOT NULL DEFAULT 'ransom',
            label TEXT NOT NULL DEFAULT '',
            note TEXT NOT NULL DEFAULT '',
            demand TEXT,
            source TEXT NOT NULL DEFAULT '',
            added_at TEXT NOT NULL,
            UNIQUE (case_name, address)
        );
        CREATE INDEX addresses_script ON addresses(script_hex);
        """
    )


@migrations()
def m002_chain_data_and_evidence(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            url TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            status INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            body BLOB NOT NULL
        );
        CREATE INDEX evidence_sha256 ON evidence(sha256);
        CREATE TABLE transactions (
            txid TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            locktime INTEGER NOT NULL,
            block_height INTEGER,
            block_hash TEXT,
            block_time INTEGER,
            fee_sat INTEGER,
            size INTEGER,
            weight INTEGER,
            input_count INTEGER NOT NULL,
            output_count INTEGER NOT NULL,
            first_seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            evidence_id INTEGER REFERENCES evidence(id)
        );
        CREATE TABLE tx_inputs (
            txid TEXT NOT NULL REFERENCES transactions(txid),
            vin INTEGER NOT NULL,
            prev_txid TEXT,
            prev_vout INTEGER,
            sequence INTEGER NOT NULL,
            value_sat INTEGER,
            address TEXT,
            script_hex TEXT,
            PRIMARY KEY (txid, vin)
        );
        CREATE INDEX tx_inputs_prevout ON tx_inputs(prev_txid, prev_vout);
        CREATE INDEX tx_inputs_address ON tx_inputs(address);
        CREATE TABLE tx_outputs (
            txid TEXT NOT NULL REFERENCES transactions(txid),
            vout INTEGER NOT NULL,
            value_sat INTEGER NOT NULL,
            address TEXT,
            script_hex TEXT NOT NULL,
            script_type TEXT NOT NULL,
            PRIMARY KEY (txid, vout)
        );
        CREATE INDEX tx_outputs_address ON tx_outputs(address);
        """
    )


@migrations()
def m003_tags(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE tags (
            id INTEGER PRIMARY KEY,
            address TEXT NOT NULL,
            label TEXT NOT NULL,
            category TEXT NOT NULL,
            entity TEXT,
            source TEXT NOT NULL DEFAULT '',
            confidence TEXT,
            pack TEXT NOT NULL DEFAULT '',
            imported_at TEXT NOT NULL,
            UNIQUE (address, label, source)
        );
        CREATE INDEX tags_address ON tags(address);
        """
    )


@migrations()
def m004_events_and_watch_state(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE events (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            case_name TEXT NOT NULL,
            address TEXT,
            txid TEXT,
            vout INTEGER,
            value_sat INTEGER,
            height INTEGER,
            block_hash TEXT,
            seen_at TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            reverted_by TEXT,
            reverted_at TEXT
        );
        CREATE INDEX events_case_kind ON events(case_name, kind);
        CREATE INDEX events_txid ON events(txid);
        CREATE TABLE outbox (
            event_id TEXT NOT NULL REFERENCES events(id),
            sink TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (event_id, sink)
        );
        CREATE INDEX outbox_pending ON outbox(status, sink);
        CREATE TABLE watched_outputs (
            case_name TEXT NOT NULL,
            address TEXT NOT NULL,
            txid TEXT NOT NULL,
            vout INTEGER NOT NULL,
            value_sat INTEGER NOT NULL,
            script_hex TEXT NOT NULL,
            height INTEGER,
            block_hash TEXT,
            spent_by TEXT,
            spent_vin INTEGER,
            spent_height INTEGER,
            PRIMARY KEY (case_name, txid, vout)
        );
        CREATE INDEX watched_outputs_unspent ON watched_outputs(spent_by);
        CREATE TABLE address_state (
            address TEXT PRIMARY KEY,
            stats TEXT,
            synced_at TEXT
        );
        CREATE TABLE scanned_blocks (
            height INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            prev_hash TEXT,
            time INTEGER,
            scanned_at TEXT NOT NULL
        );
        CREATE TABLE watch_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """
    )


@migrations()
def m005_trace_runs(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE trace_runs (
            id INTEGER PRIMARY KEY,
            case_name TEXT,
            sources TEXT NOT NULL,
            params TEXT NOT NULL,
            status TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            requests INTEGER NOT NULL DEFAULT 0,
            summary TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE trace_txs (
            run_id INTEGER NOT NULL REFERENCES trace_runs(id),
            txid TEXT NOT NULL,
            hop INTEGER NOT NULL,
            walked INTEGER NOT NULL,
            PRIMARY KEY (run_id, txid)
        );
        CREATE TABLE trace_sources (
            run_id INTEGER NOT NULL REFERENCES trace_runs(id),
            txid TEXT NOT NULL,
            vout INTEGER NOT NULL,
            address TEXT,
            value_sat INTEGER NOT NULL,
            PRIMARY KEY (run_id, txid, vout)
        );
        CREATE TABLE trace_stops (
            run_id INTEGER NOT NULL REFERENCES trace_runs(id),
            txid TEXT NOT NULL,
            vout INTEGER NOT NULL,
            address TEXT,
            value_sat INTEGER NOT NULL,
            taint_sat INTEGER NOT NULL,
            reason TEXT NOT NULL,
            entity TEXT,
            category TEXT,
            hop INTEGER NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (run_id, txid, vout)
        );
        CREATE TABLE trace_findings (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES trace_runs(id),
            subject TEXT NOT NULL,
            heuristic TEXT NOT NULL,
            verdict TEXT NOT NULL,
            confidence REAL NOT NULL,
            facts TEXT NOT NULL
        );
        CREATE INDEX trace_findings_run ON trace_findings(run_id);
        """
    )


@migrations()
def m006_price_cache(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE price_cache (
            currency TEXT NOT NULL,
            time INTEGER NOT NULL,
            resolution TEXT NOT NULL,
            value TEXT NOT NULL,
            source TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            evidence_id INTEGER REFERENCES evidence(id),
            PRIMARY KEY (currency, time, resolution, source)
        );
        CREATE TABLE price_disagreements (
            id INTEGER PRIMARY KEY,
            currency TEXT NOT NULL,
            time INTEGER NOT NULL,
            resolution TEXT NOT NULL,
            used_source TEXT NOT NULL,
            used_value TEXT NOT NULL,
            other_source TEXT NOT NULL,
            other_value TEXT NOT NULL,
            difference TEXT NOT NULL,
            tolerance TEXT NOT NULL,
            recorded_at TEXT NOT NULL,
            UNIQUE (currency, time, resolution, used_source, other_source)
        );
        """
    )


@migrations()
def m007_durable_followup_and_rates(db: Database) -> None:
    """`watch --follow` work owed per case, trace-run owners, and learned explorer rates.

    A follow-up trace is queued in the same transaction as the cycle whose `funds_moved` asked
    for it and removed with the transaction that records its results, so a crash in between
    leaves it owed. A trace run records which process runs it, so a run left `running` by a
    process that is gone can be told from one still in progress.
    """
    db.executescript(
        """
        CREATE TABLE followup_queue (
            case_name TEXT PRIMARY KEY REFERENCES cases(name),
            queued_at TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            last_error TEXT
        );
        ALTER TABLE trace_runs ADD COLUMN owner_host TEXT;
        ALTER TABLE trace_runs ADD COLUMN owner_pid INTEGER;
        CREATE TABLE explorer_rates (
            base_url TEXT PRIMARY KEY,
            rate REAL NOT NULL,
            learned_at TEXT NOT NULL
        );
        """
    )


@migrations()
def m008_tx_proofs(db: Database) -> None:
    """Inclusion proofs: raw tx bytes, Merkle branch and the 80-byte header they lead to."""
    db.executescript(
        """
        CREATE TABLE block_headers (
            hash TEXT PRIMARY KEY,
            height INTEGER NOT NULL,
            header_hex TEXT NOT NULL,
            height_source TEXT NOT NULL,
            evidence_id INTEGER REFERENCES evidence(id),
            stored_at TEXT NOT NULL
        );
        CREATE TABLE tx_proofs (
            txid TEXT PRIMARY KEY,
            block_hash TEXT NOT NULL,
            block_height INTEGER NOT NULL,
            pos INTEGER NOT NULL,
            merkle TEXT NOT NULL,
            raw_hex TEXT NOT NULL,
            source TEXT NOT NULL,
            evidence_id INTEGER REFERENCES evidence(id),
            stored_at TEXT NOT NULL
        );
        CREATE INDEX tx_proofs_block ON tx_proofs(block_hash);
        """
    )
