"""A production-shaped deployment for integration tests: PostgreSQL, a broker, real processes.

`brandcare run` (the scheduler) and `brandcare worker` processes share a throwaway
PostgreSQL database and a broker, as in production; the test reads the database
directly to count what went through. Fault tests add what they break: a Redis server
the test owns (restarting it touches nobody else's queues) and a TCP proxy in front of
PostgreSQL that the test can cut.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import distinct, func, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from brandcare.brands.setup import BrandSpec, apply_brands
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import DraftRow, MentionRow, ScoreRow
from tests.conftest import REPO, unavailable
from tests.servers import postgres_database, require_port

TEXTS = [
    "@SkywayAir my flight {n} was cancelled and I am stuck at the gate",
    "@SkywayAir thanks for the upgrade on flight {n}, lovely crew!",
    "@SkywayAir what is the baggage allowance on route {n}?",
    "@SkywayAir you charged me twice for seat {n}, refund please",
    "@SkywayAir you are all clowns {n}",
    "just landed, nice view {n}",
]

#: Mention states at the end of the automatic pipeline (what follows waits for agents).
DONE_STATES = ("drafted", "skipped", "ignored")


def write_replay(path: Path, n: int, *, first: int = 0) -> None:
    """Append mentions ``m<first>`` .. ``m<first + n - 1>`` for brand ``skyway`` to a replay."""
    start = dt.datetime(2026, 11, 20, 8, tzinfo=dt.UTC)
    with path.open("a") as fh:
        for i in range(first, first + n):
            line = {
                "id": f"m{i}",
                "platform": "twitter",
                "brand": "skyway",
                "text": TEXTS[i % len(TEXTS)].format(n=i),
                "author": f"user{i}",
                "followers": (i * 37) % 5000,
                "created_at": (start + dt.timedelta(seconds=i)).isoformat(),
            }
            fh.write(json.dumps(line) + "\n")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- what went through -------------------------------------------------------------------


@dataclass(frozen=True)
class Counts:
    """What the pipeline stored, counted in the database."""

    mentions: int
    scores: int
    scored: int  # distinct mentions with a score
    done: int  # mentions in a DONE_STATES state
    drafts: int
    drafted: int  # distinct mentions with a draft
    answered: int  # mentions in state drafted or skipped: each must have exactly one draft


def counts(sessions: sessionmaker[Session]) -> Counts:
    """The counts now, from one statement: one snapshot while the workers write."""
    done = MentionRow.state.in_(DONE_STATES)
    answered = MentionRow.state.in_(("drafted", "skipped"))
    figures = (
        select(func.count()).select_from(MentionRow),
        select(func.count()).select_from(ScoreRow),
        select(func.count(distinct(ScoreRow.mention_id))),
        select(func.count()).select_from(MentionRow).where(done),
        select(func.count()).select_from(DraftRow),
        select(func.count(distinct(DraftRow.mention_id))),
        select(func.count()).select_from(MentionRow).where(answered),
    )
    with transaction(sessions) as s:
        row = s.execute(select(*(f.scalar_subquery() for f in figures))).one()
    return Counts(*(int(x or 0) for x in row))


def assert_each_once(got: Counts, n: int, context: str = "") -> None:
    """``n`` mentions, each stored, scored and through the automatic pipeline exactly once."""
    assert got.mentions == n, f"{n} mentions sent in, {got.mentions} stored\n{context}"
    assert (got.scores, got.scored) == (n, n), f"scores per mention are not 1: {got}\n{context}"
    assert got.done == n, f"the pipeline did not finish: {got}\n{context}"
    assert got.drafts == got.drafted == got.answered, f"drafts per mention: {got}\n{context}"


def wait_for(
    sessions: sessionmaker[Session], predicate: Callable[[Counts], bool], timeout: float
) -> Counts:
    """Poll the counts until ``predicate`` holds or ``timeout`` seconds pass; the last counts."""
    deadline = time.monotonic() + timeout
    while True:
        last = counts(sessions)
        if predicate(last) or time.monotonic() >= deadline:
            return last
        time.sleep(0.2)


def draft_states(sessions: sessionmaker[Session]) -> dict[int, str]:
    """Draft id -> state."""
    with transaction(sessions) as s:
        return {int(i): str(st) for i, st in s.execute(select(DraftRow.id, DraftRow.state))}


def wait_until(check: Callable[[], bool], timeout: float, interval: float = 0.2) -> bool:
    """Poll ``check`` until it is true or ``timeout`` passes; whether it became true."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
    return True


# -- processes ---------------------------------------------------------------------------


def process_env(database: str, broker: str, **extra: str) -> dict[str, str]:
    """The environment of a deployment's processes: short recovery timings for tests."""
    env = dict(os.environ)
    env.update(
        BRANDCARE_DATABASE_URL=database,
        BRANDCARE_BROKER_URL=broker,
        BRANDCARE_STALE_AFTER_SECONDS="8",
        BRANDCARE_SWEEP_EVERY_SECONDS="2",
        BRANDCARE_SCORE_THREADS="1",
        BRANDCARE_LOG_LEVEL="WARNING",
    )
    env.update(extra)
    return env


def spawn(args: Sequence[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """``python -m <args>`` in its own process group (so a kill takes its children too)."""
    return subprocess.Popen(
        [sys.executable, "-m", *args],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group and wait; SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
            proc.wait(timeout=30)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    if sig == signal.SIGKILL:
        # Dramatiq's worker children are in the group too: make sure none survived.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)


@dataclass
class Deployment:
    """Scheduler and worker processes against one database and one broker."""

    database: str  # as the processes reach it (maybe through a proxy)
    sessions: sessionmaker[Session]  # the test's own, direct connection
    broker: str
    log: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        """The processes' environment."""
        return process_env(self.database, self.broker, **self.extra_env)

    def worker(self, *, threads: int = 2, queues: str = "") -> subprocess.Popen[bytes]:
        """Start one ``brandcare worker`` process (one Dramatiq process, ``threads`` threads)."""
        args = ["brandcare.cli", "worker", "--processes", "1", "--threads", str(threads)]
        if queues:
            args += ["--queues", queues]
        proc = spawn(args, self.env, self.log)
        self.procs.append(proc)
        return proc

    def scheduler(self, *, tick: float = 0.5) -> subprocess.Popen[bytes]:
        """Start ``brandcare run``: the scheduler and its sweep of stuck work."""
        proc = spawn(["brandcare.cli", "run", "--tick", str(tick)], self.env, self.log)
        self.procs.append(proc)
        return proc

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL one process (a crash: no clean-up, no acknowledgements) and forget it."""
        stop(proc, signal.SIGKILL)
        self.procs.remove(proc)

    def wait(self, predicate: Callable[[Counts], bool], timeout: float) -> Counts:
        """``wait_for`` on this deployment's database."""
        return wait_for(self.sessions, predicate, timeout)

    def alive(self) -> bool:
        """Whether every process started (and not killed on purpose) is still running."""
        return all(p.poll() is None for p in self.procs)

    def tail(self, chars: int = 4000) -> str:
        """The end of the processes' combined log, for assertion messages."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def close(self) -> None:
        """Stop every process still running."""
        for proc in self.procs:
            stop(proc)


@contextmanager
def postgres_brands(
    prefix: str, brands: Sequence[BrandSpec]
) -> Iterator[tuple[str, sessionmaker[Session]]]:
    """A throwaway migrated PostgreSQL database holding ``brands``: (url, sessions)."""
    require_port("postgresql://127.0.0.1:5432", "PostgreSQL")
    with postgres_database(prefix) as url:
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = session_factory(engine)
        with transaction(sessions) as s:
            apply_brands(s, list(brands))
        try:
            yield url, sessions
        finally:
            engine.dispose()


def with_port(url: str, port: int) -> str:
    """``url`` aimed at another port on the same host."""
    return make_url(url).set(port=port).render_as_string(hide_password=False)


# -- a broker the test owns ------------------------------------------------------------


class RedisServer:
    """A ``redis-server`` on a free port, owned by one test: kill and restart it freely.

    No persistence, as in the CI service: a restart loses every queued message, the
    hardest case for recovery.
    """

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed")
        self.binary = str(binary)
        self.workdir = workdir
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The broker URL."""
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start the server and wait until it answers."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += ["--dir", str(self.workdir)]
        log = (self.workdir / "redis.log").open("ab")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        if not wait_until(self._answers, timeout=10, interval=0.05):
            self.stop()
            unavailable(f"redis-server on port {self.port} did not start")

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self, sig: int = signal.SIGKILL) -> None:
        """Kill the server (SIGKILL by default: a crash, nothing saved)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=10)
        self.proc = None


# -- a database connection the test can cut --------------------------------------------


class TcpProxy:
    """A TCP forwarder to ``target``; ``cut()`` makes the target unreachable through it.

    While cut, open connections are closed and new ones are accepted and closed at once,
    as a database going away looks to its clients; ``restore()`` lets them in again.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self._listener.settimeout(0.2)
        self.port = int(self._listener.getsockname()[1])
        self._open = True
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if not self._open:
                _close(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _close(client)
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._sockets.update((client, upstream))
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                _close(sock)
                with self._lock:
                    self._sockets.discard(sock)

    def cut(self) -> None:
        """Drop every connection and refuse new ones."""
        self._open = False
        with self._lock:
            held = list(self._sockets)
        for sock in held:
            _close(sock)

    def restore(self) -> None:
        """Let connections through again."""
        self._open = True

    def close(self) -> None:
        """Stop the proxy."""
        self._stopping.set()
        self.cut()
        self._listener.close()
        self._thread.join(timeout=5)


def _close(sock: socket.socket) -> None:
    with suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)  # wakes a thread blocked in recv()
    sock.close()
