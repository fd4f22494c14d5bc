"""``brandcare demo``: the whole pipeline on one laptop, on the embedded default.

Creates a fresh SQLite database, replays the bundled sample of mentions (three brands,
X and Reddit) through poll -> score -> draft with the in-process broker and real
Dramatiq worker threads, then approves the top drafts as a demo agent so the send stage
runs too, and prints what happened.
"""

from __future__ import annotations

import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from brandcare.brands.setup import apply_brands, load_brands
from brandcare.brands.sources import sample_dir
from brandcare.cli.reports import queue_lines
from brandcare.config import Settings
from brandcare.ops.logs import redact_url
from brandcare.pipeline import runtime
from brandcare.pipeline.queue import setup_broker
from brandcare.pipeline.schedule import Enqueue, Scheduler
from brandcare.store import migrate, transaction
from brandcare.store.drafts import count_by_state, pending_queue, transition_draft
from brandcare.store.models import BrandRow, DraftRow, MentionRow, ReplyRow

DEMO_AGENT = "demo-agent"
TERMINAL = ("drafted", "skipped", "ignored", "error")


@dataclass
class DemoReport:
    """What the demo did, for printing and for tests."""

    mentions: dict[str, int] = field(default_factory=dict)
    drafts: dict[str, int] = field(default_factory=dict)
    sent: int = 0
    seconds: float = 0.0


def _sample_count(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def run_demo(
    settings: Settings,
    *,
    approve: int = 3,
    timeout: float = 300.0,
    console: Console | None = None,
) -> DemoReport:
    """Run the demo against ``settings.database_url`` (a fresh SQLite file by default)."""
    console = console or Console(stderr=True)
    started = time.perf_counter()
    migrate.upgrade(settings.database_url)
    broker = setup_broker(settings.broker_url)
    pipeline = runtime.configure(settings)
    from dramatiq import Worker

    from brandcare.pipeline import tasks

    with transaction(pipeline.sessions) as s:
        apply_brands(s, load_brands(sample_dir() / "demo_brands.json"))
    expected = _sample_count(sample_dir() / "demo_mentions.jsonl")
    scheduler = Scheduler(
        pipeline.sessions,
        Enqueue(
            poll=tasks.poll_query.send,
            score=tasks.score_mentions.send,
            draft=tasks.draft_mentions.send,
            send=tasks.send_draft.send,
        ),
    )
    worker = Worker(broker, worker_threads=2)
    worker.start()
    report = DemoReport()
    try:
        with Progress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as progress:
            bars = {
                name: progress.add_task(name, total=expected)
                for name in ("fetched", "scored", "decided")
            }
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                scheduler.tick()
                counts = _counts(pipeline.sessions)
                fetched = sum(counts.values())
                decided = sum(counts.get(state, 0) for state in TERMINAL)
                progress.update(bars["fetched"], completed=fetched)
                progress.update(bars["scored"], completed=fetched - counts.get("new", 0))
                progress.update(bars["decided"], completed=decided)
                if decided >= expected:
                    break
                time.sleep(0.3)
        report.sent = _approve_top(pipeline.sessions, approve, tasks.send_draft.send)
        broker.join("send", timeout=int(timeout * 1000)) if approve else None
        with transaction(pipeline.sessions) as s:
            report.mentions = count_by_state(s, "mentions")
            report.drafts = count_by_state(s, "drafts")
            report.sent = (
                s.scalar(
                    select(func.count()).select_from(ReplyRow).where(ReplyRow.state == "posted")
                )
                or 0
            )
    finally:
        worker.stop()
    report.seconds = time.perf_counter() - started
    return report


def _counts(sessions) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with transaction(sessions) as s:
        rows = s.execute(select(MentionRow.state, func.count()).group_by(MentionRow.state))
        return {state: int(n) for state, n in rows}


def _approve_top(sessions, n: int, send) -> int:  # type: ignore[no-untyped-def]
    """Approve the top ``n`` pending drafts as the demo agent and queue their sends."""
    approved = []
    with transaction(sessions) as s:
        for entry in pending_queue(s, n):
            if entry.draft.text and transition_draft(
                s,
                entry.draft.id,
                ["pending"],
                "approved",
                DEMO_AGENT,
                approved_by=DEMO_AGENT,
                approved_at=runtime.pipeline().clock(),
            ):
                approved.append(entry.draft.id)
    for draft_id in approved:
        send(draft_id)
    return len(approved)


def command_prefix() -> str:
    """How to run this brandcare from the current folder, with or without the venv on PATH.

    The console script beside the running interpreter (``.venv/bin/brandcare`` from the
    project folder), else the interpreter and the module.
    """
    script = os.path.join(os.path.dirname(sys.executable), "brandcare")
    if not os.path.isfile(script):
        return f"{shlex.quote(sys.executable)} -m brandcare.cli"
    relative = os.path.relpath(script)
    return shlex.quote(script if relative.startswith("..") else relative)


def next_commands(settings: Settings, draft_id: int | None, brand: str | None) -> list[str]:
    """The commands to try next on the demo's data, exactly as they run from this folder."""
    exe = command_prefix()
    url = redact_url(settings.database_url)
    env = f"BRANDCARE_DATABASE_URL={shlex.quote(url)} {exe}"
    lines = [f"{env} queue --limit 5"]
    if draft_id is not None:
        lines.append(f"{env} approve {draft_id}")
    if brand is not None:
        lines.append(f"{env} digest --brand {brand} --period week --format md --out digests")
    sample = shlex.quote('{"id": 1, "text": "@SkywayAir my bag never arrived, 3 days now"}')
    lines.append(f"echo {sample} | {exe} score")
    return lines


def print_report(report: DemoReport, settings: Settings, console: Console) -> None:
    """The demo's summary: counts per stage, the top of the agents' queue, what to run next."""
    table = Table(title="mentions by state")
    for state, n in report.mentions.items():
        table.add_row(state, str(n))
    console.print(table)
    drafts = Table(title="drafts by state")
    for state, n in report.drafts.items():
        drafts.add_row(state, str(n))
    console.print(drafts)
    pipeline = runtime.pipeline()
    console.print("top of the queue (pending drafts, by priority):", markup=False)
    with transaction(pipeline.sessions) as s:
        brands = dict(s.execute(select(BrandRow.id, BrandRow.slug)).all())
        top = pending_queue(s, 6)
        for line in queue_lines(top, brands):
            console.print(line, markup=False, highlight=False, soft_wrap=True)
        sent = list(s.scalars(select(DraftRow.id).where(DraftRow.state == "sent")))
    top_text = [e for e in top if e.draft.text]
    first = top_text[0] if top_text else None

    def say(text: str) -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say(
        f"\nreplayed {sum(report.mentions.values())} mentions in {report.seconds:.0f} s; "
        f"{DEMO_AGENT} approved and sent {report.sent} drafts"
        + (f" (ids {', '.join(str(i) for i in sent)})" if sent else "")
    )
    say(
        f"database: {redact_url(settings.database_url)}, the demo's own (other commands "
        "read BRANDCARE_DATABASE_URL, by default sqlite:///brandcare.db)"
    )
    say("\nnext, from this folder, with or without the venv activated:")
    commands = next_commands(
        settings,
        first.draft.id if first else None,
        brands.get(first.mention.brand_id) if first else None,
    )
    for line in commands:
        say(f"  {line}")


DEMO_LOGIN = "demo"


def demo_login(settings: Settings) -> tuple[str, str]:
    """A demo agent for the web inbox, with a fresh random password each run."""
    import secrets

    from sqlalchemy import delete

    from brandcare.agents.users import add_user
    from brandcare.store.models import UserRow

    password = secrets.token_urlsafe(9)
    with transaction(runtime.pipeline().sessions) as s:
        s.execute(delete(UserRow).where(UserRow.username == DEMO_LOGIN))
        add_user(s, DEMO_LOGIN, password, "admin")
    return DEMO_LOGIN, password
