"""The judgment table: the triage decisions a care team must trust, on held-out posts.

Measured on the held-out 30% of ``care_judgment`` (stratified by ``kind``), which
nothing is fitted or tuned on. The decisions are the care team's (``responders.policy``
in the app, passed in as ``decide``), not raw probabilities: a rude complaint is "kept"
when the policy sends it to the queue, whatever the troll head says alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sentiment.base import PROB_DECISION, Scorer, Scores, urgency_level
from sentiment.data import CareItem


@dataclass(frozen=True, slots=True)
class Verdict:
    """What the care team's policy decided for one post."""

    needs_reply: bool
    troll: bool
    level: str
    reasons: tuple[str, ...]


Decide = Callable[[Scores], Verdict]


def raw_decide(scores: Scores) -> Verdict:
    """The scores read at their tuned decision points, with no policy around them."""
    return Verdict(
        needs_reply=scores.needs_reply_prob >= PROB_DECISION,
        troll=scores.troll_prob >= PROB_DECISION,
        level=urgency_level(scores.urgency),
        reasons=scores.urgency_reasons,
    )


@dataclass(frozen=True, slots=True)
class Measure:
    """One row of the judgment table."""

    name: str
    value: float
    target: float
    #: True: the value must be at least the target; False: at most.
    at_least: bool
    n: int

    @property
    def met(self) -> bool:
        """Whether the target is met."""
        return self.value >= self.target if self.at_least else self.value <= self.target


@dataclass(frozen=True, slots=True)
class KindRow:
    """Per-``kind`` agreement with the labels."""

    kind: str
    n: int
    needs_reply: float
    troll: float
    urgency: float
    sentiment: float


@dataclass(frozen=True, slots=True)
class JudgmentReport:
    """The measures against their targets, and the per-kind table."""

    measures: tuple[Measure, ...]
    kinds: tuple[KindRow, ...]


CALM_KINDS = frozenset(
    {"praise_generic", "praise_notable", "chatter", "negation", "question_feedback"}
)
SERIOUS_KINDS = ("outage", "safety", "fraud_hacked")


def _share(hits: Sequence[bool]) -> float:
    return sum(hits) / len(hits) if hits else 0.0


def evaluate_judgment(
    scorer: Scorer, items: Sequence[CareItem], decide: Decide | None = None
) -> JudgmentReport:
    """Every judgment measure on ``items`` (the held-out part of ``care_judgment``)."""
    decide = decide or raw_decide
    scores = scorer.score([i.text for i in items])
    verdicts = [decide(s) for s in scores]
    rows = list(zip(items, scores, verdicts, strict=True))

    def of(kinds: Sequence[str] | frozenset[str]) -> list[tuple[CareItem, Scores, Verdict]]:
        return [r for r in rows if r[0].kind in kinds]

    rude = of(["rude_legit"])
    flagged = [r for r in rows if r[2].troll]
    trolls = [r for r in rows if r[0].troll]
    calm = [r for r in of(CALM_KINDS) if r[0].urgency != "high"]
    sarcasm = [r for r in of(["sarcasm"]) if r[0].needs_reply]
    foreign = [r for r in of(["non_english"]) if r[0].needs_reply]
    measures = [
        Measure(
            "rude complaints with a real issue kept (not troll, needs reply)",
            _share([not v.troll and v.needs_reply for _, _, v in rude]),
            0.97,
            True,
            len(rude),
        ),
        Measure(
            "trolls caught (recall)",
            _share([v.troll for _, _, v in trolls]),
            0.90,
            True,
            len(trolls),
        ),
        Measure(
            "trolls flagged that are trolls (precision)",
            _share([i.troll for i, _, _ in flagged]),
            0.90,
            True,
            len(flagged),
        ),
    ]
    for kind in SERIOUS_KINDS:
        serious = [r for r in of([kind]) if r[0].needs_reply and r[0].urgency == "high"]
        measures.append(
            Measure(
                f"{kind.replace('_', '/')}: needs reply and urgency high",
                _share([v.needs_reply and v.level == "high" for _, _, v in serious]),
                0.90,
                True,
                len(serious),
            )
        )
    measures += [
        Measure(
            "praise, chatter, jokes, negations ranked high",
            _share([v.level == "high" for _, _, v in calm]),
            0.02,
            False,
            len(calm),
        ),
        Measure(
            "sarcastic complaints read negative and needing a reply",
            _share([s.sentiment.value == "negative" and v.needs_reply for _, s, v in sarcasm]),
            0.85,
            True,
            len(sarcasm),
        ),
        Measure(
            "non-English complaints and notable praise queued with their language",
            _share(
                [
                    v.needs_reply and not v.troll and f"language: {i.lang}" in v.reasons
                    for i, _, v in foreign
                ]
            ),
            0.95,
            True,
            len(foreign),
        ),
        Measure(
            "urgency reasons shown on praise, chatter, jokes, negations",
            _share([bool(s.urgency_reasons) for _, s, _ in calm]),
            0.05,
            False,
            len(calm),
        ),
    ]
    by_kind: dict[str, list[tuple[CareItem, Scores, Verdict]]] = defaultdict(list)
    for row in rows:
        by_kind[row[0].kind].append(row)
    kinds = tuple(
        KindRow(
            kind,
            len(group),
            _share([v.needs_reply == i.needs_reply for i, _, v in group]),
            _share([v.troll == i.troll for i, _, v in group]),
            _share([v.level == i.urgency for i, _, v in group]),
            _share([s.sentiment.value == i.sentiment for i, s, _ in group]),
        )
        for kind, group in sorted(by_kind.items())
    )
    return JudgmentReport(tuple(measures), kinds)


def format_judgment(reports: dict[str, JudgmentReport]) -> str:
    """Two Markdown tables: the measures against their targets, and agreement per kind."""
    names = list(reports)
    first = reports[names[0]]
    lines = [
        "| judgment measure | " + " | ".join(names) + " | target | n |",
        "|---|" + "---|" * len(names) + "---|---|",
    ]
    for row, measure in enumerate(first.measures):
        values = " | ".join(f"{reports[n].measures[row].value:.3f}" for n in names)
        sign = ">=" if measure.at_least else "<="
        met = "met" if all(reports[n].measures[row].met for n in names) else "NOT met"
        lines.append(
            f"| {measure.name} | {values} | {sign} {measure.target:.2f} {met} | {measure.n} |"
        )
    last = names[-1]
    lines += [
        "",
        f"Agreement with the labels per kind ({last}):",
        "",
        "| kind | n | needs reply | troll | urgency level | sentiment |",
        "|---|---|---|---|---|---|",
    ]
    for k in reports[last].kinds:
        lines.append(
            f"| {k.kind} | {k.n} | {k.needs_reply:.2f} | {k.troll:.2f} | {k.urgency:.2f} | "
            f"{k.sentiment:.2f} |"
        )
    return "\n".join(lines)
