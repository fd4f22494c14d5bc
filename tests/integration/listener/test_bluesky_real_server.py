"""BlueskySource against the Bluesky reference servers (``@atproto/dev-env``'s PDS and AppView).

The fake in ``tests/fakes/fake_bluesky.py`` answers as the lexicons say; these tests ask
the real thing: the PDS stores and validates our reply records (300 graphemes, facets,
reply refs), the AppView builds notifications, searches and threads from them. Faults
(429, 5xx, torn pages) stay with the fake, which can make them on purpose.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from atproto import Client, models

from listener.base import Mention, Query
from listener.bluesky import BlueskySource, facets_for
from listener.errors import AuthError, PermanentSourceError
from listener.text import graphemes
from tests.atproto.network import Account, BlueskyNetwork, bluesky_network

FLAG = "\U0001f1fa\U0001f1e6"  # one grapheme, two code points, eight UTF-8 bytes
_names = itertools.count(1)


@pytest.fixture(scope="session")
def network(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BlueskyNetwork]:
    """One network for the session (it takes 15 to 30 seconds to start)."""
    with bluesky_network(tmp_path_factory.mktemp("atproto")) as found:
        yield found


@dataclass
class Person:
    """A customer on the test network, posting with the real SDK."""

    account: Account
    client: Client

    def post(self, text: str, *, mention: Account | None = None, reply_to: str = "") -> str:
        """Post ``text`` (naming ``mention`` in a facet, as the app does; in reply to the
        post at ``reply_to``); its at:// URI."""
        facets = facets_for(text, mention.handle, mention.did) if mention else None
        ref = None
        if reply_to:
            parent = self.client.app.bsky.feed.get_posts({"uris": [reply_to]}).posts[0]
            strong = models.ComAtprotoRepoStrongRef.Main(uri=parent.uri, cid=parent.cid)
            root = getattr(parent.record.reply, "root", None) or strong
            ref = models.AppBskyFeedPost.ReplyRef(root=root, parent=strong)
        return str(self.client.send_post(text, facets=facets or None, reply_to=ref).uri)


@dataclass
class Brand:
    """A fresh brand account (its own notifications: tests do not see each other's) and
    the source logged in with its app password."""

    account: Account
    source: BlueskySource
    mentions: Query
    network: BlueskyNetwork

    def person(self, prefix: str = "cust") -> Person:
        account = self.network.create_account(_unique(prefix))
        self.network.sync()  # the SDK's login reads the profile from the AppView
        client = Client(base_url=self.network.pds)
        client.login(account.handle, account.password)
        return Person(account, client)


def _unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}{uuid.uuid4().hex[:6]}"


@pytest.fixture
def brand(network: BlueskyNetwork) -> Brand:
    account = network.create_account(_unique("brand"))
    source = BlueskySource(
        handle=account.handle,
        app_password=network.app_password(account),
        service_url=network.pds,
        timeout=20.0,
    )
    query = Query(id=1, platform="bluesky", kind="mentions", terms="", brand="brand")
    return Brand(account, source, query, network)


def _record(network: BlueskyNetwork, uri: str) -> dict[str, object]:
    repo, _, rkey = uri.removeprefix("at://").partition("/app.bsky.feed.post/")
    found = network.xrpc(
        "GET",
        "com.atproto.repo.getRecord",
        params={"repo": repo, "collection": "app.bsky.feed.post", "rkey": rkey},
    )
    value: dict[str, object] = found["value"]
    return value


def test_mentions_and_replies_arrive_oldest_first_and_the_cursor_reads_only_new_ones(
    brand: Brand,
) -> None:
    kim, lee = brand.person("kim"), brand.person("lee")
    first = kim.post(f"@{brand.account.handle} you lost my bag", mention=brand.account)
    lee.post(f"@{brand.account.handle} where is my refund?", mention=brand.account)
    brand.network.sync()
    ours = brand.source.post_reply(_only(brand, first), "Sorry Kim, we are looking")
    kim.client.like(ours.external_id, _cid(brand, ours.external_id))  # a like: not a mention
    brand.network.sync()

    page = brand.source.poll(brand.mentions, since=None)
    assert [m.author.handle for m in page.mentions] == [kim.account.handle, lee.account.handle]
    assert page.reads == 3  # the like was read, and skipped
    assert page.mentions[0].external_id == first
    assert page.mentions[0].conversation_id == first
    assert page.mentions[0].author.id == kim.account.did
    assert page.cursor

    assert brand.source.poll(brand.mentions, since=page.cursor).mentions == []
    follow_up = kim.post(f"@{brand.account.handle} any news?", reply_to=ours.external_id)
    brand.network.sync()
    later = brand.source.poll(brand.mentions, since=page.cursor)
    assert [m.external_id for m in later.mentions] == [follow_up]
    assert later.mentions[0].in_reply_to_id == ours.external_id
    assert later.mentions[0].conversation_id == first  # the thread's root
    assert brand.source.logins == 1  # one createSession, every poll after on that session


def test_a_reply_is_threaded_with_the_author_as_a_mention_facet_and_found_again(
    brand: Brand,
) -> None:
    kim = brand.person("kim")
    root = kim.post(f"@{brand.account.handle} my flight was cancelled", mention=brand.account)
    brand.network.sync()
    first = _only(brand, root)
    ours = brand.source.post_reply(first, "We rebooked you ✈️ details: https://example.com/trip")
    brand.network.sync()
    kim.post("thanks, and my bag?", reply_to=ours.external_id)
    brand.network.sync()
    deep = [
        m
        for m in brand.source.poll(brand.mentions, since=None).mentions
        if m.text.startswith("thanks")
    ]
    assert len(deep) == 1
    text = "Your bag is on the next flight"
    again = brand.source.post_reply(deep[0], text)
    brand.network.sync()

    record = _record(brand.network, again.external_id)
    reply = record["reply"]
    assert isinstance(reply, dict)
    assert reply["root"]["uri"] == root  # the thread's root, not the post answered
    assert reply["parent"]["uri"] == deep[0].external_id
    body = str(record["text"])
    assert body == f"@{kim.account.handle} {text}"
    facet = record["facets"][0]  # type: ignore[index]
    index, feature = facet["index"], facet["features"][0]
    assert body.encode()[index["byteStart"] : index["byteEnd"]] == f"@{kim.account.handle}".encode()
    assert feature == {"$type": "app.bsky.richtext.facet#mention", "did": kim.account.did}

    link = _record(brand.network, ours.external_id)
    link_text = str(link["text"]).encode()
    spans = {f["features"][0]["$type"]: f["index"] for f in link["facets"]}  # type: ignore[attr-defined]
    url = spans["app.bsky.richtext.facet#link"]
    # byte offsets, past a four-byte emoji and its variation selector
    assert link_text[url["byteStart"] : url["byteEnd"]] == b"https://example.com/trip"

    # The send's answer was lost: the thread shows the reply, so it is not posted again.
    found = brand.source.find_reply(deep[0], text)
    assert found is not None
    assert found.external_id == again.external_id
    assert brand.source.find_reply(deep[0], "something we never said") is None


def test_the_reference_pds_takes_300_graphemes_and_the_source_refuses_301_before_posting(
    brand: Brand,
) -> None:
    kim = brand.person("kim")
    post = kim.post(f"@{brand.account.handle} hello", mention=brand.account)
    brand.network.sync()
    mention = _only(brand, post)
    room = 300 - graphemes(f"@{kim.account.handle} ")
    posted = brand.source.post_reply(mention, FLAG * room)  # 600+ code points, 300 graphemes
    assert graphemes(str(_record(brand.network, posted.external_id)["text"])) == 300
    with pytest.raises(PermanentSourceError, match="301 graphemes of 300"):
        brand.source.post_reply(mention, FLAG * (room + 1))


def test_search_finds_the_brands_terms(brand: Brand) -> None:
    term = f"zq{uuid.uuid4().hex[:8]}"  # the AppView's search is shared by every test
    kim = brand.person("kim")
    wanted = kim.post(f"is the {term} sale on today?")
    kim.post("nothing to do with it")
    brand.network.sync()
    search = Query(id=2, platform="bluesky", kind="search", terms=term, brand="brand")
    page = brand.source.poll(search, since=None)
    assert [m.external_id for m in page.mentions] == [wanted]
    assert brand.source.poll(search, since=page.cursor).mentions == []


def test_a_reply_to_a_deleted_post_is_refused_for_good(brand: Brand) -> None:
    kim = brand.person("kim")
    post = kim.post(f"@{brand.account.handle} never mind", mention=brand.account)
    brand.network.sync()
    mention = _only(brand, post)
    kim.client.delete_post(post)
    brand.network.sync()
    with pytest.raises(PermanentSourceError, match="deleted"):
        brand.source.post_reply(mention, "Hello?")


def test_a_wrong_app_password_is_an_auth_error(brand: Brand) -> None:
    source = BlueskySource(
        handle=brand.account.handle,
        app_password="wron-gpas-swor-d123",
        service_url=brand.network.pds,
    )
    with pytest.raises(AuthError):
        source.poll(brand.mentions, since=None)


def _only(brand: Brand, uri: str) -> Mention:
    """The brand's mention ``uri`` as a poll reads it (a reply needs what a poll saw)."""
    found = [
        m for m in brand.source.poll(brand.mentions, since=None).mentions if m.external_id == uri
    ]
    assert len(found) == 1, f"{uri} not among the brand's mentions"
    return found[0]


def _cid(brand: Brand, uri: str) -> str:
    found = brand.network.xrpc(
        "GET",
        "com.atproto.repo.getRecord",
        params={
            "repo": uri.removeprefix("at://").split("/")[0],
            "collection": "app.bsky.feed.post",
            "rkey": uri.rsplit("/", 1)[1],
        },
    )
    cid: str = found["cid"]
    return cid
