"""Scoring brand mentions: sentiment, urgency, trolling, issue, and the reasons behind them.

A pure library: texts in, scores out. It imports nothing of the app, so it can be
used (and tested) on its own, and so the app can swap one scorer for another.
"""

from sentiment.base import (
    ISSUES,
    SENTIMENTS,
    Scorer,
    Scores,
    Sentiment,
    SentimentProbs,
    Signal,
)

__all__ = ["ISSUES", "SENTIMENTS", "Scorer", "Scores", "Sentiment", "SentimentProbs", "Signal"]
