"""The values a scorer returns and the protocol every scorer follows."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray


class Sentiment(enum.StrEnum):
    """The three sentiment classes, in the order the model heads use."""

    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


SENTIMENTS: tuple[Sentiment, ...] = (Sentiment.NEGATIVE, Sentiment.NEUTRAL, Sentiment.POSITIVE)

#: Issue categories of the care labeling guide (``../shared/datasets/care_labels``).
ISSUES: tuple[str, ...] = (
    "cancelled_flight",
    "delayed_flight",
    "lost_luggage",
    "damaged_luggage",
    "booking",
    "long_lines",
    "flight_experience",
    "loyalty",
    "customer_service",
    "billing",
    "refund",
    "account_access",
    "outage",
    "technical_issue",
    "moderation",
    "security",
    "safety",
    "delivery",
    "question",
    "feedback",
    "praise",
    "abuse",
    "chatter",
    "other",
)


@dataclass(frozen=True, slots=True)
class SentimentProbs:
    """Probabilities of the three sentiment classes; they sum to 1."""

    negative: float
    neutral: float
    positive: float

    def as_dict(self) -> dict[str, float]:
        """The probabilities keyed by class name, as the JSON contract writes them."""
        return {"negative": self.negative, "neutral": self.neutral, "positive": self.positive}


@dataclass(frozen=True, slots=True)
class Signal:
    """A care signal found in the text, kept with the words that triggered it.

    Agents trust a priority they can read, so every signal carries its evidence.
    """

    kind: str
    evidence: str
    weight: float

    def describe(self) -> str:
        """The signal in words an agent understands, e.g. ``fraud: 'charged me twice'``."""
        name = SIGNAL_NAMES.get(self.kind, self.kind.replace("_", " "))
        return f"{name}: '{self.evidence}'" if self.evidence else name


#: How reasons name the learned care signals.
SIGNAL_NAMES: dict[str, str] = {
    "safety": "safety",
    "fraud": "fraud or money taken",
    "account_takeover": "account takeover",
    "outage": "outage",
    "legal": "legal threat",
    "disruption": "disruption now",
    "time_pressure": "time pressure",
}

#: How troll reasons begin: the inbox's skipped lane and the policy read them.
TROLL_REASON_PREFIXES: tuple[str, ...] = ("abuse with no actionable issue", "rude but a real issue")


@dataclass(frozen=True, slots=True)
class Scores:
    """Everything a scorer says about one text.

    Probabilities, not decisions: the thresholds that turn them into "needs a reply",
    "troll" and an urgency level live in ``responders.policy``, so both the pipeline
    and ``brandcare score`` decide the same way.
    """

    sentiment: Sentiment
    probs: SentimentProbs
    urgency: float
    needs_reply_prob: float
    troll_prob: float
    offensive_prob: float
    issue: str
    issue_prob: float
    urgency_reasons: tuple[str, ...]
    troll_reasons: tuple[str, ...]
    signals: tuple[Signal, ...]
    model_version: str
    truncated: bool = False
    #: Abuse, insult or mockery, whether or not the post also carries an issue.
    abusive_prob: float = 0.0
    #: ISO 639-1 code of the post's language (``sentiment.language``).
    language: str = "en"


@runtime_checkable
class Scorer(Protocol):
    """Scores batches of texts. Pure: the same batch gives the same scores.

    A text's scores may depend on the batch it came in: the transformer scorer's int8
    path quantizes each layer's input with one scale per batch, so a companion text
    moved one text's probabilities by up to 0.23 (fp32: no dependence). Callers must not
    compare a text's scores across batches to the last decimal.
    """

    model_version: str

    def score(self, texts: Sequence[str]) -> list[Scores]:
        """Score ``texts``; the result has the same length and order."""
        ...


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit-length vectors whose dot product says how alike they are.

    The transformer scorer is one: reply memory reuses its encoder rather than load a
    second model.
    """

    #: Names the encoder: vectors from different encoders are never compared.
    embedding_version: str

    def embed(self, texts: Sequence[str]) -> NDArray[np.float32]:
        """Float32 rows of unit length (zero for an empty text), same order as ``texts``."""
        ...


@runtime_checkable
class ScoringEmbedder(Scorer, Embedder, Protocol):
    """A scorer whose scoring pass also yields the texts' embeddings.

    Reply memory compares every mention it drafts for; taking the vector from the pass
    that scored it saves a second forward pass per mention (a third of a worker's CPU
    at volume, before this).
    """

    def score_and_embed(self, texts: Sequence[str]) -> tuple[list[Scores], NDArray[np.float32]]:
        """``score`` and ``embed`` of the same texts from one forward pass."""
        ...


#: The scorer's probabilities are calibrated so that this is the tuned decision point
#: for needs-reply, trolling and offensive language (training folds the threshold chosen
#: by cross-validation into the heads). Policies may move it per brand.
PROB_DECISION = 0.5

#: Urgency in [0, 1] is mapped so that these are the tuned low/medium and medium/high
#: boundaries.
LEVEL_BOUNDARIES: tuple[float, float] = (1 / 3, 2 / 3)


def urgency_level(urgency: float, boundaries: tuple[float, float] = LEVEL_BOUNDARIES) -> str:
    """``low``, ``medium`` or ``high`` for an urgency in [0, 1]."""
    if urgency >= boundaries[1]:
        return "high"
    return "medium" if urgency >= boundaries[0] else "low"
