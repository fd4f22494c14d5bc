"""The fixed splits that keep reported numbers honest: what is trained on never overlaps
what is reported, and a split does not move between runs."""

from __future__ import annotations

from collections import Counter

from sentiment.data import split_sentiment_test


def _rows(n_per_label: dict[str, int]) -> list[dict[str, str]]:
    return [
        {"id": f"{label}-{i}", "text": f"tweet {label} {i}", "label": label}
        for label, n in n_per_label.items()
        for i in range(n)
    ]


def test_test_a_halves_are_disjoint_stratified_and_cover_every_tweet() -> None:
    rows = _rows({"negative": 301, "neutral": 600, "positive": 99})
    fit, kept = split_sentiment_test(rows)
    fit_ids, kept_ids = {r["id"] for r in fit}, {r["id"] for r in kept}
    assert not fit_ids & kept_ids
    assert fit_ids | kept_ids == {r["id"] for r in rows}
    by_label = Counter(r["label"] for r in kept)
    # Half of each label, rounded: the kept-out half has the whole set's class balance.
    assert by_label == {"negative": 150, "neutral": 300, "positive": 50}


def test_the_split_is_the_same_every_run_and_ignores_row_order() -> None:
    rows = _rows({"negative": 40, "neutral": 40, "positive": 40})
    _, kept = split_sentiment_test(rows)
    _, again = split_sentiment_test(list(reversed(rows)))
    assert {r["id"] for r in kept} == {r["id"] for r in again}
