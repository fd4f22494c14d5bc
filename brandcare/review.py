"""What an agent does to a draft (approve, edit, reject, un-skip), shared by CLI and web.

The state machine (``responders.approval``) says what is allowed; the store's
compare-and-set makes it stick once, so a double click or two agents approve once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from brandcare import runtime
from brandcare.config import Settings
from brandcare.store import queries, transaction
from brandcare.store.models import DraftRow, MentionRow
from responders.approval import DraftAction, InvalidTransition, transition
from responders.drafting import PLATFORM_LIMITS, reply_length
from responders.sender import SendOutcome


class ReviewError(ValueError):
    """The review action cannot be done; the message says why and what to do instead."""


def _pipeline(settings: Settings):  # type: ignore[no-untyped-def]
    try:
        return runtime.pipeline()
    except runtime.NotConfiguredError:
        return runtime.configure(settings)


def _checked(
    s: Session, draft_id: int, action: DraftAction, actor: str, reason: str = ""
) -> DraftRow:
    """The draft, if ``action`` by ``actor`` is allowed from its state; else ReviewError."""
    draft = s.get(DraftRow, draft_id)
    if draft is None:
        raise ReviewError(f"no draft {draft_id}")
    try:
        transition(draft.state, action, actor=actor, reason=reason)
    except InvalidTransition as exc:
        raise ReviewError(f"draft {draft_id}: {exc}") from exc
    return draft


def _commit(
    s: Session, draft_id: int, from_state: str, to_state: str, actor: str, **fields: object
) -> None:
    """The compare-and-set itself; losing it means someone else acted first."""
    if not queries.transition_draft(s, draft_id, [from_state], to_state, actor, **fields):
        raise ReviewError(f"draft {draft_id} was changed by someone else; reload it")


def approve_draft(settings: Settings, draft_id: int, *, text: str | None, actor: str) -> str:
    """Approve (with an optional edit) and send; returns what happened, in words."""
    pipeline = _pipeline(settings)
    with transaction(pipeline.sessions) as s:
        draft = _checked(s, draft_id, DraftAction.APPROVE, actor)
        mention = s.get(MentionRow, draft.mention_id)
        assert mention is not None
        final = draft.text if text is None else text.strip()
        if not final:
            raise ReviewError(f"draft {draft_id} has no text: approve it with --text '...'")
        limit = PLATFORM_LIMITS.get(mention.platform, 280)
        length = reply_length(final, mention.platform)
        if length > limit:
            raise ReviewError(
                f"the reply is {length} characters as {mention.platform} counts them; "
                f"the limit is {limit}: shorten it"
            )
        fields = {"approved_by": actor, "approved_at": dt.datetime.now(dt.UTC)}
        if final != draft.text:
            fields |= {"text": final, "edited_by": actor}
        _commit(s, draft_id, draft.state, "approved", actor, **fields)
    if settings.broker_url:
        from brandcare import tasks

        tasks.send_draft.send(draft_id)
        return f"draft {draft_id} approved by {actor}; queued for sending"
    outcome: SendOutcome | None = pipeline.send(draft_id)
    if outcome is None:
        return f"draft {draft_id} approved by {actor}; another worker is sending it"
    where = f" ({outcome.posted.url})" if outcome.posted else ""
    reason = f": {outcome.reason}" if outcome.reason else ""
    return f"draft {draft_id} approved by {actor}; send {outcome.status.value}{where}{reason}"


def reject_draft(settings: Settings, draft_id: int, *, reason: str, actor: str) -> None:
    """Reject a pending (or approved, not yet sending) draft with a reason."""
    with transaction(_pipeline(settings).sessions) as s:
        draft = _checked(s, draft_id, DraftAction.REJECT, actor, reason)
        _commit(s, draft_id, draft.state, "rejected", actor, reject_reason=reason)


def unskip_draft(settings: Settings, draft_id: int, *, reason: str, actor: str) -> None:
    """Put a mention judged trolling back in the queue: the model can be wrong."""
    with transaction(_pipeline(settings).sessions) as s:
        draft = _checked(s, draft_id, DraftAction.UNSKIP, actor, reason)
        _commit(s, draft_id, draft.state, "pending", actor)
        queries.add_event(
            s,
            actor,
            "draft.unskip_reason",
            mention_id=draft.mention_id,
            draft_id=draft_id,
            detail={"reason": reason},
        )
        queries.set_mention_state(s, [draft.mention_id], "drafted", from_states=["skipped"])
