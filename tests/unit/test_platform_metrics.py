"""Metrics name platforms as label values; every real platform's series exist from the start."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from brandcare.ops import metrics
from listener.registry import live_platforms
from responders.sender import SendStatus


def test_the_live_platforms_are_the_four_apis() -> None:
    assert live_platforms() == ["bluesky", "mastodon", "reddit", "twitter"]


@pytest.mark.parametrize("platform", ["twitter", "reddit", "mastodon", "bluesky"])
def test_each_platforms_send_and_wait_series_exist_before_anything_happens(platform: str) -> None:
    def sample(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, {"platform": platform, **labels})

    for status in SendStatus:
        assert sample("brandcare_sends_total", outcome=status.value) is not None
    for reason in metrics.SEND_FAILURE_REASONS:
        assert sample("brandcare_send_failures_total", reason=reason) is not None
    for stage in metrics.WAIT_STAGES:
        assert sample("brandcare_rate_limit_waits_total", stage=stage) is not None
        assert sample("brandcare_rate_limit_wait_seconds_total", stage=stage) is not None
