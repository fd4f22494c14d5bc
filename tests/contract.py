"""The `brandcare score` output contract of ../shared/DESIGN.md, written out once for tests.

Spelled out here rather than read from the code, so a change to the code's keys fails
the tests instead of silently changing the contract.
"""

SCORE_KEYS = frozenset(
    {
        "id",
        "sentiment",
        "probs",
        "urgency",
        "urgency_level",
        "troll",
        "troll_prob",
        "needs_reply",
        "issue",
        "reasons",
    }
)

#: Keys added to the DESIGN.md contract by the care-judgment work (issue 16): the abuse
#: probability, the detected language and the care signals with their evidence.
ADDED_KEYS = frozenset({"abusive_prob", "language", "signals"})
