"""Where Prometheus reads the metrics: the web's GET /metrics and a port for the workers.

- ``brandcare serve``: ``GET /metrics`` (``brandcare.web.metrics``), bearer token
  ``BRANDCARE_METRICS_TOKEN``; this process's counters and the backlog gauges.
- ``brandcare run`` with ``BRANDCARE_METRICS_PORT``: a small HTTP server in the scheduler
  process (and its in-process workers, without a broker); counters and backlog gauges.
- ``brandcare worker`` with ``BRANDCARE_METRICS_PORT``: Dramatiq forks the worker
  processes, and each counts only its own work. Rather than a port per process, the
  workers run in prometheus_client's multiprocess mode (``PROMETHEUS_MULTIPROC_DIR``, a
  fresh folder per start) and one Dramatiq fork process serves the sum, with
  Dramatiq's own message metrics (its ``Prometheus`` middleware, writing to the same
  folder) beside ours. No backlog gauges here: there may be many workers, and the
  backlog is one.

The port binds to ``BRANDCARE_METRICS_HOST`` (127.0.0.1); beyond loopback it needs the
token, so metrics are never public by accident.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from dramatiq.middleware import Middleware
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from brandcare.config import Settings

log = logging.getLogger(__name__)

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


class MetricsExposureError(ValueError):
    """The metrics port would be reachable beyond this machine without a token."""


class _ThisProcess(Collector):
    """The process's own metrics (default registry), inside a registry of our making."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def multiprocess() -> bool:
    """Whether this process writes its metrics to a shared multiprocess folder."""
    return bool(os.environ.get(MULTIPROC_ENV))


def registry(
    sessions: sessionmaker[Session] | None = None, *, totals_every: float = 60.0
) -> CollectorRegistry:
    """What a scrape reports: the processes' metrics, plus the backlog if ``sessions``.

    Build it once per endpoint: the backlog collector keeps the slow draft totals for
    ``totals_every`` seconds between scrapes.
    """
    # Imported late: declaring the metrics writes files in multiprocess mode, and
    # `brandcare worker` must set its folder up before anything does.
    from brandcare.ops.metrics import DatabaseCollector

    found = CollectorRegistry()
    if multiprocess():
        MultiProcessCollector(found)  # type: ignore[no-untyped-call]
    else:
        found.register(_ThisProcess())
    if sessions is not None:
        found.register(DatabaseCollector(sessions, totals_every=totals_every))
    return found


def token_of(settings: Settings) -> SecretStr | None:
    """The metrics token, None when unset or empty (``BRANDCARE_METRICS_TOKEN=``)."""
    token = settings.metrics_token
    return token if token is not None and token.get_secret_value().strip() else None


def bearer_matches(header: str | None, token: SecretStr) -> bool:
    """Whether an Authorization header carries ``token`` (compared in constant time)."""
    scheme, _, given = (header or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    return hmac.compare_digest(given.strip().encode(), token.get_secret_value().encode())


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_exposure(host: str, token: SecretStr | None) -> None:
    """Refuse to serve metrics beyond loopback without a token."""
    if token is None and not _loopback(host):
        raise MetricsExposureError(
            f"BRANDCARE_METRICS_HOST is {host}, reachable from other machines: set "
            "BRANDCARE_METRICS_TOKEN (Prometheus sends it as a bearer token) or bind to "
            "127.0.0.1"
        )


def _handler(found: CollectorRegistry, token: SecretStr | None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if urlsplit(self.path).path not in ("/", "/metrics"):
                self._answer(404, b"not found\n", "text/plain")
            elif token is not None and not bearer_matches(self.headers.get("authorization"), token):
                self._answer(401, b"bearer token required\n", "text/plain", bearer=True)
            else:
                self._answer(200, generate_latest(found), CONTENT_TYPE_LATEST)

        def _answer(self, status: int, body: bytes, kind: str, bearer: bool = False) -> None:
            self.send_response(status)
            self.send_header("content-type", kind)
            self.send_header("content-length", str(len(body)))
            if bearer:
                self.send_header("www-authenticate", "Bearer")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass  # a scrape every few seconds is not news

    return Handler


def make_server(
    host: str, port: int, found: CollectorRegistry, token: SecretStr | None
) -> ThreadingHTTPServer:
    """An HTTP server answering GET /metrics (not started)."""
    check_exposure(host, token)
    server = ThreadingHTTPServer((host, port), _handler(found, token))
    server.daemon_threads = True
    return server


def start(
    settings: Settings, port: int | None, sessions: sessionmaker[Session] | None
) -> ThreadingHTTPServer | None:
    """Serve this process's metrics (and the backlog) on a thread; None without a port."""
    port = port or settings.metrics_port
    if not port:
        return None
    server = make_server(settings.metrics_host, port, registry(sessions), token_of(settings))
    threading.Thread(target=server.serve_forever, name="brandcare-metrics", daemon=True).start()
    log.info("metrics on http://%s:%d/metrics", settings.metrics_host, server.server_address[1])
    return server


def worker_environment(port: int) -> dict[str, str]:
    """The environment ``brandcare worker`` hands to Dramatiq for summed metrics on ``port``.

    A folder of its own per start (counters from an earlier run must not add up with
    this one's), or the operator's ``PROMETHEUS_MULTIPROC_DIR`` emptied of old files.
    """
    given = os.environ.get(MULTIPROC_ENV)
    if given:
        folder = Path(given)
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.db"):
            old.unlink()
    else:
        folder = Path(tempfile.mkdtemp(prefix=f"brandcare-metrics-{port}-"))
    return {
        MULTIPROC_ENV: str(folder),
        "dramatiq_prom_db": str(folder),  # Dramatiq's middleware writes there too
        "BRANDCARE_METRICS_PORT": str(port),
    }


def serve_workers() -> int:
    """Dramatiq fork function (``--fork-function``): serve the worker processes' sum."""
    settings = Settings()
    if not settings.metrics_port or not multiprocess():
        log.error("worker metrics need BRANDCARE_METRICS_PORT: start with `brandcare worker`")
        return 1
    server = make_server(
        settings.metrics_host, settings.metrics_port, registry(), token_of(settings)
    )
    log.info("worker metrics on http://%s:%d/metrics", *server.server_address[:2])
    server.serve_forever()
    return 0


def dramatiq_middleware() -> Middleware:
    """Dramatiq's Prometheus middleware, writing to our folder, without its own server.

    Imported here, late: that module reads its folder from the environment on import.
    """
    from dramatiq.middleware.prometheus import Prometheus

    class SharedPrometheus(Prometheus):
        @property
        def forks(self) -> list[Callable[[], int]]:
            return []  # served by ``serve_workers`` with ours, on BRANDCARE_METRICS_PORT

    return SharedPrometheus()
