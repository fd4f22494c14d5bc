"""Settings that would break a guarantee are refused at start-up, with the fix named."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from brandcare.config import Settings


def test_a_settle_window_shorter_than_two_platform_calls_is_refused() -> None:
    with pytest.raises(ValidationError, match="BRANDCARE_SEND_SETTLE_SECONDS"):
        Settings(send_settle_seconds=40)  # X's default timeout is 30 s
    with pytest.raises(ValidationError, match="PLATFORM_TIMEOUT"):
        Settings(send_settle_seconds=10, platform_timeout_seconds=6)


def test_a_short_settle_window_is_fine_with_a_short_platform_timeout() -> None:
    assert Settings(send_settle_seconds=8, platform_timeout_seconds=3).send_settle_seconds == 8
    assert Settings().send_settle_seconds == 180
