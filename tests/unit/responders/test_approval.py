import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from responders.approval import (
    TRANSITIONS,
    DraftAction,
    DraftState,
    InvalidTransition,
    Transition,
    actions_from,
    allowed,
    initial_state,
    is_terminal,
    transition,
)

S, A = DraftState, DraftAction


@pytest.mark.parametrize(
    ("state", "action", "to"),
    [
        (S.PENDING, A.APPROVE, S.APPROVED),
        (S.PENDING, A.REJECT, S.REJECTED),
        (S.PENDING, A.EDIT, S.PENDING),
        (S.PENDING, A.SKIP, S.SKIPPED),
        (S.SKIPPED, A.UNSKIP, S.PENDING),
        (S.APPROVED, A.EDIT, S.PENDING),
        (S.APPROVED, A.REJECT, S.REJECTED),
        (S.APPROVED, A.START_SEND, S.SENDING),
        (S.SENDING, A.CONFIRM_SENT, S.SENT),
        (S.SENDING, A.FAIL, S.FAILED),
        (S.FAILED, A.CONFIRM_SENT, S.SENT),
    ],
)
def test_the_documented_moves_are_allowed(state: DraftState, action: DraftAction, to: DraftState):
    assert allowed(state, action) is to
    assert allowed(state.value, action.value) is to


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (S.PENDING, A.START_SEND),
        (S.SKIPPED, A.APPROVE),
        (S.SENDING, A.EDIT),
        (S.SENDING, A.REJECT),
        (S.SENT, A.START_SEND),
        (S.REJECTED, A.APPROVE),
    ],
)
def test_a_draft_is_sent_only_from_approved_and_never_after(state, action) -> None:
    with pytest.raises(InvalidTransition):
        allowed(state, action)


def test_every_move_outside_the_table_is_refused_with_what_is_allowed() -> None:
    for state, action in itertools.product(S, A):
        if (state, action) in TRANSITIONS:
            continue
        with pytest.raises(InvalidTransition) as err:
            allowed(state, action)
        message = str(err.value)
        assert f"cannot {action.value}" in message
        for option in actions_from(state):
            assert option.value in message
        assert err.value.state == state
        assert err.value.action == action


def test_sent_and_rejected_are_final() -> None:
    assert is_terminal(S.SENT)
    assert is_terminal(S.REJECTED)
    assert "final" in _refusal(S.SENT, A.APPROVE)
    assert not is_terminal(S.FAILED)


def test_a_failed_draft_is_requeued_only_when_nothing_was_posted() -> None:
    with pytest.raises(InvalidTransition, match="find_reply"):
        allowed(S.FAILED, A.REQUEUE)
    assert allowed(S.FAILED, A.REQUEUE, nothing_posted=True) is S.APPROVED


def test_a_transition_records_who_did_what_and_why() -> None:
    t = transition("pending", "reject", actor="maria", reason="duplicate of #12")
    assert t == Transition(S.PENDING, S.REJECTED, A.REJECT, "maria", "duplicate of #12")


@pytest.mark.parametrize("action", [A.REJECT, A.SKIP, A.FAIL])
def test_moves_an_agent_must_explain_need_a_reason(action: DraftAction) -> None:
    state = S.SENDING if action is A.FAIL else S.PENDING
    with pytest.raises(InvalidTransition, match="needs a reason"):
        transition(state, action, actor="maria")


def test_a_transition_needs_an_actor() -> None:
    with pytest.raises(InvalidTransition, match="actor"):
        transition(S.PENDING, A.APPROVE, actor=" ")


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(InvalidTransition, match=r"unknown draft state 'posted'.*pending"):
        allowed("posted", "approve")
    with pytest.raises(InvalidTransition, match=r"unknown draft action 'send'.*start_send"):
        allowed("approved", "send")


def test_trolls_start_skipped_and_everything_else_pending() -> None:
    assert initial_state(skipped=True) is S.SKIPPED
    assert initial_state(skipped=False) is S.PENDING


def _refusal(state: DraftState, action: DraftAction) -> str:
    with pytest.raises(InvalidTransition) as err:
        allowed(state, action)
    return str(err.value)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(list(A)), st.booleans()), max_size=30))
def test_no_sequence_of_moves_sends_a_draft_twice(moves: list[tuple[DraftAction, bool]]) -> None:
    """Whatever agents and the sender do, only start_send enters sending and sent is final."""
    state = S.PENDING
    sent = 0
    for action, evidence in moves:
        try:
            state = allowed(state, action, nothing_posted=evidence)
        except InvalidTransition:
            continue
        if state is S.SENT:
            sent += 1
        if state is S.SENDING:
            assert action is A.START_SEND
    assert sent <= 1
