"""The cheap first pass: which new mentions wait in the urgent lane for the model."""

from __future__ import annotations

from brandcare.pipeline.triage import looks_urgent, urgent_first


def test_whole_words_that_often_mean_urgent_mark_a_mention() -> None:
    assert looks_urgent("@SkywayAir my account was HACKED and my card charged")
    assert looks_urgent("stranded at the gate, nobody answers")
    assert looks_urgent("need this fixed asap")


def test_calm_posts_and_words_merely_containing_one_are_not_marked() -> None:
    assert not looks_urgent("@SkywayAir thanks for the upgrade, lovely crew!")
    assert not looks_urgent("downloaded the app, sleek redesign")  # not "down"
    assert not looks_urgent("")


def test_urgent_first_splits_ids_keeping_their_order() -> None:
    items = [(1, "thanks!"), (2, "fraud on my card"), (3, "hi"), (4, "the site is down")]
    assert urgent_first(items) == ([2, 4], [1, 3])
