"""The draft stage: a reply per scored mention, adapted from reply memory or templated."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select

from brandcare.brands.voice import voice_of
from brandcare.ops import metrics
from brandcare.pipeline.base import LOGGER, PipelineBase, mention_value, rules_of
from brandcare.replies.memory import Request
from brandcare.store import transaction
from brandcare.store.drafts import NewDraft, create_drafts
from brandcare.store.mentions import set_mention_state
from brandcare.store.models import BrandRow, MentionRow, ScoreRow
from listener.base import Mention
from listener.registry import reply_rules
from responders.drafting import DraftingError, draft_reply
from responders.policy import Action, Decision, is_troll_reason
from responders.retrieval import Adapted
from responders.voice import Voice
from sentiment.base import Embedder, Scores, Sentiment, SentimentProbs, Signal

log = logging.getLogger(LOGGER)


def scores_from_row(row: ScoreRow) -> tuple[Scores, Decision]:
    """The stored score as the scorer's value and the policy's decision.

    The signals are the ones the scorer stored: drafting follows what the model read,
    never a second guess from word lists.
    """
    troll_reasons = tuple(r for r in row.reasons if is_troll_reason(r))
    scores = Scores(
        sentiment=Sentiment(row.sentiment),
        probs=SentimentProbs(row.prob_negative, row.prob_neutral, row.prob_positive),
        urgency=row.urgency,
        needs_reply_prob=row.needs_reply_prob,
        troll_prob=row.troll_prob,
        offensive_prob=row.offensive_prob or 0.0,
        issue=row.issue,
        issue_prob=row.issue_prob or 0.0,
        urgency_reasons=tuple(r for r in row.reasons if r not in troll_reasons),
        troll_reasons=troll_reasons,
        signals=tuple(
            Signal(
                str(x.get("kind", "")), str(x.get("evidence", "")), float(str(x.get("weight", 0)))
            )
            for x in row.signals or ()
        ),
        model_version=row.model_version,
        abusive_prob=row.abusive_prob or 0.0,
        language=row.language or "en",
    )
    if row.troll:
        action = Action.SKIP_TROLL
    elif row.needs_reply:
        action = Action.REPLY
    else:
        action = Action.IGNORE
    decision = Decision(
        action=action,
        needs_reply=row.needs_reply,
        troll=row.troll,
        urgency=row.urgency,
        urgency_level=row.urgency_level,
        reasons=tuple(row.reasons),
    )
    return scores, decision


class DraftStage(PipelineBase):
    """Drafting: pending replies, skipped drafts for trolls, one write per batch."""

    def draft(self, mention_id: int) -> int | None:
        """Draft one mention (see ``draft_many``); the draft's id, or None."""
        return self.draft_many([mention_id]).get(mention_id)

    def draft_many(self, mention_ids: Sequence[int]) -> dict[int, int]:
        """Draft replies for scored mentions; trolls get a skipped draft with the reasons.

        One read and one write transaction for the whole batch: per-mention
        transactions and messages cost more than the drafting itself. A skipped draft
        still carries a drafted text, so an agent who un-skips a misjudged customer has
        a reply ready. Returns mention id -> new draft id (already drafted: left out).
        """
        with self._compute:
            return self._draft_many(mention_ids)

    def _draft_many(self, mention_ids: Sequence[int]) -> dict[int, int]:
        with transaction(self.sessions) as s:
            mentions = s.scalars(
                select(MentionRow).where(
                    MentionRow.id.in_(list(mention_ids)), MentionRow.state.in_(["scored", "new"])
                )
            ).all()
            # Sorted here, not in SQL: ORDER BY score.id led PostgreSQL to walk the whole
            # primary key in order, 30 ms a batch at 30,000 scores and growing.
            latest = {
                row.mention_id: row
                for row in sorted(
                    s.scalars(
                        select(ScoreRow).where(ScoreRow.mention_id.in_([m.id for m in mentions]))
                    ),
                    key=lambda row: row.id,
                )
            }
            brands = {
                b.id: b
                for b in s.scalars(
                    select(BrandRow).where(BrandRow.id.in_({m.brand_id for m in mentions}))
                )
            }
        voices = {brand_id: voice_of(brand) for brand_id, brand in brands.items()}
        work = [
            (m, mention_value(m), *scores_from_row(latest[m.id]))
            for m in mentions
            if m.id in latest
        ]
        # Memory is asked only for what the policy will answer: each request costs an
        # embedding (a forward pass), so skipped and ignored mentions must not pay it.
        adapted = self._from_memory(
            [
                Request(
                    m.id,
                    m.brand_id,
                    value,
                    voices[m.brand_id],
                    rules_of(m),
                    vector=latest[m.id].embedding,
                    encoder=latest[m.id].encoder,
                )
                for m, value, _, decision in work
                if decision.action is Action.REPLY
            ]
        )
        drafts = [
            self._compose(value, m.id, scores, decision, voices[m.brand_id], adapted.get(m.id))
            for m, value, scores, decision in work
        ]
        with transaction(self.sessions) as s:
            created = create_drafts(s, drafts)
            for draft_state, mention_state in (("skipped", "skipped"), ("pending", "drafted")):
                ids = [d.mention_id for d in drafts if d.state == draft_state]
                set_mention_state(s, ids, mention_state, from_states=["scored", "new"])
            failed = {d.mention_id: d.error for d in drafts if d.error and d.mention_id in created}
            self._set_aside(s, failed, stage="draft")
        new = [d for d in drafts if d.mention_id in created]
        metrics.drafted(d.state for d in new)
        if created:
            skipped = [d.mention_id for d in new if d.state == "skipped"]
            log.info(
                "drafted %d mentions (%d skipped as trolling)",
                len(created),
                len(skipped),
                extra={
                    "mention_ids": list(created),
                    "draft_ids": list(created.values()),
                    "skipped_ids": skipped,
                },
            )
        return created

    def _from_memory(self, requests: Sequence[Request]) -> dict[int, Adapted]:
        """Past replies adapted for these mentions (a scorer that cannot embed, or brands
        with nothing remembered: none)."""
        scorer = self.scorer()
        if not requests or not isinstance(scorer, Embedder):
            return {}
        try:
            found = self.memory.suggest(self.sessions, scorer, requests)
        except Exception:  # reply memory is a help: a bug there must not stop drafting
            log.exception("reply memory failed for %d mentions: templates", len(requests))
            return {}
        return {int(k): v for k, v in found.items()}

    @staticmethod
    def _compose(
        value: Mention,
        mention_id: int,
        scores: Scores,
        decision: Decision,
        voice: Voice,
        adapted: Adapted | None = None,
    ) -> NewDraft:
        """The draft for one mention: a pending reply (adapted from a past reply when one
        was close enough, else from the templates), or a skipped one with the reason."""
        if adapted is not None and decision.action is Action.REPLY:
            return NewDraft(mention_id, adapted.text, based_on=adapted.based_on.memory_id)
        as_reply = replace(decision, action=Action.REPLY)
        rules = reply_rules(value.platform, value.reply_limit)
        error: str | None = None
        try:
            drafted = draft_reply(value, scores, as_reply, voice, rules=rules)
            text, template = drafted.text, drafted.template
        except DraftingError as exc:
            log.warning(
                "no draft for mention %d (%s %s): %s",
                mention_id,
                value.platform,
                value.external_id,
                exc,
                extra={"mention_id": mention_id, "platform": value.platform},
            )
            text, template, error = "", None, f"drafting failed: {exc}"
        except Exception as exc:  # a drafting bug must not hold back the batch
            log.exception(
                "drafting mention %d (%s %s) failed", mention_id, value.platform, value.external_id
            )
            text, template, error = "", None, f"drafting failed: {type(exc).__name__}: {exc}"
        if decision.action is Action.SKIP_TROLL:
            why = "; ".join(r for r in decision.reasons if "insult" in r or "offensive" in r)
            return NewDraft(
                mention_id, text, template, state="skipped", skip_reason=why or "trolling"
            )
        return NewDraft(mention_id, text, template, error=error)
