"""The ``brandcare`` command line: the contract other tools and people rely on.

The top of the app: it may import every part (benchmarks only from here); nothing imports it.

One module per group of commands; importing them registers their commands on ``app``.
``_app`` holds what every command needs; ``demo`` and ``reports`` are what ``brandcare
demo`` and ``brandcare queue`` run.
"""

from __future__ import annotations

from brandcare.cli._app import app

# Importing a group registers its commands; the order here is `brandcare --help`'s order,
# the main job first.
# isort: off
from brandcare.cli import operate, web, model, insights, history, bench
# isort: on

__all__ = ["app", "bench", "history", "insights", "main", "model", "operate", "web"]


def main() -> None:
    """Console-script entry point."""
    app()
