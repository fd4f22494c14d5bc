"""What an agent does to a draft (approve, edit, reject, un-skip), shared by CLI and web.

The state machine (``responders.approval``) says what is allowed; the store's
compare-and-set makes it stick once, so a double click or two agents approve once.
Two more rules live here because they need the store: a draft another agent holds
(``store.inbox.claim``) cannot be acted on by anyone else until the claim expires,
and a brand's four-eyes rule keeps a risky draft pending until a second agent, neither
its editor nor its first approver, approves it.

The functions take a session factory and only change the database; sending the
approved reply is the caller's move (``send_approved`` here for the CLI, the web
app's dispatcher for the browser), so an HTTP request never waits on a platform.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.base import reply_size
from brandcare.store import inbox, transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.events import add_event
from brandcare.store.mentions import set_mention_state
from brandcare.store.models import BrandRow, DraftRow, MentionRow, ScoreRow, utcnow
from listener.registry import label
from responders.approval import (
    DraftAction,
    InvalidTransition,
    second_approval_reason,
    transition,
)
from responders.sender import SendOutcome


class ReviewError(ValueError):
    """The review action cannot be done; the message says why and what to do instead."""


class DraftNotFound(ReviewError):
    """There is no draft with that id."""


@dataclass(frozen=True)
class Approval:
    """What an approve did: approved (the send may go), or waiting for a second agent."""

    draft_id: int
    approved: bool
    message: str


def _checked(
    s: Session, draft_id: int, action: DraftAction, actor: str, reason: str = ""
) -> DraftRow:
    """The draft, if ``action`` by ``actor`` is allowed from its state; else ReviewError."""
    draft = s.get(DraftRow, draft_id)
    if draft is None:
        raise DraftNotFound(f"no draft {draft_id}: `brandcare queue` lists the pending ones")
    held = inbox.held_by_other(draft, actor)
    if held is not None:
        raise ReviewError(
            f"draft {draft_id} is held by {held.holder} until "
            f"{held.until:%H:%M} UTC; pick another draft or wait"
        )
    try:
        transition(draft.state, action, actor=actor, reason=reason)
    except InvalidTransition as exc:
        raise ReviewError(f"draft {draft_id}: {exc}") from exc
    return draft


def _commit(
    s: Session, draft_id: int, from_state: str, to_state: str, actor: str, **fields: Any
) -> None:
    """The compare-and-set itself; losing it means someone else acted first."""
    if not transition_draft(s, draft_id, [from_state], to_state, actor, **fields):
        raise ReviewError(f"draft {draft_id} was changed by someone else; reload it")


def _checked_text(text: str, mention: MentionRow, draft_id: int) -> str:
    final = text.strip()
    if not final:
        raise ReviewError(f"draft {draft_id} has no text: write the reply before approving")
    length, limit = reply_size(final, mention)
    if length > limit:
        raise ReviewError(
            f"the reply is {length} characters as {label(mention.platform)} counts them; "
            f"the limit is {limit}: shorten it by {length - limit}"
        )
    return final


def _second_approval(s: Session, mention: MentionRow) -> str | None:
    brand = s.get(BrandRow, mention.brand_id)
    if brand is None:
        return None
    # The newest score picked here, not by ORDER BY score.id: PostgreSQL walked the
    # primary key back from the end for that, a read that grew with the table.
    scores = s.execute(
        select(ScoreRow.id, ScoreRow.urgency_level).where(ScoreRow.mention_id == mention.id)
    ).all()
    level = max(scores)[1] if scores else None
    return second_approval_reason(
        urgency_level=level,
        followers=mention.author_followers,
        rule_urgency=brand.second_approval_urgency,
        rule_min_followers=brand.second_approval_min_followers,
    )


def approve(
    sessions: sessionmaker[Session], draft_id: int, *, text: str | None, actor: str
) -> Approval:
    """Approve a pending draft, with an optional edit, under the brand's four-eyes rule."""
    with transaction(sessions) as s:
        draft = _checked(s, draft_id, DraftAction.APPROVE, actor)
        mention = s.get(MentionRow, draft.mention_id)
        assert mention is not None
        final = _checked_text(draft.text if text is None else text, mention, draft_id)
        edited = final != draft.text
        now = utcnow()
        edit_fields: dict[str, object] = {"text": final, "edited_by": actor} if edited else {}
        why = _second_approval(s, mention)
        if why is not None and (draft.first_approved_by is None or edited):
            _commit(
                s,
                draft_id,
                draft.state,
                "pending",
                actor,
                first_approved_by=actor,
                first_approved_at=now,
                **edit_fields,
            )
            add_event(
                s,
                actor,
                "draft.first_approval",
                mention_id=mention.id,
                draft_id=draft_id,
                detail={"why_two": why},
            )
            return Approval(
                draft_id,
                False,
                f"draft {draft_id}: first approval by {actor}; {why} needs a second "
                "approver (not the editor)",
            )
        if why is not None and actor in (draft.first_approved_by, draft.edited_by):
            raise ReviewError(
                f"draft {draft_id} needs a second approver ({why}); you approved or edited "
                "it already, so another agent must approve it"
            )
        _commit(
            s, draft_id, draft.state, "approved", actor,
            approved_by=actor, approved_at=now, **edit_fields,
        )  # fmt: skip
        inbox.release(s, draft_id, actor)
    return Approval(draft_id, True, f"draft {draft_id} approved by {actor}")


def edit(sessions: sessionmaker[Session], draft_id: int, *, text: str, actor: str) -> None:
    """Change a draft's words; an approved draft goes back to pending (approval covers
    the words approved), and a first approval no longer counts."""
    with transaction(sessions) as s:
        draft = _checked(s, draft_id, DraftAction.EDIT, actor)
        mention = s.get(MentionRow, draft.mention_id)
        assert mention is not None
        final = _checked_text(text, mention, draft_id)
        if final == draft.text:
            return
        _commit(
            s, draft_id, draft.state, "pending", actor,
            text=final, edited_by=actor, first_approved_by=None, first_approved_at=None,
        )  # fmt: skip


def reject(sessions: sessionmaker[Session], draft_id: int, *, reason: str, actor: str) -> None:
    """Reject a pending (or approved, not yet sending) draft with a reason."""
    with transaction(sessions) as s:
        draft = _checked(s, draft_id, DraftAction.REJECT, actor, reason)
        _commit(s, draft_id, draft.state, "rejected", actor, reject_reason=reason.strip())
        inbox.release(s, draft_id, actor)


def unskip(sessions: sessionmaker[Session], draft_id: int, *, reason: str, actor: str) -> None:
    """Put a mention judged trolling back in the queue: the model can be wrong."""
    with transaction(sessions) as s:
        draft = _checked(s, draft_id, DraftAction.UNSKIP, actor, reason)
        _commit(s, draft_id, draft.state, "pending", actor)
        add_event(
            s,
            actor,
            "draft.unskip_reason",
            mention_id=draft.mention_id,
            draft_id=draft_id,
            detail={"reason": reason.strip()},
        )
        set_mention_state(s, [draft.mention_id], "drafted", from_states=["skipped"])


# --- the command line's entry points: settings in, words out --------------------------


def _sessions(settings: Settings) -> sessionmaker[Session]:
    return runtime.ensure(settings).sessions


def send_approved(settings: Settings, draft_id: int) -> str:
    """Send an approved draft: through the broker when there is one, else right here.

    A broker that does not answer leaves the draft approved, which is recorded: the
    scheduler's sweep sends it once the broker is back, so that is said, not raised.
    """
    if settings.broker_url:
        from brandcare.ops.outage import unreachable
        from brandcare.pipeline.queue import use_broker

        use_broker(settings.broker_url)
        from brandcare.pipeline import tasks

        try:
            tasks.send_draft.send(draft_id)
        except Exception as exc:
            down = unreachable(exc)
            if down is None or down.dependency != "broker":
                raise
            minutes = settings.stale_after_seconds / 60
            return (
                f"the broker is unreachable ({down.detail}): the send is queued when it is "
                f"back (`brandcare run` re-sends approved drafts after {minutes:g} min)"
            )
        return "queued for sending"
    outcome: SendOutcome | None = runtime.ensure(settings).send(draft_id)
    if outcome is None:
        return "another worker is sending it"
    where = f" ({outcome.posted.url})" if outcome.posted else ""
    reason = f": {outcome.reason}" if outcome.reason else ""
    return f"send {outcome.status.value}{where}{reason}"


def approve_draft(settings: Settings, draft_id: int, *, text: str | None, actor: str) -> str:
    """Approve (with an optional edit) and send; returns what happened, in words."""
    result = approve(_sessions(settings), draft_id, text=text, actor=actor)
    if not result.approved:
        return result.message
    return f"{result.message}; {send_approved(settings, draft_id)}"


def reject_draft(settings: Settings, draft_id: int, *, reason: str, actor: str) -> None:
    reject(_sessions(settings), draft_id, reason=reason, actor=actor)


def unskip_draft(settings: Settings, draft_id: int, *, reason: str, actor: str) -> None:
    unskip(_sessions(settings), draft_id, reason=reason, actor=actor)
