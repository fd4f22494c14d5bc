import pytest

from sentiment.metrics import accuracy, f1, macro_f1, macro_recall


def test_hand_computed_values():
    gold = ["a", "a", "b", "b", "c"]
    pred = ["a", "b", "b", "b", "a"]
    assert accuracy(gold, pred) == pytest.approx(3 / 5)
    # recall: a 1/2, b 2/2, c 0/1
    assert macro_recall(gold, pred) == pytest.approx((0.5 + 1 + 0) / 3)
    # f1: a: tp1 fp1 fn1 -> 0.5; b: tp2 fp1 fn0 -> 0.8; c: 0
    assert f1(gold, pred, "a") == pytest.approx(0.5)
    assert f1(gold, pred, "b") == pytest.approx(0.8)
    assert macro_f1(gold, pred) == pytest.approx((0.5 + 0.8 + 0) / 3)


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError, match="2 gold labels but 1"):
        accuracy(["a", "b"], ["a"])
