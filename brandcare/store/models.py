"""The schema: typed SQLAlchemy 2 mappings, one for SQLite and PostgreSQL.

Unique constraints carry idempotency (DESIGN "Conventions"): (platform, external_id)
for mentions, (mention_id, model_version) for scores, one draft per mention, one reply
per draft and per idempotency key. The migration in ``migrations/versions`` creates
exactly this schema; a test compares the two.

Classes end in ``Row`` so they never shadow the value types of ``listener`` and
``sentiment`` (``Mention``, ``Query``, ``Scores``) that the pipeline handles alongside.
One module past 500 lines on purpose: the schema is one idea, read (and migrated) whole.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Final

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    column,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.elements import ColumnElement

# Mention states: where a mention is in the pipeline.
MENTION_STATES: Final = ("new", "scored", "drafted", "skipped", "ignored", "error")
# Draft states: see DESIGN "Draft states".
DRAFT_STATES: Final = ("pending", "approved", "sending", "sent", "failed", "rejected", "skipped")
REPLY_STATES: Final = ("sending", "posted", "unknown", "refused")
ALERT_STATES: Final = ("open", "resolved")
USER_ROLES: Final = ("agent", "marketing", "admin")
#: What an API token may do: read and act on the inbox (as its user's role allows), and
#: score texts (``POST /api/v1/score``). A token issued without scopes has ``inbox``.
TOKEN_SCOPES: Final = ("inbox", "score")
QUERY_KINDS: Final = ("search", "mentions", "subreddit", "inbox", "replay")
SENTIMENTS: Final = ("negative", "neutral", "positive")
URGENCY_LEVELS: Final = ("low", "medium", "high")
#: Where a remembered reply came from: sent from the inbox, or imported history.
MEMORY_SOURCES: Final = ("approved", "imported")
#: Labels an agent can correct in one click (issue #4), exported for retraining.
CORRECTABLE_FIELDS: Final = ("sentiment", "urgency_level", "troll")


class NaiveDatetimeError(ValueError):
    """A datetime without a timezone reached the database, where it would be ambiguous."""


def utcnow() -> dt.datetime:
    """The current time, timezone-aware, in UTC."""
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    PostgreSQL keeps the instant (timestamptz); SQLite keeps a naive string, so values
    are converted to UTC on the way in and tagged UTC on the way out. Naive datetimes
    are refused rather than guessed at.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        """Convert to UTC; refuse a naive datetime."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise NaiveDatetimeError(f"naive datetime {value!r}: pass a timezone-aware one")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        """Tag UTC on naive values (SQLite) and normalise aware ones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


def _check_in(column_name: str, values: tuple[str, ...]) -> ColumnElement[bool]:
    """A CHECK condition limiting ``column_name`` to ``values``, as a Core expression."""
    return column(column_name).in_(values)


# Deterministic constraint names, so migrations can name what they alter on both dialects.
NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with the constraint naming convention; column types are explicit."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class BrandRow(Base):
    """A brand we listen for, with the voice its replies are written in."""

    __tablename__ = "brand"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    #: greeting, sign_off, dm_invitation, support_link: read by the drafting templates.
    voice: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The response-time target the queue and digests measure against.
    sla_minutes: Mapped[int] = mapped_column(Integer, default=60)
    #: Four-eyes rule for risky drafts: a second agent (neither the editor nor the first
    #: approver) must approve when urgency reaches this level or the author this reach.
    second_approval_urgency: Mapped[str | None] = mapped_column(String(16))
    second_approval_min_followers: Mapped[int | None] = mapped_column(BigInteger)
    #: Spike alert noise controls: sensitivity, cooldown_minutes, quiet_hours
    #: ("22:00-07:00" in UTC). Channels (URLs with secrets) come from the environment.
    alerting: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: The credentials profile whose platform keys this brand reads and posts with
    #: (``X_API_KEY__<PROFILE>``...; ``brandcare.brands.credentials``); None: the
    #: deployment-wide keys. A name, never a secret.
    credentials: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class QueryRow(Base):
    """What to watch for a brand on one platform, how often, and within what budget."""

    __tablename__ = "query"
    __table_args__ = (
        UniqueConstraint("brand_id", "platform", "kind", "terms"),
        CheckConstraint(_check_in("kind", QUERY_KINDS), name="kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    terms: Mapped[str] = mapped_column(Text)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=300)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    daily_budget_usd: Mapped[float | None] = mapped_column(Float)
    monthly_budget_usd: Mapped[float | None] = mapped_column(Float)
    #: Why the scheduler stopped polling (budget spent, auth revoked); None while active.
    paused_reason: Mapped[str | None] = mapped_column(Text)


class CursorRow(Base):
    """The last position a query has seen; advanced with the mentions it covers."""

    __tablename__ = "cursor"

    query_id: Mapped[int] = mapped_column(
        ForeignKey("query.id", ondelete="CASCADE"), primary_key=True
    )
    position: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiUsageRow(Base):
    """API calls and their estimated cost per query (or per brand), platform and day.

    Two partial unique indexes instead of one constraint: NULLs never conflict in a
    unique constraint, so brand-level rows (replies posted, no query) need their own.
    """

    __tablename__ = "api_usage"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    query_id: Mapped[int | None] = mapped_column(ForeignKey("query.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    requests: Mapped[int] = mapped_column(Integer, default=0)
    reads: Mapped[int] = mapped_column(Integer, default=0)
    posts: Mapped[int] = mapped_column(Integer, default=0)
    est_cost_usd: Mapped[float] = mapped_column(Float, default=0.0)


# Partial indexes reference the mapped columns, so they are declared after the class.
Index(
    "uq_api_usage_query_platform_day",
    ApiUsageRow.query_id,
    ApiUsageRow.platform,
    ApiUsageRow.day,
    unique=True,
    sqlite_where=ApiUsageRow.query_id.is_not(None),
    postgresql_where=ApiUsageRow.query_id.is_not(None),
)
Index(
    "uq_api_usage_brand_platform_day",
    ApiUsageRow.brand_id,
    ApiUsageRow.platform,
    ApiUsageRow.day,
    unique=True,
    sqlite_where=ApiUsageRow.query_id.is_(None),
    postgresql_where=ApiUsageRow.query_id.is_(None),
)


class MentionRow(Base):
    """One post that mentions a brand, normalised across platforms, stored once.

    A post matched by two brands' queries belongs to the brand that saw it first:
    (platform, external_id) is unique so no worker ever stores it twice.
    """

    __tablename__ = "mention"
    __table_args__ = (
        UniqueConstraint("platform", "external_id"),
        Index("ix_mention_brand_id_created_at", "brand_id", "created_at"),
        Index("ix_mention_conversation_id", "conversation_id"),
        Index("ix_mention_state", "state"),
        CheckConstraint(_check_in("state", MENTION_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    query_id: Mapped[int | None] = mapped_column(ForeignKey("query.id", ondelete="SET NULL"))
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    author_id: Mapped[str] = mapped_column(String(128))
    author_handle: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    #: Reach: the queue serves a complaint 50k people will read before one 50 will.
    author_followers: Mapped[int | None] = mapped_column(BigInteger)
    author_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    text: Mapped[str] = mapped_column(Text)
    url: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    fetched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    conversation_id: Mapped[str | None] = mapped_column(String(128))
    in_reply_to_id: Mapped[str | None] = mapped_column(String(128))
    lang: Mapped[str | None] = mapped_column(String(16))
    #: The platform's payload as received, so nothing the API said is lost.
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    #: Who may see the post (public, unlisted, private, direct) where the platform says;
    #: None: public. A reply goes out with the same visibility, never wider.
    visibility: Mapped[str | None] = mapped_column(String(16))
    #: The content warning the post is behind (Mastodon's ``spoiler_text``), shown to agents.
    content_warning: Mapped[str | None] = mapped_column(Text)
    #: The longest reply the server that read the post accepts, where that is the
    #: server's own setting (a Mastodon instance's); None: the platform's fixed limit.
    reply_limit: Mapped[int | None] = mapped_column(Integer)
    edited_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="new")
    error: Mapped[str | None] = mapped_column(Text)


class MentionRevisionRow(Base):
    """The text a mention had before an edit replaced it, and when the edit was seen.

    Agents approve replies to what was said; if the post changed after the draft was
    written, the history shows what the reply was answering.
    """

    __tablename__ = "mention_revision"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), index=True
    )
    text: Mapped[str] = mapped_column(Text)
    raw: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ScoreRow(Base):
    """What one model version said about a mention, with the policy's decisions.

    One row per (mention, model version): rescoring with a new model adds a row, a
    redelivered scoring message adds nothing.
    """

    __tablename__ = "score"
    __table_args__ = (
        UniqueConstraint("mention_id", "model_version"),
        CheckConstraint(_check_in("sentiment", SENTIMENTS), name="sentiment"),
        CheckConstraint(_check_in("urgency_level", URGENCY_LEVELS), name="urgency_level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"))
    model_version: Mapped[str] = mapped_column(String(64))
    sentiment: Mapped[str] = mapped_column(String(16))
    prob_negative: Mapped[float] = mapped_column(Float)
    prob_neutral: Mapped[float] = mapped_column(Float)
    prob_positive: Mapped[float] = mapped_column(Float)
    urgency: Mapped[float] = mapped_column(Float)
    urgency_level: Mapped[str] = mapped_column(String(16))
    needs_reply: Mapped[bool] = mapped_column(Boolean)
    needs_reply_prob: Mapped[float] = mapped_column(Float)
    troll: Mapped[bool] = mapped_column(Boolean)
    troll_prob: Mapped[float] = mapped_column(Float)
    offensive_prob: Mapped[float | None] = mapped_column(Float)
    issue: Mapped[str] = mapped_column(String(64))
    issue_prob: Mapped[float | None] = mapped_column(Float)
    #: Why urgent, why trolling: in words an agent can read.
    reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: The care signals the model found, each with the words it rests on:
    #: ``[{"kind": "outage", "evidence": "the whole thing is dead", "weight": 0.93}]``.
    #: None on rows scored before the judgment model (migration 0008).
    signals: Mapped[list[dict[str, object]] | None] = mapped_column(JSON, default=list)
    abusive_prob: Mapped[float | None] = mapped_column(Float)
    #: ISO 639-1 code of the mention's language: the inbox filters by it.
    language: Mapped[str] = mapped_column(String(8), default="en", index=True)
    #: The mention's vector from the pass that scored it (``responders.vector_index``
    #: bytes), kept for mentions the policy answers: drafting compares it with reply
    #: memory instead of running the encoder again. None for others and for rows
    #: scored before migration 0011.
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    #: The ``embedding_version`` that made ``embedding``: vectors compare only under one.
    encoder: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DraftRow(Base):
    """The reply proposed for a mention and where it is in the approval flow.

    ``version`` is SQLAlchemy's optimistic lock for ORM edits; state changes go
    through ``drafts.transition_draft``, a compare-and-set that bumps it too.
    """

    __tablename__ = "draft"
    __table_args__ = (
        Index("ix_draft_state", "state"),
        # The inbox's sent, failed and rejected lanes: latest activity first.
        Index("ix_draft_state_updated_at", "state", "updated_at"),
        CheckConstraint(_check_in("state", DRAFT_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), unique=True
    )
    text: Mapped[str] = mapped_column(Text)
    #: What drafting proposed, kept so edits by agents can be measured.
    original_text: Mapped[str] = mapped_column(Text)
    template: Mapped[str | None] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="pending")
    skip_reason: Mapped[str | None] = mapped_column(Text)
    reject_reason: Mapped[str | None] = mapped_column(Text)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    edited_by: Mapped[str | None] = mapped_column(String(100))
    #: The first of two approvals, where the brand's four-eyes rule asks for two.
    first_approved_by: Mapped[str | None] = mapped_column(String(100))
    first_approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The agent working on it, so two agents never answer the same mention; expires.
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    claimed_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    #: The remembered reply this draft adapted; None for a template draft.
    based_on: Mapped[int | None] = mapped_column(ForeignKey("reply_memory.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012


class ReplyMemoryRow(Base):
    """A reply the care team stood behind, with the mention it answered: what drafts adapt.

    Rows come from replies sent from the inbox (with the agents' edits) and from imported
    history. ``embedding`` is the mention's vector from the scorer's encoder (float32
    little-endian, unit length), filled by the drafting stage, which holds the encoder;
    ``encoder`` names the model that made it, so a new encoder never compares its vectors
    with an old one's. Unique on (brand, source, source_ref): importing or sending twice
    remembers once.
    """

    __tablename__ = "reply_memory"
    __table_args__ = (
        UniqueConstraint("brand_id", "source", "source_ref"),
        # Drafting reads a brand's rows past the last one it saw (migration 0011).
        Index("ix_reply_memory_brand_id_id", "brand_id", "id"),
        CheckConstraint(_check_in("source", MEMORY_SOURCES), name="source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(16))
    #: "draft:<id>" for a sent draft; the history's own id (the reply's post id) on import.
    source_ref: Mapped[str] = mapped_column(String(128))
    mention_id: Mapped[int | None] = mapped_column(ForeignKey("mention.id", ondelete="SET NULL"))
    #: A plain id, no foreign key: drafts point here (``based_on``), and a cycle of
    #: foreign keys would leave no order to create or drop the two tables in.
    draft_id: Mapped[int | None] = mapped_column(Integer)
    platform: Mapped[str] = mapped_column(String(32))
    author_handle: Mapped[str] = mapped_column(String(200))
    author_name: Mapped[str] = mapped_column(String(200), default="")
    mention_text: Mapped[str] = mapped_column(Text)
    reply_text: Mapped[str] = mapped_column(Text)
    #: The original post, where the history gives one (imported rows).
    url: Mapped[str | None] = mapped_column(Text)
    #: When the customer posted: what "adapted from the reply to @x on 3 May" names.
    mentioned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)
    encoder: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ReplyRow(Base):
    """A reply sent (or being sent) for a draft: at most one per draft, ever.

    The row is written before the post goes out, in state ``sending``; the unique
    idempotency key makes a retried send find it instead of posting again.
    """

    __tablename__ = "reply"
    __table_args__ = (CheckConstraint(_check_in("state", REPLY_STATES), name="state"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("draft.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    platform: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str | None] = mapped_column(String(128))
    url: Mapped[str | None] = mapped_column(Text)
    posted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    state: Mapped[str] = mapped_column(String(16), default="sending")


class EventRow(Base):
    """One line of the append-only audit log: who did what, when, to which mention/draft."""

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_at", "at"),
        Index("ix_event_mention_id", "mention_id"),
        Index("ix_event_draft_id", "draft_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    #: A user name, or "system" for the pipeline.
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    # Plain ids, no foreign keys: the log outlives what it describes.
    mention_id: Mapped[int | None] = mapped_column(Integer)
    draft_id: Mapped[int | None] = mapped_column(Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class AlertRow(Base):
    """A spike of mentions over a window, against the baseline expected for it."""

    __tablename__ = "alert"
    __table_args__ = (
        Index("ix_alert_brand_id_state", "brand_id", "state"),
        CheckConstraint(_check_in("state", ALERT_STATES), name="state"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    issue: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    window_end: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    observed: Mapped[int] = mapped_column(Integer)
    expected: Mapped[float] = mapped_column(Float)
    state: Mapped[str] = mapped_column(String(16), default="open")
    #: medium, high or critical: routes the notification.
    severity: Mapped[str | None] = mapped_column(String(16))
    #: The mention ids behind the spike and the detector's numbers.
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class UserRow(Base):
    """Someone who signs in to the web UI; only hashes of secrets are stored."""

    __tablename__ = "user"
    __table_args__ = (CheckConstraint(_check_in("role", USER_ROLES), name="role"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    api_token_hash: Mapped[str | None] = mapped_column(String(255), unique=True)
    #: The token's ``TOKEN_SCOPES``, space-separated. Tokens issued before scopes existed
    #: keep the inbox, as before, and may not score (migration 0010).
    api_token_scopes: Mapped[str] = mapped_column(String(64), default="inbox")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)


class WebSessionRow(Base):
    """A signed-in browser: server-side, so logging out or disabling a user ends it now.

    The cookie holds a random token; only its SHA-256 is stored, so a copy of the
    database does not let anyone sign in.
    """

    __tablename__ = "web_session"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class CorrectionRow(Base):
    """An agent's fix of a label the model gave a mention: training data for the next model."""

    __tablename__ = "correction"
    __table_args__ = (CheckConstraint(_check_in("field", CORRECTABLE_FIELDS), name="field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), index=True
    )
    field: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(16))
    #: What the model said, and which model said it.
    previous: Mapped[str | None] = mapped_column(String(16))
    model_version: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(100))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
