"""``brandcare bench digest``: digest and alert-check time at 10^4, 10^5 and 10^6 mentions.

Each size gets a fresh database (a SQLite file, and a PostgreSQL database when a server
URL is given) holding one brand's month: N mentions spread over 30 days with one score
each (a tenth rescored by a newer model, so the latest-score rule is exercised), a
realistic sentiment and issue mix, and replies for a share of them. The clock starts
after seeding: the numbers are what a marketing user or the scheduler waits.
"""

from __future__ import annotations

import datetime as dt
import random
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

from brandcare.insights import alerts, digest
from brandcare.store import make_engine, migrate, session_factory, transaction
from brandcare.store.models import AlertRow, BrandRow, DraftRow, MentionRow, ReplyRow, ScoreRow

END = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)
ISSUES = ("lost_luggage", "delayed_flight", "refund", "booking", "question", "praise", "none")
_CHUNK = 20_000


def _seed(sessions: sessionmaker[Session], n: int, seed: int = 3) -> None:
    rng = random.Random(seed)
    with transaction(sessions) as s:
        brand = BrandRow(slug="bench", name="Bench Air", voice={}, sla_minutes=60)
        s.add(brand)
        s.flush()
        brand_id = brand.id
    span = 30 * 86400
    for lo in range(0, n, _CHUNK):
        ids = range(lo + 1, min(n, lo + _CHUNK) + 1)
        mentions: list[dict[str, object]] = []
        scores: list[dict[str, object]] = []
        drafts: list[dict[str, object]] = []
        replies: list[dict[str, object]] = []
        for i in ids:
            created = END - dt.timedelta(seconds=rng.randrange(span))
            sentiment = rng.choices(("negative", "neutral", "positive"), (0.35, 0.45, 0.2))[0]
            mentions.append({
                "id": i, "brand_id": brand_id, "platform": rng.choice(("twitter", "reddit")),
                "external_id": str(i), "author_id": f"u{i % 5000}",
                "author_handle": f"user{i % 5000}", "author_followers": rng.randrange(100_000),
                "text": "my bag is lost again", "url": f"https://x.com/i/status/{i}",
                "created_at": created, "state": "scored", "raw": {},
            })  # fmt: skip
            score = {
                "mention_id": i, "model_version": "v1", "sentiment": sentiment,
                "prob_negative": 0.3, "prob_neutral": 0.4, "prob_positive": 0.3,
                "urgency": 0.5, "urgency_level": "medium", "needs_reply": True,
                "needs_reply_prob": 0.8, "troll": False, "troll_prob": 0.01,
                "issue": rng.choice(ISSUES), "reasons": [],
            }  # fmt: skip
            scores.append(score)
            if i % 10 == 0:
                scores.append(score | {"model_version": "v2", "sentiment": "neutral"})
            if i % 4 == 0:
                state = "sent" if i % 8 == 0 else "pending"
                drafts.append(
                    {"id": i, "mention_id": i, "text": "Sorry!", "original_text": "Sorry!",
                     "state": state}
                )  # fmt: skip
                if i % 8 == 0:
                    replies.append({
                        "draft_id": i, "idempotency_key": f"k{i}", "platform": "twitter",
                        "posted_at": created + dt.timedelta(minutes=rng.randrange(5, 240)),
                        "state": "posted",
                    })  # fmt: skip
        with transaction(sessions) as s:
            s.execute(insert(MentionRow), mentions)
            s.execute(insert(ScoreRow), scores)
            if drafts:
                s.execute(insert(DraftRow), drafts)
            if replies:
                s.execute(insert(ReplyRow), replies)


@contextmanager
def _database(kind: str, postgres: str | None) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            yield f"sqlite:///{Path(tmp) / 'digest.db'}"
        return
    assert postgres is not None
    from brandcare.bench.servers import throwaway_database

    with throwaway_database(postgres) as url:
        yield url


def _build(sessions: sessionmaker[Session], period: str) -> None:
    with transaction(sessions) as s:
        digest.build(s, "bench", period, end=END)


def _check(sessions: sessionmaker[Session]) -> None:
    with transaction(sessions) as s:
        # No alert rows, so the window is judged each time, not skipped.
        s.execute(delete(AlertRow))
        brand = s.scalars(select(BrandRow)).one()
        alerts.judge(s, brand, None, END, None, "")


def _timed(fn, repeat: int = 3) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """The first run (cold caches) and the best of ``repeat``."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return times[0], min(times)


def run_digest_benchmark(sizes: Sequence[int], postgres: str | None) -> str:
    kinds = ["sqlite"] + (["postgresql"] if postgres else [])
    lines = [
        "one brand's month, N mentions; seconds after seeding: digests best of 3; the alert "
        "check of one brand, first (reads the month) and next (reads the last six hours)",
        f"{'database':<12}{'mentions':>10}{'seed':>9}{'day digest':>12}{'week digest':>13}"
        f"{'alert, first':>14}{'alert, next':>13}",
    ]
    for kind in kinds:
        for n in sizes:
            with _database(kind, postgres) as url:
                migrate.upgrade(url)
                engine = make_engine(url)
                sessions = session_factory(engine)
                t = time.perf_counter()
                _seed(sessions, n)
                if kind == "postgresql":
                    with engine.connect() as c:
                        c.execute(text("ANALYZE"))
                        c.commit()
                seeded = time.perf_counter() - t

                day = _timed(lambda: _build(sessions, "day"))[1]  # noqa: B023 (called at once)
                week = _timed(lambda: _build(sessions, "week"))[1]  # noqa: B023
                cold, warm = _timed(lambda: _check(sessions))  # noqa: B023
                engine.dispose()
            lines.append(
                f"{kind:<12}{n:>10,}{seeded:>9.1f}{day:>12.3f}{week:>13.3f}{cold:>14.3f}"
                f"{warm:>13.3f}"
            )
    return "\n".join(lines)
