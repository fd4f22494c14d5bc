"""Word-list care signals, for the keyword baseline (``sentiment.baseline``) only.

The transformer learns its signals from labeled posts (``sentiment.care_training``): word
lists fired on "today" in a joke and missed "the whole thing is dead". They stay here as
the baseline the learned model is compared with, and as a scorer that needs no torch.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sentiment.base import Signal

_NUM = r"(?:\d+|a|an|one|two|three|four|five|ten|twenty|thirty|forty|few|couple(?:\s+of)?)"
_SPAN = r"(?:h|hr|hrs|hours?|mins?|minutes?)"


@dataclass(frozen=True, slots=True)
class _Pattern:
    kind: str
    weight: float
    regex: re.Pattern[str]


def _p(kind: str, weight: float, pattern: str) -> _Pattern:
    return _Pattern(kind, weight, re.compile(pattern, re.IGNORECASE))


# Order matters only for the order reasons are listed in: most serious first.
_PATTERNS: tuple[_Pattern, ...] = (
    _p(
        "safety",
        1.0,
        r"\b(?:unsafe|dangerous(?:ly)?|emergency|injur(?:ed|y|ies)|bleeding|smoke in|on fire|"
        r"fire alarm|allergic reaction|anaphyla\w+|ambulance|paramedics?|assault(?:ed)?|"
        r"sexual(?:ly)? harass\w*|harass(?:ed|ing|ment)|choking|carbon monoxide|"
        r"passed out|faint(?:ed)?|seizure|heart attack|unaccompanied minor|"
        r"(?:pilot|crew|driver) (?:was |is )?(?:drunk|intoxicated)|gas leak|"
        r"sparks?|exploded|caught fire)\b",
    ),
    _p(
        "account_security",
        0.9,
        r"\b(?:(?:been |was |got |is |account )hacked|hacked (?:my|our)|hacker|"
        r"compromised|unknown (?:sign[- ]?in|login|device)|someone (?:logged|signed) in|"
        r"unauthori[sz]ed (?:access|login|sign[- ]?in|purchase|charge|transaction)s?|"
        r"identity theft|stolen (?:account|card|identity)|phishing)\b",
    ),
    _p(
        "money",
        0.9,
        r"\b(?:charged (?:me )?(?:twice|two times|double|2x)|double[- ]charged|"
        r"billed twice|overcharged|fraud(?:ulent)?|scam(?:med)?|stole (?:my )?money|"
        r"took my money|money (?:was )?taken|charged for nothing|chargeback|"
        r"empt(?:ied|y) my (?:account|bank))\b",
    ),
    _p(
        "legal",
        0.9,
        r"\b(?:lawyers?|attorneys?(?: general)?|sue|suing|lawsuit|legal action|"
        r"small claims|class action|BBB|better business bureau|consumer protection|"
        r"FAA|DOT complaint|department of transportation|ombudsman|regulator|FTC|FCC)\b",
    ),
    _p(
        "outage",
        0.85,
        r"\b(?:(?:is|are|went|goes|been) down|down again|outage|servers?|"
        r"not working for anyone|anyone else (?:having|getting|seeing|experiencing)|"
        r"no (?:service|signal|internet|power)|internet (?:is )?(?:down|out)|"
        r"(?:site|app|website|service) (?:is )?(?:down|not loading|unavailable)|"
        r"can'?t (?:connect|log ?in|sign ?in) (?:at all|anywhere))\b",
    ),
    _p(
        "travel_disruption",
        0.85,
        r"\b(?:stranded|stuck (?:at|in|on)|sitting on the (?:plane|tarmac|runway)|"
        r"on the (?:tarmac|runway)|at the (?:gate|airport|counter|desk)|"
        r"missed (?:my |our |the )?connect(?:ion|ing flight)|"
        r"(?:turned|sent) away at|no hotel|sleeping (?:at|in) the airport|"
        r"(?:left|kicked) (?:us |me )?off the (?:plane|flight)|"
        r"denied boarding|bumped (?:me|us|from)|"
        r"(?:bag|luggage) (?:didn'?t|did not) (?:arrive|make it))\b",
    ),
    _p(
        "time_pressure",
        0.8,
        r"(?:\b(?:\w+ )?(?:flight|plane|train|bus|event|show|meeting|wedding|interview)\s+"
        r"(?:leaves|departs|boards|is|starts)\s+(?:in|at)\s+" + _NUM + r"\s*(?:" + _SPAN + r"|"
        r"(?::\d\d)?\s*(?:am|pm)?)\b|"
        r"\bin (?:less than |under )?" + _NUM + r"\s*" + _SPAN + r"\b|"
        r"\b(?:asap|urgent(?:ly)?|immediately|right now|right away|tonight|this morning|"
        r"this afternoon|this evening|today|tomorrow morning|as we speak|"
        r"(?:about|going) to (?:board|miss|take off|leave)|boarding now|now boarding|"
        r"last flight|final call)\b)",
    ),
    _p(
        "money_issue",
        0.45,
        r"\b(?:refunds?|refunded|reimburse(?:d|ment)?|charged|charges?|fees?|"
        r"overbill\w*|billing|invoice|compensat(?:e|ion)|voucher|credit card|"
        r"\$\s?\d[\d,.]*|\d[\d,.]*\s?(?:usd|dollars|euros?|eur|gbp|pounds))\b",
    ),
    _p(
        "blocked",
        0.5,
        r"\b(?:can'?t|cannot|unable to|won'?t let me|doesn'?t let me|not able to)\s+"
        r"(?:log ?in|sign ?in|access|check ?in|book|pay|use|get in|open|reset)\b|"
        r"\blocked out\b",
    ),
    _p(
        "pr_risk",
        0.6,
        r"\b(?:going viral|went viral|tell (?:all|every)(?:one| my followers)|"
        r"(?:my )?followers|reporters?|journalists?|the press|news (?:outlet|station)|"
        r"contact(?:ing|ed)? the (?:media|news|press)|boycott)\b",
    ),
)

_INSULT = re.compile(
    r"\b(?:idiots?|idiotic|moron(?:s|ic)?|imbeciles?|stupid|dumb(?:ass)?|retard(?:ed|s)?|"
    r"scum(?:bags?)?|trash|garbage (?:human|person|people)|pathetic|losers?|clowns?|"
    r"bitch(?:es)?|bastards?|assholes?|arseholes?|dickheads?|douche\w*|pigs?|"
    r"fuck (?:you|off|u)|f\*+k (?:you|off)|stfu|shut up|go to hell|go die|die in a fire|"
    r"kill yourself|kys|hope you die|piece of (?:shit|crap)|pos|degenerates?|"
    r"(?:lib|liberal|conservative|leftist|right wing|dem|republican|maga)tards?|"
    r"you(?:'re| are) (?:a |an |so )?(?:joke|disgrace|liar|hypocrite|fraud|clown|idiot|moron|"
    r"loser|pathetic|disgusting|stupid|dumb|ugly|worthless|useless piece))\b",
    re.IGNORECASE,
)

_PROFANITY = re.compile(
    r"\b(?:fuck\w*|f\*+k\w*|shit\w*|s\*+t|damn\w*|crap\w*|hell|ass|wtf|bs|bullshit|piss\w*)\b",
    re.IGNORECASE,
)

#: The signal kinds, in a fixed order: the model's feature vector depends on it.
SIGNAL_KINDS: tuple[str, ...] = tuple(p.kind for p in _PATTERNS)

_MAX_EVIDENCE_WORDS = 7


_DANGLING = frozenset(
    {"the", "a", "an", "my", "our", "your", "at", "in", "on", "to", "of", "for", "with"}
    | {"from", "having", "getting", "seeing", "is", "are", "was", "be"}
)


def _evidence(text: str, start: int, end: int) -> str:
    """The matched words widened to a short phrase: 'stuck at the' reads 'stuck at the gate'."""
    left = [w for w in text[max(0, start - 40) : start].split() if not w.startswith("@")]
    right = text[end : end + 40].split()
    words = text[start:end].split()
    if len(words) < 3:
        words = left[-2:] + words + right[:1]
        right = right[1:]
    while words and words[-1].lower() in _DANGLING and right:
        words.append(right.pop(0))
    phrase = " ".join(words[-_MAX_EVIDENCE_WORDS:])
    return phrase.strip(" .,;:!?\"'()").replace("\n", " ")


@lru_cache(maxsize=4096)
def find_signals(text: str) -> tuple[Signal, ...]:
    """Every care signal in ``text``, at most one per kind (the first match).

    Cached: the baseline asks for the same text more than once. Results are immutable.
    """
    found: list[Signal] = []
    for pattern in _PATTERNS:
        match = pattern.regex.search(text)
        if match is not None:
            found.append(Signal(pattern.kind, _evidence(text, *match.span()), pattern.weight))
    return tuple(found)


def find_insult(text: str) -> str | None:
    """The first insult or abuse phrase in ``text``, or None."""
    match = _INSULT.search(text)
    return None if match is None else match.group(0)


def has_profanity(text: str) -> bool:
    """Whether ``text`` swears; profanity alone never makes a troll."""
    return _PROFANITY.search(text) is not None


def mentions_handle(text: str) -> bool:
    """Whether the text @-mentions a real handle (TweetEval anonymises handles as @user)."""
    return re.search(r"@(?!user\b)\w{2,}", text) is not None
