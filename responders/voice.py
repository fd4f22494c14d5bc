"""How a brand sounds in its replies: greeting, sign-off, where it sends people.

Kept apart from the templates so one set of templates serves every brand. Settings
arrive as JSON and are checked by pydantic at the edge (``load_voice``); drafting only
ever sees the plain frozen ``Voice``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_TIDY_PUNCT = re.compile(r"\s+([,.!:;])")
_LINK = re.compile(r"https?://\S+")
# Control characters, bidi overrides and isolates (which can reverse a reply on the
# customer's screen) and lone surrogates: nothing a reply should carry.
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")

#: Placeholders each text may use; anything else is a typo that would reach a customer.
_ALLOWED: dict[str, frozenset[str]] = {
    "greeting": frozenset({"handle", "brand"}),
    "sign_off": frozenset({"brand"}),
    "dm_invitation": frozenset({"brand"}),
}


class VoiceError(ValueError):
    """Voice settings that would produce a broken or misleading reply."""


def _check_placeholders(field: str, text: str) -> None:
    allowed = _ALLOWED.get(field, frozenset())
    unknown = [name for name in _PLACEHOLDER.findall(text) if name not in allowed]
    if unknown:
        names = ", ".join("{" + n + "}" for n in sorted(allowed)) or "none"
        raise VoiceError(
            f"voice {field} {text!r} uses {{{unknown[0]}}}; the placeholders filled in "
            f"there are: {names}"
        )


@dataclass(frozen=True, slots=True)
class Voice:
    """One brand's reply voice.

    ``dm_invitation`` is a verb phrase that fits "Please ___ with your booking
    reference", e.g. "send us a DM" or "DM us". Links are optional: a template whose
    next step needs a missing link falls back to the DM route.
    """

    brand: str
    greeting: str = "Hi {handle},"
    sign_off: str = ""
    dm_invitation: str = "send us a DM"
    support_link: str = ""
    status_link: str = ""
    #: Product names the brand sells; a mention naming one gets it named back, spelled
    #: the brand's way (never the customer's raw words).
    products: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.brand.strip():
            raise VoiceError("voice brand is empty; set the brand name replies speak for")
        if not self.dm_invitation.strip():
            raise VoiceError("voice dm_invitation is empty; e.g. 'send us a DM'")
        for field in ("greeting", "sign_off", "dm_invitation", "support_link", "status_link"):
            _check_placeholders(field, getattr(self, field))
        for field, text in (
            ("brand", self.brand),
            ("greeting", self.greeting),
            ("sign_off", self.sign_off),
            ("dm_invitation", self.dm_invitation),
            ("support_link", self.support_link),
            ("status_link", self.status_link),
            *(("products", p) for p in self.products),
        ):
            found = _UNPRINTABLE.search(text)
            if found:
                raise VoiceError(
                    f"voice {field} {text!r} holds U+{ord(found.group()):04X}, a control "
                    "or text-direction character that would reach customers' replies; "
                    "remove it"
                )
        for field in ("support_link", "status_link"):
            link = getattr(self, field)
            if link and not _LINK.fullmatch(link):
                raise VoiceError(
                    f"voice {field} {link!r} is not a full http(s) link without spaces; "
                    "platforms only count and link full URLs reliably"
                )
        if any(not p.strip() for p in self.products):
            raise VoiceError("voice products contain an empty name")

    def _fill(self, text: str, handle: str) -> str:
        filled = text.replace("{brand}", self.brand).replace("{handle}", handle)
        return _TIDY_PUNCT.sub(r"\1", " ".join(filled.split()))

    def render_greeting(self, handle: str) -> str:
        """The greeting for ``handle`` (already prefixed, e.g. "@kim"); "" drops the name."""
        return self._fill(self.greeting, handle)

    def render_sign_off(self) -> str:
        """The sign-off with the brand filled in."""
        return self._fill(self.sign_off, "")

    def render_dm(self) -> str:
        """The DM invitation with the brand filled in."""
        return self._fill(self.dm_invitation, "")


class VoiceSettings(BaseModel):
    """The JSON shape of a brand's voice, validated where settings enter the app."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    brand: str = Field(min_length=1)
    greeting: str = "Hi {handle},"
    sign_off: str = ""
    dm_invitation: str = Field(default="send us a DM", min_length=1)
    support_link: str = ""
    status_link: str = ""
    products: list[str] = Field(default_factory=list)

    def to_voice(self) -> Voice:
        """The plain value drafting uses."""
        return Voice(
            brand=self.brand,
            greeting=self.greeting,
            sign_off=self.sign_off,
            dm_invitation=self.dm_invitation,
            support_link=self.support_link,
            status_link=self.status_link,
            products=tuple(self.products),
        )


def load_voice(data: str | bytes | Mapping[str, Any]) -> Voice:
    """A ``Voice`` from JSON settings text or an already parsed mapping.

    Raises ``VoiceError`` naming the field at fault, so a bad settings file fails at
    start-up instead of in a customer's reply.
    """
    try:
        raw: Any = json.loads(data) if isinstance(data, str | bytes) else dict(data)
        return VoiceSettings.model_validate(raw).to_voice()
    except json.JSONDecodeError as exc:
        raise VoiceError(f"voice settings are not valid JSON: {exc}") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise VoiceError(f"voice settings are invalid: {problems}") from exc
