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
