"""Digest numbers against hand-computed ones, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import datetime as dt
import re

import pytest
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

from brandcare.insights import digest, render
from brandcare.store import aggregates
from brandcare.store.models import BrandRow, DraftRow, QueryRow, ReplyRow, ScoreRow
from tests.integration.store.helpers import add_scored

END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


@pytest.fixture
def seeded(factory: sessionmaker[Session]) -> int:
    """Yesterday: 6 mentions (3 negative, 2 neutral, 1 positive); the day before: 2.

    Two of yesterday's negatives got drafts that were sent 20 and 90 minutes after the
    post (SLA 60: one breach); one draft is still pending since 11 hours (a breach too);
    one mention was rescored by a newer model from negative to neutral.
    """
    with factory.begin() as s:
        b = BrandRow(slug="acme", name="Acme <Air>", voice={}, sla_minutes=60)
        s.add(b)
        s.flush()
        t = END - DAY
        ids = add_scored(
            s,
            b.id,
            [
                (t + dt.timedelta(hours=1), "negative", "lost_luggage"),
                (t + dt.timedelta(hours=2), "negative", "lost_luggage"),
                (t + dt.timedelta(hours=3), "negative", "delayed_flight"),
                (t + dt.timedelta(hours=4), "negative", "delayed_flight"),  # rescored below
                (t + dt.timedelta(hours=5), "neutral", "question"),
                (t + dt.timedelta(hours=6), "positive", "praise"),
                (t - dt.timedelta(hours=3), "negative", "lost_luggage"),  # the day before
                (t - dt.timedelta(hours=5), "positive", "praise"),
            ],
        )
        s.execute(
            insert(ScoreRow),
            [{"mention_id": ids[3], "model_version": "test-v2", "sentiment": "neutral",
              "prob_negative": 0.1, "prob_neutral": 0.8, "prob_positive": 0.1, "urgency": 0.2,
              "urgency_level": "low", "needs_reply": False, "needs_reply_prob": 0.1,
              "troll": False, "troll_prob": 0.0, "issue": "question", "reasons": []}],
        )  # fmt: skip
        for k, (mention, state) in enumerate(
            [(ids[0], "sent"), (ids[1], "sent"), (ids[2], "pending"), (ids[5], "skipped")]
        ):
            draft = DraftRow(mention_id=mention, text="Sorry!", original_text="Sorry!", state=state)
            s.add(draft)
            s.flush()
            if state == "sent":
                posted = t + dt.timedelta(hours=k + 1, minutes=(20, 90)[k])
                s.add(ReplyRow(draft_id=draft.id, idempotency_key=f"k{k}", platform="twitter",
                               posted_at=posted, state="posted"))  # fmt: skip
        return b.id


def test_counts_use_each_mentions_latest_score(factory: sessionmaker[Session], seeded: int) -> None:
    with factory.begin() as s:
        by = dict(aggregates.counts_by(s, seeded, END - DAY, END, ScoreRow.sentiment))
        assert by == {"negative": 3, "neutral": 2, "positive": 1}
        series = aggregates.negative_series(s, seeded, END - 2 * DAY, END, 3600)
        hours = {dt.datetime.fromtimestamp(b * 3600, dt.UTC).hour: n for b, n in series.items()}
        assert hours == {13: 1, 14: 1, 15: 1, 9: 1}
        luggage = aggregates.negative_series(s, seeded, END - DAY, END, 86400, issue="lost_luggage")
        assert sum(luggage.values()) == 2


def test_response_stats(factory: sessionmaker[Session], seeded: int) -> None:
    with factory.begin() as s:
        r = aggregates.response_stats(s, seeded, END - DAY, END, 60, END)
    assert (r.needing_reply, r.answered) == (3, 2)
    assert sorted(round(m) for m in r.first_response_minutes) == [20, 90]
    assert r.median_minutes == pytest.approx(55)
    assert r.breaches == 2  # one sent late, one still pending past the SLA


def test_the_digest_and_its_three_formats(factory: sessionmaker[Session], seeded: int) -> None:
    with factory.begin() as s:
        d = digest.build(s, "acme", "day", end=END)
    assert (d.total, d.previous_total) == (6, 2)
    assert d.sentiment == {"negative": 3, "neutral": 2, "positive": 1}
    assert digest.Digest.net(d.sentiment) == pytest.approx(100 * (1 - 3) / 6)
    assert [(i.issue, i.count, i.previous) for i in d.issues[:2]] == [
        ("lost_luggage", 2, 1),
        ("question", 2, 0),
    ]
    assert len(d.timeline) == 24
    assert [e.issue for e in d.reached_negative] == [
        "delayed_flight",
        "lost_luggage",
        "lost_luggage",
    ]
    html = render.render(d, "html")
    assert "Acme &lt;Air&gt;" in html  # escaped
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 2
    for image in images:
        png = base64.b64decode(image)
        assert png.startswith(b"\x89PNG")
        assert len(png) > 5_000
    md = render.render(d, "md")
    assert "Mentions: **6**" in md
    assert "+200%" in md
    csv = render.render(d, "csv").splitlines()
    assert csv[0].startswith("brand,period_start")
    assert csv[-1].endswith(",(all),6,2,3")


def test_an_unknown_brand_or_period_says_what_exists(
    factory: sessionmaker[Session], seeded: int
) -> None:
    with factory.begin() as s:
        with pytest.raises(digest.DigestError, match="known brands: acme"):
            digest.build(s, "nope", "day")
        with pytest.raises(digest.DigestError, match="day or week"):
            digest.build(s, "acme", "month")


def test_the_digest_counts_every_watched_platform_by_its_name_quiet_ones_too(
    factory: sessionmaker[Session],
) -> None:
    with factory.begin() as s:
        b = BrandRow(slug="fedi", name="Fedi", voice={}, sla_minutes=60)
        s.add(b)
        s.flush()
        for platform in ("twitter", "mastodon", "bluesky"):
            s.add(QueryRow(brand_id=b.id, platform=platform, kind="mentions", terms=""))
        s.add(QueryRow(brand_id=b.id, platform="reddit", kind="search", terms="x", enabled=False))
        t = END - dt.timedelta(hours=3)
        add_scored(s, b.id, [(t, "negative", "billing"), (t, "negative", "billing")],
                   platform="mastodon", prefix="toot", followers=40)  # fmt: skip
        add_scored(s, b.id, [(t, "positive", "praise")], prefix="tweet")
    with factory.begin() as s:
        d = digest.build(s, "fedi", "day", end=END)
    assert d.by_platform == {"twitter": {"positive": 1}, "mastodon": {"negative": 2}, "bluesky": {}}
    md = render.render(d, "md")
    assert "| Bluesky | 0 | 0 | 0 |" in md  # watched, and quiet
    assert "| Mastodon | 2 | 0 | 0 |" in md
    assert "| X | 0 | 0 | 1 |" in md
    assert "Reddit" not in md  # its one query is off
    assert "followers, Mastodon)" in md
    html = render.render(d, "html")
    assert "<td>Bluesky</td>" in html
    assert "<td>Mastodon</td>" in html
    assert "· Mastodon ·" in html
