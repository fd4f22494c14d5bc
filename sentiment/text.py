"""Mention text as the scorer reads it: decoded, cleaned and cut to a bounded length.

Its own module, without torch, because the draft stage reads the same cleaned text the
scorer saw (the signals it looks for must be the ones the scorer found).
"""

from __future__ import annotations

import html
import re
import unicodedata

#: Characters of a text the model and the signal patterns look at; a mention longer
#: than this is scored on its beginning and marked ``truncated``.
MAX_CHARS = 4000
#: What similarity ignores: links and handles (the same complaint from two customers
#: differs in nothing else).
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
_HANDLE = re.compile(r"(?<![\w])(?:@|u/|/u/)[A-Za-z0-9_]{1,40}")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


def clean_text(text: str) -> tuple[str, bool]:
    """The text as the model should read it, and whether it was cut.

    Entities are decoded (tweets arrive with ``&amp;``), control and bidi-override
    characters become spaces, and the text is NFC-normalised.
    """
    truncated = len(text) > MAX_CHARS
    # A lone surrogate (half an emoji, from a broken "\ud83d" escape) is not text the
    # tokenizer can encode: the encoder's "replace" makes it "?".
    text = text[:MAX_CHARS].encode("utf-8", "replace").decode("utf-8", "replace")
    text = html.unescape(text)
    text = _CONTROL.sub(" ", unicodedata.normalize("NFC", text))
    return " ".join(text.split()), truncated


def unlike_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of ``text`` that similarity leaves out: links and handles.

    Reply memory compares what two customers said, and a brand's handle or a tracking
    link says nothing about that; the encoder still reads them, but their tokens are
    left out of the pooled vector (``TransformerScorer.encode``).
    """
    spans = [m.span() for m in _URL.finditer(text)]
    spans += [m.span() for m in _HANDLE.finditer(text)]
    return sorted(spans)
