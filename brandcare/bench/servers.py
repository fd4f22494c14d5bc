"""What the server benchmarks share: a throwaway database, a clean broker, CLI processes.

``bench pipeline`` and ``bench load`` run the production shape (``brandcare run`` and
``brandcare worker`` processes on PostgreSQL + a broker); each run gets its own
database, created and dropped here, so a benchmark never touches a database someone
else uses, and a clean Redis database, so no message from an earlier run is replayed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from sqlalchemy.engine import make_url


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@contextmanager
def throwaway_database(server_url: str, prefix: str = "brandcare_bench") -> Iterator[str]:
    """A new, empty PostgreSQL database on ``server_url``'s server, dropped afterwards.

    ``server_url`` names any database the user may connect to; only CREATE and DROP
    DATABASE are issued through it, never anything on its tables.
    """
    import psycopg
    from psycopg import sql

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_libpq(server_url), autocommit=True, connect_timeout=10) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def flush_redis(url: str) -> None:
    """Empty the Redis database the URL names (its number, not the whole server)."""
    import redis

    redis.Redis.from_url(url).flushdb()


def deployment_env(
    database_url: str,
    broker_url: str,
    score_threads: int = 1,
    posts_file: Path | None = None,
) -> dict[str, str]:
    """This process's environment pointed at the run's database and broker.

    One lane of one scoring thread per worker process by default: the benchmarks start
    each worker command on its own, and each would otherwise fit its lanes to every core
    of the machine; the worker processes, not lanes or torch's intra-op threads, are what
    runs forward passes in parallel here. Warnings only, so the logs hold what went wrong
    (stale work re-enqueued, errors). ``posts_file``: where the replay source records its
    posts for every process (``platform_posts`` counts them).
    """
    env = dict(
        os.environ,
        BRANDCARE_DATABASE_URL=database_url,
        BRANDCARE_BROKER_URL=broker_url,
        BRANDCARE_SCORE_LANES="1",
        BRANDCARE_SCORE_THREADS=str(score_threads),
        BRANDCARE_LOG_LEVEL="WARNING",
    )
    if posts_file is not None:
        env["BRANDCARE_REPLAY_POSTS_FILE"] = str(posts_file)
    return env


def platform_posts(posts_file: Path) -> dict[str, int]:
    """Replies the replay "platform" recorded, and mentions it got more than one for."""
    from listener.replay import recorded_posts

    posted = [external_id for external_id, _, _ in recorded_posts(posts_file)]
    return {
        "platform_posts": len(posted),
        "mentions_posted_twice": len(posted) - len(set(posted)),
    }


def spawn_cli(args: list[str], env: Mapping[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``brandcare <args>`` as a child in its own process group (stopped as a tree)."""
    return subprocess.Popen(  # noqa: S603  (our own CLI, arguments built by the benchmark)
        [sys.executable, "-m", "brandcare.cli", *args],
        env=dict(env),
        stdout=log,
        stderr=log,
        start_new_session=True,
    )


def stop_group(proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    """SIGTERM the process's group (Dramatiq's worker children too); SIGKILL if it hangs."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:  # the whole group is gone already
        proc.wait()
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
