"""Replaying a JSON Lines file of mentions: validation, pacing, cursors, replies."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from listener.base import Query, Source
from listener.errors import MalformedPayloadError, PermanentSourceError
from listener.replay import ReplayCursor, ReplaySource, read_replay_file, recorded_posts

T0 = dt.datetime(2026, 11, 20, 8, 0, tzinfo=dt.UTC)


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def write(path: Path, rows: list[dict[str, object] | str]) -> Path:
    lines = [row if isinstance(row, str) else json.dumps(row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def row(n: int, minutes: float = 0.0, **extra: object) -> dict[str, object]:
    created = (T0 + dt.timedelta(minutes=minutes)).isoformat()
    return {
        "id": f"m{n}",
        "text": f"@brand message {n}",
        "author": f"user{n}",
        "followers": n * 10,
        "created_at": created,
        **extra,
    }


def query(path: Path) -> Query:
    return Query(id=1, platform="replay", kind="replay", terms=str(path))


def test_replay_source_follows_the_source_protocol() -> None:
    assert isinstance(ReplaySource(), Source)


def test_speed_zero_releases_every_line_at_once_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1, 0), row(2, 30), row(3, 60)])
    page = ReplaySource(speed=0).poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1", "m2", "m3"]
    assert page.cursor == "3:m3"
    first = page.mentions[0]
    assert first.platform == "replay"
    assert first.author.handle == "user1"
    assert first.author.followers == 10
    assert first.created_at == T0
    assert page.reads == 3
    assert page.requests == 0


def test_speed_spaces_mentions_by_their_timestamps(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1, 0), row(2, 10), row(3, 20)])
    clock = FakeClock()
    source = ReplaySource(speed=60, clock=clock)  # 10 minutes of mentions per 10 seconds
    page = source.poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1"]
    clock.now += 9.9
    page = source.poll(query(path), since=page.cursor)
    assert page.mentions == []
    assert page.cursor == "1:m1"
    clock.now += 0.1
    page = source.poll(query(path), since=page.cursor)
    assert [m.external_id for m in page.mentions] == ["m2"]
    clock.now += 60
    page = source.poll(query(path), since=page.cursor)
    assert [m.external_id for m in page.mentions] == ["m3"]


def test_cursor_resumes_after_the_last_line_even_in_a_new_process(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), row(2), row(3)])
    first = ReplaySource(speed=0).poll(query(path), since=None, limit=2)
    assert [m.external_id for m in first.mentions] == ["m1", "m2"]
    again = ReplaySource(speed=0).poll(query(path), since=first.cursor)
    assert [m.external_id for m in again.mentions] == ["m3"]
    done = ReplaySource(speed=0).poll(query(path), since=again.cursor)
    assert done.mentions == []
    assert done.cursor == again.cursor


def test_lines_appended_to_the_file_are_released_by_the_same_source(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), row(2)])
    source = ReplaySource(speed=0)
    first = source.poll(query(path), since=None)
    assert source.poll(query(path), since=first.cursor).mentions == []
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row(3)) + "\n")
    again = source.poll(query(path), since=first.cursor)
    assert [m.external_id for m in again.mentions] == ["m3"]


def test_a_growing_file_is_read_from_where_the_last_read_stopped(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1)])
    source = ReplaySource(speed=0)
    first = source.poll(query(path), since=None)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(row(2)) + "\n")
    (known,) = source._files.values()
    offset = known.offset
    again = source.poll(query(path), since=first.cursor)
    assert [m.external_id for m in again.mentions] == ["m2"]
    assert known.offset > offset  # the same record, extended: only the new bytes were read
    # Replaced by another file of the same size: read whole again, not spliced.
    path.unlink()
    write(path, [row(7)])
    assert [m.external_id for m in source.poll(query(path), since=None).mentions] == ["m7"]


def test_a_line_caught_half_written_waits_for_its_newline(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1)])
    whole = json.dumps(row(2)) + "\n"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(whole[:20])
    source = ReplaySource(speed=0)
    page = source.poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1"]
    assert source.poll(query(path), since=page.cursor).mentions == []  # no error either
    with path.open("a", encoding="utf-8") as fh:
        fh.write(whole[20:])
    assert [m.external_id for m in source.poll(query(path), since=page.cursor).mentions] == ["m2"]


def test_a_last_line_without_a_newline_is_still_replayed(tmp_path: Path) -> None:
    path = tmp_path / "m.jsonl"
    path.write_text(json.dumps(row(1)) + "\n" + json.dumps(row(2)), encoding="utf-8")
    page = ReplaySource(speed=0).poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1", "m2"]


def test_blank_lines_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), "", "   ", row(2)])
    page = ReplaySource().poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1", "m2"]


def test_malformed_line_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", ['{"id": "m1", "text": '])
    with pytest.raises(MalformedPayloadError, match=r"m\.jsonl:1: not JSON"):
        ReplaySource().poll(query(path), since=None)


def test_line_failing_validation_names_the_field(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), {"id": "m2", "text": "hi", "followers": -3}])
    with pytest.raises(MalformedPayloadError, match=r"m\.jsonl:2: followers"):
        read_replay_file(path)


def test_good_lines_before_a_bad_one_still_get_through(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), {"text": "no id"}, row(3)])
    source = ReplaySource()
    page = source.poll(query(path), since=None)
    assert [m.external_id for m in page.mentions] == ["m1"]
    with pytest.raises(MalformedPayloadError, match=r"m\.jsonl:2: id: Field required"):
        source.poll(query(path), since=page.cursor)


def test_minimal_lines_like_the_bundled_sample_replay_with_defaults(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", [{"id": 7, "text": "@SkywayAir help", "followers": 12}])
    now = dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    page = ReplaySource(now=lambda: now).poll(query(path), since=None)
    mention = page.mentions[0]
    assert mention.external_id == "7"
    assert mention.author.handle == "anonymous"
    assert mention.created_at == now
    assert mention.url == "replay:s.jsonl#7"


def test_platform_author_name_and_extra_fields_are_kept(tmp_path: Path) -> None:
    line = row(
        1,
        platform="twitter",
        author_name="Bea Santos",
        brand="skyway",
        conversation_id="c1",
        url="https://x.com/user1/status/1",
    )
    path = write(tmp_path / "m.jsonl", [line])
    mention = ReplaySource().poll(query(path), since=None).mentions[0]
    assert mention.platform == "twitter"
    assert mention.author.name == "Bea Santos"
    assert mention.conversation_id == "c1"
    assert mention.url == "https://x.com/user1/status/1"
    assert mention.raw["brand"] == "skyway"


def test_naive_timestamps_are_read_as_utc(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.jsonl", [{"id": "a", "text": "t", "created_at": "2026-11-20T08:00:00"}]
    )
    assert ReplaySource().poll(query(path), since=None).mentions[0].created_at == T0


def test_relative_paths_resolve_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path / "m.jsonl", [row(1)])
    rel = Query(id=1, platform="replay", kind="replay", terms="m.jsonl")
    assert len(ReplaySource(base_dir=tmp_path).poll(rel, since=None).mentions) == 1


def test_missing_file_and_bad_cursor_are_permanent(tmp_path: Path) -> None:
    with pytest.raises(PermanentSourceError, match="does not exist"):
        ReplaySource().poll(query(tmp_path / "nope.jsonl"), since=None)
    path = write(tmp_path / "m.jsonl", [row(1)])
    with pytest.raises(PermanentSourceError, match="not a replay cursor"):
        ReplaySource().poll(query(path), since="after-m1")


def test_cursor_round_trips() -> None:
    assert ReplayCursor.decode(ReplayCursor(12, "x-1012").encode()) == ReplayCursor(12, "x-1012")


def test_posted_replies_are_found_again_for_the_demo(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), row(2)])
    source = ReplaySource()
    first, second = source.poll(query(path), since=None).mentions
    reply = source.post_reply(first, "We're on it")
    assert source.find_reply(first, "We're on it") == reply
    assert source.find_reply(first, "Something else") is None
    assert source.find_reply(second, "We're on it") is None
    assert [(mid, text) for mid, text, _ in source.replies()] == [("m1", "We're on it")]


def test_bundled_sample_replays_whole_including_its_empty_texts() -> None:
    sample = Path(__file__).resolve().parents[3] / "brandcare" / "samples" / "mentions.jsonl"
    page = ReplaySource().poll(query(sample), since=None, limit=1000)
    assert len(page.mentions) == len(read_replay_file(sample))
    assert any(m.text == "" for m in page.mentions)


def test_line_without_text_is_malformed(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [{"id": "m1"}])
    with pytest.raises(MalformedPayloadError, match=r"m\.jsonl:1: text: Field required"):
        ReplaySource().poll(query(path), since=None)


def test_a_shared_file_releases_each_brand_only_its_own_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path / "m.jsonl",
        [row(1, brand="skyway"), row(2, brand="nimbus"), row(3, brand="skyway"), row(4)],
    )
    source = ReplaySource(speed=0)
    skyway = Query(id=1, platform="replay", kind="replay", terms=str(path), brand="skyway")
    nimbus = Query(id=2, platform="replay", kind="replay", terms=str(path), brand="nimbus")
    assert [m.external_id for m in source.poll(skyway, since=None).mentions] == [
        "m1",
        "m3",
        "m4",  # a line without a brand goes to every brand's query
    ]
    page = source.poll(nimbus, since=None)
    assert [m.external_id for m in page.mentions] == ["m2", "m4"]
    assert page.cursor == "4:m4"


def test_rebase_moves_the_newest_mention_to_now_and_keeps_the_spacing(tmp_path: Path) -> None:
    path = write(tmp_path / "m.jsonl", [row(1, 0), row(3, 90), row(2, 30)])
    now = dt.datetime(2027, 1, 5, 12, 0, tzinfo=dt.UTC)
    page = ReplaySource(speed=0, rebase=True, now=lambda: now).poll(query(path), since=None)
    created = {m.external_id: m.created_at for m in page.mentions}
    assert created == {
        "m1": now - dt.timedelta(minutes=90),
        "m3": now,
        "m2": now - dt.timedelta(minutes=60),
    }
    plain = ReplaySource(speed=0).poll(query(path), since=None)
    assert plain.mentions[0].created_at == T0  # without rebase, the file's own times


def test_a_posts_file_lets_another_process_find_a_reply_and_counts_every_post(
    tmp_path: Path,
) -> None:
    path = write(tmp_path / "m.jsonl", [row(1), row(2)])
    posts = tmp_path / "posts.jsonl"
    first, second = ReplaySource(posts_file=posts).poll(query(path), since=None).mentions
    reply = ReplaySource(posts_file=posts).post_reply(first, "We're on it")
    # Another source (another worker process) finds it, as it would on X or Reddit.
    other = ReplaySource(posts_file=posts)
    assert other.find_reply(first, "We're on it") == reply
    assert other.find_reply(first, "Something else") is None
    assert other.find_reply(second, "We're on it") is None
    # A second post of the same reply is a second post on the "platform", not hidden.
    again = other.post_reply(first, "We're on it")
    assert again.external_id != reply.external_id
    assert [(m, t) for m, t, _ in recorded_posts(posts)] == [("m1", "We're on it")] * 2
