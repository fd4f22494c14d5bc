"""Reply text as platforms count and address it, from a ``ReplyRules`` value.

Drafting, the approval check, the inbox's live counter and the sources that post all
measure a reply here, so the number an agent sees is the number the platform checks.
Nothing here names a platform: the rules say how to count.
"""

from __future__ import annotations

import re
import unicodedata

import regex

from listener.base import Counting, ReplyRules

#: What X and Mastodon count a link as, whatever its length.
LINK_LENGTH = 23
_X_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
#: One character outside the light ranges (what weighted counting counts twice).
_HEAVY = re.compile(
    "[^" + "".join(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}" for lo, hi in _X_LIGHT_RANGES) + "]"
)
_SCHEME_URL = re.compile(r"https?://\S+", re.IGNORECASE)
_BARE_URL = re.compile(r"(?<![\w.-])(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?(?![\w-])", re.IGNORECASE)
_URL_TRAILING = ".,!?:;)]}'\""
#: "@kim@example.social": a mention of an account on another server.
_REMOTE_MENTION = re.compile(r"(?<![\w@/])@([A-Za-z0-9_]+)@[A-Za-z0-9.-]+[A-Za-z0-9]")
_GRAPHEME = regex.compile(r"\X")


def reply_length(text: str, rules: ReplyRules) -> int:
    """The length the platform counts for ``text`` under ``rules``.

    Weighted (X): links count 23 whatever their length and characters outside the
    Latin, punctuation and common-symbol ranges count 2 (an emoji sequence is
    overcounted, never undercounted). Graphemes: each user-perceived character once,
    after links and remote mentions are shortened where the rules say so (Mastodon).
    Code points: characters.
    """
    text = unicodedata.normalize("NFC", text)
    if rules.counting is Counting.WEIGHTED:
        return _weighted(text)
    if rules.local_mentions:
        text = _REMOTE_MENTION.sub(r"@\1", text)
    if rules.link_length is not None:
        text = _SCHEME_URL.sub(
            lambda m: (
                "x" * rules.link_length  # type: ignore[operator]
                + m.group()[len(m.group().rstrip(_URL_TRAILING)) :]
            ),
            text,
        )
    if rules.counting is Counting.GRAPHEMES:
        return graphemes(text)
    return len(text)


def graphemes(text: str) -> int:
    """User-perceived characters (extended grapheme clusters, Unicode UAX #29)."""
    if text.isascii():
        return len(text) - text.count("\r\n")  # CR LF is one cluster
    return sum(1 for _ in _GRAPHEME.finditer(text))


def address_of(handle: str, rules: ReplyRules) -> str:
    """How a reply names the author with ``handle`` ("@kim", "u/kim", "@kim@example.social").

    "" when the handle holds anything but letters, digits and the separators handles
    use ("_", "-", ".", one "@" before a server name): a reply never echoes odd text.
    """
    handle = re.sub(r"^(?:@|u/|/u/)", "", handle.strip())
    if not _HANDLE.fullmatch(handle):
        return ""
    return f"{rules.address}{handle}"


_HANDLE = re.compile(
    r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,62}[A-Za-z0-9_])?"  # the name (a domain on Bluesky)
    r"(?:@[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)?"  # "@server" (Mastodon)
)


def addressed(text: str, address: str, rules: ReplyRules) -> str:
    """``text`` as posted: opened with ``address`` where the rules want the author named
    first and the text does not already begin with it; else unchanged."""
    if not rules.address_first or not address:
        return text
    stripped = text.lstrip()
    if re.match(rf"{re.escape(address)}(?![\w@.-])", stripped, re.IGNORECASE):
        return stripped
    return f"{address} {stripped}" if stripped else address


def _weighted(text: str) -> int:
    total, last = 0, 0
    for start, end, counted in _weighted_links(text):
        total += _weight(text[last:start]) + counted
        last = end
    return total + _weight(text[last:])


def _weighted_links(text: str) -> list[tuple[int, int, int]]:
    spans: list[tuple[int, int, int]] = []
    for m in _SCHEME_URL.finditer(text):
        link = m.group().rstrip(_URL_TRAILING)
        spans.append((m.start(), m.start() + len(link), LINK_LENGTH))
    for m in _BARE_URL.finditer(text):
        if any(s <= m.start() < e for s, e, _ in spans):
            continue
        # X links a bare domain only if it knows the TLD; counting the larger of the two
        # readings can only overcount.
        link = m.group().rstrip(_URL_TRAILING)
        end = m.start() + len(link)
        spans.append((m.start(), end, max(LINK_LENGTH, _weight(link))))
    return sorted(spans)


def _weight(text: str) -> int:
    """One per character plus one per heavy character: a regex scan, not a Python loop
    over characters, which cost more than the rest of drafting together."""
    if text.isascii():
        return len(text)
    return len(text) + sum(1 for _ in _HEAVY.finditer(text))
