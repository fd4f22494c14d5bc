"""Reasons quote the words whose per-token shares carry a head's decision."""

from sentiment.encoder import load_tokenizer
from sentiment.evidence import best_span, quote


def test_best_span_is_the_run_with_the_largest_positive_total() -> None:
    assert best_span([-1.0, 2.0, 1.0, -5.0, 0.5]) == (1, 2)
    assert best_span([-1.0, -2.0]) is None
    assert best_span([1.0] * 10, max_words=3) == (0, 2)


def test_quote_maps_tokens_back_to_the_words_of_the_text() -> None:
    tokenizer = load_tokenizer()
    text = "honestly the whole thing is dead again tonight @StreamlyHelp"
    enc = tokenizer([text], return_offsets_mapping=True)
    ids = enc["input_ids"][0]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    hot = {"whole", "thing", "is", "dead"}
    shares = [1.0 if t in hot else -0.2 for t in tokens]
    got = quote(text, shares, enc.word_ids(0), enc["offset_mapping"][0])
    assert got == "whole thing is dead"


def test_no_positive_share_means_no_quote() -> None:
    tokenizer = load_tokenizer()
    text = "thanks a lot"
    enc = tokenizer([text], return_offsets_mapping=True)
    shares = [-1.0] * len(enc["input_ids"][0])
    assert quote(text, shares, enc.word_ids(0), enc["offset_mapping"][0]) == ""
