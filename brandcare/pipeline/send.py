"""The send stage: an approved draft posted exactly once, from its own brand's account."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.orm import Session

from brandcare.brands.credentials import Purpose, Use
from brandcare.ops import metrics
from brandcare.pipeline.base import LOGGER, PipelineBase, mention_value
from brandcare.store import memory as reply_memory
from brandcare.store import transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.events import SYSTEM
from brandcare.store.mentions import mark_deleted
from brandcare.store.models import BrandRow, DraftRow, MentionRow, QueryRow
from brandcare.store.replies import claim_send, finish_reply, reply_state, start_reply
from brandcare.store.usage import record_usage
from listener.base import Mention
from listener.errors import AuthError
from responders.sender import SendOutcome, SendStatus, check_sent, send_once

log = logging.getLogger(LOGGER)


@dataclass(frozen=True, slots=True)
class SendTarget:
    """Where and as whom a draft's reply goes: read in a transaction, used outside it."""

    platform: str
    mention: Mention
    mention_id: int
    brand_id: int
    text: str
    use: Use


def send_target(s: Session, draft: DraftRow) -> SendTarget:
    """The draft's platform (its query's, else its mention's) and its own brand's account.

    One place, so a requeue's check asks the platform exactly as the send would post.
    """
    mention = s.get(MentionRow, draft.mention_id)
    assert mention is not None
    query = s.get(QueryRow, mention.query_id) if mention.query_id else None
    brand = s.get(BrandRow, mention.brand_id)
    assert brand is not None
    return SendTarget(
        platform=query.platform if query else mention.platform,
        mention=mention_value(mention),
        mention_id=mention.id,
        brand_id=mention.brand_id,
        text=draft.text,
        use=Use(brand.slug, brand.credentials, Purpose.ACCOUNT),
    )


class SendStage(PipelineBase):
    """Sending: compare-and-set to ``sending``, post or look, record how it ended."""

    #: How long after an attempt its post may still be in flight or not yet visible on
    #: the platform; within it a retry only looks, after it a retry may post again.
    settle_window = dt.timedelta(minutes=3)

    def record_send(
        self,
        draft_id: int,
        mention_id: int,
        brand_id: int,
        platform: str,
        outcome: SendOutcome,
        *,
        from_state: str = "sending",
        actor: str = SYSTEM,
    ) -> bool:
        """Write how a send ended: posted (and its cost), unsettled, or failed with why.

        ``from_state``/``actor``: a requeue that finds a failed draft's reply already
        posted records it here too (``failed`` -> ``sent`` by the agent), so "sent" is
        written one way only. True when the draft moved (this caller won the race).
        """
        with transaction(self.sessions) as s:
            if outcome.status is SendStatus.SENT and outcome.posted is not None:
                posted = outcome.posted
                finish_reply(
                    s,
                    draft_id,
                    state="posted",
                    external_id=posted.external_id,
                    url=posted.url,
                    posted_at=posted.posted_at,
                )
                moved = transition_draft(s, draft_id, [from_state], "sent", actor)
                if moved:
                    # Remembered once sent: until then an approval can still be edited
                    # back to pending or rejected, and a sent reply is what customers got.
                    reply_memory.remember_sent(s, draft_id)
                # A post counts once on the platform's budget: when this call posted,
                # or when it found the post of an attempt that died before recording it.
                if outcome.post_attempts or moved:
                    record_usage(
                        s,
                        brand_id=brand_id,
                        platform=platform,
                        day=self.clock().date(),
                        posts=1,
                        est_cost_usd=self.prices.post_cost(platform),
                    )
                return moved
            if outcome.status in {SendStatus.UNKNOWN, SendStatus.RETRY_AFTER}:
                finish_reply(s, draft_id, state="refused" if outcome.refused else "unknown")
                return False
            if outcome.status in {SendStatus.FAILED, SendStatus.AUTH_FAILED}:
                finish_reply(s, draft_id, state="unknown")
                if "deleted" in outcome.reason.lower():
                    mark_deleted(s, mention_id, reason=outcome.reason, at=self.clock())
                return transition_draft(
                    s,
                    draft_id,
                    [from_state],
                    "failed",
                    actor,
                    failure_reason=outcome.reason or outcome.status.value,
                )
        return False

    def _send_as(
        self,
        platform: str,
        use: Use,
        value: Mention,
        text: str,
        draft_id: int,
        attempted: bool,
        recent: bool,
    ) -> SendOutcome:
        """Send (or check) through the source holding the draft's own brand's keys.

        Credentials that cannot post fail this draft with the variables to set, like a
        platform refusing our keys: no other brand's source is ever tried instead.
        """
        try:
            source = self.sources(platform, use)
        except AuthError as exc:
            log.error("draft %d (%s): %s", draft_id, platform, exc)
            return SendOutcome(SendStatus.AUTH_FAILED, reason=str(exc))
        if attempted and recent:
            return check_sent(source, value, text, draft_id=draft_id)
        return send_once(source, value, text, already_attempted=attempted, draft_id=draft_id)

    def send(self, draft_id: int) -> SendOutcome | None:
        """Post an approved draft exactly once; None when there is nothing to send.

        ``approved`` moves to ``sending`` (compare-and-set) before the post; a draft
        found already in ``sending`` had an attempt that may have gone out, so the
        sender asks the platform first. Only ``sent`` and ``failed`` end a send.
        """
        with transaction(self.sessions) as s:
            draft = s.get(DraftRow, draft_id)
            if draft is None:
                return None
            if draft.state == "approved":
                if not transition_draft(s, draft_id, ["approved"], "sending", SYSTEM):
                    return None
                attempted = recent = False
            elif draft.state == "sending":
                # A post the platform refused (rate limit) is not in flight: the retry
                # after the reset posts at once rather than wait out the settle window.
                refused = reply_state(s, draft_id) == "refused"
                recent = not refused and draft.updated_at > self.clock() - self.settle_window
                if not recent and not claim_send(s, draft_id, draft.version):
                    return None  # another worker claimed this retry
                attempted = not refused
            else:
                return None
            # Read after the compare-and-set: the words are those of the state that won.
            target = send_target(s, draft)
            platform = target.platform
            if not attempted:
                start_reply(s, draft_id, platform)
        value, text, brand_id = target.mention, target.text, target.brand_id
        mention_id, use = target.mention_id, target.use
        outcome = self._send_as(platform, use, value, text, draft_id, attempted, recent)
        self.record_send(draft_id, mention_id, brand_id, platform, outcome)
        metrics.sent(platform, outcome)
        log.log(
            logging.INFO if outcome.status is SendStatus.SENT else logging.WARNING,
            "draft %d (mention %d, %s): send %s%s",
            draft_id,
            mention_id,
            platform,
            outcome.status.value,
            f": {outcome.reason}" if outcome.reason else "",
            extra={
                "draft_id": draft_id,
                "mention_id": mention_id,
                "platform": platform,
                "outcome": outcome.status.value,
                "reason_class": metrics.send_reason(outcome),
            },
        )
        return outcome
