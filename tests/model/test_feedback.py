"""Learning from corrections: agents correct labels in the store, the heads learn them.

The round trip runs the real parts: corrections through ``brandcare.feedback`` on an
embedded SQLite store, ``brandcare train --feedback`` on their export (on a 1,000-text
sample of the base sentiment data, ``--base-limit``, so it takes seconds, not minutes),
the retrained model on the corrected post, rescoring with the new version, and
``brandcare evaluate --feedback``.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from brandcare import feedback
from brandcare.cli import app as cli
from brandcare.pipeline import Pipeline
from brandcare.store import make_engine, session_factory, transaction
from brandcare.store.aggregates import counts_by
from brandcare.store.migrate import upgrade
from brandcare.store.models import BrandRow, MentionRow, ScoreRow
from brandcare.store.queries import latest_score_of_mention
from sentiment.artifacts import default_model_dir, file_sha256, load_config
from sentiment.corrections import (
    CorrectionsFileError,
    is_heldout,
    parse_corrections,
    split_corrections,
)
from sentiment.transformer import TransformerScorer

pytestmark = [pytest.mark.model, pytest.mark.shared]

#: A real post from the care labels: praise with a swear word, which the committed model
#: reads as negative trolling. An agent corrects both labels.
PRAISE = (
    "@AmericanAir Well, you guys are totally kicking a million pounds of ass. Bar none, "
    "the best SM team in the airline industry in my opinion."
)
#: Another real one, corrected too, that lands in the held-out slice.
SUPPORT = (
    "@MojangSupport i already have java edition installed in my computer so i went to "
    "http://mojang.com to claim my free copy of windows 10 edition, i redeemed the code and "
    "everything, and i cant find the game. i cant redeem the code again, and its not "
    "downloaded anywhere. help?"
)
T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


def _post_id(held_out: bool) -> str:
    """A post id on the chosen side of the corrections' held-out split."""
    return next(f"p{n}" for n in range(1, 1000) if is_heldout(f"twitter:p{n}") is held_out)


def _no_sources(platform: str):  # type: ignore[no-untyped-def]
    raise AssertionError(f"nothing polls in this test ({platform})")


def test_the_feedback_round_trip_changes_the_answer_on_a_corrected_post(  # type: ignore[no-untyped-def]
    shared_dir: Path, scorer, tmp_path: Path
) -> None:
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
                external_id=_post_id(held_out=held),
                author_id=f"u{i}",
                author_handle=f"user{i}",
                author_followers=120,
                text=text,
                url=f"https://x.com/i/status/{i}",
                created_at=T0 + dt.timedelta(minutes=i),
            )
            for i, (text, held) in enumerate(((PRAISE, False), (SUPPORT, True)))
        ]
        s.add_all(rows)
        s.flush()
        praise_id, support_id = rows[0].id, rows[1].id
    Pipeline(sessions, _no_sources, lambda: scorer).score([praise_id, support_id])
    with transaction(sessions) as s:
        old = s.scalars(select(ScoreRow).where(ScoreRow.mention_id == praise_id)).one()
        assert (old.troll, old.sentiment) == (True, "negative"), "the example must be wrong now"
        feedback.correct(s, praise_id, "troll", "false", "ana")
        feedback.correct(s, praise_id, "sentiment", "positive", "ana")
        feedback.correct(s, support_id, "sentiment", "negative", "ana")
        records = list(feedback.export(s))
    corrections = tmp_path / "corrections.jsonl"
    corrections.write_text("".join(json.dumps(r) + "\n" for r in records))
    split = split_corrections(parse_corrections(corrections.read_text().splitlines()))
    assert {c.text for c in split.train} == {PRAISE}
    assert [c.text for c in split.heldout] == [SUPPORT]

    out = tmp_path / "retrained"
    runner = CliRunner()
    args = ["train", "--feedback", str(corrections), "--source", str(default_model_dir())]
    args += ["--out", str(out), "--base-limit", "1000", "--eval-limit", "30"]
    trained = runner.invoke(cli, args)
    assert trained.exit_code == 0, trained.output
    assert "Held-out corrections (1 not trained on; 2 trained on" in trained.output

    new = TransformerScorer(out, quantize=True)
    assert new.model_version != scorer.model_version
    assert new.model_version.startswith(scorer.config.version + "-fb-")
    assert new.score([PRAISE])[0].troll_prob < 0.5
    recorded = load_config(out).extra["feedback"]
    assert recorded["file_sha256"] == file_sha256(corrections)
    assert (recorded["corrections"], recorded["train"], recorded["heldout"]) == (3, 2, 1)
    card = (out / "MODEL_CARD.md").read_text()
    assert "## Learning from corrections" in card
    assert file_sha256(corrections) in card

    # The new version's scores go beside the old ones; readers see one score a mention.
    assert Pipeline(sessions, _no_sources, lambda: new).rescore([praise_id, support_id]) == [
        praise_id,
        support_id,
    ]
    with transaction(sessions) as s:
        assert s.scalar(select(func.count()).select_from(ScoreRow)) == 4
        latest = s.execute(
            select(ScoreRow.model_version, ScoreRow.troll)
            .select_from(MentionRow)
            .join(ScoreRow, latest_score_of_mention())
            .where(MentionRow.id == praise_id)
        ).one()
        assert tuple(latest) == (new.model_version, False)
        counted = counts_by(s, brand.id, T0, T0 + dt.timedelta(days=1), ScoreRow.model_version)
        assert counted == [(new.model_version, 2)]

    evaluated = runner.invoke(
        cli, ["evaluate", "--feedback", str(corrections), "--model", str(out), "--limit", "30"]
    )
    assert evaluated.exit_code in (0, 1), evaluated.output
    report = evaluated.output
    assert f"before: {scorer.model_version}; after: {new.model_version}" in report
    assert "| sentiment | 1 |" in report  # the held-out correction, both models
    assert "| care troll F1 |" in report
    assert "1 texts the new model trained on left out" in report
    assert (evaluated.exit_code == 1) == ("REGRESSION" in report)


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
