"""Scores in, a decision out: reply, skip as trolling, or leave alone; and how urgent.

Every threshold lives here, so the pipeline and ``brandcare score`` decide the same way.
The scorer's probabilities are calibrated so that its tuned decision points are
``sentiment.PROB_DECISION`` and ``sentiment.LEVEL_BOUNDARIES``; a brand that wants a
stricter troll filter or an earlier "high" moves them here, per brand.

A post in a language the model does not read goes to the queue with ``language: xx``
first among its reasons, whatever the scores say: the inbox filters by language so a
speaker can take it. Safety, fraud, account takeover and legal threats are never
skipped as trolling.

Urgency (what the queue sorts by) is the model's urgency, which already weighs the care
signals (safety, fraud, account takeover, outage, legal, disruption, time pressure), raised
for negative posts by authors with a large reach, because a care team answers a
complaint that 50k people will read before one that 50 will.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from sentiment.base import (
    LEVEL_BOUNDARIES,
    PROB_DECISION,
    TROLL_REASON_PREFIXES,
    Scores,
    Sentiment,
    urgency_level,
)
from sentiment.language import reads

#: Signals that must reach a human even when the post reads like trolling: safety,
#: money taken, a taken-over account and legal threats.
NEVER_SKIP = frozenset({"safety", "fraud", "account_takeover", "legal"})


def is_troll_reason(reason: str) -> bool:
    """Whether a stored reason explains a troll decision (not an urgency)."""
    return reason.startswith((*TROLL_REASON_PREFIXES, "looks like trolling"))


class Action(enum.StrEnum):
    """What the pipeline does with a scored mention."""

    REPLY = "reply"  # draft a reply for an agent to approve
    SKIP_TROLL = "skip_troll"  # no draft; shown in the skipped lane with the reasons
    IGNORE = "ignore"  # nothing to answer (chatter, news, vague snark)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Decision thresholds; the defaults are the ones the model was tuned for."""

    troll: float = PROB_DECISION
    needs_reply: float = PROB_DECISION
    levels: tuple[float, float] = LEVEL_BOUNDARIES
    #: Authors with at least this many followers raise the urgency of a complaint.
    reach_followers: int = 10_000
    #: Urgency added per tenfold reach above ``reach_followers``, starting at one step.
    reach_step: float = 0.1
    reach_cap: float = 0.3


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with one mention, and why."""

    action: Action
    needs_reply: bool
    troll: bool
    urgency: float
    urgency_level: str
    reasons: tuple[str, ...]


def format_followers(followers: int) -> str:
    """48213 -> '48k', 1250000 -> '1.2M': how agents talk about reach."""
    if followers >= 1_000_000:
        return f"{followers / 1_000_000:.1f}M".replace(".0M", "M")
    if followers >= 10_000:
        return f"{followers // 1000}k"
    if followers >= 1000:
        return f"{followers / 1000:.1f}k".replace(".0k", "k")
    return str(followers)


def reach_boost(followers: int | None, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> float:
    """Urgency added for an author's reach (0 below the threshold)."""
    if not followers or followers < thresholds.reach_followers:
        return 0.0
    tens = math.log10(followers / thresholds.reach_followers)
    return min(thresholds.reach_cap, thresholds.reach_step * (1 + math.floor(tens)))


def decide(
    scores: Scores,
    *,
    followers: int | None = None,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> Decision:
    """Turn scores (and the author's reach, when known) into a decision with reasons."""
    troll = scores.troll_prob >= thresholds.troll
    serious = {s.kind for s in scores.signals} & NEVER_SKIP
    needs_reply = scores.needs_reply_prob >= thresholds.needs_reply
    urgency = scores.urgency
    reasons = list(scores.urgency_reasons)
    foreign = not reads(scores.language)
    if foreign:
        # The model never read this language: a speaker decides, so nobody is dropped.
        reasons.insert(0, f"language: {scores.language}")
    boost = reach_boost(followers, thresholds)
    if boost and scores.sentiment is Sentiment.NEGATIVE and not troll:
        urgency = min(1.0, urgency + boost)
        reasons.append(f"reach: {format_followers(followers or 0)} followers")
    reasons.extend(r for r in scores.troll_reasons if r not in reasons)
    if troll and serious:
        # A safety report, fraud or a legal threat in an abusive post still goes to a human.
        reasons.append("looks like trolling but mentions " + ", ".join(sorted(serious)))
        action, troll, needs_reply = Action.REPLY, False, True
    elif foreign:
        action, troll, needs_reply = Action.REPLY, False, True
    elif troll:
        action, needs_reply = Action.SKIP_TROLL, False
    elif needs_reply:
        action = Action.REPLY
    else:
        action = Action.IGNORE
    return Decision(
        action=action,
        needs_reply=needs_reply,
        troll=troll,
        urgency=round(urgency, 4),
        urgency_level=urgency_level(urgency, thresholds.levels),
        reasons=tuple(reasons),
    )
