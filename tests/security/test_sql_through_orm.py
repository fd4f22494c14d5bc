"""SQL is built only through SQLAlchemy's expression language: a scan of every module.

The checker (``sql_scan``) is tested first on small sources with planted violations, so
a scan that finds nothing in the code base means something.
"""

from __future__ import annotations

import textwrap

import pytest

from tests.conftest import REPO
from tests.security.sql_scan import ALLOWED_SQL, REVIEWED, find_raw_sql, python_files

PACKAGES = ("brandcare", "listener", "sentiment", "responders")


def scan(source: str) -> list[str]:
    return [v.what for v in find_raw_sql(textwrap.dedent(source), "planted.py")]


@pytest.mark.parametrize(
    "source",
    [
        # text() with values formatted into it, every way Python formats
        """
        from sqlalchemy import text
        def f(s, x):
            s.execute(text(f"SELECT * FROM mention WHERE external_id = '{x}'"))
        """,
        """
        from sqlalchemy import text
        def f(s, x):
            s.execute(text("SELECT * FROM mention WHERE id = %s" % x))
        """,
        """
        from sqlalchemy import text
        def f(s, x):
            s.execute(text("SELECT * FROM mention WHERE id = " + x))
        """,
        """
        import sqlalchemy as sa
        def f(s, x):
            s.execute(sa.text("DELETE FROM draft WHERE id = {}".format(x)))
        """,
        # text() with SQL from a variable, or through a local name
        """
        from sqlalchemy import text as sql_text
        def f(s, query):
            s.execute(sql_text(query))
        """,
        """
        from sqlalchemy import text
        def f(s, x):
            stmt = f"UPDATE draft SET text = '{x}'"
            s.execute(text(stmt))
        """,
        # the driver's own execute with a formatted or unlisted string
        """
        def f(conn, x):
            conn.exec_driver_sql("DELETE FROM mention WHERE id = " + str(x))
        """,
        """
        def f(cursor, x):
            cursor.execute("SELECT {} FROM mention".format(x))
        """,
        """
        def f(cursor, name):
            sql = "DROP TABLE %s" % name
            cursor.execute(sql)
        """,
        """
        def f(cursor):
            cursor.executescript("DROP TABLE mention")
        """,
        # SQL built by formatting anywhere, even before it reaches a call
        """
        def f(q):
            return f"SELECT id FROM mention WHERE text LIKE '%{q}%'"
        """,
        """
        from sqlalchemy import literal_column
        def f(name):
            return literal_column(name)
        """,
        # a constant that nobody put on the allow-list
        """
        from sqlalchemy import text
        def f(s):
            s.execute(text("DELETE FROM mention"))
        """,
    ],
)
def test_the_checker_catches_a_planted_violation(source: str) -> None:
    assert scan(source), source


@pytest.mark.parametrize(
    "source",
    [
        """
        from sqlalchemy import select, text, update
        def f(s, x, MentionRow):
            s.execute(select(MentionRow).where(MentionRow.external_id == x))
            s.execute(update(MentionRow).where(MentionRow.id == x).values(text=x))
            s.execute(text("SELECT 1"))
        """,
        """
        def f(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            conn.execute("PRAGMA synchronous=NORMAL" if conn else "PRAGMA journal_mode=WAL")
        """,
        """
        from psycopg import sql
        def f(conn, name):
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        """,
        """
        def f(log, user, x):
            log.info(f"selected {x} from the inbox for {user}")
            return "Hello %s" % user
        """,
    ],
)
def test_the_checker_lets_expression_language_and_allowed_constants_through(
    source: str,
) -> None:
    assert scan(source) == []


def test_a_reviewed_expression_is_allowed_only_in_its_own_file() -> None:
    source = 'def f(x):\n    return f"PRAGMA busy_timeout={int(x)}"\n'
    reviewed = {("engine.py", "f'PRAGMA busy_timeout={int(x)}'")}
    assert find_raw_sql(source, "engine.py", reviewed=reviewed) == []
    assert find_raw_sql(source, "elsewhere.py", reviewed=reviewed)


def test_no_module_builds_sql_outside_the_expression_language() -> None:
    files = list(python_files(REPO, PACKAGES))
    assert len(files) > 50  # the scan saw the code base, not an empty folder
    found = [
        str(v)
        for path in files
        for v in find_raw_sql(path.read_text(encoding="utf-8"), path.relative_to(REPO).as_posix())
    ]
    assert found == [], "\n".join(found)


def test_every_allowance_is_still_needed() -> None:
    """An allowance nobody uses is a hole waiting for its SQL: remove it."""
    sources = {
        path.relative_to(REPO).as_posix(): path.read_text(encoding="utf-8")
        for path in python_files(REPO, PACKAGES)
    }
    for sql in ALLOWED_SQL:
        others = ALLOWED_SQL - {sql}
        assert any(
            find_raw_sql(source, path, allowed=others) for path, source in sources.items()
        ), f"allowed SQL {sql!r} is no longer used"
    for entry in REVIEWED:
        assert find_raw_sql(sources[entry[0]], entry[0], reviewed=REVIEWED - {entry}), entry
