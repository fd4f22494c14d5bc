"""Send one approved draft through a source, exactly once.

The protocol (DESIGN.md, "Interfaces"): the caller moves the draft to ``sending`` and
commits before calling ``send_once``, so a crash after the post leaves evidence that a
post may have gone out. ``send_once`` then

1. asks the platform first (``find_reply``) when a previous attempt may have posted
   (the draft was already in ``sending``);
2. posts at most once;
3. after a timeout or an empty answer, asks the platform (``find_reply``) whether the
   post went out, and never posts again in the same call.

Outcomes map to draft moves: SENT -> ``confirm_sent``; FAILED -> ``fail`` with the
platform's reason; UNKNOWN, RETRY_AFTER and AUTH_FAILED leave the draft in ``sending``
for a later attempt with ``already_attempted=True``, except a post the platform refused
before acting on it (a rate limit: ``SendOutcome.refused``), which nothing can have
published: its retry, after the limit resets, posts without looking first. A platform
whose search lags behind its posts could still hide a reply from ``find_reply``;
retrying later rather than at once gives it time to catch up.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from listener.base import Mention, PostedReply, Source
from listener.errors import (
    AuthError,
    PermanentSourceError,
    RateLimited,
    SourceError,
)

logger = logging.getLogger(__name__)


class SendStatus(enum.StrEnum):
    """How a send attempt ended."""

    SENT = "sent"  # the platform has the reply (posted now or found from before)
    FAILED = "failed"  # refused for good; ``reason`` is the platform's words
    UNKNOWN = "unknown"  # may or may not have gone out: retry later, finding first
    RETRY_AFTER = "retry_after"  # rate limited before posting: wait ``retry_after`` seconds
    AUTH_FAILED = "auth_failed"  # credentials rejected: a person must fix the settings


@dataclass(frozen=True, slots=True)
class SendOutcome:
    """What happened to one send attempt, for the caller to record as a draft move."""

    status: SendStatus
    posted: PostedReply | None = None
    reason: str = ""
    retry_after: float | None = None
    #: True when the reply was found from an earlier attempt rather than posted now.
    found_existing: bool = False
    #: How many times this call asked the platform to post: 0 or 1, never more. A call
    #: the platform refused (rate limit, permanent refusal) counts; nothing went out.
    post_attempts: int = 0

    @property
    def refused(self) -> bool:
        """The platform refused this call's post before acting on it (a rate limit), after
        any earlier attempt was settled: nothing is in flight, so the retry may post as
        soon as the limit resets. A rate limit met while only looking is not a refusal."""
        return self.status is SendStatus.RETRY_AFTER and self.post_attempts == 1


def send_once(
    source: Source,
    mention: Mention,
    text: str,
    *,
    already_attempted: bool,
    draft_id: int | str | None = None,
) -> SendOutcome:
    """Post ``text`` as a reply to ``mention`` unless it is already there; never twice.

    ``already_attempted`` is True when the draft was found in ``sending`` on entry: an
    earlier attempt may have posted, so the platform is asked first.
    """
    where = (source.platform, mention.external_id, draft_id)
    if already_attempted:
        settled = _find(source, mention, text, where, after="an earlier attempt")
        if settled is not None:
            return settled
    try:
        posted: PostedReply | None = source.post_reply(mention, text)
    except SourceError as exc:
        return _post_failed(source, mention, text, where, exc)
    if posted is None:
        # Some clients (praw's reply()) return nothing although the post went out.
        logger.warning("empty answer posting reply on %s to %s (draft %s); checking", *where)
        return _settle(source, mention, text, where, "the platform returned no reply")
    logger.info("posted reply on %s to %s (draft %s) as %s", *where, posted.external_id)
    return SendOutcome(SendStatus.SENT, posted=posted, post_attempts=1)


def _post_failed(
    source: Source,
    mention: Mention,
    text: str,
    where: tuple[str, str, int | str | None],
    exc: SourceError,
) -> SendOutcome:
    """The outcome of a post that raised: only an unclear error needs a check."""
    if isinstance(exc, RateLimited):
        logger.warning(
            "rate limited posting reply on %s to %s (draft %s); retry after %.0fs",
            *where,
            exc.retry_after,
        )
        return SendOutcome(
            SendStatus.RETRY_AFTER, reason=str(exc), retry_after=exc.retry_after, post_attempts=1
        )
    if isinstance(exc, PermanentSourceError):
        logger.warning("platform refused reply on %s to %s (draft %s): %s", *where, exc.reason)
        return SendOutcome(SendStatus.FAILED, reason=exc.reason, post_attempts=1)
    if isinstance(exc, AuthError):
        logger.error("credentials rejected posting reply on %s to %s (draft %s): %s", *where, exc)
        return SendOutcome(SendStatus.AUTH_FAILED, reason=str(exc), post_attempts=1)
    # A timeout, a 5xx or an unreadable answer: the post may have gone out.
    logger.warning(
        "no clear answer posting reply on %s to %s (draft %s): %s; checking", *where, exc
    )
    return _settle(source, mention, text, where, str(exc))


def _settle(
    source: Source,
    mention: Mention,
    text: str,
    where: tuple[str, str, int | str | None],
    cause: str,
) -> SendOutcome:
    """After an unclear post: found -> SENT; otherwise UNKNOWN, never a second post."""
    settled = _find(source, mention, text, where, after="an unclear post", post_attempts=1)
    if settled is not None:
        return settled
    return SendOutcome(
        SendStatus.UNKNOWN,
        reason=f"{cause}; no reply found yet, so it may not have gone out: retry later",
        post_attempts=1,
    )


def _find(
    source: Source,
    mention: Mention,
    text: str,
    where: tuple[str, str, int | str | None],
    *,
    after: str,
    post_attempts: int = 0,
) -> SendOutcome | None:
    """SENT if the reply is already posted, an outcome if we cannot tell, None if not found."""
    try:
        found = source.find_reply(mention, text)
    except RateLimited as exc:
        logger.warning(
            "rate limited checking for reply on %s to %s (draft %s) after %s", *where, after
        )
        status = SendStatus.RETRY_AFTER if post_attempts == 0 else SendStatus.UNKNOWN
        return SendOutcome(
            status,
            reason=f"could not check for {after}: {exc}",
            retry_after=exc.retry_after,
            post_attempts=post_attempts,
        )
    except PermanentSourceError as exc:
        logger.warning(
            "platform refused the check for reply on %s to %s (draft %s): %s",
            *where,
            exc.reason,
        )
        # Asking again would be refused again (the post is gone, the thread locked), so
        # this ends the draft; the reason says the check itself was refused.
        return SendOutcome(
            SendStatus.FAILED,
            reason=f"{exc.reason} (refused while checking for {after})",
            post_attempts=post_attempts,
        )
    except AuthError as exc:
        logger.error(
            "credentials rejected checking for reply on %s to %s (draft %s): %s", *where, exc
        )
        status = SendStatus.AUTH_FAILED if post_attempts == 0 else SendStatus.UNKNOWN
        return SendOutcome(status, reason=str(exc), post_attempts=post_attempts)
    except SourceError as exc:
        logger.warning(
            "could not check for reply on %s to %s (draft %s) after %s: %s", *where, after, exc
        )
        return SendOutcome(
            SendStatus.UNKNOWN,
            reason=f"could not check whether {after} posted: {exc}; retry later",
            post_attempts=post_attempts,
        )
    if found is None:
        return None
    logger.info("found reply on %s to %s (draft %s) from %s: %s", *where, after, found.external_id)
    return SendOutcome(
        SendStatus.SENT, posted=found, found_existing=True, post_attempts=post_attempts
    )


def check_sent(
    source: Source, mention: Mention, text: str, *, draft_id: int | str | None = None
) -> SendOutcome:
    """Ask the platform whether the reply is there; never posts.

    For a send whose last attempt is recent: its post may still be on its way or not
    yet visible, so posting again could double it. SENT when found, else UNKNOWN.
    """
    where = (source.platform, mention.external_id, draft_id)
    settled = _find(source, mention, text, where, after="a recent attempt")
    if settled is not None:
        return settled
    return SendOutcome(
        SendStatus.UNKNOWN,
        reason="a recent attempt may still appear on the platform; checking again later",
    )


def find_existing(
    source: Source, mention: Mention, text: str, *, draft_id: int | str | None = None
) -> SendOutcome | None:
    """Before a failed draft is sent again: SENT when the reply is there, None when the
    platform confirms it is not (the evidence ``requeue`` needs), else an outcome whose
    reason says why the platform could not be asked. Never posts.

    The same check a retry makes (``send_once(..., already_attempted=True)``), so a
    requeue and a retry agree on what "already posted" means.
    """
    where = (source.platform, mention.external_id, draft_id)
    return _find(source, mention, text, where, after="the failed attempt")
