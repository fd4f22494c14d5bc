"""Digests by email (SMTP from settings): HTML with a plain-text alternative."""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Sequence
from email.message import EmailMessage

from brandcare.config import Settings

log = logging.getLogger(__name__)


class MailError(RuntimeError):
    """The digest could not be emailed; the message says what to fix."""


def send(settings: Settings, to: Sequence[str], subject: str, html: str, text: str) -> None:
    """Send one message; raises MailError with the server's answer (never the password)."""
    if not settings.smtp_host:
        raise MailError("no SMTP server: set BRANDCARE_SMTP_HOST (and _PORT, _USERNAME, ...)")
    if not to:
        raise MailError("no recipients: set BRANDCARE_DIGEST_RECIPIENTS for the brand")
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(
            f"sending to {settings.smtp_host}:{settings.smtp_port} failed: {exc}"
        ) from exc
    log.info("digest %r mailed to %d recipients", subject, len(to))
