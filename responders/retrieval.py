"""Drafts from replies the care team already stood behind: find the nearest, adapt it.

A template knows the issue; a past reply knows the brand: its links, its wording, the
fix that worked. For a new mention the drafter looks up the brand's past mentions by
embedding similarity (``search``), and when one is close enough it adapts that mention's
reply (``adapt``): the new author's handle and name, the thing the new mention names,
the platform's length limit. Whatever was personal to the old case never carries over:
sentences holding personal data, the old author's handle or name, or a detail of the old
case the new mention does not share are left out, and a final check refuses the draft
if anything of the old customer's is still in it. Below the threshold, or when nothing
adaptable is left, the caller drafts from the templates.

Plain values in, plain values out: the store and the encoder belong to the caller.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from listener import text as reply_text
from listener.base import Mention, ReplyRules
from responders.drafting import (
    DraftingError,
    fitting_prefix,
    handle_text,
    named_things,
    reply_length,
)
from responders.privacy import Finding, find_personal_data, scrub
from responders.voice import Voice

logger = logging.getLogger(__name__)

#: Cosine similarity (scorer's encoder) from which a past reply is adapted rather than a
#: template used. Chosen by ``brandcare bench drafts``: the strictest threshold within a
#: point of the best score, leaving each earlier conversation out of the memory in turn
#: (the sweep is in docs/drafts.md). Unrelated topics score about 0.0-0.2 with this encoder.
DEFAULT_THRESHOLD = 0.45

#: How many nearest past replies are tried, best first, before falling back.
CANDIDATES = 5

#: An adapted reply must keep at least this share of the past reply's words; otherwise
#: so much was specific to the old case that it is no longer that reply.
MIN_KEPT = 0.5


class NotAdaptable(DraftingError):
    """This past reply cannot be carried over to the new mention; the message says why."""


@dataclass(frozen=True, slots=True)
class PastReply:
    """A remembered reply and the mention it answered."""

    memory_id: int
    mention_text: str
    reply_text: str
    author_handle: str
    author_name: str = ""
    platform: str = "twitter"
    mentioned_at: dt.datetime | None = None


@dataclass(frozen=True, slots=True)
class Match:
    """A past reply and how alike its mention is to the new one (cosine, -1..1)."""

    past: PastReply
    similarity: float


@dataclass(frozen=True, slots=True)
class Adapted:
    """A draft adapted from a past reply, with what was changed and left out."""

    text: str
    based_on: PastReply
    similarity: float
    notes: tuple[str, ...] = ()


# --- adapting a past reply ---------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")
_AFTER_LINK = re.compile(r"(https?://\S+)\s+(?=[A-Z])")
_HANDLE = r"(?:@|u/|/u/)[A-Za-z0-9_]{1,40}(?![A-Za-z0-9_])"
_LEADING_HANDLES = re.compile(rf"^(?:\s*{_HANDLE}[,:]?)+\s*")
_NAME = r"(?P<name>[A-Z][a-z]{1,19})(?![A-Za-z])"
_GREETING_NAME = re.compile(r"\b(?P<word>Hi|Hello|Hey|Dear|Morning|Evening),?\s+" + _NAME)
_THANKS_NAME = re.compile(r"\b(?P<word>Thanks|Thank you|Cheers),?\s+" + _NAME + r"(?=\s*[,.!])")
_VOCATIVE = re.compile(r",\s*" + _NAME + r"(?=\s*[.!?](?:\s|$)|\s*$)")
#: Capitalised words that follow a greeting or end a sentence but are nobody's name.
_NOT_NAMES = frozenset(
    """
    There Team All Everyone Everybody Folks Guys Friend Friends Again Today Tonight Tomorrow
    Sir Madam Mr Mrs Ms Dr Please Thanks Thank So Too Though Yet Now Here Ok Okay Yes No
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday You Again Soon Later
    """.split()
)
_FLIGHT_IN_PHRASE = re.compile(r"\bflight (?P<num>(?!from\b)[^ ]+(?: \d+)?)(?= from |$)")
_ROUTE_IN_PHRASE = re.compile(r"\bfrom (?P<a>[A-Z]{3}) to (?P<b>[A-Z]{3})\b")


_LINK = re.compile(r"https?://\S+", re.IGNORECASE)
#: "please delete this tweet, it shows your email": advice for the old post only.
_PRIVACY_ADVICE = re.compile(
    r"(?i)\b(?:delete|remove|edit)\b.{0,60}\b(?:tweet|post|comment|reply|message)\b"
    r"|\b(?:personal|private)\s+(?:info|information|details|data)\b"
)


def _tidy_links(sentence: str) -> str:
    """Links whose query string or fragment reads as personal data lose it (tracking and
    session ids look like order numbers); the page they point to stays."""

    def tidy(m: re.Match[str]) -> str:
        link = m.group(0)
        if not find_personal_data(link):
            return link
        return re.split(r"[?#]", link, maxsplit=1)[0]

    return _LINK.sub(tidy, sentence)


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def _first_name(name: str) -> str:
    first = name.strip().split(" ")[0] if name.strip() else ""
    return first if re.fullmatch(r"[A-Z][a-z]{1,19}", first) else ""


def _sentences(text: str) -> list[str]:
    """Sentences, counting a link followed by a capital as the end of one (replies often
    put the link last and no full stop after it)."""
    marked = _AFTER_LINK.sub("\\1\x00", text)
    return [p.strip() for p in _SENTENCE_END.sub("\x00", marked).split("\x00") if p.strip()]


def _details(text: str, voice: Voice) -> dict[str, str]:
    """The specifics a mention names, as they would appear in a reply: flight number,
    route ("JFK", "LAX" as one "route" entry "JFK LAX") and product."""
    return dict(_details_of(text, voice))


@functools.lru_cache(maxsize=8192)
def _details_of(text: str, voice: Voice) -> tuple[tuple[str, str], ...]:
    """``_details``, remembered: a past mention is read again for every mention its reply
    is adapted for, and at volume that was most of drafting's reading."""
    found: dict[str, str] = {}
    things = named_things(scrub(text), voice)
    flight = things.get("flight", "")
    number = _FLIGHT_IN_PHRASE.search(flight)
    if number:
        found["flight"] = number.group("num")
    route = _ROUTE_IN_PHRASE.search(flight)
    if route:
        found["route"] = f"{route.group('a')} {route.group('b')}"
    if "product" in things:
        found["product"] = things["product"].removeprefix("your ")
    return tuple(found.items())


@functools.lru_cache(maxsize=8192)
def _personal_data(text: str) -> tuple[Finding, ...]:
    """``find_personal_data``, remembered: a past reply's sentences and texts are read
    again for every mention it is adapted for."""
    return tuple(find_personal_data(text))


def _detail_pattern(kind: str, value: str) -> re.Pattern[str]:
    if kind == "flight":  # "UA123" also written "UA 123"
        compact = value.replace(" ", "")
        body = r"\s?".join(map(re.escape, [compact[:2], compact[2:]])) if len(compact) > 2 else ""
        return re.compile(rf"(?<![\w]){body or re.escape(compact)}(?![\w])", re.IGNORECASE)
    if kind == "route":
        a, b = value.split(" ")
        return re.compile(rf"\b{a}\b(?P<mid>.{{1,12}}?)\b{b}\b")
    return re.compile(r"(?<![\w])" + r"\s+".join(map(re.escape, value.split())) + r"(?![\w])", re.I)


def _replace_detail(text: str, kind: str, old: str, new: str) -> str:
    pattern = _detail_pattern(kind, old)
    if kind == "route":
        a, b = new.split(" ")
        return pattern.sub(lambda m: f"{a}{m.group('mid')}{b}", text)
    return pattern.sub(lambda _m: new, text)


def _without_names(text: str, old_names: set[str], new_name: str, notes: list[str]) -> str:
    """The old customer's name out, the new one's in where the reply greeted by name."""

    def is_name(word: str) -> bool:
        return word in old_names or word not in _NOT_NAMES

    def greeting(m: re.Match[str]) -> str:
        if not is_name(m.group("name")):
            return m.group(0)
        notes.append("greeted the new author by name" if new_name else "left out a name")
        return f"{m.group('word')} {new_name or 'there'}"

    def thanks(m: re.Match[str]) -> str:
        if not is_name(m.group("name")):
            return m.group(0)
        notes.append("thanked the new author by name" if new_name else "left out a name")
        return f"{m.group('word')}, {new_name}" if new_name else m.group("word")

    def vocative(m: re.Match[str]) -> str:
        if not is_name(m.group("name")):
            return m.group(0)
        notes.append("addressed the new author by name" if new_name else "left out a name")
        return f", {new_name}" if new_name else ""

    text = _GREETING_NAME.sub(greeting, text)
    text = _THANKS_NAME.sub(thanks, text)
    text = _VOCATIVE.sub(vocative, text)
    for name in old_names:
        if name != new_name and re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", text):
            replacement = new_name or ""
            text = re.sub(rf"(?<![\w]){re.escape(name)}(?![\w])", replacement, text)
            notes.append("replaced the old author's name")
    return re.sub(r"\s+([,.!?])", r"\1", re.sub(r"[ \t]{2,}", " ", text)).strip()


def _fit(text: str, rules: ReplyRules, notes: list[str]) -> str:
    """The most whole sentences from the start that fit the rules' limit."""
    if reply_length(text, rules) <= rules.limit:
        return text
    kept = fitting_prefix(_sentences(text), rules)
    if not kept:
        raise NotAdaptable(f"not even the first sentence fits the {rules.limit}-character limit")
    notes.append(f"cut to fit {rules.limit} characters")
    return kept


def leaks(past: PastReply, text: str, *, new_handle: str = "", new_name: str = "") -> list[str]:
    """What of the old case ``text`` still holds: personal data of the past reply or
    mention, the old author's handle or name. [] when nothing; the bench counts these."""
    found: list[str] = []
    draft_digits = re.sub(r"\D", "", text)
    for raw in (past.reply_text, past.mention_text):
        source = html.unescape(raw)
        for finding in _personal_data(source):
            value = source[finding.start : finding.end].strip()
            digits = re.sub(r"\D", "", value)
            whole = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
            if (value and re.search(whole, text, re.IGNORECASE)) or (
                len(digits) >= 7 and digits in draft_digits
            ):
                found.append(finding.kind)
    old_handle = past.author_handle.lstrip("@").removeprefix("u/")
    if (
        old_handle
        and old_handle.lower() != new_handle.lower()
        and re.search(rf"(?<![\w]){re.escape(old_handle)}(?![\w])", text, re.IGNORECASE)
    ):
        found.append("old handle")
    old_name = _first_name(past.author_name)
    if old_name and old_name != new_name and re.search(rf"\b{re.escape(old_name)}\b", text):
        found.append("old name")
    return found


def adapt(
    past: PastReply,
    mention: Mention,
    voice: Voice,
    *,
    rules: ReplyRules,
    similarity: float = 1.0,
) -> Adapted:
    """``past``'s reply rewritten for ``mention``; raises ``NotAdaptable`` when too much of
    it belonged to the old case, or anything of the old customer's would remain."""
    notes: list[str] = [
        f"adapted from the reply to @{past.author_handle.lstrip('@')} ({similarity:.0%} alike)"
    ]
    text = html.unescape(past.reply_text).strip()
    original_words = len(_words(text))
    new_handle = handle_text(mention, rules)
    new_name = _first_name(mention.author.name)
    # The reply's opening handles (the old author, others in the thread) become the new one.
    lead = _LEADING_HANDLES.match(text)
    if lead:
        text = text[lead.end() :]
    old_handle = past.author_handle.lstrip("@").removeprefix("u/")
    if old_handle:
        text = re.sub(
            rf"(?:@|u/|/u/)?(?<![\w]){re.escape(old_handle)}(?![\w])",
            new_handle or "",
            text,
            flags=re.IGNORECASE,
        )
    old_names = {n for n in (_first_name(past.author_name),) if n}
    text = _without_names(text, old_names, new_name, notes)
    # The old case's specifics: swapped for the new mention's, else their sentences go.
    old_details, new_details = _details(past.mention_text, voice), _details(mention.text, voice)
    for kind, old in old_details.items():
        if not _detail_pattern(kind, old).search(text):
            continue
        if kind in new_details:
            text = _replace_detail(text, kind, old, new_details[kind])
            notes.append(f"named the new mention's {kind}")
        else:
            pattern = _detail_pattern(kind, old)
            text = " ".join(s for s in _sentences(text) if not pattern.search(s))
            notes.append(f"left out the old mention's {kind}")
    # Personal data in the old reply: its sentences never carry over.
    kept = [_tidy_links(s) for s in _sentences(text)]
    kept = [s for s in kept if not _personal_data(s)]
    if len(kept) < len(_sentences(text)):
        notes.append("left out a sentence with personal data")
    if not find_personal_data(mention.text):
        advice = [s for s in kept if _PRIVACY_ADVICE.search(s)]
        if advice:
            kept = [s for s in kept if s not in advice]
            notes.append("left out privacy advice meant for the old post")
            # Advice for someone else's post is no part of the answer being reused.
            original_words -= sum(len(_words(s)) for s in advice)
    text = " ".join(kept).strip()
    if not _words(text) or len(_words(text)) < MIN_KEPT * original_words:
        raise NotAdaptable("too little of the past reply is left once the old case is removed")
    if new_handle and lead:
        text = f"{new_handle} {text}"
    # Where the author must be named first (Mastodon, Bluesky), the reply opens with them.
    text = reply_text.addressed(text, new_handle, rules)
    text = _fit(text, rules, notes)
    bare_handle = new_handle.removeprefix(rules.address)
    left = leaks(past, text, new_handle=bare_handle, new_name=new_name)
    theirs = find_personal_data(mention.text)
    left += [f.kind for f in theirs if mention.text[f.start : f.end] in text]
    if left:
        raise NotAdaptable(f"would carry over {', '.join(sorted(set(left)))}")
    return Adapted(text=text, based_on=past, similarity=similarity, notes=tuple(notes))


def draft_from_matches(
    mention: Mention,
    matches: Sequence[Match],
    voice: Voice,
    *,
    rules: ReplyRules,
    threshold: float = DEFAULT_THRESHOLD,
) -> Adapted | None:
    """The best past reply at or above ``threshold`` that adapts; None: use the templates.

    Matches are tried most similar first; one that cannot be adapted (see ``adapt``)
    gives way to the next.
    """
    for match in sorted(matches, key=lambda m: -m.similarity):
        if match.similarity < threshold:
            break
        try:
            return adapt(match.past, mention, voice, rules=rules, similarity=match.similarity)
        except NotAdaptable as exc:
            logger.debug(
                "past reply %d not adapted for %s mention %s: %s",
                match.past.memory_id,
                mention.platform,
                mention.external_id,
                exc,
            )
    return None
