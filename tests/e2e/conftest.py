"""A real headless Chromium against the real app served by uvicorn on a free port.

Chromium comes from Debian's ``chromium`` package (``.ci/run`` installs it); Playwright's
Python package drives it, without its own browser download. Where no Chromium is
installed the tests skip, and fail under CI.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests.conftest import unavailable
from tests.integration.web.conftest import Site, site  # noqa: F401  (the fixture)

OUTPUT = Path(
    os.environ.get("BRANDCARE_TEST_OUTPUT", Path(__file__).parents[2] / "build" / "test-output")
)


def _chromium() -> str | None:
    env = os.environ.get("BRANDCARE_CHROMIUM")
    if env:
        return env
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    executable = _chromium()
    if executable is None:
        unavailable("no Chromium: install Debian's chromium package (see .ci/run)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def served(site: Site) -> Iterator[tuple[Site, str]]:  # noqa: F811
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(site.app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    yield site, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture
def output_dir() -> Path:
    OUTPUT.mkdir(parents=True, exist_ok=True)
    return OUTPUT
