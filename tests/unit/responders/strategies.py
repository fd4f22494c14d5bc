"""Hypothesis strategies for personal data as people write it, and helpers to plant it."""

from __future__ import annotations

import re

from hypothesis import strategies as st

from responders.privacy import COMMON_CAPS_WORDS, luhn_valid

#: Arbitrary surrounding text: printable, any script, with whitespace; personal data is
#: inserted between spaces, as people write it.
filler = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=60).map(
    str.strip
)

phones = st.one_of(
    # +CC with grouped digits: +44 20 7946 0958, +1-555-123-4567, 0033 1234 5678
    st.tuples(
        st.sampled_from(["+", "00"]),
        st.integers(1, 999),
        st.sampled_from([" ", "-", "."]),
        st.lists(st.integers(100, 9999), min_size=2, max_size=4),
    ).map(lambda t: f"{t[0]}{t[1]} " + t[2].join(str(g) for g in t[3])),
    # North American: (555) 123-4567, 555-123-4567, 555.123.4567
    st.tuples(st.integers(200, 999), st.integers(200, 999), st.integers(1000, 9999)).flatmap(
        lambda t: st.sampled_from(
            [f"({t[0]}) {t[1]}-{t[2]}", f"{t[0]}-{t[1]}-{t[2]}", f"{t[0]}.{t[1]}.{t[2]}"]
        )
    ),
    # UK national: 07911 123456, 01632 960001
    st.tuples(st.integers(1000, 9999), st.integers(100000, 999999)).map(
        lambda t: f"0{t[0]} {t[1]}"
    ),
)

_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#: Record locators: six capitals and digits with both, or six capitals that are no word.
booking_codes = st.one_of(
    st.text(alphabet=_UPPER + "0123456789", min_size=6, max_size=6).filter(
        lambda c: any(ch.isdigit() for ch in c) and any(ch.isalpha() for ch in c)
    ),
    st.text(alphabet=_UPPER, min_size=6, max_size=6).filter(lambda c: c not in COMMON_CAPS_WORDS),
)


def with_luhn(body: str) -> str:
    """``body`` plus the check digit that makes it a valid card number."""
    for check in "0123456789":
        if luhn_valid(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


#: Card numbers of 13 to 19 digits with a valid Luhn check digit.
cards = st.tuples(
    st.sampled_from(["4", "51", "37", "6011"]),
    st.text(alphabet="0123456789", min_size=12, max_size=18),
).map(lambda t: with_luhn((t[0] + t[1])[: max(12, len(t[1]))]))


def spaced(digits: str) -> str:
    """Digits in groups of four, as printed on a card."""
    return " ".join(digits[i : i + 4] for i in range(0, len(digits), 4))


def insert(prefix: str, value: str, suffix: str) -> str:
    """``value`` planted between two texts, set off by spaces."""
    return f"{prefix} {value} {suffix}"


def flight_before(prefix: str) -> bool:
    """Whether ``prefix`` ends with "flight", which makes a following code a flight number."""
    return bool(re.search(r"\b(?:flight|flt|fl)\.?\s*(?:#|no\.?|number)?\s*$", prefix, re.I))
