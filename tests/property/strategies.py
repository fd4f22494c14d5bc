"""Hypothesis strategies for bad input: hostile text, JSON of any shape, edits of a payload.

Every text strategy mixes the cases that break text handling in practice: empty and
whitespace-only posts, 100k characters, control and bidi-override characters, NUL,
right-to-left scripts, emoji (with joiners and skin tones), combining marks, and lone
surrogates (half an emoji from a broken ``\\ud83d`` escape, which JSON lets through).
"""

from __future__ import annotations

import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

#: Texts that have broken text handling somewhere, each a plain example.
SPECIAL_TEXTS: tuple[str, ...] = (
    "",
    " ",
    "\n\t\r ",
    "\x00",
    "a\x00b",
    "\ud83d",  # a lone high surrogate
    "ok \udc00 ok",  # a lone low surrogate
    "\ud83d\ude00",  # a surrogate pair as two code points (not one emoji)
    "😀" * 300,
    "👩🏽‍🚒👨‍👩‍👧‍👦🏳️‍🌈",
    "مرحبا، رحلتي ألغيت \u202e reversed \u202c",
    "שלום עולם",
    "\u200b\u200c\u200d\u2060\ufeff",
    "e\u0301" * 500,
    "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǧ̗͚̚o̙̔ͮ̇͐̇",
    "\x1b[31mred\x1b[0m \x07\x08\x7f\x85\u2028\u2029",
    "@SkywayAir " + "x" * 100_000,
    "help " * 20_000,
    "&amp;&lt;script&gt;alert(1)&lt;/script&gt;",
    "{handle} {brand} {thing} %s %(x)s {0}",
    "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ",
    "\U0010ffff\U000e0001",
)

#: Any character at all, lone surrogates included (hypothesis leaves them out by default).
any_char = st.characters(codec=None, exclude_categories=())

#: Characters people actually post, weighted towards the troublesome ones.
_care_chars = st.one_of(
    st.sampled_from(list(string.ascii_letters + string.digits + " .,!?@#:/-+()")),
    any_char,
    st.sampled_from(["😀", "\u202e", "\x00", "\ud83d", "\u0301", "ا", "\n", "\u200d", "€"]),
)


def nasty_text(max_size: int = 400) -> st.SearchStrategy[str]:
    """Any text, with the special cases and a very long one likely to come up."""
    return st.one_of(
        st.sampled_from(SPECIAL_TEXTS),
        st.text(_care_chars, max_size=max_size),
        st.text(any_char, max_size=max_size),
        st.builds(
            lambda piece, n: (piece * n)[:120_000],
            st.text(_care_chars, min_size=1, max_size=12),
            st.integers(1_000, 20_000),
        ),
    )


#: Values a JSON parser hands back, of any shape (NaN and huge integers included).
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(),
    st.sampled_from(
        [
            "",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
            "2024-02-30T00:00:00Z",
            "2024-01-01T00:00:00",
            "not a date",
            "12345",
            "t3_",
            "t1_abc",
            "-1",
        ]
    ),
    nasty_text(40),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3),
        st.dictionaries(st.text(max_size=6), children, max_size=3),
    ),
    max_leaves=6,
)


class _Drop:
    """The value of an edit that removes its key."""

    def __repr__(self) -> str:
        return "DROP"


_DROP = _Drop()


@dataclass(frozen=True)
class Edit:
    """One change to a payload: drop ``key`` from, or set it on, the objects at ``where``."""

    where: str  # a label the applying function understands ("tweet 0", "page", ...)
    key: str
    value: Any = _DROP

    @property
    def drops(self) -> bool:
        """Whether the edit removes the key."""
        return self.value is _DROP

    def apply(self, target: Any) -> None:
        """Apply to one JSON object (anything else is left alone)."""
        if not isinstance(target, dict):
            return
        if self.drops:
            target.pop(self.key, None)
        else:
            target[self.key] = self.value


def edits(
    places: Sequence[str], keys: Sequence[str], *, max_size: int = 4
) -> st.SearchStrategy[list[Edit]]:
    """Lists of edits: known keys (and some unknown ones) dropped or set to any JSON value."""
    edit = st.builds(
        Edit,
        st.sampled_from(list(places)),
        st.one_of(st.sampled_from(list(keys)), st.text(max_size=8)),
        st.one_of(st.just(_DROP), json_values, nasty_text(200)),
    )
    return st.lists(edit, max_size=max_size)


def apply_edits(
    payload: Any, changes: Sequence[Edit], locate: Callable[[Any, str], list[Any]]
) -> Any:
    """``payload`` with every edit applied where ``locate(payload, where)`` points."""
    for change in changes:
        for target in locate(payload, change.where):
            change.apply(target)
    return payload
