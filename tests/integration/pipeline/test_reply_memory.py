"""Reply memory in the pipeline: sent replies are remembered once, imports store once, and
a near-duplicate mention gets its draft from the remembered reply (no torch: a word-hash
embedder stands in for the scorer's encoder)."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from numpy.typing import NDArray
from sqlalchemy import func, select
from typer.testing import CliRunner

from brandcare.agents import review
from brandcare.brands.setup import QuerySpec
from brandcare.cli import app as cli
from brandcare.replies.conversations import import_conversations, load_file
from brandcare.store import memory as store
from brandcare.store import transaction
from brandcare.store.models import DraftRow, MentionRow, QueryRow, ReplyMemoryRow, ScoreRow
from listener.fake import ScriptedSource, make_mention
from responders.sender import SendStatus
from sentiment.base import Embedder, Scores, ScoringEmbedder
from sentiment.baseline import BaselineScorer
from tests.integration.pipeline.conftest import add_brand, make_pipeline

SCRIPTED = QuerySpec(platform="scripted", kind="search", terms="@SkywayAir")


class WordEmbedder(BaselineScorer):
    """The baseline scorer plus hashed bag-of-words vectors: alike words, alike vectors."""

    embedding_version = "words-1"

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        out = np.zeros((len(texts), 384), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                out[i, zlib.crc32(word.strip(".,!?").encode()) % 384] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.maximum(norms, 1e-12)


class OnePassWordEmbedder(WordEmbedder):
    """``WordEmbedder`` whose scoring pass yields the vectors too, counting what ``embed``
    is asked for: drafting must not embed a mention the score stage kept a vector of."""

    def __init__(self) -> None:
        super().__init__()
        self.embedded: list[str] = []

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        self.embedded.extend(texts)
        return super().embed(texts)

    def score_and_embed(self, texts: Sequence[str]) -> tuple[list[Scores], NDArray[np.float32]]:
        return self.score(texts), WordEmbedder.embed(self, texts)


def conversation_line(ref: str, company: str, handle: str, text: str, reply: str) -> str:
    return json.dumps({
        "agentURL": {"tweet_ID": ref, "url_utterance": reply},
        "dialogContent": [{"client": handle, "datetime": "2026-05-03T10:00:00.000Z",
                           "message": text, "tweet_ID": f"t{ref}"}],
        "dialogHeader": {"company": company, "conversationDateTime": "2026-05-03T10:00:00.000Z"},
    })  # fmt: skip


def memory_count(sessions) -> int:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        return int(s.scalar(select(func.count()).select_from(ReplyMemoryRow)) or 0)


def test_importing_the_same_history_twice_stores_it_once(database: str, sessions, tmp_path: Path):  # type: ignore[no-untyped-def]
    add_brand(sessions, SCRIPTED)
    history = tmp_path / "history.jsonl"
    history.write_text("\n".join([
        conversation_line("1", "SkywayAir", "kim", "@SkywayAir my bag is lost", "@kim Sorry!"),
        conversation_line("2", "SkywayAir", "lee", "@SkywayAir refund?", "@lee Refunds: link"),
        conversation_line("3", "OtherCo", "max", "@OtherCo hi", "@max hello"),
    ]) + "\n")  # fmt: skip
    runner = CliRunner()
    env = {"BRANDCARE_DATABASE_URL": database}
    first = runner.invoke(cli, ["import", "conversations", str(history)], env=env)
    assert first.exit_code == 0, first.output
    assert "2 replies remembered, 0 already there, 1 skipped" in first.output
    assert "no brand for OtherCo" in first.output
    again = runner.invoke(cli, ["import", "conversations", str(history)], env=env)
    assert "0 replies remembered, 2 already there" in again.output
    assert memory_count(sessions) == 2
    created = runner.invoke(cli, ["import", "conversations", str(history), "--create-brands"],
                            env=env)  # fmt: skip
    assert "created brand OtherCo" in created.output
    assert memory_count(sessions) == 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"dialogHeader": {}}\n')
    refused = runner.invoke(cli, ["import", "conversations", str(bad)], env=env)
    assert refused.exit_code == 2
    assert "line 1" in refused.output


@pytest.mark.shared
def test_the_care_history_imports_once(sessions, shared_dir: Path):  # type: ignore[no-untyped-def]
    pairs = [p for p in load_file(shared_dir / "datasets/care_conversations/dev.jsonl") if p]
    for _ in range(2):
        with transaction(sessions) as s:
            import_conversations(s, pairs, create_brands=True)
    assert memory_count(sessions) == len({(p.company, p.ref) for p in pairs}) > 500


def _memory_pipeline(sessions, mentions, embedder=None):  # type: ignore[no-untyped-def]
    add_brand(sessions, SCRIPTED)
    embedder = embedder or WordEmbedder()
    pipeline = make_pipeline(sessions, ScriptedSource.with_mentions(mentions), embedder)
    assert isinstance(pipeline.scorer(), Embedder)
    with transaction(sessions) as s:
        brand_id = s.scalars(select(QueryRow.brand_id)).one()
        store.remember(s, [store.MemoryRecord(
            brand_id=brand_id, source="imported", source_ref="past-1",
            mention_text="@SkywayAir my bag never arrived in Denver, it is lost",
            reply_text="@kim_t Hi Kim, so sorry your bag is lost. File a report at "
                       "https://skyway.example/bags and we will trace it for you.",
            author_handle="kim_t", platform="scripted",
        )])  # fmt: skip
    return pipeline


def test_a_near_duplicate_is_drafted_from_memory_and_an_unrelated_one_from_templates(sessions):  # type: ignore[no-untyped-def]
    mentions = [
        make_mention(
            "dup", "@SkywayAir my bag never arrived in Denver, it is lost!!", handle="sam"
        ),
        make_mention(
            "other", "@SkywayAir I was charged twice for my ticket, refund it", handle="jo"
        ),
    ]
    pipeline = _memory_pipeline(sessions, mentions)
    with transaction(sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    pipeline.draft_many(pipeline.score(pipeline.poll(qid).new_ids))
    with transaction(sessions) as s:
        drafts = {
            ext: d
            for ext, d in s.execute(select(MentionRow.external_id, DraftRow).join(
                DraftRow, DraftRow.mention_id == MentionRow.id))
        }  # fmt: skip
        past_id = s.scalars(select(ReplyMemoryRow.id)).one()
    assert drafts["dup"].based_on == past_id
    assert drafts["dup"].template is None
    assert drafts["dup"].text.startswith("@sam Hi there, so sorry your bag is lost.")
    assert "kim" not in drafts["dup"].text.lower()
    assert drafts["other"].based_on is None
    assert drafts["other"].template is not None


def test_a_sent_reply_is_remembered_once_with_the_agents_edit(sessions):  # type: ignore[no-untyped-def]
    add_brand(sessions, SCRIPTED)
    source = ScriptedSource.with_mentions(
        [make_mention("1", "@SkywayAir lost my bag", handle="al")]
    )
    pipeline = make_pipeline(sessions, source)
    with transaction(sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    (mention_id,) = pipeline.score(pipeline.poll(qid).new_ids)
    draft_id = pipeline.draft(mention_id)
    assert draft_id is not None
    edited = "@al So sorry about your bag: https://skyway.example/bags"
    assert review.approve(sessions, draft_id, text=edited, actor="ana").approved
    assert memory_count(sessions) == 0  # approved is not yet sent
    outcome = pipeline.send(draft_id)
    assert outcome is not None
    assert outcome.status is SendStatus.SENT
    with transaction(sessions) as s:
        row = s.scalars(select(ReplyMemoryRow)).one()
        assert (row.source, row.draft_id, row.reply_text) == ("approved", draft_id, edited)
        assert row.author_handle == "al"
        assert store.remember_sent(s, draft_id) is False  # a second record: stored once
    assert memory_count(sessions) == 1


def test_drafting_uses_the_vector_of_the_scoring_pass_and_memory_keeps_it(sessions):  # type: ignore[no-untyped-def]
    """One forward pass per mention: the score stage keeps the vector of a mention the
    policy answers, drafting compares that one, and the sent reply's memory row takes it
    too; only the imported row (no vector) is embedded."""
    embedder = OnePassWordEmbedder()
    assert isinstance(embedder, ScoringEmbedder)
    mentions = [
        make_mention("dup", "@SkywayAir my bag never arrived in Denver, it is lost!", handle="s"),
        make_mention("other", "@SkywayAir I was charged twice for my ticket", handle="jo"),
    ]
    pipeline = _memory_pipeline(sessions, mentions, embedder)
    with transaction(sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    scored = pipeline.score(pipeline.poll(qid).new_ids)
    with transaction(sessions) as s:
        kept = dict(s.execute(select(MentionRow.external_id, ScoreRow.encoder).join(
            ScoreRow, ScoreRow.mention_id == MentionRow.id)).all())  # fmt: skip
    assert kept == {"dup": "words-1", "other": "words-1"}
    drafted = pipeline.draft_many(scored)
    assert embedder.embedded == ["@SkywayAir my bag never arrived in Denver, it is lost"]
    with transaction(sessions) as s:
        dup = s.scalars(
            select(DraftRow).join(MentionRow, DraftRow.mention_id == MentionRow.id)
            .where(MentionRow.external_id == "dup")
        ).one()  # fmt: skip
    assert dup.based_on is not None
    assert review.approve(sessions, dup.id, text=dup.text, actor="ana").approved
    pipeline.send(dup.id)
    with transaction(sessions) as s:
        sent = s.scalars(select(ReplyMemoryRow).where(ReplyMemoryRow.source == "approved")).one()
        stored = s.scalars(
            select(ScoreRow.embedding).where(ScoreRow.mention_id == dup.mention_id)
        ).one()
    assert sent.encoder == "words-1"
    assert sent.embedding == stored
    assert len(drafted) == 2
    assert len(embedder.embedded) == 1  # the sent reply's row needed no second pass


def test_a_mention_the_policy_does_not_answer_keeps_no_vector(sessions):  # type: ignore[no-untyped-def]
    mentions = [make_mention("chat", "@SkywayAir nice weather in Lisbon", handle="lu")]
    pipeline = _memory_pipeline(sessions, mentions, OnePassWordEmbedder())
    with transaction(sessions) as s:
        qid = s.scalars(select(QueryRow.id)).one()
    pipeline.score(pipeline.poll(qid).new_ids)
    with transaction(sessions) as s:
        row = s.scalars(select(ScoreRow)).one()
    assert (row.needs_reply, row.embedding, row.encoder) == (False, None, None)
