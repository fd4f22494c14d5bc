"""The draft state machine: which step may follow which, as pure logic.

The store keeps the state; this module only says whether a move is allowed, so the web
UI, the sender and the CLI all follow the same rules and every move becomes one ``event``
row. A draft is posted only from ``approved``, and once it may have gone out (``sending``)
it can only end as ``sent`` or ``failed``: nothing here can make a reply go out twice.

::

    skipped  --unskip-->       pending     (pending --skip--> skipped)
    pending  --edit-->         pending
    pending  --approve-->      approved    (approved --edit--> pending)
    pending  --reject-->       rejected    (approved --reject--> rejected)
    approved --start_send-->   sending
    sending  --confirm_sent--> sent
    sending  --fail-->         failed      (the platform's reason kept)
    failed   --requeue-->      approved    (only when nothing was posted)
    failed   --confirm_sent--> sent        (find_reply found it there after all)

- ``edit`` keeps a pending draft pending, and sends an approved one back to pending:
  an approval covers the words that were approved, not later ones.
- ``failed`` is terminal, except that an agent may ``requeue`` it back to ``approved``
  when ``find_reply`` confirmed nothing was posted (a permanent refusal, such as a
  deleted post or a locked thread, never posts). Requeueing without that evidence is
  refused: it is the one way a reply could go out twice. When ``find_reply`` finds the
  reply there after all (an agent posted it by hand, or the refusal came after the
  post), ``confirm_sent`` records it instead of sending again.
- ``sending`` is left only by ``confirm_sent`` or ``fail``. A send interrupted by a
  crash, a timeout or a rate limit stays in ``sending``; the next attempt asks the
  platform first (``sender.send_once(..., already_attempted=True)``), unless the
  platform refused the post itself with a rate limit: nothing went out, so the attempt
  after the reset posts at once (the reply row records ``refused``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TypeVar


class DraftState(enum.StrEnum):
    """Where a draft is in its life."""

    PENDING = "pending"  # waiting for an agent
    APPROVED = "approved"  # an agent approved it; the sender may pick it up
    SENDING = "sending"  # the post may be on its way: settle with find_reply before retrying
    SENT = "sent"  # the platform has the reply
    FAILED = "failed"  # the platform refused it for good; the reason is kept
    REJECTED = "rejected"  # an agent decided not to reply
    SKIPPED = "skipped"  # judged trolling; shown to agents with the reasons


class DraftAction(enum.StrEnum):
    """What an agent or the sender can do to a draft."""

    APPROVE = "approve"
    REJECT = "reject"
    EDIT = "edit"
    SKIP = "skip"
    UNSKIP = "unskip"
    START_SEND = "start_send"
    CONFIRM_SENT = "confirm_sent"
    FAIL = "fail"
    REQUEUE = "requeue"


_S = DraftState
_A = DraftAction

#: Every allowed move: (from state, action) -> to state.
TRANSITIONS: dict[tuple[DraftState, DraftAction], DraftState] = {
    (_S.PENDING, _A.APPROVE): _S.APPROVED,
    (_S.PENDING, _A.REJECT): _S.REJECTED,
    (_S.PENDING, _A.EDIT): _S.PENDING,
    (_S.PENDING, _A.SKIP): _S.SKIPPED,
    (_S.SKIPPED, _A.UNSKIP): _S.PENDING,
    (_S.APPROVED, _A.EDIT): _S.PENDING,
    (_S.APPROVED, _A.REJECT): _S.REJECTED,
    (_S.APPROVED, _A.START_SEND): _S.SENDING,
    (_S.SENDING, _A.CONFIRM_SENT): _S.SENT,
    (_S.SENDING, _A.FAIL): _S.FAILED,
    (_S.FAILED, _A.REQUEUE): _S.APPROVED,
    (_S.FAILED, _A.CONFIRM_SENT): _S.SENT,
}

#: Actions that must say why: the reason is what the next agent reads.
REASON_REQUIRED: frozenset[DraftAction] = frozenset(
    {_A.REJECT, _A.SKIP, _A.FAIL, _A.REQUEUE, _A.UNSKIP}
)


class InvalidTransition(ValueError):
    """A move the state machine does not allow; the message says what is allowed instead."""

    def __init__(self, message: str, *, state: str, action: str) -> None:
        super().__init__(message)
        self.state = state  # as given, so an unknown name can be reported too
        self.action = action


@dataclass(frozen=True, slots=True)
class Transition:
    """One allowed move, as the store records it in the ``event`` log."""

    from_state: DraftState
    to_state: DraftState
    action: DraftAction
    actor: str  # an agent's login, or "sender" / "pipeline" for the system
    reason: str = ""


def actions_from(state: DraftState) -> frozenset[DraftAction]:
    """The actions allowed from ``state``, e.g. to show only the buttons that work."""
    return frozenset(action for (s, action) in TRANSITIONS if s is state)


def is_terminal(state: DraftState) -> bool:
    """Whether no action can move a draft out of ``state``."""
    return not actions_from(state)


def allowed(
    from_state: DraftState | str,
    action: DraftAction | str,
    *,
    nothing_posted: bool = False,
) -> DraftState:
    """The state ``action`` moves a draft in ``from_state`` to; raises ``InvalidTransition``.

    ``nothing_posted`` is the evidence ``requeue`` needs: ``find_reply`` confirmed that
    no reply went out.
    """
    state = _parse(DraftState, from_state, "state", str(action))
    act = _parse(DraftAction, action, "action", str(from_state))
    to_state = TRANSITIONS.get((state, act))
    if to_state is None:
        options = sorted(a.value for a in actions_from(state))
        where = (
            f"from {state.value} the allowed actions are: {', '.join(options)}"
            if options
            else f"{state.value} is final; no action changes it"
        )
        raise InvalidTransition(
            f"cannot {act.value} a draft that is {state.value}: {where}",
            state=state,
            action=act,
        )
    if act is DraftAction.REQUEUE and not nothing_posted:
        raise InvalidTransition(
            "cannot requeue a failed draft before find_reply confirms nothing was posted: "
            "check the platform (find_reply) first, then requeue with nothing_posted=True",
            state=state,
            action=act,
        )
    return to_state


def transition(
    from_state: DraftState | str,
    action: DraftAction | str,
    *,
    actor: str,
    reason: str = "",
    nothing_posted: bool = False,
) -> Transition:
    """The ``Transition`` for ``action`` by ``actor``, checked against the rules."""
    to_state = allowed(from_state, action, nothing_posted=nothing_posted)
    state = DraftState(from_state)
    act = DraftAction(action)
    if not actor.strip():
        raise InvalidTransition(
            f"{act.value} needs an actor (an agent's login, or 'sender' for the system) "
            "so the audit log says who did it",
            state=state,
            action=act,
        )
    if act in REASON_REQUIRED and not reason.strip():
        raise InvalidTransition(
            f"{act.value} needs a reason: the next agent reads it in the draft's history",
            state=state,
            action=act,
        )
    return Transition(
        from_state=state, to_state=to_state, action=act, actor=actor.strip(), reason=reason
    )


def initial_state(skipped: bool) -> DraftState:
    """The first state of a new draft: ``skipped`` for trolls, ``pending`` otherwise."""
    return DraftState.SKIPPED if skipped else DraftState.PENDING


_E = TypeVar("_E", DraftState, DraftAction)


def _parse(kind: type[_E], value: _E | str, what: str, other: str) -> _E:
    try:
        return kind(value)
    except ValueError:
        names = ", ".join(m.value for m in kind)
        state, action = (str(value), other) if what == "state" else (other, str(value))
        raise InvalidTransition(
            f"unknown draft {what} {value!r}; known: {names}", state=state, action=action
        ) from None


_LEVEL_ORDER = {"low": 0, "medium": 1, "high": 2}


def second_approval_reason(
    *,
    urgency_level: str | None,
    followers: int | None,
    rule_urgency: str | None,
    rule_min_followers: int | None,
) -> str | None:
    """Why a draft needs a second approver under the brand's four-eyes rule, or None.

    Risky replies are the urgent ones and those many people will read; a brand sets
    the level and the reach at which one agent's judgement is not enough.
    """
    level, threshold = (
        _LEVEL_ORDER.get(urgency_level or "", -1),
        _LEVEL_ORDER.get(rule_urgency or "", 99),
    )
    if level >= threshold:
        return f"urgency {urgency_level}"
    if rule_min_followers is not None and (followers or 0) >= rule_min_followers:
        return f"author reach {followers or 0:,} ≥ {rule_min_followers:,}"
    return None
