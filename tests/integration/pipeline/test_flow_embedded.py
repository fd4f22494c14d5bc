"""The whole flow on the embedded default: SQLite, the in-process broker, real worker threads.

Runs the demo itself (the README's main job) with the real transformer scorer.
"""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from sqlalchemy import func, select

from brandcare.brands.sources import sample_dir
from brandcare.cli.demo import run_demo
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.store import transaction
from brandcare.store.models import DraftRow, EventRow, MentionRow, ReplyRow, ScoreRow


def test_demo_replays_every_sample_mention_through_every_stage(tmp_path: Path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'demo.db'}", broker_url=None)
    with (tmp_path / "progress.log").open("w") as progress:
        report = run_demo(settings, approve=3, console=Console(file=progress))
    lines = [
        json.loads(line)
        for line in (sample_dir() / "demo_mentions.jsonl").read_text().splitlines()
        if line.strip()
    ]
    sessions = runtime.pipeline().sessions
    with transaction(sessions) as s:
        stored = s.scalar(select(func.count()).select_from(MentionRow))
        external = set(s.scalars(select(MentionRow.external_id)))
        states = dict(
            s.execute(select(MentionRow.state, func.count()).group_by(MentionRow.state)).all()
        )
        scores = s.scalar(select(func.count()).select_from(ScoreRow))
        drafts = dict(
            s.execute(select(DraftRow.state, func.count()).group_by(DraftRow.state)).all()
        )
        posted = s.scalar(
            select(func.count()).select_from(ReplyRow).where(ReplyRow.state == "posted")
        )
        approvals = s.scalar(
            select(func.count()).select_from(EventRow).where(EventRow.action == "draft.approved")
        )
    assert stored == len(lines)  # each mention once: no loss, no duplicate
    assert external == {line["id"] for line in lines}
    assert scores == len(lines)
    assert states.get("new", 0) == 0
    assert states.get("scored", 0) == 0
    assert states["drafted"] + states["skipped"] + states["ignored"] == len(lines)
    assert states["skipped"] >= 5  # the sample's obvious trolls
    assert sum(drafts.values()) == states["drafted"] + states["skipped"]
    assert posted == approvals == 3 == report.sent
    assert drafts["sent"] == 3
