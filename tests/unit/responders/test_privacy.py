import itertools
import re
import time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from responders.privacy import (
    contains_personal_data,
    find_personal_data,
    iban_valid,
    is_booking_code,
    luhn_valid,
    scrub,
)
from tests.unit.responders.strategies import (
    booking_codes,
    cards,
    filler,
    flight_before,
    insert,
    phones,
    spaced,
)

# --- examples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe+care@gmail.com please", "email"),
        ("jane [at] mail [dot] com", "email"),
        ("jane at gmail dot com", "email"),
        ("call +44 20 7946 0958 today", "phone"),
        ("call +1-555-123-4567", "phone"),
        ("call (555) 123-4567", "phone"),
        ("call 555.123.4567", "phone"),
        ("call 0044 20 7946 0958", "phone"),
        ("call +33 1 23 45 67 89", "phone"),
        ("call 07911 123456", "phone"),
        ("call +4915112345678", "phone"),
        ("my code is XKQWZP", "booking_code"),
        ("conf AB12CD please", "booking_code"),
        ("booking reference: ABCDE", "booking_code"),
        ("record locator is QWERTZ", "booking_code"),
        ("ticket lost ab12cd", "booking_code"),
        ("order #W123456789 never came", "order_number"),
        ("account 98765 locked", "order_number"),
        ("tracking 1Z999AA10123456784", "order_number"),
        ("member 987654321", "order_number"),
        ("card 4111 1111 1111 1111 charged", "card"),
        ("card 4111-1111-1111-1111", "card"),
        ("card 378282246310005", "card"),
        ("IBAN GB82 WEST 1234 5698 7654 32", "iban"),
        ("iban de89370400440532013000", "iban"),
        ("send it to 221B Baker Street please", "address"),
        ("I live at 1600 Pennsylvania Avenue", "address"),
        ("Hauptstraße 12", "address"),
        ("12 rue de la Paix", "address"),
        ("postcode SW1A 1AA", "address"),
        ("San Francisco, CA 94105", "address"),
    ],
)
def test_personal_data_is_found_and_named(text: str, kind: str) -> None:
    assert kind in contains_personal_data(text)
    assert PLACEHOLDER_OF[kind] in scrub(text)


PLACEHOLDER_OF = {
    "email": "[email]",
    "phone": "[phone]",
    "booking_code": "[booking code]",
    "order_number": "[order number]",
    "card": "[card]",
    "iban": "[iban]",
    "address": "[address]",
}


@pytest.mark.parametrize(
    "text",
    [
        "@united flight UA1234 cancelled again",
        "any updates on flight 5202 from ORF to PHL no one at gate",
        "flight #1080 diverted, 6+ hours on the plane",
        "left on 2015-02-24 at 10:30, back 24.02.2015",
        "paid $1,500.00 for 3 bags and 2 seats",
        "the 2019-2020 season",
        "PLEASE HELP, THANKS",
        "@JohnS1 and @Delta saw https://t.co/x6SYW3MDVu",
        "streaming 1080p at 60fps, driving 100mph",
        "pi is 3.14159265",
        "waited 45 minutes in row 12",
    ],
)
def test_ordinary_posts_are_left_alone(text: str) -> None:
    assert contains_personal_data(text) == []
    assert scrub(text) == text


def test_a_non_luhn_card_length_number_is_still_scrubbed_as_a_number() -> None:
    assert contains_personal_data("card 4111 1111 1111 1112") == ["order_number"]


def test_findings_keep_spans_not_values() -> None:
    text = "mail a@b.io now"
    (finding,) = find_personal_data(text)
    assert text[finding.start : finding.end] == "a@b.io"
    assert "a@b.io" not in repr(finding)


def test_kinds_are_listed_once_in_order_of_appearance() -> None:
    text = "call +1 555 123 4567 or a@b.io or +1 555 765 4321"
    assert contains_personal_data(text) == ["phone", "email"]


def test_a_phone_run_that_swallows_a_neighbouring_number_is_cut_back() -> None:
    assert "7946" not in scrub("call +44 20 7946 0958 12345 now")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("XKQWZP", True),
        ("AB12CD", True),
        ("ab12cd", True),
        ("PLEASE", False),
        ("1000th", False),
        ("100mph", False),
        ("123456", False),
        ("Hello1", True),
        ("hello", False),
    ],
)
def test_booking_code_shapes(token: str, code: bool) -> None:
    assert is_booking_code(token) is code


def test_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB82 WEST 1234 5698 7654 33")


@pytest.mark.parametrize(
    "text",
    ["1" * 20_000, "1 " * 10_000, "a." * 10_000, "a-" * 10_000, "1-" * 10_000, "a" * 20_000 + "@"],
)
def test_long_input_is_handled_in_linear_time(text: str) -> None:
    # A regex that backtracks over a long run takes many seconds here, not milliseconds.
    started = time.perf_counter()
    scrub(text)
    assert time.perf_counter() - started < 5


# --- properties --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(filler, st.emails(), filler)
def test_scrub_never_keeps_an_inserted_email(prefix: str, email: str, suffix: str) -> None:
    text = insert(prefix, email, suffix)
    assert email not in scrub(text)
    assert "email" in contains_personal_data(text)


@settings(max_examples=150, deadline=None)
@given(filler, phones, filler)
def test_scrub_never_keeps_an_inserted_phone_number(prefix: str, phone: str, suffix: str) -> None:
    cleaned = scrub(insert(prefix, phone, suffix))
    assert phone not in cleaned
    digits = re.sub(r"\D", "", phone)
    assert digits not in re.sub(r"\D", "", cleaned)


@settings(max_examples=150, deadline=None)
@given(filler, booking_codes, filler)
def test_scrub_never_keeps_an_inserted_booking_code(prefix: str, code: str, suffix: str) -> None:
    assume(not flight_before(prefix))  # "flight UA1234" names a flight, not a booking
    assert not re.search(
        rf"(?<![A-Za-z0-9]){code}(?![A-Za-z0-9])", scrub(insert(prefix, code, suffix))
    )


@settings(max_examples=100, deadline=None)
@given(filler, cards, st.booleans(), filler)
def test_scrub_never_keeps_an_inserted_card_number(
    prefix: str, card: str, grouped: bool, suffix: str
) -> None:
    written = spaced(card) if grouped else card
    cleaned = scrub(insert(prefix, written, suffix))
    assert card not in re.sub(r"\D", "", cleaned)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200))
def test_scrub_is_idempotent_and_leaves_nothing_to_find(text: str) -> None:
    once = scrub(text)
    assert scrub(once) == once
    assert contains_personal_data(once) == []


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_findings_are_ordered_and_disjoint(text: str) -> None:
    findings = find_personal_data(text)
    for a, b in itertools.pairwise(findings):
        assert a.end <= b.start
    assert all(0 <= f.start < f.end <= len(text) for f in findings)
