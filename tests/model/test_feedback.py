"""Learning from corrections: agents correct labels in the store, the heads learn them.

The round trip runs the real parts: corrections through ``brandcare.agents.feedback`` on an
embedded SQLite store, ``brandcare train --feedback`` on their export (on a 1,000-text
sample of the base sentiment data, ``--base-limit``, and 30 items per validation set,
so it takes seconds, not minutes), the retrained model on a corrected post and on held-out
ones, rescoring with the new version, and ``brandcare evaluate --feedback``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from brandcare.agents import feedback
from brandcare.cli import app as cli
from brandcare.pipeline.stages import Pipeline
from brandcare.store import make_engine, session_factory, transaction
from brandcare.store.aggregates import counts_by
from brandcare.store.migrate import upgrade
from brandcare.store.models import BrandRow, MentionRow, ScoreRow
from brandcare.store.scores import latest_score_of_mention
from sentiment.artifacts import default_model_dir, file_sha256, load_config
from sentiment.feedback.bench import PROFANE_PRAISE
from sentiment.feedback.corrections import (
    CorrectionsFileError,
    is_heldout,
    parse_corrections,
    split_corrections,
)
from sentiment.transformer import TransformerScorer

pytestmark = [pytest.mark.model, pytest.mark.shared]

#: A real post from the care labels: praise with a swear word, which the committed model
#: reads as negative trolling (and a validation text: evaluation must leave it out).
PRAISE = (
    "@AmericanAir Well, you guys are totally kicking a million pounds of ass. Bar none, "
    "the best SM team in the airline industry in my opinion."
)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _no_sources(platform: str, use: object):  # type: ignore[no-untyped-def]
    raise AssertionError(f"nothing polls in this test ({platform})")


@pytest.mark.xfail(
    strict=True,
    reason="the judgment model no longer reads profane praise as trolling, the blind spot "
    "this round trip corrects; it needs a blind spot the current model has",
)
def test_the_feedback_round_trip_changes_the_answer_on_a_corrected_post(  # type: ignore[no-untyped-def]
    shared_dir: Path, scorer, tmp_path: Path
) -> None:
    # Agents meet one blind spot again and again: praise in rough words read as trolling.
    # One correction is no evidence (cross-validation cannot show it carries over); a
    # pattern of them is, and the model learns it.
    texts = [PRAISE, *PROFANE_PRAISE]
    post_ids = [f"p{n}" for n in range(len(texts))]
    assert not is_heldout(f"twitter:{post_ids[0]}"), "PRAISE must be trained on"
    url = f"sqlite:///{tmp_path / 'brandcare.db'}"
    upgrade(url)
    sessions = session_factory(make_engine(url))
    with transaction(sessions) as s:
        brand = BrandRow(slug="acme-air", name="Acme Air")
        s.add(brand)
        s.flush()
        rows = [
            MentionRow(
                brand_id=brand.id,
                platform="twitter",
                external_id=post_id,
                author_id=f"u{i}",
                author_handle=f"user{i}",
                author_followers=120,
                text=text,
                url=f"https://x.com/i/status/{i}",
                created_at=T0 + dt.timedelta(minutes=i),
            )
            for i, (post_id, text) in enumerate(zip(post_ids, texts, strict=True))
        ]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
    Pipeline(sessions, _no_sources, lambda: scorer).score(ids)
    with transaction(sessions) as s:
        old = {r.mention_id: r for r in s.scalars(select(ScoreRow))}
        assert (old[ids[0]].troll, old[ids[0]].sentiment) == (True, "negative")
        for mention_id in ids:
            if old[mention_id].troll:
                feedback.correct(s, mention_id, "troll", "false", "ana")
            if old[mention_id].sentiment != "positive":
                feedback.correct(s, mention_id, "sentiment", "positive", "ana")
        records = list(feedback.export(s))
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text("".join(json.dumps(r) + "\n" for r in records))
    split = split_corrections(parse_corrections(corrections.read_text().splitlines()))
    held_trolls = [c for c in split.heldout if c.field == "troll"]
    assert PRAISE in {c.text for c in split.train}
    assert held_trolls, "some corrected posts must be held out"

    out = tmp_path / "retrained"
    runner = CliRunner()
    args = ["train", "--feedback", str(corrections), "--source", str(default_model_dir())]
    args += ["--out", str(out), "--base-limit", "1000", "--eval-limit", "30"]
    trained = runner.invoke(cli, args)
    assert trained.exit_code == 0, trained.output
    assert f"({len(split.heldout)} not trained on; {len(split.train)} trained on" in (
        trained.output
    )

    new = TransformerScorer(out, quantize=True)
    assert new.model_version != scorer.model_version
    assert new.model_version.startswith(scorer.config.version + "-fb-")
    # The corrected posts, and posts it never saw corrected, are no longer trolling.
    train_trolls = [c.text for c in split.train if c.field == "troll"]
    fixed = [s.troll_prob < 0.5 for s in new.score(train_trolls)]
    assert sum(fixed) > len(train_trolls) / 2, trained.output
    after = new.score([c.text for c in held_trolls])
    assert sum(s.troll_prob < 0.5 for s in after) > len(held_trolls) / 2, trained.output
    recorded = load_config(out).extra["feedback"]
    assert recorded["file_sha256"] == file_sha256(corrections)
    assert (recorded["corrections"], recorded["heldout"]) == (len(records), len(split.heldout))
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Learning from corrections" in card
    assert file_sha256(corrections) in card

    # The new version's scores go beside the old ones; readers see one score a mention.
    assert Pipeline(sessions, _no_sources, lambda: new).rescore(ids) == ids
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ScoreRow)) == 2 * len(ids)
        latest = s.execute(
            select(ScoreRow.model_version, ScoreRow.troll)
            .select_from(MentionRow)
            .join(ScoreRow, latest_score_of_mention())
            .where(MentionRow.id == ids[0])
        ).one()
        assert tuple(latest) == (new.model_version, False)
        counted = counts_by(s, brand.id, T0, T0 + dt.timedelta(days=1), ScoreRow.model_version)
        assert counted == [(new.model_version, len(ids))]

    evaluated = runner.invoke(
        cli, ["evaluate", "--feedback", str(corrections), "--model", str(out), "--limit", "30"]
    )
    assert evaluated.exit_code in (0, 1), evaluated.output
    report = evaluated.output
    assert f"before: {scorer.model_version}; after: {new.model_version}" in report
    [row] = [line for line in report.splitlines() if line.startswith("| troll |")]
    n, before, after_share = (float(v) for v in row.strip("| ").split(" | ")[1:])
    assert n == len(held_trolls)
    assert after_share > before  # corrections it never saw, now answered as agents did
    assert "| care troll F1 |" in report
    assert "1 texts the new model trained on left out" in report  # PRAISE is a care label
    assert (evaluated.exit_code == 1) == (" REGRESSION |" in report)


def test_a_malformed_corrections_file_names_every_bad_line() -> None:
    lines = [
        json.dumps({"text": "fine", "field": "troll", "label": True}),
        "not json",
        json.dumps({"text": "x", "field": "issue", "label": "billing"}),
        json.dumps({"text": "x", "field": "urgency_level", "label": "urgent"}),
    ]
    with pytest.raises(CorrectionsFileError) as caught:
        parse_corrections(lines, "c.jsonl")
    message = str(caught.value)
    assert "3 malformed" in message
    assert "c.jsonl:2:" in message
    assert "c.jsonl:3: field 'issue'" in message
    assert "c.jsonl:4: 'urgent' is not a urgency_level" in message


def test_the_held_out_split_is_stable_as_the_export_grows() -> None:
    one = [{"platform": "twitter", "external_id": f"p{n}", "text": f"t{n}", "field": "troll",
            "label": False} for n in range(200)]  # fmt: skip
    more = one + [{**r, "external_id": f"q{i}", "text": f"u{i}"} for i, r in enumerate(one)]
    first = split_corrections(parse_corrections(json.dumps(r) for r in one))
    later = split_corrections(parse_corrections(json.dumps(r) for r in more))
    assert {c.key for c in first.heldout} <= {c.key for c in later.heldout}
    assert 20 <= len(first.heldout) <= 60  # about a fifth
