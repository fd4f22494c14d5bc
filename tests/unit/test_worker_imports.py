"""What a worker process imports to run every actor: not the digests' chart code."""

from __future__ import annotations

import subprocess
import sys


def test_the_actors_and_the_alert_check_do_not_import_matplotlib() -> None:
    # A fresh interpreter: this test session may have imported the charts already.
    # matplotlib costs a worker 0.7 s at its first alert check (measured) and its memory.
    code = (
        "import sys\n"
        "from brandcare.pipeline import tasks\n"
        "from brandcare.insights import alerts\n"
        "from brandcare.insights.notify import notifier\n"
        "assert notifier({}) is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]"
