"""A static check that SQL is built only through SQLAlchemy's expression language.

Raw SQL is where injection comes from: a string put together from values reaches the
database as code. The check walks the syntax tree of every module and reports

- ``text()``, ``literal_column()``, ``exec_driver_sql()`` and psycopg's ``SQL()`` whose
  SQL is not a string literal (a name, a parameter, an f-string, ``%``, ``+``,
  ``.format``), and literals that are not in ``ALLOWED_SQL``;
- ``.execute()``, ``.executemany()`` and ``.executescript()`` given a string: a literal
  not in ``ALLOWED_SQL``, or one built by formatting (directly, or through a local name
  assigned from one);
- any string built by formatting whose literal parts read as SQL (``SELECT ... FROM``,
  ``INSERT INTO``, ``UPDATE ... SET``, ``DELETE FROM``, ``CREATE``/``DROP``/``ALTER``,
  ``PRAGMA``), wherever it is.

A formatted SQL expression that was reviewed and is safe (every value comes from code,
none from input) is listed, with its file and why, in ``REVIEWED``.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: Constant SQL the code may send as it is: connection settings and maintenance.
ALLOWED_SQL: frozenset[str] = frozenset(
    {
        "SELECT 1",
        "BEGIN IMMEDIATE",
        "ANALYZE",
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA foreign_key_check",
        # A JSON column's server default (migration 0003): an empty object.
        "'{}'",
        # psycopg's SQL() composed with sql.Identifier, which quotes the name.
        "CREATE DATABASE {}",
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
    }
)

#: Formatted SQL reviewed as safe: (path under the repository, the expression as
#: ``ast.unparse`` writes it). Each value in it comes from code, never from input.
REVIEWED: frozenset[tuple[str, str]] = frozenset(
    {
        # int() of a module constant: SQLite takes the busy timeout only as a PRAGMA.
        (
            "brandcare/store/engine.py",
            "f'PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}'",
        ),
        # One of two literals, chosen by a bool argument.
        (
            "brandcare/store/engine.py",
            "f\"PRAGMA foreign_keys={('ON' if foreign_keys else 'OFF')}\"",
        ),
    }
)

_SQLISH = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+INTO\b|\bUPDATE\b[\s\S]*\bSET\b|\bDELETE\s+FROM\b"
    r"|\b(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX|DATABASE|VIEW|SCHEMA)\b|\bPRAGMA\b"
    r"|\bWHERE\b[\s\S]*(?:=|\bLIKE\b|\bIN\b)"
)
_RAW_SQL_CALLS = frozenset({"text", "literal_column", "SQL"})
_EXECUTE = frozenset({"execute", "executemany", "executescript", "exec_driver_sql"})


@dataclass(frozen=True, slots=True)
class Violation:
    """One place where SQL is not built through the expression language."""

    path: str
    line: int
    what: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.what}"


def _literal(node: ast.AST) -> str | None:
    """The string a node always evaluates to (a literal, or a choice of two), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    return None


def _literals(node: ast.AST) -> list[str] | None:
    """Every string a node can evaluate to, when it only ever picks between literals."""
    if (value := _literal(node)) is not None:
        return [value]
    if isinstance(node, ast.IfExp):
        body, orelse = _literals(node.body), _literals(node.orelse)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _formatting(node: ast.AST) -> bool:
    """Whether a node builds a string from values: f-string, ``%``, ``+``, ``.format``, join."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod | ast.Add):
        return any(
            _literal(side) is not None or _formatting(side) for side in (node.left, node.right)
        )
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        receiver = node.func.value
        if node.func.attr == "format" and _literal(receiver) is not None:
            return True
        if node.func.attr == "join" and _literal(receiver) is not None:
            return True
    return False


def _literal_parts(node: ast.AST) -> str:
    """The literal text inside a formatting expression (what a reader sees of the SQL)."""
    return " ".join(
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    )


class _Scanner(ast.NodeVisitor):
    def __init__(self, path: str, allowed: frozenset[str], reviewed: frozenset[str]) -> None:
        self.path = path
        self.allowed = allowed
        self.reviewed = reviewed
        self.found: list[Violation] = []
        self.sql_names: dict[str, str] = {}  # local name -> sqlalchemy's text & co.
        self.assigned: list[dict[str, ast.AST]] = [{}]  # per function: name -> value

    def report(self, node: ast.AST, what: str) -> None:
        self.found.append(Violation(self.path, getattr(node, "lineno", 0), what))

    # -- bookkeeping ---------------------------------------------------------------------
    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if module.startswith(("sqlalchemy", "psycopg")):
            for alias in node.names:
                if alias.name in _RAW_SQL_CALLS:
                    self.sql_names[alias.asname or alias.name] = alias.name

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.assigned.append({})
        self.generic_visit(node)
        self.assigned.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                self.assigned[-1][target.id] = node.value
        self.generic_visit(node)

    def _value_of(self, node: ast.AST) -> ast.AST:
        if isinstance(node, ast.Name):
            return self.assigned[-1].get(node.id, node)
        return node

    # -- the rules -------------------------------------------------------------------------
    def _raw_sql_call(self, node: ast.Call) -> str | None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.sql_names:
            return self.sql_names[func.id]
        if isinstance(func, ast.Attribute) and func.attr in _RAW_SQL_CALLS:
            owner = func.value
            if isinstance(owner, ast.Name) and owner.id in {"sa", "sqlalchemy", "sql"}:
                return func.attr
        return None

    def _check_sql_argument(self, node: ast.Call, name: str) -> None:
        if not node.args:
            return
        argument = node.args[0]
        value = self._value_of(argument)
        choices = _literals(value)
        if choices is not None:
            for sql in choices:
                if sql not in self.allowed:
                    self.report(node, f"{name}() with SQL not in the allow-list: {sql[:80]!r}")
        elif self._is_reviewed(value):
            return
        elif _formatting(value):
            self.report(node, f"{name}() with SQL built by formatting: {ast.unparse(value)[:80]}")
        elif name in _RAW_SQL_CALLS or name == "exec_driver_sql":
            self.report(node, f"{name}() with SQL that is not a literal: {ast.unparse(argument)}")

    def _is_reviewed(self, node: ast.AST) -> bool:
        return ast.unparse(node) in self.reviewed

    def visit_Call(self, node: ast.Call) -> None:
        raw = self._raw_sql_call(node)
        if raw is not None:
            self._check_sql_argument(node, raw)
        elif isinstance(node.func, ast.Attribute) and node.func.attr in _EXECUTE:
            argument = self._value_of(node.args[0]) if node.args else None
            stringy = argument is not None and (
                _literals(argument) is not None or _formatting(argument)
            )
            if stringy or node.func.attr == "exec_driver_sql":
                self._check_sql_argument(node, node.func.attr)
        self.generic_visit(node)

    def _check_formatted(self, node: ast.AST) -> None:
        sqlish = _formatting(node) and _SQLISH.search(_literal_parts(node))
        if sqlish and not self._is_reviewed(node):
            self.report(node, f"SQL built by formatting: {ast.unparse(node)[:80]}")

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        self._check_formatted(node)
        self.generic_visit(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._check_formatted(node)
        self.generic_visit(node)


def find_raw_sql(
    source: str,
    path: str = "<source>",
    *,
    allowed: frozenset[str] = ALLOWED_SQL,
    reviewed: Iterable[tuple[str, str]] = REVIEWED,
) -> list[Violation]:
    """Every place in ``source`` where SQL is not built through the expression language."""
    scanner = _Scanner(path, allowed, frozenset(expr for p, expr in reviewed if p == path))
    scanner.visit(ast.parse(source, filename=path))
    # A formatted string inside an execute() call is reported once, by the call.
    seen: set[int] = set()
    unique = []
    for v in sorted(scanner.found, key=lambda v: (v.line, v.what)):
        if v.line not in seen:
            unique.append(v)
            seen.add(v.line)
    return unique


def python_files(root: Path, packages: Iterable[str]) -> Iterator[Path]:
    """The modules of ``packages`` under ``root``."""
    for package in packages:
        yield from sorted((root / package).rglob("*.py"))
