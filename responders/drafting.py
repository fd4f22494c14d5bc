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


@dataclass(frozen=True, slots=True)
class Template:
    """The sentences of one kind of reply, written for people to read and edit.

    Placeholders: ``{dm}`` the brand's DM invitation ("send us a DM"), ``{thing}`` what
    the customer named ("your flight UA 123", "your Pixel 8"), ``{staff}`` a staff
    member's first name, ``{support_link}``, ``{status_link}``, ``{brand}``.

    - ``sorry``: the first sentence for a complaint (negative sentiment).
    - ``opening``: the first sentence otherwise.
    - ``*_named``: the same, naming ``{thing}``; used when the mention names one.
    - ``next_step``: what happens next; always kept.
    - ``next_step_no_link``: used when ``next_step`` needs a link the brand has not set.
    - ``link``: an extra line with a link; the first thing dropped when space is short.
    - ``staff_opening`` / ``staff_next_step``: for praise that names a staff member.
    - ``names``: which named things fit this reply ("flight", "product").
    - ``urgent``: whether a high-urgency mention gets "We're on it now."
    """

    sorry: str
    opening: str
    next_step: str
    sorry_named: str = ""
    opening_named: str = ""
    next_step_no_link: str = ""
    link: str = ""
    staff_opening: str = ""
    staff_next_step: str = ""
    names: tuple[str, ...] = ("flight", "product")
    urgent: bool = True


_FLIGHT: tuple[str, ...] = ("flight",)
_PRODUCT: tuple[str, ...] = ("product",)

# fmt: off
#: Every reply the drafter writes, by issue category (``sentiment.base.ISSUES``).
TEMPLATES: dict[str, Template] = {
    "cancelled_flight": Template(
        sorry="We're sorry your flight was cancelled.",
        sorry_named="We're sorry {thing} was cancelled.",
        opening="Thanks for reaching out about your cancelled flight.",
        opening_named="Thanks for reaching out about {thing}.",
        next_step="Please {dm} with your booking reference and we'll go through your rebooking options.",  # noqa: E501
        link="You can also see your options at {support_link}",
        names=_FLIGHT,
    ),
    "delayed_flight": Template(
        sorry="We're sorry about the delay.",
        sorry_named="We're sorry {thing} is delayed.",
        opening="Thanks for checking in about your flight.",
        opening_named="Thanks for checking in about {thing}.",
        next_step="Please {dm} with your booking reference and we'll check the latest times and your connection.",  # noqa: E501
        link="Live flight status is at {status_link}",
        names=_FLIGHT,
    ),
    "lost_luggage": Template(
        sorry="We're sorry your bag hasn't turned up.",
        sorry_named="We're sorry your bag didn't arrive with {thing}.",
        opening="Thanks for letting us know about your bag.",
        next_step="Please {dm} with your bag report reference, or we'll help you file one, and we'll check where it is.",  # noqa: E501
        link="You can also track your bag at {support_link}",
        names=_FLIGHT,
    ),
    "damaged_luggage": Template(
        sorry="We're sorry your bag was damaged.",
        sorry_named="We're sorry your bag was damaged on {thing}.",
        opening="Thanks for letting us know about your bag.",
        next_step="Please {dm} with your bag report reference, or we'll help you start a damage claim.",  # noqa: E501
        link="Claims can also be started at {support_link}",
        names=_FLIGHT,
    ),
    "booking": Template(
        sorry="We're sorry for the trouble with your booking.",
        sorry_named="We're sorry for the trouble with {thing}.",
        opening="We'd be glad to help with your booking.",
        opening_named="We'd be glad to help with {thing}.",
        next_step="Please {dm} with your booking reference and what you need, and we'll sort it out.",  # noqa: E501
        link="You can also manage your booking at {support_link}",
        names=_FLIGHT,
    ),
    "long_lines": Template(
        sorry="We're sorry about the wait.",
        opening="Thanks for letting us know about the wait.",
        next_step="We've flagged it to the airport team; if it puts your flight at risk, please {dm} with your booking reference.",  # noqa: E501
        names=_FLIGHT,
    ),
    "flight_experience": Template(
        sorry="We're sorry your flight wasn't up to standard.",
        sorry_named="We're sorry {thing} wasn't up to standard.",
        opening="Thanks for telling us about your flight.",
        opening_named="Thanks for telling us about {thing}.",
        next_step="We'll share this with our onboard team; please {dm} with your booking reference if you'd like us to follow up.",  # noqa: E501
        names=_FLIGHT,
    ),
    "loyalty": Template(
        sorry="We're sorry for the trouble with your loyalty account.",
        opening="Happy to help with your loyalty account.",
        next_step="Please {dm} with your membership number and we'll look into it.",
        link="Your account details are also at {support_link}",
    ),
    "customer_service": Template(
        sorry="We're sorry about your experience with our team.",
        opening="Thanks for reaching out.",
        next_step="Please {dm} with what happened and we'll look into it and follow up with you.",
    ),
    "billing": Template(
        sorry="We're sorry about the charge.",
        opening="Happy to help with your billing question.",
        next_step="Please {dm} with the date and amount (never your full card number) and we'll look into the charge.",  # noqa: E501
        link="Billing help is also at {support_link}",
    ),
    "refund": Template(
        sorry="We're sorry for the wait on your refund.",
        opening="Happy to help with your refund.",
        next_step="Please {dm} with your booking or order reference (never your full card number) and we'll look into it.",  # noqa: E501
        link="Refund help is also at {support_link}",
    ),
    "account_access": Template(
        sorry="We're sorry you're having trouble getting into your account.",
        opening="Happy to help you get back into your account.",
        next_step="Please recover and secure your account here: {support_link} We'll never ask for your password.",  # noqa: E501
        next_step_no_link="Please {dm} and we'll help you get back in. Never share your password with anyone, including us.",  # noqa: E501
        names=_PRODUCT,
    ),
    "security": Template(
        sorry="We're sorry for the worry, and thanks for flagging this.",
        opening="Thanks for flagging this.",
        next_step="Please secure your account at {support_link} and don't click links you don't trust. We'll never ask for your password.",  # noqa: E501
        next_step_no_link="Please {dm} and we'll help you secure your account. We'll never ask for your password.",  # noqa: E501
        names=_PRODUCT,
    ),
    "outage": Template(
        sorry="We're sorry for the disruption; our team is looking into it.",
        sorry_named="We're sorry {thing} isn't working; our team is looking into it.",
        opening="Thanks for the report; our team is looking into it.",
        next_step="Live updates are at {status_link}",
        next_step_no_link="We'll post updates here as soon as we know more.",
        names=_PRODUCT,
        urgent=False,  # the opening already says the team is on it
    ),
    "technical_issue": Template(
        sorry="We're sorry for the trouble.",
        sorry_named="We're sorry {thing} is giving you trouble.",
        opening="Happy to help with this.",
        opening_named="Happy to help with {thing}.",
        next_step="Please {dm} with what you see (any error message, your device and app version) and we'll troubleshoot it with you.",  # noqa: E501
        link="Troubleshooting steps are also at {support_link}",
        names=_PRODUCT,
    ),
    "moderation": Template(
        sorry="We're sorry for the frustration.",
        opening="Thanks for reaching out.",
        next_step="If you think this was a mistake, please {dm} and we'll explain how to appeal.",
        link="You can also appeal here: {support_link}",
        names=_PRODUCT,
    ),
    "safety": Template(
        sorry="We're sorry, and thank you for telling us: safety comes first.",
        opening="Thank you for telling us: safety comes first.",
        next_step="Please {dm} with where and when this happened so our safety team can act on it. If anyone is in danger, call local emergency services.",  # noqa: E501
    ),
    "fraud": Template(
        sorry="We're sorry: money taken that you didn't agree to is urgent for us too.",
        opening="Thanks for flagging this charge; we treat it as urgent.",
        next_step="Please {dm} with the date and amount (never your full card number or PIN) so our fraud team can look into it now. If your card may be compromised, freeze it in the app or call your bank.",  # noqa: E501
        link="Our fraud help is at {support_link}",
        urgent=False,  # the first sentence already says it is urgent
    ),
    "account_takeover": Template(
        sorry="We're sorry: someone getting into your account is urgent for us too.",
        opening="Thanks for telling us; an account someone else got into is urgent for us.",
        next_step="Please secure your account now at {support_link} (change your password and sign out other devices), then {dm} so we can check what changed. We'll never ask for your password.",  # noqa: E501
        next_step_no_link="Please {dm} now so we can lock the account and check what changed. We'll never ask for your password or codes.",  # noqa: E501
        names=_PRODUCT,
        urgent=False,
    ),
    "delivery": Template(
        sorry="We're sorry your order hasn't arrived.",
        sorry_named="We're sorry {thing} hasn't arrived.",
        opening="Happy to check on your order.",
        opening_named="Happy to check on {thing}.",
        next_step="Please {dm} with your order number and we'll track it down.",
        link="You can also track it at {support_link}",
        names=_PRODUCT,
    ),
    "question": Template(
        sorry="Sorry for the confusion; we're happy to help.",
        opening="Happy to help.",
        opening_named="Happy to help with {thing}.",
        next_step="Please {dm} with the details and we'll get you an answer.",
        link="You may also find the answer at {support_link}",
    ),
    "feedback": Template(
        sorry="Thanks for the honest feedback, and sorry we fell short.",
        opening="Thanks for the feedback!",
        next_step="We'll pass it on to the team.",
        urgent=False,
    ),
    "praise": Template(
        sorry="Thank you for the kind words!",
        opening="Thank you for the kind words!",
        opening_named="Thank you for the kind words about {thing}!",
        next_step="We'll pass them on to the team.",
        staff_opening="Thank you for the kind words about {staff}!",
        staff_next_step="We'll make sure {staff} hears about it.",
        urgent=False,
    ),
    "other": Template(
        sorry="We're sorry for the trouble.",
        opening="Thanks for reaching out.",
        next_step="Please {dm} with a few details and we'll look into it.",
        link="Our help centre is at {support_link}",
    ),
}
# fmt: on

#: Care signals with a reply of their own, most serious first: the first one the scorer
#: found picks the reply over the issue category.
SIGNAL_TEMPLATES: tuple[str, ...] = ("safety", "account_takeover", "fraud", "outage")

#: Categories without a reply of their own, and the reply they get when policy says reply.
ALIASES: dict[str, str] = {"chatter": "other", "abuse": "other"}

#: Positive posts in these categories are thanks, not problems. ("other" is left out:
#: a cheerful "DM sent!" is a thread follow-up, not praise.)
PRAISE_WHEN_POSITIVE: frozenset[str] = frozenset(
    {"flight_experience", "customer_service", "long_lines", "loyalty", "delivery", "chatter"}
)

#: Said right after the first sentence when the policy rates the mention high urgency.
URGENT_LINE = "We're on it now."

#: Added when the customer posted personal data publicly; ``{kinds}`` e.g. "email address".
PRIVACY_LINE = "For your privacy, you may want to delete the post that shows your {kinds}."

#: How the privacy line names each kind. Long numbers are left out: they are often not
#: personal (view counts, prices), so they only go into the agent's notes.
PRIVACY_WORDS: dict[str, str] = {
    "email": "email address",
    "phone": "phone number",
    "card": "card number",
    "iban": "bank details",
    "booking_code": "booking reference",
    "address": "address",
}

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

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_KNOWN_PLACEHOLDERS = frozenset({"dm", "thing", "staff", "support_link", "status_link", "brand"})
_LINK_PLACEHOLDERS = {"support_link", "status_link"}

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


def _fill(text: str, values: Mapping[str, str]) -> str:
    """One pass, so a value taken from a mention is never itself read as a placeholder."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def _placeholders(text: str) -> set[str]:
    return set(_PLACEHOLDER.findall(text))


def check_templates(templates: Mapping[str, Template] = TEMPLATES) -> list[str]:
    """Problems in the templates (unknown placeholders, missing fallbacks); [] when sound.

    Run by the tests, so a wording change that would break a reply fails in CI.
    """
    problems: list[str] = []
    for name, t in templates.items():
        for field in (
            "sorry",
            "opening",
            "next_step",
            "sorry_named",
            "opening_named",
            "next_step_no_link",
            "link",
            "staff_opening",
            "staff_next_step",
        ):
            text: str = getattr(t, field)
            unknown = _placeholders(text) - _KNOWN_PLACEHOLDERS
            if unknown:
                problems.append(f"{name}.{field} uses unknown {sorted(unknown)}")
            if "{thing}" in text and not field.endswith("_named"):
                problems.append(f"{name}.{field} names {{thing}} but is not a *_named field")
            if "{staff}" in text and not field.startswith("staff_"):
                problems.append(f"{name}.{field} names {{staff}} but is not a staff_ field")
            if field.endswith("_named") and text and "{thing}" not in text:
                problems.append(f"{name}.{field} should name {{thing}}")
        for field in ("sorry", "opening", "next_step_no_link", "sorry_named", "opening_named"):
            if _placeholders(getattr(t, field)) & _LINK_PLACEHOLDERS:
                problems.append(f"{name}.{field} needs a link but has no fallback without one")
        if _placeholders(t.next_step) & _LINK_PLACEHOLDERS and not t.next_step_no_link:
            problems.append(f"{name}.next_step needs a link but next_step_no_link is empty")
        if not (t.sorry and t.opening and t.next_step):
            problems.append(f"{name} needs sorry, opening and next_step")
        if bool(t.staff_opening) != bool(t.staff_next_step):
            problems.append(f"{name} needs both staff_opening and staff_next_step, or neither")
    return problems


def choose_template(scores: Scores) -> tuple[str, tuple[str, ...]]:
    """The template name for these scores, and notes on any choice that is not obvious."""
    notes: list[str] = []
    issue = scores.issue
    if issue not in TEMPLATES and issue not in ALIASES:
        notes.append(f"issue {issue!r} has no reply of its own: used the general one")
        issue = "other"
    kinds = {s.kind for s in scores.signals}
    if scores.sentiment is not Sentiment.POSITIVE:
        # A safety report, a takeover, fraud or an outage gets its own reply whatever
        # the issue head says: never "sorry about the delay" for an oxygen-mask diversion.
        for kind in SIGNAL_TEMPLATES:
            if kind in kinds:
                if issue != kind:
                    notes.append(f"the model read {kind.replace('_', ' ')}: used its reply")
                issue = kind
                break
    if scores.sentiment is Sentiment.POSITIVE and issue in PRAISE_WHEN_POSITIVE:
        issue = "praise"
    name = ALIASES.get(issue, issue)
    if name != issue:
        notes.append(f"issue {issue!r} has no reply of its own: used {name!r}")
    return name, tuple(notes)


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
        return all(values[p] for p in _placeholders(text) & _LINK_PLACEHOLDERS)

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
        opening=_fill(template.sorry if complaint else template.opening, values),
        opening_named=opening_named,
        urgent=URGENT_LINE if urgent else "",
        next_step=_fill(next_step, values),
        next_step_named=next_step_named,
        privacy=_fill(PRIVACY_LINE, {"kinds": privacy}) if privacy else "",
        link=_fill(template.link, values) if template.link and usable(template.link) else "",
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
        return _fill(template.staff_opening, staff_values), _fill(
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
    return _fill(named_template, {**values, "thing": thing.phrase}), ""


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
