"""What every command shares: settings, the lazily opened store, output, and exit codes.

Exit codes (documented in the README): 0 success, 1 runtime failure, 2 usage or bad input,
3 new events recorded (``watch --exit-code``), 75 another watch holds the lock.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import typer
from typer.core import TyperGroup

from btcwatch.cli.usage import error_line, is_usage_error, tidy_params
from btcwatch.config import Settings, load_settings
from btcwatch.errors import BtcwatchError, InputError, LockBusy
from btcwatch.fileio import describe_os_error
from btcwatch.store import Store
from btcwatch.store.db import describe_sqlite_error
from btcwatch.text import safe_terminal_text

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_NEW_EVENTS = 3
EXIT_LOCK_BUSY = 75  # EX_TEMPFAIL: cron wrappers treat it as "try again later"

T = TypeVar("T")

#: ``--json`` of every listing command: the same words everywhere.
JsonOption = typer.Option(False, "--json", help="Machine-readable JSON on stdout.")


@dataclass
class State:
    """Per-invocation state hung on the click context."""

    config_path: Path | None = None
    db_flag: Path | None = None
    offline_flag: bool = False  # the root --offline (else BTCWATCH_OFFLINE / the config)
    _settings: Settings | None = None
    _store: Store | None = field(default=None, repr=False)

    def settings(self, **flags: Any) -> Settings:
        if self._settings is None or flags:
            given = {"offline": True if self.offline_flag else None, **flags}
            self._settings = load_settings(config_path=self.config_path, db=self.db_flag, **given)
        return self._settings

    _read_only: bool = field(default=False, repr=False)

    def store(self) -> Store:
        """The database for a command that writes: created and migrated if needed."""
        if self._store is not None and self._read_only:
            self.close()
        if self._store is None:
            self._store = Store.open(self.settings().db)
            self._read_only = False
        return self._store

    def reader(self) -> Store:
        """The database for a command that only reads: opened read-only, never created.

        A missing database is an InputError ("no database at PATH"); a read-only file, mount
        or evidence bundle is left byte-identical (see `Store.open`).
        """
        if self._store is None:
            self._store = Store.open(self.settings().db, read_only=True)
            self._read_only = True
        return self._store

    def db_path(self) -> Path | None:
        """The database this invocation uses, as far as it is known (for error messages)."""
        return self._settings.db if self._settings is not None else self.db_flag

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    if not isinstance(obj, State):
        obj = State()
        ctx.find_root().obj = obj
    return obj


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, then the exit code: what cron mail and scripts see."""
    typer.echo(f"btcwatch: error: {safe_terminal_text(message)}", err=True)
    raise typer.Exit(code)


class BtcwatchGroup(TyperGroup):
    """Root group: turns btcwatch errors into one-line messages and documented exit codes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tidy_params(self)  # typer builds the whole tree before the root: every command is here

    def main(  # type: ignore[override]
        self,
        args: Any = None,
        prog_name: str | None = None,
        *,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Usage errors (unknown option, missing argument, bad value) as one line, exit 2."""
        if not standalone_mode:
            return super().main(args, prog_name, standalone_mode=False, **extra)
        try:
            code = super().main(args, prog_name, standalone_mode=False, **extra)
        except typer.Abort:
            fail("aborted", EXIT_FAILURE)
        except Exception as exc:
            if not is_usage_error(exc):
                raise
            if type(exc).__name__ != "NoArgsIsHelpError":  # the help is already printed
                typer.echo(f"btcwatch: error: {safe_terminal_text(error_line(exc))}", err=True)
            sys.exit(getattr(exc, "exit_code", EXIT_USAGE))
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LockBusy as exc:
            fail(str(exc), EXIT_LOCK_BUSY)
        except InputError as exc:
            fail(str(exc), EXIT_USAGE)
        except BtcwatchError as exc:
            fail(str(exc), EXIT_FAILURE)
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except sqlite3.Error as exc:  # disk full, read-only file system: one line, never a trace
            db = ctx.obj.db_path() if isinstance(ctx.obj, State) else None
            fail(describe_sqlite_error(exc, db) or f"database {db or ''}: {exc}", EXIT_FAILURE)
        except BrokenPipeError:  # `btcwatch report | head`: the reader had enough, say nothing
            _quiet_stdout()
            raise typer.Exit(EXIT_FAILURE) from None
        except OSError as exc:  # ENOSPC, EROFS, EACCES... writing an output, the lock, a file
            fail(describe_os_error(exc), EXIT_FAILURE)
        finally:
            if isinstance(ctx.obj, State):
                ctx.obj.close()


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's last flush finds no closed pipe."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # a test runner's stdout has no file descriptor
        pass


def emit_json(data: Any) -> None:
    """Machine-readable output goes to stdout, alone, so `| jq` always works."""
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def info(message: str) -> None:
    """Human messages and progress go to stderr, never with terminal control characters."""
    typer.echo(safe_terminal_text(message), err=True)


def say(message: object) -> None:
    """One line of stored or fetched text on stdout, never with terminal control characters."""
    typer.echo(safe_terminal_text(message))


def table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A plain aligned table on stdout (rich would wrap badly under cron); cells made safe.

    A missing value is an empty cell; a zero is ``0`` (vout 0, 0 confirmations are facts).
    """
    if not rows:
        return
    cells = [{c: _cell(r.get(c)) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    typer.echo("  ".join(c.upper().ljust(widths[c]) for c in columns).rstrip())
    for r in cells:
        typer.echo("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip())


def _cell(value: Any) -> str:
    return "" if value is None else safe_terminal_text(value)


def run_async(factory: Callable[[], Any]) -> Any:
    """Run a coroutine factory to completion from a sync typer command."""
    import asyncio

    return asyncio.run(factory())
