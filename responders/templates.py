"""What a reply says, by issue and care signal: the templates, and which one a mention gets.

Wording lives here, apart from the mechanics of filling and fitting a draft
(``responders.drafting``), so the care team can review every sentence the drafter can
write in one place; ``check_templates`` keeps edits from breaking a placeholder.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sentiment.base import Scores, Sentiment


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

PLACEHOLDER = re.compile(r"\{(\w+)\}")
KNOWN_PLACEHOLDERS = frozenset({"dm", "thing", "staff", "support_link", "status_link", "brand"})
LINK_PLACEHOLDERS = {"support_link", "status_link"}


def fill(text: str, values: Mapping[str, str]) -> str:
    """One pass, so a value taken from a mention is never itself read as a placeholder."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


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
            unknown = placeholders(text) - KNOWN_PLACEHOLDERS
            if unknown:
                problems.append(f"{name}.{field} uses unknown {sorted(unknown)}")
            if "{thing}" in text and not field.endswith("_named"):
                problems.append(f"{name}.{field} names {{thing}} but is not a *_named field")
            if "{staff}" in text and not field.startswith("staff_"):
                problems.append(f"{name}.{field} names {{staff}} but is not a staff_ field")
            if field.endswith("_named") and text and "{thing}" not in text:
                problems.append(f"{name}.{field} should name {{thing}}")
        for field in ("sorry", "opening", "next_step_no_link", "sorry_named", "opening_named"):
            if placeholders(getattr(t, field)) & LINK_PLACEHOLDERS:
                problems.append(f"{name}.{field} needs a link but has no fallback without one")
        if placeholders(t.next_step) & LINK_PLACEHOLDERS and not t.next_step_no_link:
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
