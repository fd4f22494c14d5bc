"""The words a decision rests on, quoted from the post.

A care head is a linear model on the mean of the encoder's token vectors, so its logit
is exactly the mean of per-token terms ``w . h_t`` plus the bias: each token's share of
the decision is known without any approximation. A reason quotes the run of up to
``MAX_WORDS`` words whose shares add up to the most, so "outage: 'the whole thing is
dead'" shows an agent what the model read.
"""

from __future__ import annotations

from collections.abc import Sequence

MAX_WORDS = 6
#: An edge word of a quote with less than this fraction of its strongest word's share
#: is trimmed off.
EDGE_SHARE = 0.2


def best_span(word_scores: Sequence[float], max_words: int = MAX_WORDS) -> tuple[int, int] | None:
    """(first, last) word of the run with the largest positive total, or None."""
    best: tuple[float, int, int] | None = None
    for first in range(len(word_scores)):
        total = 0.0
        for last in range(first, min(len(word_scores), first + max_words)):
            total += word_scores[last]
            if total > 0 and (best is None or total > best[0] + 1e-9):
                best = (total, first, last)
    return None if best is None else (best[1], best[2])


def quote(
    text: str,
    token_scores: Sequence[float],
    word_ids: Sequence[int | None],
    offsets: Sequence[tuple[int, int]],
    max_words: int = MAX_WORDS,
) -> str:
    """The words of ``text`` that carry the most of a head's logit ("" when none do).

    ``token_scores``, ``word_ids`` and ``offsets`` are per token, as a fast tokenizer
    gives them (special tokens have word id None and are not quoted).
    """
    words: dict[int, list[int]] = {}
    for token, word in enumerate(word_ids):
        if word is not None:
            words.setdefault(word, []).append(token)
    order = sorted(words)
    # Handles are who, not what: never quoted (a large negative share ends a run there).
    # Punctuation alone is never a quote's start or end.
    scores = [
        _HANDLE if _in_handle(text, words[w], offsets) else sum(token_scores[t] for t in words[w])
        for w in order
    ]
    span = best_span(scores, max_words)
    if span is None:
        return ""
    first, last = span
    # Edge words that carry next to nothing ("of", "on") are not part of the evidence.
    peak = max(scores[first : last + 1])
    while first < last and scores[first] < EDGE_SHARE * peak:
        first += 1
    while last > first and scores[last] < EDGE_SHARE * peak:
        last -= 1
    while first < last and not any(c.isalnum() for c in _word(text, words[order[first]], offsets)):
        first += 1
    while last > first and not any(c.isalnum() for c in _word(text, words[order[last]], offsets)):
        last -= 1
    start = offsets[words[order[first]][0]][0]
    end = offsets[words[order[last]][-1]][1]
    return " ".join(text[start:end].split())


_HANDLE = -1e9


def _in_handle(text: str, tokens: list[int], offsets: Sequence[tuple[int, int]]) -> bool:
    start = offsets[tokens[0]][0]
    word = _word(text, tokens, offsets)
    return word in {"@", "#"} or (start > 0 and text[start - 1] in "@#")


def _word(text: str, tokens: list[int], offsets: Sequence[tuple[int, int]]) -> str:
    return text[offsets[tokens[0]][0] : offsets[tokens[-1]][1]]
