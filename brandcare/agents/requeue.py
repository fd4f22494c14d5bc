"""Send a failed draft again once its cause is fixed, without ever posting it twice.

A draft fails for causes a person can fix: the brand's credentials profile was
incomplete, a token was revoked, the platform refused with a reason that has since
gone away. ``failed`` is final for the sender, so after the fix an agent asks for it
here (``brandcare requeue``, the inbox's "Send again").

The state machine allows ``failed -> approved`` only with evidence that nothing was
posted, so the platform is asked first (``find_reply``, with the brand's own account,
as the send would post): found, the draft is recorded as sent with the found reply,
exactly as the sender settles a send; not found, it is approved again and its send is
the caller's move, as after an approval. When the platform cannot be asked (the
credentials are still incomplete, the platform is down) nothing changes: without the
evidence a second post could double the reply.

Two agents, or one double click, requeue once: the move is a compare-and-set on the
draft's state and version as read before the check.
"""

from __future__ import annotations

from dataclasses import dataclass

from brandcare.agents.review import DraftNotFound, ReviewError, send_approved
from brandcare.config import Settings
from brandcare.pipeline import runtime
from brandcare.pipeline.send import send_target
from brandcare.pipeline.stages import Pipeline
from brandcare.store import inbox, transaction
from brandcare.store.drafts import transition_draft
from brandcare.store.events import add_event
from brandcare.store.models import DraftRow
from listener.errors import AuthError
from responders.approval import DraftAction, DraftState, InvalidTransition, transition
from responders.sender import SendStatus, find_existing


class RequeueRefused(ReviewError):
    """The platform could not be asked whether the reply is there; the draft stays failed.

    The message says what to fix (the variables to set, the platform's answer) before
    trying again.
    """


@dataclass(frozen=True, slots=True)
class Requeued:
    """What a requeue did: approved again (``requeued``; the caller sends it), or found
    the reply already posted and recorded the draft as sent (``found_url``)."""

    draft_id: int
    requeued: bool
    message: str
    found_url: str | None = None


def _refusal(draft_id: int, state: str) -> str:
    if state in (DraftState.SENDING, DraftState.APPROVED):
        return (
            f"draft {draft_id} is {state}, not failed: its send is already under way; "
            "reload it to see how it ends"
        )
    return f"draft {draft_id} is {state}, not failed: only a failed draft can be sent again"


def requeue(pipeline: Pipeline, draft_id: int, *, actor: str) -> Requeued:
    """Put a failed draft back to ``approved`` after the platform confirms it is not
    there, or record it as sent when it is; raises ``ReviewError`` otherwise."""
    with transaction(pipeline.sessions) as s:
        draft = s.get(DraftRow, draft_id)
        if draft is None:
            raise DraftNotFound(f"no draft {draft_id}")
        if draft.state != DraftState.FAILED:
            raise ReviewError(_refusal(draft_id, draft.state))
        held = inbox.held_by_other(draft, actor)
        if held is not None:
            raise ReviewError(
                f"draft {draft_id} is held by {held.holder} until {held.until:%H:%M} UTC; "
                "ask them or wait"
            )
        if not actor.strip():
            raise ReviewError("requeue needs an actor (an agent's login) for the audit log")
        target = send_target(s, draft)
        version, earlier = draft.version, draft.failure_reason or ""

    try:
        source = pipeline.sources(target.platform, target.use)
    except AuthError as exc:
        raise RequeueRefused(f"draft {draft_id} stays failed: {exc}; then send it again") from exc
    found = find_existing(source, target.mention, target.text, draft_id=draft_id)

    if found is not None and found.status is SendStatus.SENT and found.posted is not None:
        moved = pipeline.record_send(
            draft_id,
            target.mention_id,
            target.brand_id,
            target.platform,
            found,
            from_state=DraftState.FAILED,
            actor=actor,
        )
        if not moved:
            raise ReviewError(f"draft {draft_id} was changed by someone else; reload it")
        return Requeued(
            draft_id,
            False,
            f"draft {draft_id}: the reply is already on {target.platform} "
            f"({found.posted.url}); recorded as sent, nothing posted again",
            found_url=found.posted.url,
        )
    if found is not None:
        raise RequeueRefused(
            f"draft {draft_id} stays failed: could not ask {target.platform} whether the "
            f"reply is already there ({found.reason}); fix that, then send it again"
        )

    reason = f"find_reply found no reply on {target.platform}; it failed with: {earlier}"
    try:
        move = transition(
            DraftState.FAILED, DraftAction.REQUEUE, actor=actor, reason=reason,
            nothing_posted=True,
        )  # fmt: skip
    except InvalidTransition as exc:
        raise ReviewError(f"draft {draft_id}: {exc}") from exc
    with transaction(pipeline.sessions) as s:
        if not transition_draft(
            s, draft_id, [move.from_state], move.to_state, move.actor,
            version=version, failure_reason=None,
        ):  # fmt: skip
            raise ReviewError(f"draft {draft_id} was changed by someone else; reload it")
        add_event(
            s,
            move.actor,
            "draft.requeue",
            mention_id=target.mention_id,
            draft_id=draft_id,
            detail={"nothing_posted": True, "checked": target.platform, "failed_with": earlier},
        )
    return Requeued(
        draft_id, True, f"draft {draft_id}: not on {target.platform}; approved again by {actor}"
    )


def requeue_draft(settings: Settings, draft_id: int, *, actor: str) -> str:
    """The command line's requeue: check, approve again and send; what happened, in words."""
    result = requeue(runtime.ensure(settings), draft_id, actor=actor)
    if not result.requeued:
        return result.message
    return f"{result.message}; {send_approved(settings, draft_id)}"
