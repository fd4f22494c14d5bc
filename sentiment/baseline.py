"""A light scorer without torch: a word list plus the care signals.

For tests of the pipeline's plumbing and for machines that cannot load the
transformer. It is much less accurate (``brandcare evaluate --scorer baseline``
prints how much); the product uses ``TransformerScorer``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sentiment.base import Scores, Sentiment, SentimentProbs
from sentiment.signals import find_insult, find_signals, has_profanity, mentions_handle

_WORD = re.compile(r"[a-z']+")
_POSITIVE = frozenset(
    "thanks thank love loved great awesome amazing excellent best fantastic wonderful "
    "helpful kind brilliant legend perfect smooth impressed happy appreciate".split()
)
_NEGATIVE = frozenset(
    "cancelled canceled delayed late lost broken worst terrible awful horrible refund "
    "never rude wrong charged stuck stranded missing damaged hacked down error fail "
    "failed unacceptable disappointed angry waiting hold crashed nobody".split()
)
_NEGATORS = frozenset("no not never without isn't wasn't don't didn't".split())
_ISSUE_WORDS = {
    "cancelled_flight": ("cancel",),
    "delayed_flight": ("delay", "late"),
    "lost_luggage": ("bag", "luggage", "suitcase"),
    "billing": ("charged", "charge", "fee", "bill"),
    "refund": ("refund",),
    "account_access": ("password", "locked out", "log in", "login", "hacked", "sign-in"),
    "outage": ("down", "outage"),
    "question": ("?",),
}


class BaselineScorer:
    """Word-list sentiment and signal-based urgency: fast, transparent, rough."""

    model_version = "baseline-lexicon-1"

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """Score ``texts``; same length and order."""
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> Scores:
        lowered = text.lower()
        words = _WORD.findall(lowered)
        polarity = 0
        for i, word in enumerate(words):
            sign = -1 if i and words[i - 1] in _NEGATORS else 1
            polarity += sign * ((word in _POSITIVE) - (word in _NEGATIVE))
        if polarity > 0:
            sentiment, probs = Sentiment.POSITIVE, SentimentProbs(0.1, 0.2, 0.7)
        elif polarity < 0:
            sentiment, probs = Sentiment.NEGATIVE, SentimentProbs(0.7, 0.2, 0.1)
        else:
            sentiment, probs = Sentiment.NEUTRAL, SentimentProbs(0.2, 0.6, 0.2)
        signals = find_signals(text)
        insult = find_insult(text)
        issue = next(
            (name for name, keys in _ISSUE_WORDS.items() if any(k in lowered for k in keys)),
            "praise" if sentiment is Sentiment.POSITIVE else "chatter",
        )
        troll = 0.9 if insult and issue in {"chatter", "question"} else 0.05
        urgency = min(1.0, max((s.weight for s in signals), default=0.0) * 0.8)
        if sentiment is Sentiment.NEGATIVE:
            urgency = max(urgency, 0.4)
        actionable = issue != "chatter" and troll < 0.5
        needs_reply = 0.8 if actionable and (mentions_handle(text) or signals) else 0.2
        troll_reasons = (f"insult: '{insult}'", "insult with no issue") if troll > 0.5 else ()
        reasons = (("negative",) if sentiment is Sentiment.NEGATIVE else ()) + tuple(
            s.describe() for s in signals
        )
        return Scores(
            sentiment=sentiment,
            probs=probs,
            urgency=round(urgency, 4),
            needs_reply_prob=needs_reply,
            troll_prob=troll,
            offensive_prob=0.8 if insult or has_profanity(text) else 0.1,
            issue=issue,
            issue_prob=0.5,
            urgency_reasons=reasons if text.strip() else ("empty text",),
            troll_reasons=troll_reasons,
            signals=signals,
            model_version=self.model_version,
        )
