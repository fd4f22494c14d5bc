"""Small helpers the platform sources share: header parsing, text matching, log redaction."""

from __future__ import annotations

import datetime as dt
import html
import logging
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

_WHITESPACE = re.compile(r"\s+")
_URL = re.compile(r"https?://\S+")
_LEADING_MENTIONS = re.compile(r"^(?:@\w+\s+)+")
# NUL (PostgreSQL text refuses it) and surrogate code points (half an emoji from a
# broken "\ud83d" escape, which JSON parsers let through): no UTF-8 database stores them.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

#: Widths of the mention table's columns (``brandcare.store.models.MentionRow``; a test
#: keeps them equal): PostgreSQL refuses a longer value, and with it the whole page.
ID_CHARS = 128
NAME_CHARS = 200
LANG_CHARS = 16


def utcnow() -> dt.datetime:
    """The current time, timezone-aware UTC (a function so tests can see one place)."""
    return dt.datetime.now(dt.UTC)


def storable(text: str) -> str:
    """``text`` with NUL and lone surrogates replaced by U+FFFD, everything else as posted.

    Either would make the database refuse the whole page it arrived in (the query would
    then never get past it); a replacement character keeps the post readable for agents.
    """
    return _UNSTORABLE.sub("\ufffd", text) if _UNSTORABLE.search(text) else text


#: Invisible characters that only ever hide or reorder what a reader sees: bidi embeddings,
#: overrides and isolates (which can make an inbox show text in another order than it is
#: stored: "Trojan Source"), zero-width space, word joiner and byte order marks. Zero-width
#: joiners stay: emoji sequences and several scripts need them.
_INVISIBLE = re.compile("[\u200b\u2060\ufeff\u202a-\u202e\u2066-\u2069]")


def visible(text: str) -> str:
    """``text`` made storable (``storable``) without the invisible characters above."""
    return _INVISIBLE.sub("", storable(text))


def fit(text: str, width: int) -> str:
    """A display field (a handle, a name) made storable and cut to its column's width."""
    return storable(text)[:width]


def identifier(value: object, width: int = ID_CHARS) -> str | None:
    """An id the platform sent, as stored; None when it is not a string that fits.

    Ids are never cut: two cut ids could name one post.
    """
    if not isinstance(value, str) or not value or len(value) > width:
        return None
    return storable(value)


def header_int(headers: Mapping[str, str], name: str) -> int | None:
    """An integer header (Reddit sends ``"599.0"``), or None when absent or garbled."""
    value = headers.get(name)
    if value is None:
        return None
    try:
        return int(float(value))
    except ValueError:
        return None


def same_text(posted: str, wanted: str) -> bool:
    """Whether a post the platform shows is the text we sent.

    Platforms rewrite what they store: X escapes ``&`` as ``&amp;``, prefixes reply
    handles and shortens links to t.co; Reddit trims whitespace. Comparing with those
    rewrites undone keeps ``find_reply`` from missing a reply that did go out (which
    would post it twice).
    """
    return _normalise(posted) == _normalise(wanted)


def _normalise(text: str) -> str:
    text = html.unescape(text).strip()
    text = _LEADING_MENTIONS.sub("", text)
    text = _URL.sub("<url>", text)
    return _WHITESPACE.sub(" ", text).strip()


def json_safe(value: Any, depth: int = 0) -> Any:
    """``value`` reduced to JSON types, so ``Mention.raw`` can go into a JSON column."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):  # JSON has no NaN or Infinity: PostgreSQL refuses them
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping) and depth <= 8:
        return {str(k): json_safe(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple) and depth <= 8:
        return [json_safe(v, depth + 1) for v in value]
    try:
        return str(value)
    except (TypeError, ValueError):  # praw wraps odd JSON in objects whose str() breaks
        return f"<{type(value).__name__}>"


class RedactSecrets(logging.Filter):
    """Blanks known secrets in log records of third-party loggers.

    tweepy logs every request's headers (the bearer token) and prawcore its form data
    at DEBUG; an app run at DEBUG must still never write a token to its logs.
    """

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = {s for s in secrets if s and len(s) >= 4}

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message with every secret replaced; never drops it."""
        if not self.secrets:
            return True
        message = record.getMessage()
        redacted = message
        for secret in self.secrets:
            redacted = redacted.replace(secret, "***")
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


def install_redaction(logger_names: Iterable[str], secrets: Iterable[str]) -> None:
    """Attach (once per logger) a filter that redacts ``secrets`` from those loggers."""
    wanted = {s for s in secrets if s}
    for name in logger_names:
        logger = logging.getLogger(name)
        for existing in logger.filters:
            if isinstance(existing, RedactSecrets):
                existing.secrets |= {s for s in wanted if len(s) >= 4}
                break
        else:
            logger.addFilter(RedactSecrets(wanted))
