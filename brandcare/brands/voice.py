"""A brand's reply voice, read from its row: what the brands file set (``setup``)."""

from __future__ import annotations

import logging

from brandcare.store.models import BrandRow
from responders.voice import Voice, VoiceError

log = logging.getLogger(__name__)


def voice_of(brand: BrandRow) -> Voice:
    """The brand's reply voice from its settings, falling back to plain defaults."""
    settings = {k: v for k, v in (brand.voice or {}).items() if v is not None}
    products = tuple(settings.pop("products", ()) or ())
    try:
        return Voice(brand=brand.name, products=products, **settings)
    except (TypeError, VoiceError) as exc:
        log.warning("brand %s has an invalid voice (%s); using the default voice", brand.slug, exc)
    try:
        return Voice(brand=brand.name)
    except VoiceError:  # a name no reply may carry (a control character)
        return Voice(brand=brand.slug)
