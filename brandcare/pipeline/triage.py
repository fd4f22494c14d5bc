"""The cheap first pass: which new mentions wait in the urgent lane for the model.

When the score queue backs up (a spike), a mention about a stranded passenger or a
hacked account must not wait behind thousands of thank-yous: new mentions that look
urgent are enqueued on the ``urgent_score`` queue, which workers take before the bulk one.
Only the model's scores are known after scoring, so the decision before it is a
heuristic, and this module is only that: a set of words that often come with an urgent
post (safety, fraud, account takeover, legal threats, outages, stranded travellers),
looked up in the lower-cased words of the text, a few microseconds a mention.

It decides nothing but the order of waiting. It misses urgent posts written in other
words and marks calm ones that use such words (``brandcare bench load --rate`` prints
how often, against the model's own "high"); a mention it misses is scored in the bulk
lane like any other and, once the model scores it high, is drafted in the urgent lane.
Every mention is scored by the model either way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Words that, alone, often mean someone needs help soon. Kept short on purpose: each
#: word that fires on calm posts fills the urgent lane with them, and a full urgent lane
#: is a second bulk lane.
URGENT_WORDS = frozenset(
    # safety
    "unsafe dangerous emergency injured injury bleeding ambulance paramedics assaulted "
    "harassed harassment seizure fainted exploded smoke burning sparks gas allergic "
    "hospital police "
    # account takeover, money taken
    "hacked hacker compromised unauthorized unauthorised phishing stolen stole theft "
    "fraud fraudulent scam scammed scammer overcharged chargeback twice emptied frozen "
    # legal threats
    "lawyer lawyers attorney lawsuit suing "
    # outages, stranded travellers
    "outage outages down dead stranded stuck tarmac delayed boarding "
    # said outright, or a deadline
    "urgent urgently asap tonight".split()
)

_WORD = re.compile(r"[a-z]+")


def looks_urgent(text: str) -> bool:
    """Whether ``text`` has a word of ``URGENT_WORDS`` (a heuristic, see the module)."""
    return not URGENT_WORDS.isdisjoint(_WORD.findall(text.lower()))


def urgent_first(items: Iterable[tuple[int, str]]) -> tuple[list[int], list[int]]:
    """(ids whose text looks urgent, the other ids), each in the given order."""
    urgent: list[int] = []
    other: list[int] = []
    for mention_id, text in items:
        (urgent if looks_urgent(text) else other).append(mention_id)
    return urgent, other
