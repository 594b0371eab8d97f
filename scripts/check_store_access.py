"""Fail when code outside ``btcwatch/store/`` touches the database itself (run by ``make lint``).

The import contract (import-linter) keeps ``sqlite_utils`` out of the other layers, but it cannot
see attribute access: ``store._db.execute("SELECT ...")`` imports nothing. This AST check refuses,
outside ``btcwatch/store/``:

- the store's private database (``._db``) and its test-only accessor (``.database_for_tests``);
- ``.execute(...)``, ``.executemany(...)``, ``.executescript(...)`` calls (SQL, on anything);
- ``sqlite_utils`` imports, and ``sqlite3`` beyond its exception classes and version;
- ``with store.write() as db:`` (the write transaction yields the Database).

Usage: ``python scripts/check_store_access.py [PATH ...]`` (default: btcwatch bench scripts).
Exit 1 and one ``file:line: message`` per violation, or exit 0 silently.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

DEFAULT_PATHS = ("btcwatch", "bench", "scripts")
STORE = Path("btcwatch") / "store"
PRIVATE = {"_db": "the store's private database", "database_for_tests": "a test-only accessor"}
SQL_CALLS = {"execute", "executemany", "executescript"}
SQLITE3_ALLOWED = {"sqlite_version", "sqlite_version_info"}  # and every *Error / Warning


def _sqlite3_allowed(name: str) -> bool:
    return name in SQLITE3_ALLOWED or name.endswith("Error") or name == "Warning"


def violations(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, message) for every database access in one module's syntax tree."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.attr in PRIVATE:
                yield node.lineno, f"uses {PRIVATE[node.attr]} (.{node.attr})"
            elif (
                isinstance(node.value, ast.Name)
                and node.value.id == "sqlite3"
                and not _sqlite3_allowed(node.attr)
            ):
                yield node.lineno, f"uses sqlite3.{node.attr}"
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and func.attr in SQL_CALLS:
                yield node.lineno, f"runs SQL (.{func.attr}(...))"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "sqlite_utils":
                    yield node.lineno, "imports sqlite_utils"
        elif isinstance(node, ast.ImportFrom):
            root = (node.module or "").split(".")[0]
            if root == "sqlite_utils":
                yield node.lineno, "imports sqlite_utils"
            elif root == "sqlite3":
                for alias in node.names:
                    if not _sqlite3_allowed(alias.name):
                        yield node.lineno, f"imports sqlite3.{alias.name}"
        elif isinstance(node, ast.With | ast.AsyncWith):
            for item in node.items:
                call = item.context_expr
                if (
                    item.optional_vars is not None
                    and isinstance(call, ast.Call)
                    and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "write"
                    and not call.args
                    and not call.keywords
                ):
                    yield node.lineno, "takes the Database from a write transaction (as ...)"


def _in_store(path: Path, root: Path) -> bool:
    try:
        relative = path.resolve().relative_to(root.resolve())
    except ValueError:
        return False
    return relative.parts[:2] == STORE.parts


def _files(paths: Sequence[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if ".venv" not in p.parts)
        elif path.suffix == ".py":
            yield path


def check(paths: Sequence[Path], root: Path) -> list[str]:
    """Every violation under ``paths`` (files of ``root/btcwatch/store`` are exempt)."""
    problems: list[str] = []
    for file in _files(paths):
        if _in_store(file, root):
            continue
        try:
            tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot check: {exc}")
            continue
        problems.extend(f"{file}:{line}: {message}" for line, message in violations(tree))
    return problems


def main(argv: Sequence[str]) -> int:
    root = Path(__file__).resolve().parent.parent
    paths = [Path(a) for a in argv] or [root / p for p in DEFAULT_PATHS]
    problems = check(paths, root)
    for problem in problems:
        print(problem)
    if problems:
        print(
            f"{len(problems)} database access(es) outside btcwatch/store/: "
            "add a named store function instead",
            file=sys.stderr,
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
