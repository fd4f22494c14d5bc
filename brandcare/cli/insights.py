"""Health, digests, spike alerts and the corrections export."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from brandcare.cli._app import alerts_app, app, fail, feedback_app, load_settings, open_store
from brandcare.cli._errors import Code


@app.command()
def health(
    pipeline: Annotated[
        bool,
        typer.Option(
            "--pipeline",
            help="also fail when work has waited for a worker longer than BRANDCARE_STALL_MINUTES",
        ),
    ] = False,
) -> None:
    """Check the database (and its schema), the broker and the model; exit 1 if not ok."""
    from brandcare.ops import health as checks

    results = checks.run(load_settings(), work=pipeline)
    for c in results:
        typer.echo(f"{'ok ' if c.ok else 'BAD'} {c.name:<9} {c.ms:>7.1f} ms  {c.detail}")
    if not all(c.ok for c in results):
        raise typer.Exit(1)


@app.command()
def digest(
    brand: Annotated[str, typer.Option(help="brand slug")],
    period: Annotated[str, typer.Option(help="day or week")] = "day",
    fmt: Annotated[str, typer.Option("--format", help="html, md or csv")] = "html",
    out: Annotated[Path, typer.Option(help="folder to write the digest in")] = Path("."),
    email: Annotated[
        bool, typer.Option(help="also mail it (SMTP and recipients from settings)")
    ] = False,
) -> None:
    """A brand's sentiment digest for the last day or week, against the one before."""
    from brandcare.insights import digest as digests
    from brandcare.insights import mail, render
    from brandcare.store import transaction

    settings = load_settings()
    if fmt not in render.FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of {', '.join(render.FORMATS)}", Code.USAGE)
    if period not in ("day", "week"):
        raise fail(f"unknown period {period!r}; use day or week", Code.USAGE)
    try:
        with transaction(open_store(settings)) as s:
            d = digests.build(s, brand, period)
    except digests.DigestError as exc:  # the period is checked: an unknown brand
        raise fail(str(exc), Code.NOT_FOUND) from exc
    path = out / f"{d.brand}-{d.period}-{d.end:%Y%m%d-%H%M}.{fmt}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        path.write_text(render.render(d, fmt), encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc}", Code.USAGE) from exc
    typer.echo(str(path))
    if email:
        try:
            to = settings.digest_recipients.get(brand, [])
            subject = f"{d.brand_name}: {period} digest"
            mail.send(settings, to, subject, render.html(d), render.markdown(d))
        except mail.MailError as exc:
            raise fail(str(exc), Code.SETTINGS) from exc
        typer.echo(f"mailed to {', '.join(settings.digest_recipients[brand])}", err=True)


@alerts_app.command("check")
def alerts_check() -> None:
    """Judge the last 15-minute window for every brand now (the scheduler does this)."""
    from brandcare.insights import alerts
    from brandcare.insights.notify import notifier

    settings = load_settings()
    sessions = open_store(settings)
    events = alerts.check(
        sessions, notifier=notifier(settings.alert_channels), public_url=settings.public_url
    )
    for e in events:
        sent = ", ".join(f"{d.channel} {'ok' if d.ok else d.error}" for d in e.deliveries)
        typer.echo(
            f"alert {e.alert_id} {e.action}: {e.brand}{'/' + e.issue if e.issue else ''} "
            f"{e.observed} negative vs {e.expected:.1f} expected ({e.severity})"
            + (f"; notified {sent}" if sent else "")
        )
    if not events:
        typer.echo("no spike", err=True)


@alerts_app.command("list")
def alerts_list(
    all_: Annotated[bool, typer.Option("--all", help="resolved ones too")] = False,
) -> None:
    """Alerts, open first."""
    from sqlalchemy import select

    from brandcare.store import transaction
    from brandcare.store.models import AlertRow, BrandRow

    settings = load_settings()
    with transaction(open_store(settings)) as s:
        stmt = select(AlertRow, BrandRow.slug).join(BrandRow, BrandRow.id == AlertRow.brand_id)
        if not all_:
            stmt = stmt.where(AlertRow.state == "open")
        for a, slug in s.execute(stmt.order_by(AlertRow.state, AlertRow.id.desc()).limit(100)):
            key = f"{slug}/{a.issue}" if a.issue else slug
            typer.echo(
                f"#{a.id} {a.state:<8} {a.severity or '-':<8} {key}"
                f" since {a.window_start:%Y-%m-%d %H:%M} UTC: {a.observed} vs {a.expected:.1f}"
            )


@feedback_app.command("export")
def feedback_export(
    out: Annotated[Path | None, typer.Option(help="JSON Lines file (default: stdout)")] = None,
) -> None:
    """Agents' label corrections as JSON Lines (the latest per mention and label)."""
    from brandcare.agents.feedback import export
    from brandcare.store import transaction

    settings = load_settings()
    n = 0
    with transaction(open_store(settings)) as s:
        lines = [json.dumps(record, ensure_ascii=False) for record in export(s)]
    try:
        target = out.open("w", encoding="utf-8") if out else sys.stdout
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc}", Code.USAGE) from exc
    try:
        for line in lines:
            target.write(line + "\n")
            n += 1
    finally:
        if out:
            target.close()
    typer.echo(f"{n} corrections exported", err=True)
