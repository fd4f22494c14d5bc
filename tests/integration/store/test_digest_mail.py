"""Digests by email through a local SMTP server, once per period however often asked."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from brandcare.config import Settings
from brandcare.insights import mail
from brandcare.insights.periodic import Periodic
from brandcare.store.models import BrandRow
from tests.integration.store.helpers import add_scored


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_the_daily_digest_is_mailed_once(
    factory: sessionmaker[Session], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    now = dt.datetime(2026, 11, 20, 7, 5, tzinfo=dt.UTC)
    with factory.begin() as s:
        b = BrandRow(slug="acme", name="Acme Air", voice={})
        s.add(b)
        s.flush()
        add_scored(
            s, b.id, [(now - dt.timedelta(hours=h), "negative", "lost_luggage") for h in (2, 3)]
        )
    settings = Settings(
        smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False, digest_hour_utc=7,
        digest_recipients={"acme": ["care-lead@acme.example"]}, alert_check_seconds=3600,
    )  # fmt: skip
    periodic = Periodic(settings, factory)
    periodic.tick(now, monotonic=1.0)
    periodic.tick(now + dt.timedelta(minutes=20), monotonic=2.0)  # same hour: not again
    assert len(inbox.messages) == 1
    msg = message_from_bytes(inbox.messages[0])
    assert msg["Subject"] == "Acme Air: day digest"
    assert msg["To"] == "care-lead@acme.example"
    html = next(p for p in msg.walk() if p.get_content_type() == "text/html")
    assert "data:image/png;base64," in html.get_payload(decode=True).decode()


def test_mailing_without_a_server_says_what_to_set() -> None:
    with pytest.raises(mail.MailError, match="BRANDCARE_SMTP_HOST"):
        mail.send(Settings(), ["a@b.example"], "s", "<p>h</p>", "h")
    with pytest.raises(mail.MailError, match=r"refused|failed"):
        mail.send(Settings(smtp_host="127.0.0.1", smtp_port=9, smtp_starttls=False),
                  ["a@b.example"], "s", "<p>h</p>", "h")  # fmt: skip
