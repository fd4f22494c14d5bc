"""Logging set-up: readable text for people, one JSON object per line for machines.

Stage logs carry ids as ``extra=`` fields (``mention_ids``, ``draft_id``, ``query_id``,
``platform``), which the JSON format writes as keys. Whatever the format, every line
passes through a redaction step before it leaves the process: URL credentials
(``scheme://user:secret@host``) and the values of the settings' secrets (tokens,
passwords, per-brand credentials profiles' keys, the passwords in the database and
broker URLs, alert channel URLs and their tokens) become ``***``, so a third-party
library that logs a URL cannot leak one.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from pydantic import SecretStr

from brandcare.config import Settings

_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime"}
#: ``scheme://user:password@`` in any text: keep the user, hide the password.
_URL_CREDENTIALS = re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*):([^@\s/]+)@")
#: Secrets shorter than this are not replaced (they would match ordinary words).
MIN_SECRET_LENGTH = 6
MASK = "***"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, with any ``extra=`` fields as keys (mention ids...)."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in record.__dict__.items() if k not in _STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)


class RedactingFormatter(logging.Formatter):
    """Wraps a formatter and masks URL credentials and known secret values in its output."""

    def __init__(self, inner: logging.Formatter, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.inner = inner
        found = {s for s in secrets if len(s) >= MIN_SECRET_LENGTH}
        # As written in text, and as JSON escapes it (quotes, backslashes, non-ASCII).
        found |= {json.dumps(s, ensure_ascii=False)[1:-1] for s in found}
        found |= {json.dumps(s)[1:-1] for s in found}
        self.secrets = sorted(found, key=len, reverse=True)  # longest first: no partial leaks

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record), self.secrets)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with URL passwords and each of ``secrets`` replaced by ``***``."""
    text = _URL_CREDENTIALS.sub(rf"\1:{MASK}@", text)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact_url(url: str) -> str:
    """The URL with any password replaced (its user kept), for logs and messages."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


#: Apprise schemes whose host is a real host name; other schemes often carry a token
#: there (``tgram://BOT_TOKEN/chat``, ``pover://USER@TOKEN``).
_HOST_SCHEMES = frozenset(
    {"http", "https", "json", "jsons", "xml", "xmls", "form", "forms", "mailto", "mailtos"}
)


def _url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be secret: the whole URL, its password, the path
    segments and query values long enough to be tokens (webhook URLs such as
    ``slack://T000/B000/XXXX`` or ``json://host/hooks/TOKEN``), and for schemes that
    keep a token where the host would be, that part too."""
    try:
        parts = urlsplit(url)
        host, user, password = parts.hostname, parts.username, parts.password
    except ValueError:
        return [url]
    found = [url]
    if password:
        found += [password, unquote(password)]
    found += [seg for seg in parts.path.split("/") if len(seg) >= 8]
    found += [value for _, value in parse_qsl(parts.query) if len(value) >= 8]
    if parts.scheme.lower() not in _HOST_SCHEMES:
        found += [p for p in (parts.netloc, host, user) if p and len(p) >= 8]
    return found


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value the settings hold, as it could appear in a log line."""
    found: list[str] = []
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
    # Per-brand credentials profiles (X_API_KEY__ACME...) hold the same kinds of secret.
    for profile in settings.credential_profiles.values():
        for name in type(profile).model_fields:
            value = getattr(profile, name)
            if isinstance(value, SecretStr):
                found.append(value.get_secret_value())
    for url in (settings.database_url, settings.broker_url or ""):
        password = urlsplit(url).password if "://" in url else None
        if password:
            found += [password, unquote(password)]
    for channels in settings.alert_channels.values():
        for channel in channels:
            found += _url_secrets(channel.get("url", ""))
    return [s for s in found if s]


class _CurrentStderr(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is when a record comes: a test runner or CLI
    runner swaps it and closes its copy, and a late log line from a background thread
    (an SMTP server, a sender) must not then fail with "I/O operation on closed file"."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure(
    level: str = "INFO",
    fmt: str = "text",
    *,
    secrets: Iterable[str] = (),
    stream: IO[str] | None = None,
) -> None:
    """Send logs to stderr (stdout is for command output, such as ``score``'s JSON Lines)."""
    handler: logging.StreamHandler[IO[str]] = (
        logging.StreamHandler(stream) if stream is not None else _CurrentStderr()
    )
    inner = (
        JsonFormatter()
        if fmt == "json"
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.setFormatter(RedactingFormatter(inner, secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Alembic lists its plugins at INFO whenever it is imported: noise on every command.
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


def setup(settings: Settings, *, stream: IO[str] | None = None) -> None:
    """``configure`` from the settings, hiding the settings' own secrets."""
    configure(settings.log_level, settings.log_format, secrets=secrets_of(settings), stream=stream)
