"""Shared test fixtures and the skip-or-fail rule for what a fresh clone may lack.

A test that needs ``../shared`` or a server skips with the reason where it is absent,
and fails instead when ``CI=true``: CI always has both, so a skip there is a defect.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> None:
    """Skip with ``reason``, or fail under CI where everything must be present."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The ``../shared`` folder; skips (or fails in CI) where it is absent."""
    from sentiment.data import DatasetMissingError, shared_dir

    try:
        return shared_dir()
    except DatasetMissingError as exc:
        unavailable(f"../shared is not here: {exc}")
        raise  # unreachable: unavailable() raises


@pytest.fixture(scope="session")
def scorer():  # type: ignore[no-untyped-def]
    """The committed scorer artifacts, loaded once (int8, as in production)."""
    from sentiment.transformer import TransformerScorer

    return TransformerScorer(quantize=True)


@pytest.fixture(scope="session")
def scorer_fp32():  # type: ignore[no-untyped-def]
    """The committed scorer artifacts without quantization."""
    from sentiment.transformer import TransformerScorer

    return TransformerScorer(quantize=False)
