"""``brandcare rescore``: a new model's scores go beside the old ones; readers see the newest."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select
from typer.testing import CliRunner

from brandcare.cli import app as cli
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.store import transaction
from brandcare.store.drafts import pending_queue
from brandcare.store.models import DraftRow, MentionRow, ScoreRow
from brandcare.store.scores import latest_score_of_mention
from sentiment.base import Scores, Sentiment, SentimentProbs
from sentiment.baseline import BaselineScorer
from tests.integration.pipeline.conftest import add_brand, make_pipeline


class RetrainedScorer(BaselineScorer):
    """Another model version that reads every post as positive."""

    model_version = "baseline-lexicon-2"

    def score(self, texts: Sequence[str]) -> list[Scores]:
        return [
            dataclasses.replace(
                s,
                sentiment=Sentiment.POSITIVE,
                probs=SentimentProbs(0.1, 0.2, 0.7),
                model_version=self.model_version,
            )
            for s in super().score(texts)
        ]


def _mention(brand_id: int, n: int, age: dt.timedelta) -> MentionRow:
    return MentionRow(
        brand_id=brand_id,
        platform="twitter",
        external_id=f"m{n}",
        author_id=f"u{n}",
        author_handle=f"user{n}",
        text="@SkywayAir my bag is lost and nobody answers, this is terrible",
        url=f"https://x.com/i/status/m{n}",
        created_at=dt.datetime.now(dt.UTC) - age,
    )


def test_rescore_adds_the_new_version_for_recent_mentions_and_readers_see_it(  # type: ignore[no-untyped-def]
    database: str, sessions, monkeypatch
) -> None:
    brand = add_brand(sessions)
    with transaction(sessions) as s:
        rows = [
            _mention(brand, 1, dt.timedelta(days=1)),
            _mention(brand, 2, dt.timedelta(days=2)),
            _mention(brand, 3, dt.timedelta(days=30)),
        ]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
    old = make_pipeline(sessions, None)
    assert old.score(ids) == ids
    old.draft_many(ids)

    monkeypatch.setenv("BRANDCARE_DATABASE_URL", database)
    runtime.configure(Settings(), scorer=RetrainedScorer())
    runner = CliRunner()
    result = runner.invoke(cli, ["rescore", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "2 of 2 mentions rescored by baseline-lexicon-2" in result.output
    again = runner.invoke(cli, ["rescore", "--days", "7"])
    assert "0 of 2 mentions rescored" in again.output  # unique per mention and version

    with transaction(sessions) as s:
        versions = {
            m: v for m, v in s.execute(
                select(MentionRow.id, ScoreRow.model_version).join(
                    ScoreRow, latest_score_of_mention()
                )
            )
        }  # fmt: skip
        assert versions == {
            ids[0]: "baseline-lexicon-2",
            ids[1]: "baseline-lexicon-2",
            ids[2]: "baseline-lexicon-1",  # older than the window: its score stays
        }
        assert len(s.scalars(select(ScoreRow)).all()) == 5
        queue = pending_queue(s, 10)
        assert {e.mention.id: e.score.sentiment for e in queue if e.score} == {
            ids[0]: "positive",
            ids[1]: "positive",
            ids[2]: "negative",
        }
        # Drafts keep their state: rescoring only changes what agents read.
        assert {d.state for d in s.scalars(select(DraftRow))} == {"pending"}
