"""Replay source: a JSON Lines file of mentions, released at a chosen speed.

The demo and load tests need a platform that needs no credentials and behaves like
one: mentions arrive over time (their ``created_at`` spacing divided by ``speed``), the
cursor survives restarts, and replies "post" (in memory, or in a posts file every
process shares) so a draft can go all the way to ``sent``.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, ClassVar

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)

from listener._common import ID_CHARS, NAME_CHARS, json_safe, same_text, storable, utcnow
from listener.base import Author, Mention, Page, PostedReply, Query
from listener.errors import MalformedPayloadError, PermanentSourceError

log = logging.getLogger(__name__)

PLATFORM = "replay"


class ReplayLine(BaseModel):
    """One line of a replay file, validated at the edge (pydantic).

    ``id`` and ``text`` are required (``text`` may be empty). ``author`` (or ``handle``) defaults to
    ``anonymous``; a missing ``created_at`` means "now" when replayed, so the bundled
    sample (id, text, followers) replays as it is.
    """

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    # Widths of the mention table's columns: a longer value is refused here, by line.
    id: Annotated[str, Field(min_length=1, max_length=ID_CHARS)]
    platform: Annotated[str, Field(min_length=1, max_length=32)] = PLATFORM
    # Required but may be empty: platforms do carry empty posts (media only), and the
    # scorer sample keeps some on purpose; the pipeline, not the file reader, decides.
    text: str
    author: str = Field(
        default="anonymous",
        validation_alias=AliasChoices("author", "handle"),
        max_length=NAME_CHARS,
    )
    author_name: Annotated[str, Field(max_length=NAME_CHARS)] | None = None
    followers: Annotated[int, Field(ge=0, le=2**63 - 1)] | None = None
    created_at: dt.datetime | None = None
    conversation_id: Annotated[str, Field(max_length=ID_CHARS)] | None = None
    url: str | None = None
    #: When set, only a query for this brand releases the line (one file, many brands).
    brand: str | None = None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: dt.datetime | None) -> dt.datetime | None:
        # Naive timestamps are read as UTC: every Mention carries an aware UTC time.
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        try:
            return value.astimezone(dt.UTC)
        except OverflowError:  # pydantic reports a ValueError as this field's problem
            raise ValueError("out of range once moved to UTC") from None


@dataclass(frozen=True, slots=True)
class ReplayCursor:
    """How far a file was replayed: lines consumed, and the id on the last one."""

    line: int
    last_id: str = ""

    def encode(self) -> str:
        """``"<line>:<id>"``, stored in the cursor table."""
        return f"{self.line}:{self.last_id}"

    @classmethod
    def decode(cls, value: str) -> ReplayCursor:
        """Parse ``encode``'s string; ValueError when it is not one."""
        line, _, last_id = value.partition(":")
        number = int(line)
        if number < 0:
            raise ValueError(f"negative line in replay cursor {value!r}")
        return cls(number, last_id)


@dataclass(slots=True)
class _Clock:
    """Pacing for one file: the first mention's time and the moment it was released."""

    anchor_created: dt.datetime | None = None
    anchor_clock: float = 0.0
    #: Added to every timestamp when rebasing: the newest line lands at "now".
    shift: dt.timedelta = dt.timedelta(0)
    rebased: bool = False


@dataclass(slots=True)
class _Replies:
    posted: dict[tuple[str, str], list[tuple[str, PostedReply]]] = field(default_factory=dict)
    count: int = 0


#: Bytes before the end of the last read compared on the next one: the same file grown.
_EDGE = 64
#: An unterminated last line this recent (seconds since the file changed) that is not
#: yet JSON is taken to be still being written, and waits for its newline.
_WRITING_SECONDS = 10.0


@dataclass(slots=True)
class _FileLines:
    """A replay file as read so far: its complete lines and where they end."""

    ident: tuple[int, int]  # (device, inode): a replaced file is another one
    size: int  # the file's size and mtime at the last read
    mtime_ns: int
    offset: int  # bytes up to the end of the last complete line
    lines: list[str]
    edge: bytes  # the bytes just before ``offset``
    #: An unterminated last line that is whole JSON (a file without a final newline).
    tail: str | None = None

    def same_size(self, stat: os.stat_result) -> bool:
        """Whether the file is unchanged since the last read."""
        return (
            (stat.st_dev, stat.st_ino) == self.ident
            and stat.st_size == self.size
            and stat.st_mtime_ns == self.mtime_ns
        )

    def view(self) -> Sequence[str]:
        """The lines to replay: the complete ones, and a whole unterminated last one."""
        return self.lines if self.tail is None else [*self.lines, self.tail]

    @classmethod
    def read(cls, path: Path, stat: os.stat_result, known: _FileLines | None) -> _FileLines:
        """Read what was appended since ``known`` (or the whole file when it is not the
        same file grown)."""
        ident = (stat.st_dev, stat.st_ino)
        with path.open("rb") as fh:
            grown = known is not None and known.ident == ident and stat.st_size >= known.offset
            if grown and known is not None:
                fh.seek(known.offset - len(known.edge))
                grown = fh.read(len(known.edge)) == known.edge
            if not grown or known is None:
                fh.seek(0)
                known = cls(ident, 0, 0, 0, [], b"")
            data = fh.read()
        cut = data.rfind(b"\n") + 1
        known.lines.extend(data[:cut].decode("utf-8").splitlines())
        known.offset += cut
        known.edge = (known.edge + data[:cut])[-_EDGE:]
        known.size, known.mtime_ns = known.offset + len(data) - cut, stat.st_mtime_ns
        known.tail = _whole_tail(data[cut:], stat.st_mtime_ns)
        return known


def _whole_tail(rest: bytes, mtime_ns: int) -> str | None:
    """The unterminated last line to replay, or None while it may still be being written.

    A line appended while a poll reads the file can be caught half-written; it waits for
    its newline, unless it is whole JSON already or the file has not changed for a while
    (then it is a last line without a newline, and a bad one is reported as such).
    """
    if not rest.strip():
        return None
    try:
        text = rest.decode("utf-8")
        json.loads(text)
    except (UnicodeDecodeError, ValueError, RecursionError):
        if time.time() - mtime_ns / 1e9 < _WRITING_SECONDS:
            return None
        return rest.decode("utf-8", errors="replace")
    return text


class ReplaySource:
    """Mentions from a JSON Lines file, released as their timestamps come due.

    ``Query.terms`` is the file's path (relative paths resolve against ``base_dir``).
    ``speed`` is how many times faster than real time to replay (``60``: an hour of
    mentions in a minute); ``0`` releases everything at once. Polls never block: each
    returns the mentions whose time has come.
    """

    platform: ClassVar[str] = PLATFORM

    def __init__(
        self,
        *,
        speed: float = 0.0,
        base_dir: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], dt.datetime] = utcnow,
        rebase: bool = False,
        posts_file: Path | None = None,
    ) -> None:
        if speed < 0:
            raise ValueError(f"speed must be >= 0, got {speed}")
        self.speed = speed
        #: Shift timestamps so the file's newest mention is posted "now": a demo's
        #: waiting times and SLA clocks then look like a live day, not an old file.
        self.rebase = rebase
        self.base_dir = base_dir
        #: Where replies are recorded for every process to see (None: this one's memory).
        self.posts_file = posts_file
        self._clock = clock
        self._now = now
        self._pacing: dict[Path, _Clock] = {}
        self._replies = _Replies()
        self._files: dict[Path, _FileLines] = {}
        self._lock = threading.Lock()
        #: Held while a file is read, so two threads never append the same lines twice.
        self._read_lock = threading.Lock()

    def _lines(self, path: Path) -> Sequence[str]:
        """The file's lines, reading only what was appended since the last read.

        Every poll releases a page from somewhere in the file; reading and splitting the
        whole file per page cost more CPU than storing the page, and a file that grows
        while it is replayed (a load benchmark appends mentions as they are "posted")
        would be read whole at every poll, more each time. The same file grown (same
        inode, the bytes before the old end unchanged) is read from where the last read
        stopped; anything else (replaced, truncated, rewritten) is read again whole.
        """
        stat = path.stat()
        with self._read_lock:
            known = self._files.get(path)
            if known is None or not known.same_size(stat):
                known = _FileLines.read(path, stat, known)
                self._files[path] = known
            return known.view()

    def poll(self, query: Query, *, since: str | None, limit: int = 100) -> Page:
        """The next due mentions after ``since`` (a ``line:id`` cursor), in file order."""
        path = self._path(query)
        start = self._decode(since, path)
        try:
            lines = self._lines(path)
        except FileNotFoundError:
            raise PermanentSourceError(
                f"replay file {path} does not exist",
                reason="replay file missing",
                platform=PLATFORM,
            ) from None
        if start.line > len(lines):
            log.warning(
                "%s cursor line %d is past the end of %s (%d lines); nothing to replay",
                PLATFORM,
                start.line,
                path,
                len(lines),
            )
        with self._lock:
            pacing = self._pacing.setdefault(path, _Clock())
            if self.rebase and not pacing.rebased:
                pacing.shift, pacing.rebased = self._shift(lines), True
            return self._release(path, lines, start, pacing, max(limit, 1), query.brand)

    def _shift(self, lines: Sequence[str]) -> dt.timedelta:
        """How far to move the file's timestamps so its newest one is now."""
        newest: dt.datetime | None = None
        for raw in lines:
            try:
                created = json.loads(raw).get("created_at") if raw.strip() else None
                when = dt.datetime.fromisoformat(created) if isinstance(created, str) else None
            except (ValueError, AttributeError, RecursionError):
                continue  # the line is reported when it is released
            if when is not None and when.tzinfo is not None and (newest is None or when > newest):
                newest = when
        return self._now() - newest if newest else dt.timedelta(0)

    def _release(
        self,
        path: Path,
        lines: Sequence[str],
        start: ReplayCursor,
        pacing: _Clock,
        limit: int,
        brand: str,
    ) -> Page:
        mentions: list[Mention] = []
        cursor = start
        for index in range(start.line, len(lines)):
            raw = lines[index]
            if not raw.strip():
                cursor = ReplayCursor(index + 1, cursor.last_id)
                continue
            try:
                line = _parse(raw, path, index + 1)
            except MalformedPayloadError:
                if mentions:
                    break  # release the good lines first; the next poll reports this one
                raise
            if not self._due(line, pacing):
                break
            if brand and line.brand and line.brand != brand:
                cursor = ReplayCursor(index + 1, line.id)
                continue  # another brand's line in a shared file
            mentions.append(self._mention(line, path, pacing.shift))
            cursor = ReplayCursor(index + 1, line.id)
            if len(mentions) >= limit:
                break
        return Page(
            mentions=mentions,
            cursor=cursor.encode(),
            requests=0,
            reads=len(mentions),
        )

    def _due(self, line: ReplayLine, pacing: _Clock) -> bool:
        """Whether a line's time has come; the first timestamped line starts the clock."""
        if self.speed == 0 or line.created_at is None:
            return True
        if pacing.anchor_created is None:
            pacing.anchor_created = line.created_at
            pacing.anchor_clock = self._clock()
            return True
        offset = (line.created_at - pacing.anchor_created).total_seconds() / self.speed
        return offset <= self._clock() - pacing.anchor_clock

    def _mention(self, line: ReplayLine, path: Path, shift: dt.timedelta) -> Mention:
        handle = line.author.lstrip("@") or "anonymous"
        return Mention(
            platform=line.platform,
            external_id=line.id,
            text=line.text,
            author=Author(
                id=handle, handle=handle, name=line.author_name or handle, followers=line.followers
            ),
            created_at=line.created_at + shift if line.created_at else self._now(),
            url=line.url or f"replay:{path.name}#{line.id}",
            conversation_id=line.conversation_id,
            raw=json_safe(line.model_dump(mode="json")),
        )

    def _path(self, query: Query) -> Path:
        path = Path(query.terms).expanduser()
        if not path.is_absolute() and self.base_dir is not None:
            path = self.base_dir / path
        return path

    @staticmethod
    def _decode(since: str | None, path: Path) -> ReplayCursor:
        if since is None:
            return ReplayCursor(0)
        try:
            return ReplayCursor.decode(since)
        except ValueError:
            raise PermanentSourceError(
                f"not a replay cursor for {path}: {since!r}",
                reason="bad cursor",
                platform=PLATFORM,
            ) from None

    def post_reply(self, mention: Mention, text: str) -> PostedReply:
        """Record the reply (nothing leaves the machine) and return it.

        With ``posts_file`` it is appended there, so every process sees it: a worker
        killed between posting and recording leaves a post another process's retry finds
        (as X's and Reddit's ``find_reply`` find theirs), and a benchmark counts posts on
        the "platform", not rows in our reply table. Without it, this process's memory.
        """
        with self._lock:
            self._replies.count += 1
            number = self._replies.count
        # Unique across processes (and sources) when they share the file.
        tag = str(number) if self.posts_file is None else uuid.uuid4().hex[:16]
        reply = PostedReply(
            platform=mention.platform,
            external_id=f"replay-reply-{tag}",
            url=f"replay:replies#{tag}",
            posted_at=self._now(),
        )
        if self.posts_file is not None:
            _record_post(self.posts_file, mention.external_id, text, reply)
        else:
            with self._lock:
                key = (mention.platform, mention.external_id)
                self._replies.posted.setdefault(key, []).append((text, reply))
        log.info("%s recorded reply %s to %s", PLATFORM, reply.external_id, mention.external_id)
        return reply

    def find_reply(self, mention: Mention, text: str) -> PostedReply | None:
        """A reply recorded by ``post_reply`` for this mention and text, else None."""
        for external_id, posted_text, reply in self.replies():
            if (
                reply.platform == mention.platform
                and external_id == mention.external_id
                and same_text(posted_text, text)
            ):
                return reply
        return None

    def replies(self) -> list[tuple[str, str, PostedReply]]:
        """Every recorded reply as (mention external id, text, reply), for demos and tests."""
        if self.posts_file is not None:
            return recorded_posts(self.posts_file)
        with self._lock:
            return [
                (external_id, text, reply)
                for (_, external_id), items in self._replies.posted.items()
                for text, reply in items
            ]


def _record_post(path: Path, external_id: str, text: str, reply: PostedReply) -> None:
    """Append one post to the posts file in one write (``O_APPEND``: whole lines, whichever
    process writes)."""
    line = json.dumps(
        {
            "mention": external_id,
            "text": text,
            "platform": reply.platform,
            "id": reply.external_id,
            "url": reply.url,
            "posted_at": reply.posted_at.isoformat(),
        },
        ensure_ascii=False,
    )
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode("utf-8"))
    finally:
        os.close(fd)


def recorded_posts(path: Path) -> list[tuple[str, str, PostedReply]]:
    """The posts in a posts file, as (mention external id, text, reply); none when absent."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    posts = []
    for raw in lines:
        try:
            item = json.loads(raw)
        except ValueError:
            continue  # a line being written by another process right now
        posts.append(
            (
                str(item["mention"]),
                str(item["text"]),
                PostedReply(
                    platform=str(item["platform"]),
                    external_id=str(item["id"]),
                    url=str(item["url"]),
                    posted_at=dt.datetime.fromisoformat(item["posted_at"]),
                ),
            )
        )
    return posts


def _parse(raw: str, path: Path, number: int) -> ReplayLine:
    """One line, or MalformedPayloadError naming the file and line."""
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise MalformedPayloadError(
            f"{path}:{number}: not JSON ({exc.msg})", platform=PLATFORM
        ) from exc
    except (ValueError, RecursionError) as exc:  # a 5,000-digit number; nesting too deep
        raise MalformedPayloadError(
            f"{path}:{number}: not readable JSON ({type(exc).__name__}: {str(exc)[:120]})",
            platform=PLATFORM,
        ) from exc
    if isinstance(data, dict):
        # pydantic refuses a string holding half an emoji, and no database stores one
        # (or NUL): the platforms' sources keep such a post with U+FFFD in their place,
        # and so does the replay.
        data = {k: storable(v) if isinstance(v, str) else v for k, v in data.items()}
    try:
        return ReplayLine.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'line'}: {err['msg']}"
            for err in exc.errors()
        )
        raise MalformedPayloadError(f"{path}:{number}: {problems}", platform=PLATFORM) from exc


def read_replay_file(path: Path) -> list[ReplayLine]:
    """Every line of a replay file, validated (for CLIs that check a file up front)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [_parse(raw, path, n) for n, raw in enumerate(lines, 1) if raw.strip()]


__all__: Sequence[str] = [
    "ReplayCursor",
    "ReplayLine",
    "ReplaySource",
    "read_replay_file",
    "recorded_posts",
]
