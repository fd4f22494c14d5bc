import datetime as dt
from collections import deque
from typing import ClassVar

from hypothesis import given, settings
from hypothesis import strategies as st

from listener.base import Mention, Page, PostedReply, Query
from listener.errors import (
    AuthError,
    MalformedPayloadError,
    PermanentSourceError,
    RateLimited,
    TransientSourceError,
)
from responders.approval import DraftAction, DraftState, allowed
from responders.sender import SendOutcome, SendStatus, check_sent, find_existing, send_once
from tests.unit.responders.builders import WHEN, make_mention

TEXT = "Hi @kim_t, we're sorry your flight was cancelled. ^MK"


class FakeSource:
    """A platform that keeps the replies it accepted, scripted to misbehave on cue.

    Post scripts: "ok"; "lost" (posted, but the answer is lost: a timeout); "down" (a
    timeout before anything was posted); "none" (posted, empty answer); "rate";
    "refused"; "auth". Find scripts: "ok" (answers truthfully), "down", "rate".
    """

    platform: ClassVar[str] = "fake"

    def __init__(self, posts: list[str] | None = None, finds: list[str] | None = None) -> None:
        self.post_script = deque(posts or [])
        self.find_script = deque(finds or [])
        self.replies: list[tuple[str, str, PostedReply]] = []  # (mention id, text, reply)
        self.post_calls = 0
        self.find_calls = 0

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        return Page(mentions=[], cursor=since)

    def _accept(self, mention: Mention, text: str) -> PostedReply:
        reply = PostedReply(
            platform=self.platform,
            external_id=f"r{len(self.replies) + 1}",
            url=f"https://fake.example/r{len(self.replies) + 1}",
            posted_at=WHEN + dt.timedelta(seconds=len(self.replies)),
        )
        self.replies.append((mention.external_id, text, reply))
        return reply

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        self.post_calls += 1
        step = self.post_script.popleft() if self.post_script else "ok"
        if step == "lost":
            self._accept(mention, text)
            raise TransientSourceError("read timed out", platform=self.platform)
        if step == "down":
            raise MalformedPayloadError("502 bad gateway", platform=self.platform)
        if step == "none":
            self._accept(mention, text)
            return None  # type: ignore[return-value]  # what praw's reply() can do
        if step == "rate":
            raise RateLimited("429", retry_after=90, platform=self.platform)
        if step == "refused":
            raise PermanentSourceError(
                "403", reason="You cannot reply to a deleted post", platform=self.platform
            )
        if step == "auth":
            raise AuthError("401 token revoked", platform=self.platform)
        return self._accept(mention, text)

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        self.find_calls += 1
        step = self.find_script.popleft() if self.find_script else "ok"
        if step == "down":
            raise TransientSourceError("search timed out", platform=self.platform)
        if step == "rate":
            raise RateLimited("429", retry_after=30, platform=self.platform)
        for mention_id, posted_text, reply in self.replies:
            if mention_id == mention.external_id and posted_text == text:
                return reply
        return None


def test_a_normal_send_posts_once() -> None:
    source = FakeSource()
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.SENT
    assert outcome.posted == source.replies[0][2]
    assert (source.post_calls, source.find_calls, outcome.post_attempts) == (1, 0, 1)
    assert not outcome.found_existing


def test_send_never_posts_twice_after_timeout() -> None:
    source = FakeSource(posts=["lost"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.SENT
    assert outcome.found_existing
    assert source.post_calls == 1
    assert len(source.replies) == 1


def test_an_empty_answer_is_settled_by_finding_the_reply() -> None:
    source = FakeSource(posts=["none"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.SENT
    assert outcome.posted == source.replies[0][2]
    assert source.post_calls == 1


def test_a_timeout_with_no_reply_found_is_unknown_and_not_posted_again() -> None:
    source = FakeSource(posts=["down"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.UNKNOWN
    assert "retry later" in outcome.reason
    assert source.post_calls == 1
    assert source.replies == []


def test_a_timeout_whose_check_also_fails_is_unknown() -> None:
    source = FakeSource(posts=["lost"], finds=["down"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.UNKNOWN
    assert source.post_calls == 1


def test_after_a_crash_in_sending_the_retry_finds_first_and_does_not_post_again() -> None:
    source = FakeSource()
    source._accept(make_mention(), TEXT)  # the earlier attempt got through, then we crashed
    outcome = send_once(source, make_mention(), TEXT, already_attempted=True)
    assert outcome.status is SendStatus.SENT
    assert outcome.found_existing
    assert (source.post_calls, source.find_calls) == (0, 1)
    assert len(source.replies) == 1


def test_after_a_crash_before_the_post_the_retry_posts_once() -> None:
    source = FakeSource()
    outcome = send_once(source, make_mention(), TEXT, already_attempted=True)
    assert outcome.status is SendStatus.SENT
    assert not outcome.found_existing
    assert (source.post_calls, source.find_calls) == (1, 1)


def test_a_retry_that_cannot_check_does_not_post() -> None:
    source = FakeSource(finds=["down"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=True)
    assert outcome.status is SendStatus.UNKNOWN
    assert source.post_calls == 0


def test_a_permanent_refusal_fails_with_the_platform_s_reason() -> None:
    source = FakeSource(posts=["refused"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome == SendOutcome(
        SendStatus.FAILED, reason="You cannot reply to a deleted post", post_attempts=1
    )
    assert (source.post_calls, source.find_calls) == (1, 0)


def test_a_rate_limit_asks_to_retry_after_and_posts_nothing() -> None:
    source = FakeSource(posts=["rate"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.RETRY_AFTER
    assert outcome.retry_after == 90
    assert outcome.refused  # the post itself was refused: nothing in flight
    assert source.replies == []
    assert source.find_calls == 0


def test_a_rate_limited_check_before_a_retry_waits_without_posting() -> None:
    source = FakeSource(finds=["rate"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=True)
    assert outcome.status is SendStatus.RETRY_AFTER
    assert outcome.retry_after == 30
    assert not outcome.refused  # only the look was refused: the earlier attempt is unsettled
    assert source.post_calls == 0


def test_a_rate_limit_after_an_unclear_post_is_not_a_refusal() -> None:
    source = FakeSource(posts=["down"], finds=["rate"])  # timeout, then the check is limited
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.UNKNOWN
    assert not outcome.refused


def test_rejected_credentials_stop_sending_until_a_person_fixes_them() -> None:
    source = FakeSource(posts=["auth"])
    outcome = send_once(source, make_mention(), TEXT, already_attempted=False)
    assert outcome.status is SendStatus.AUTH_FAILED
    assert source.replies == []


def test_checking_a_recent_attempt_never_posts() -> None:
    source = FakeSource()
    outcome = check_sent(source, make_mention(), TEXT)
    assert outcome.status is SendStatus.UNKNOWN
    assert source.post_calls == 0
    source._accept(make_mention(), TEXT)
    found = check_sent(source, make_mention(), TEXT)
    assert found.status is SendStatus.SENT
    assert found.found_existing
    assert source.post_calls == 0


def test_before_a_requeue_the_check_tells_posted_absent_and_cannot_tell_apart() -> None:
    source = FakeSource(finds=["ok", "down", "rate", "ok"])
    assert find_existing(source, make_mention(), TEXT) is None  # confirmed absent
    down = find_existing(source, make_mention(), TEXT)
    assert down is not None
    assert down.status is SendStatus.UNKNOWN
    assert "search timed out" in down.reason
    rate = find_existing(source, make_mention(), TEXT)
    assert rate is not None
    assert rate.status is SendStatus.RETRY_AFTER
    source._accept(make_mention(), TEXT)
    found = find_existing(source, make_mention(), TEXT)
    assert found is not None
    assert found.status is SendStatus.SENT
    assert found.posted == source.replies[0][2]
    assert found.found_existing
    assert (source.post_calls, found.post_attempts) == (0, 0)


# A platform misbehaving at random, driven through the draft state machine the way the
# pipeline does, never ends up with two replies, and SENT always means one is there.
post_steps = st.sampled_from(["ok", "lost", "down", "none", "rate", "auth"])
find_steps = st.sampled_from(["ok", "down", "rate"])


@settings(max_examples=200, deadline=None)
@given(st.lists(post_steps, max_size=8), st.lists(find_steps, max_size=8))
def test_send_never_posts_twice_whatever_the_platform_does(
    posts: list[str], finds: list[str]
) -> None:
    source = FakeSource(posts=posts, finds=finds)
    mention = make_mention()
    state = allowed(DraftState.APPROVED, DraftAction.START_SEND)
    for _attempt in range(12):
        # The pipeline enters with the draft already in `sending` on every retry.
        before = source.post_calls
        outcome = send_once(source, mention, TEXT, already_attempted=_attempt > 0)
        assert source.post_calls - before <= 1
        if outcome.status is SendStatus.SENT:
            state = allowed(state, DraftAction.CONFIRM_SENT)
            break
        assert outcome.status is not SendStatus.FAILED
    assert len(source.replies) <= 1
    if state is DraftState.SENT:
        assert len(source.replies) == 1
    else:
        assert state is DraftState.SENDING
