"""Draft a reply an agent can approve as it is: fitted to the issue, the mood and the urgency.

A draft is built only from the templates below, the brand's voice, and a few facts taken
from the mention that match strict patterns (a flight number, an airport pair, a product
the brand sells, a staff member's first name in praise), all read from the mention after
``privacy.scrub``. Nothing else the customer wrote is repeated, so a reply never spreads
personal data they posted. The same inputs always give the same draft.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from listener import text as reply_text
from listener.base import Mention, ReplyRules
from responders.policy import Action, Decision
from responders.privacy import Finding, find_personal_data, scrub
from responders.templates import (
    LINK_PLACEHOLDERS,
    PRIVACY_LINE,
    PRIVACY_WORDS,
    TEMPLATES,
    URGENT_LINE,
    Template,
    choose_template,
    fill,
    placeholders,
)
from responders.voice import Voice
from sentiment.base import Scores, Sentiment

logger = logging.getLogger(__name__)


class DraftingError(Exception):
    """A reply cannot be drafted for this mention as asked."""


class NotDraftable(DraftingError):
    """The policy decided not to reply (trolling or nothing to answer): no draft is made."""


class LimitTooSmall(DraftingError):
    """Not even the first words of a reply fit the platform's length limit."""


class PersonalDataLeak(DraftingError):
    """A draft would repeat personal data from the mention; this is a bug to report."""


#: Parts dropped, in this order, until a draft fits the limit.
TRIM_ORDER: tuple[str, ...] = (
    "link",
    "named",
    "handle",
    "privacy",
    "sign_off",
    "urgent",
    "greeting",
)
_TRIM_WORDS = {
    "link": "the extra link",
    "named": "what they named",
    "handle": "their handle",
    "privacy": "the privacy advice",
    "sign_off": "the sign-off",
    "urgent": "the urgency line",
    "greeting": "the greeting",
}

# --- what the mention names --------------------------------------------------------------
_SKIP_DESIGNATORS = frozenset(
    "TO ON IN AT IS OF MY NO SO UP OR AN AS BY IT WE ME DO GO HI BE IF".split()
)
_FLIGHT_NO = re.compile(
    r"(?i:\b(?:flight|flt)\b\.?)\s*(?P<marker>(?i:#|no\.?|number)\s*)?"
    r"(?P<num>(?:[A-Z]{2}|[A-Z]\d|\d[A-Z])\s?\d{1,4}|\d{1,4})(?![\w/:.,]\d)(?!\w)"
    r"(?!\s*(?i:hours?|hrs?|h\b|minutes?|mins?|days?|times?|am\b|pm\b|%|people|passengers"
    r"|seats?|rows?|dollars?|bucks|x\b))"
)
_ROUTE = re.compile(r"(?i:\bfrom)\s+(?P<a>[A-Z]{3})\s+(?i:to)\s+(?P<b>[A-Z]{3})\b")
_NOT_AIRPORTS = frozenset(
    "THE AND YOU NOT FOR BUT WHY HOW NOW ALL ANY OUR WAS ARE HAS HAD CAN GET OMG WTF LOL".split()
)
_NAME = r"(?P<name>[A-Z][a-z]{1,19}(?:-[A-Z][a-z]{1,19})?)(?![A-Za-z])"
_STAFF_ROLE = (
    r"(?:gate\s+agent|ticket\s+agent|agent|flight\s+attendant|attendant|crew\s+member|pilot"
    r"|captain|rep|representative|employee|staff\s+member|steward|stewardess|FA|associate"
    r"|technician|driver)"
)
_STAFF_PATTERNS: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"(?i:\b(?:thanks|thank\s+you|shout\s*-?\s*out|kudos|props|hats\s+off)\s+(?:to\s+)?"
        rf"(?:(?:your|the|our)\s+)?(?:{_STAFF_ROLE}\s+)?(?:named\s+)?)" + _NAME
    ),
    re.compile(rf"(?i:\b{_STAFF_ROLE}\s+(?:named\s+|called\s+)?)" + _NAME),
    re.compile(
        _NAME + r"(?i:\s+(?:at|from|on)\s+(?:the\s+)?(?:gate|desk|counter|check-?in|front\s+desk"
        r"|lounge|help\s*desk|support|customer\s+service|phone|chat))\b"
    ),
    # "Michele rocked the customer service!", "Kim was so helpful"
    re.compile(
        _NAME + r"(?i:\s+(?:(?:was|is)\s+(?:so\s+|very\s+|super\s+|really\s+|absolutely\s+)?"
        r"(?:amazing|awesome|great|fantastic|wonderful|helpful|excellent|brilliant|kind|lovely"
        r"|the\s+best|outstanding|incredible|a\s+star|a\s+gem|a\s+rock\s*star|patient"
        r"|professional)|rocked|rocks|went\s+above|represents))\b"
    ),
)
#: Capitalised words that follow "thanks" or a role but are not anyone's name.
_NOT_NAMES = frozenset(
    """
    The This That These Those You Your Yours All Everyone Everybody Again Very Much So For
    Guys Team Staff Crew God Goodness Lord Heaven Heavens Today Tonight Tomorrow Yesterday
    Once Both Each Always Never Really Seriously Honestly Truly And But Who What Why How
    When Where Agent Agents Attendant Pilot Captain Rep Flight Gate Desk Customer Service
    Support Airline Airlines Air Airways Sir Madam Mr Mrs Ms Dr Love Great Amazing Awesome
    Best Good Nice Friendly Helpful Kind Lovely Wonderful Super Monday Tuesday Wednesday
    Thursday Friday Saturday Sunday Lol Omg Wow Yes No Ok Okay Just Stuck Here Still Now
    Finally Thanks Thank Shoutout Kudos Props Someone Somebody Nobody People Lady Guy Woman
    Man Girl Boy Gentleman Person Folks Ladies Been Was Were Got Made Check Bags Luggage
    Security Landed Arrived Sat Stood Boarded Went Came It Everything Food Drinks Trip
    Experience Seat Seats Plane Wifi App Website Lounge Boarding Landing Takeoff Upgrade
    Journey Ride Weather Hotel Car Room Music Movie Show Update Product Phone Order Delivery
    Package Price Deal Sale Line Queue Process
    """.split()
)


@dataclass(frozen=True, slots=True)
class Draft:
    """A reply for an agent to approve: its text, the template behind it, and notes.

    ``notes`` tell the agent what the drafter did and why (urgency, what it named,
    personal data it left out, parts trimmed to fit), so a draft can be trusted at a
    glance or fixed quickly.
    """

    text: str
    template: str
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Named:
    kind: str  # "flight" or "product"
    phrase: str  # what the reply says: "your flight UA 123", "your Pixel 8"


def reply_length(text: str, rules: ReplyRules) -> int:
    """The length the platform counts for ``text`` (``listener.text.reply_length``): links,
    wide characters and graphemes counted as the rules say, never by platform name."""
    return reply_text.reply_length(text, rules)


def handle_text(mention: Mention, rules: ReplyRules) -> str:
    """How a reply names the author ("@kim", "u/kim", "@kim@example.social" as the rules
    say); "" when the handle is unsafe to echo."""
    return reply_text.address_of(mention.author.handle, rules)


def named_things(clean: str, voice: Voice) -> dict[str, str]:
    """What a scrubbed text names that a reply may repeat: kind -> phrase ("your flight UA 1")."""
    return {kind: named.phrase for kind, named in _named_things(clean, voice).items()}


def _named_things(clean: str, voice: Voice) -> dict[str, _Named]:
    """What the (already scrubbed) mention names that a reply may safely repeat."""
    found: dict[str, _Named] = {}
    flight = ""
    for m in _FLIGHT_NO.finditer(clean):
        number = m.group("num").upper()
        if number[:2] in _SKIP_DESIGNATORS:
            continue
        if not m.group("marker") and number.isdigit() and len(number) < 2:
            continue  # "flight 2 ..." is more often a count than a flight number
        flight = f"flight {number}"
        break
    route = ""
    for m in _ROUTE.finditer(clean):
        a, b = m.group("a"), m.group("b")
        if a != b and a not in _NOT_AIRPORTS and b not in _NOT_AIRPORTS:
            route = f"from {a} to {b}"
            break
    if flight or route:
        phrase = " ".join(p for p in ("your", flight or "flight", route) if p)
        found["flight"] = _Named("flight", phrase)
    best: tuple[int, int, str] | None = None  # (-length, position, name)
    for product in voice.products:
        pattern = r"(?<![\w])" + r"\s+".join(map(re.escape, product.split())) + r"(?![\w])"
        hit = re.search(pattern, clean, re.IGNORECASE)
        if hit:
            key = (-len(product), hit.start(), product)
            best = key if best is None or key < best else best
    if best is not None:
        found["product"] = _Named("product", f"your {best[2]}")
    return found


def _staff_name(clean: str, voice: Voice) -> str:
    brand_words = set(re.findall(r"[A-Za-z]+", voice.brand))
    for pattern in _STAFF_PATTERNS:
        for m in pattern.finditer(clean):
            name = m.group("name")
            if name in _NOT_NAMES or name in brand_words:
                continue
            if len(name) > 4 and name.endswith("ing"):
                continue  # "Sitting at the gate": a verb starting the sentence
            return name
    return ""


def _privacy_phrase(kinds: Iterable[str]) -> str:
    words = [PRIVACY_WORDS[k] for k in kinds if k in PRIVACY_WORDS]
    if not words:
        return ""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


@dataclass(frozen=True, slots=True)
class _Pieces:
    greeting_handle: str
    greeting_plain: str
    opening: str
    opening_named: str
    urgent: str
    next_step: str
    next_step_named: str
    privacy: str
    link: str
    sign_off: str
    #: The author's address the reply must open with (rules' ``address_first``); never
    #: trimmed: it is what notifies the author.
    lead: str = ""


def _compose(p: _Pieces, dropped: frozenset[str]) -> str:
    named = "named" not in dropped
    sentences = [p.opening_named if named and p.opening_named else p.opening]
    if p.urgent and "urgent" not in dropped:
        sentences.append(p.urgent)
    sentences.append(p.next_step_named if named and p.next_step_named else p.next_step)
    if p.privacy and "privacy" not in dropped:
        sentences.append(p.privacy)
    if p.link and "link" not in dropped:
        sentences.append(p.link)
    body = " ".join(s for s in sentences if s)
    greeting = ""
    if "greeting" not in dropped:
        greeting = p.greeting_plain if "handle" in dropped else p.greeting_handle
    if greeting:
        if not re.search(r"[,.!?:;–—-]$", greeting):
            greeting += ","  # "Hi {handle}" reads as "Hi @kim, we're sorry ..."
        if greeting.endswith(",") and body[:1].isupper() and not re.match(r"I\b|[A-Z]{2}", body):
            body = body[0].lower() + body[1:]
        body = f"{greeting} {body}"
    if p.sign_off and "sign_off" not in dropped:
        body = f"{body} {p.sign_off}"
    return f"{p.lead} {body}" if p.lead else body


def fitting_prefix(parts: Sequence[str], rules: ReplyRules) -> str:
    """The most ``parts`` from the start, joined by spaces, that fit the rules' limit
    ("" when not even the first fits): cuts fall between sentences or words, never inside."""
    kept = ""
    for i in range(1, len(parts) + 1):
        candidate = " ".join(parts[:i])
        if reply_length(candidate, rules) > rules.limit:
            break
        kept = candidate
    return kept


def _cut_to_fit(text: str, rules: ReplyRules) -> str:
    """The most whole sentences from the start of ``text`` that fit, else whole words."""
    sentences = re.split(r"(?<=[.!?]) ", text)
    return fitting_prefix(sentences, rules) or fitting_prefix(text.split(" "), rules)


def _leaks(mention_text: str, findings: Sequence[Finding], draft_text: str) -> list[str]:
    """Kinds of the mention's personal data that the draft repeats (should be none)."""
    leaked: list[str] = []
    draft_digits = re.sub(r"\D", "", draft_text)
    for finding in findings:
        value = mention_text[finding.start : finding.end].strip()
        digits = re.sub(r"\D", "", value)
        whole = rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"
        # Phone and card numbers leak even when spaced differently, so digits compare too.
        if (value and re.search(whole, draft_text)) or (
            len(digits) >= 7 and digits in draft_digits
        ):
            leaked.append(finding.kind)
    return leaked


def draft_reply(
    mention: Mention,
    scores: Scores,
    decision: Decision,
    voice: Voice,
    *,
    rules: ReplyRules,
) -> Draft:
    """A reply to ``mention`` in ``voice`` that fits the ``rules``' limit as they count it.

    Where the rules want the author named first, the reply opens with their address.

    Raises ``NotDraftable`` unless the policy decided to reply: trolls are skipped and
    shown to agents with their reasons, and chatter needs nothing.
    """
    if decision.action is not Action.REPLY:
        raise NotDraftable(
            f"policy decided {decision.action.value!r} for {mention.platform} mention "
            f"{mention.external_id}; only 'reply' decisions get a draft (skipped trolls are "
            "shown to agents, who can unskip them)"
        )
    limit = rules.limit
    if limit <= 0:
        raise LimitTooSmall(f"limit must be positive, got {limit}")
    name, choice_notes = choose_template(scores)
    notes = list(choice_notes)
    findings = find_personal_data(mention.text)
    kinds = list(dict.fromkeys(f.kind for f in findings))
    if kinds:
        listed = ", ".join(k.replace("_", " ") for k in kinds)
        notes.append(f"the post contains personal data ({listed}): not repeated")
    urgent = decision.urgency_level == "high" and TEMPLATES[name].urgent
    if urgent:
        notes.append("high urgency: says we're on it now")
    pieces = _pieces(
        TEMPLATES[name],
        mention,
        scrub(mention.text, findings),
        voice,
        complaint=scores.sentiment is Sentiment.NEGATIVE,
        urgent=urgent,
        privacy=_privacy_phrase(dict.fromkeys(f.kind for f in findings if f.certain)),
        notes=notes,
        rules=rules,
    )
    text, dropped = _fit(pieces, rules)
    # Notes describe the final text: a part trimmed away is no longer claimed.
    gone = {"named": "named ", "urgent": "high urgency"}
    notes = [n for n in notes if not any(d in dropped and n.startswith(gone[d]) for d in gone)]
    if dropped:
        left_out = ", ".join(_TRIM_WORDS[d] for d in dropped)
        notes.append(f"trimmed to fit {limit}: left out {left_out}")
    if text is None:
        text = _cut_to_fit(_compose(pieces, frozenset(TRIM_ORDER)), rules)
        if not text:
            raise LimitTooSmall(
                f"no words of a reply fit the {limit}-character limit for {mention.platform}"
            )
        notes.append("cut short to fit the limit: please finish the reply by hand")
    leaked = _leaks(mention.text, findings, text)
    if leaked:
        raise PersonalDataLeak(
            f"draft for {mention.platform} mention {mention.external_id} would repeat "
            f"personal data ({', '.join(leaked)}); template {name!r}"
        )
    if logger.isEnabledFor(logging.DEBUG):  # counting the length is not free
        logger.debug(
            "drafted %s reply for %s mention %s (%d chars)",
            name,
            mention.platform,
            mention.external_id,
            reply_length(text, rules),
        )
    return Draft(text=text, template=name, notes=tuple(notes))


def _pieces(
    template: Template,
    mention: Mention,
    clean: str,
    voice: Voice,
    *,
    complaint: bool,
    urgent: bool,
    privacy: str,
    notes: list[str],
    rules: ReplyRules,
) -> _Pieces:
    """The sentences of the reply before trimming; appends what it chose to ``notes``.

    ``clean`` is the mention's text after ``privacy.scrub``: the only text personal
    details are read from.
    """
    values = {
        "dm": voice.render_dm(),
        "brand": voice.brand,
        "support_link": voice.support_link,
        "status_link": voice.status_link,
        "thing": "",
        "staff": "",
    }

    def usable(text: str) -> bool:
        return all(values[p] for p in placeholders(text) & LINK_PLACEHOLDERS)

    next_step = template.next_step
    if not usable(next_step):
        next_step = template.next_step_no_link
        notes.append("no link set for this reply's next step: used the DM route")
    opening_named, next_step_named = _personalise(
        template, clean, voice, values, complaint=complaint, notes=notes
    )
    handle = handle_text(mention, rules)
    # Named first (Mastodon, Bluesky): the address opens the reply, the greeting is plain.
    lead = handle if rules.address_first else ""
    return _Pieces(
        lead=lead,
        greeting_handle=voice.render_greeting("" if lead else handle),
        greeting_plain=voice.render_greeting(""),
        opening=fill(template.sorry if complaint else template.opening, values),
        opening_named=opening_named,
        urgent=URGENT_LINE if urgent else "",
        next_step=fill(next_step, values),
        next_step_named=next_step_named,
        privacy=fill(PRIVACY_LINE, {"kinds": privacy}) if privacy else "",
        link=fill(template.link, values) if template.link and usable(template.link) else "",
        sign_off=voice.render_sign_off(),
    )


def _personalise(
    template: Template,
    clean: str,
    voice: Voice,
    values: Mapping[str, str],
    *,
    complaint: bool,
    notes: list[str],
) -> tuple[str, str]:
    """The named opening and next step (empty when nothing fits), from the scrubbed text."""
    staff = _staff_name(clean, voice) if template.staff_opening else ""
    if staff:
        staff_values = {**values, "staff": staff}
        notes.append(f"named staff member {staff} from the post")
        return fill(template.staff_opening, staff_values), fill(
            template.staff_next_step, staff_values
        )
    named_template = template.sorry_named if complaint else template.opening_named
    if not named_template:
        return "", ""
    things = _named_things(clean, voice)
    thing = next((things[k] for k in template.names if k in things), None)
    if thing is None:
        return "", ""
    notes.append(f"named {thing.phrase.removeprefix('your ')} from the post")
    return fill(named_template, {**values, "thing": thing.phrase}), ""


def _fit(pieces: _Pieces, rules: ReplyRules) -> tuple[str | None, tuple[str, ...]]:
    """The fullest composition that fits, and the parts dropped to get there."""
    dropped: list[str] = []
    previous = _compose(pieces, frozenset())
    if reply_length(previous, rules) <= rules.limit:
        return previous, ()
    for part in TRIM_ORDER:
        candidate = _compose(pieces, frozenset([*dropped, part]))
        if candidate == previous:
            continue  # nothing of that part was in the draft
        dropped.append(part)
        previous = candidate
        if reply_length(candidate, rules) <= rules.limit:
            return candidate, tuple(dropped)
    return None, tuple(dropped)
