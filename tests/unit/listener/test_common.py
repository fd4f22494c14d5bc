"""Shared helpers: reply text matching and token redaction in third-party logs."""

from __future__ import annotations

import logging

import pytest

from listener._common import header_int, install_redaction, json_safe, same_text


@pytest.mark.parametrize(
    ("posted", "wanted"),
    [
        ("Sorry about that &amp; thanks", "Sorry about that & thanks"),
        ("@customer0 We're on it", "We're on it"),
        ("See https://t.co/abc123 for help", "See https://example.com/help for help"),
        ("  spaced\n out  ", "spaced out"),
    ],
)
def test_same_text_undoes_what_platforms_rewrite(posted: str, wanted: str) -> None:
    assert same_text(posted, wanted)


def test_same_text_still_tells_different_replies_apart() -> None:
    assert not same_text("We're on it", "We are on it")


def test_header_int_reads_reddits_float_strings_and_ignores_garbage() -> None:
    assert header_int({"x": "599.0"}, "x") == 599
    assert header_int({"x": "soon"}, "x") is None
    assert header_int({}, "x") is None


def test_json_safe_turns_objects_into_strings() -> None:
    class Redditor:
        def __str__(self) -> str:
            return "spez"

    assert json_safe({"author": Redditor(), "n": [1, (2, 3)]}) == {
        "author": "spez",
        "n": [1, [2, 3]],
    }


def test_redaction_blanks_secrets_in_vendor_debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    install_redaction(["vendor.test"], ["s3cret-token-value"])
    with caplog.at_level(logging.DEBUG, logger="vendor.test"):
        logging.getLogger("vendor.test").debug(
            "Headers: %s", {"Authorization": "Bearer s3cret-token-value"}
        )
    assert "s3cret-token-value" not in caplog.text
    assert "Bearer ***" in caplog.text
