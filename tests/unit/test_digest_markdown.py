"""The Markdown digest quotes mention texts inertly, yet as they were written."""

from __future__ import annotations

from brandcare.insights.render import _md


def test_ordinary_punctuation_is_left_alone() -> None:
    text = "My flight (SK 1402) was cancelled. Help! 3-4 hours #fail + no refund? @a_b"
    assert _md(text) == text
    assert _md("technical_issue") == "technical_issue"
    assert _md("_lead and trail_") == r"\_lead and trail\_"


def test_what_would_format_or_link_is_escaped() -> None:
    out = _md("[click](http://x.io) *now* `code` <b> a|b ~~gone~~ www.evil.com me@mail.com")
    assert out == (
        r"\[click\](http\://x\.io) \*now\* \`code\` \<b\> a\|b \~\~gone\~\~ www\.evil\.com "
        r"me@mail\.com"
    )


def test_texts_are_flattened_and_cut() -> None:
    assert _md("one\n# two\n- three") == "one # two - three"
    assert _md("x" * 300, limit=10) == "x" * 9 + "…"
