"""Platform icons for the inbox: small inline SVG glyphs, one per platform, never alone.

Inline, so they need no request and no change to the Content-Security-Policy (an SVG's
presentation attributes are not the inline styles ``style-src 'self'`` forbids). Each
glyph is drawn here in the text's own colour (``currentColor``): the inbox keeps colour
for what needs acting on (urgency, the SLA), and a platform is told apart by its shape
and, always, by its name written beside it. Because that name is the accessible name,
the icon is hidden from screen readers (``aria-hidden``): a label on it too would have
every row read "Bluesky Bluesky".

The markup is fixed text chosen by the platform's display name; nothing from a mention
or a URL goes into it.
"""

from __future__ import annotations

from markupsafe import Markup

from listener.registry import label

_OPEN = (
    '<svg class="picon" viewBox="0 0 16 16" width="14" height="14" '
    'aria-hidden="true" focusable="false">'
)
_STROKE = 'fill="none" stroke="currentColor" stroke-width="1.5" stroke-linecap="round"'

#: Display name -> the glyph's shapes (16x16). Simplified marks, not the logos.
_GLYPHS: dict[str, str] = {
    # X: a thick stroke from the top left, a thin one crossing it.
    "X": (
        '<path fill="currentColor" d="M2 2h3.6l8.4 12h-3.6z"/>'
        f'<path {_STROKE} d="M13.5 2.2 2.5 13.8"/>'
    ),
    # Reddit: the round head with its antenna, ears and eyes (the eyes cut out).
    "Reddit": (
        '<path fill="currentColor" fill-rule="evenodd" d="M8 5.6c3.5 0 6.2 1.9 6.2 4.3S11.5 '
        "14.2 8 14.2 1.8 12.3 1.8 9.9 4.5 5.6 8 5.6zM5.6 9.3a1 1 0 1 0 0 .1zm4.8 0a1 1 0 1 0 "
        '0 .1z"/>'
        '<circle fill="currentColor" cx="2.4" cy="7.4" r="1.3"/>'
        '<circle fill="currentColor" cx="13.6" cy="7.4" r="1.3"/>'
        '<circle fill="currentColor" cx="11.8" cy="2.6" r="1.2"/>'
        f'<path {_STROKE} d="M8 5.6 9 1.9l2.6.7"/>'
    ),
    # Mastodon: a rounded speech bubble with an "m" in it.
    "Mastodon": (
        f'<path {_STROKE} stroke-linejoin="round" d="M3.2 1.8h9.6a1.8 1.8 0 0 1 1.8 1.8v5.6a1.8 '
        "1.8 0 0 1-1.8 1.8H7.5c-1.8 0-2.9.6-3.3 2.5-1.7-1-2.8-2.6-2.8-5.2V3.6a1.8 1.8 0 0 1 "
        '1.8-1.8z"/>'
        f'<path {_STROKE} d="M5.2 8.6V5.8a1.4 1.4 0 0 1 2.8 0v2.8M8 5.8a1.4 1.4 0 0 1 2.8 0v2.8"/>'
    ),
    # Bluesky: a butterfly, two wings a side.
    "Bluesky": (
        '<path fill="currentColor" d="M8 7.3C6.6 4.6 4 2.4 2.4 2.4c-1.5 0-1 3.4-.5 4.7.6 1.6 '
        "2.6 2 4.2 1.8-2.4.6-3.4 2.3-2 3.7 1.6 1.6 3-.4 3.9-2.4.9 2 2.3 4 3.9 2.4 1.4-1.4.4-3.1"
        '-2-3.7 1.6.2 3.6-.2 4.2-1.8.5-1.3 1-4.7-.5-4.7C12 2.4 9.4 4.6 8 7.3z"/>'
    ),
}
#: Any other source (a replayed file, a test's script): a plain speech bubble.
_OTHER = f'<path {_STROKE} stroke-linejoin="round" d="M2.5 3h11v7.5H7l-3.5 3v-3h-1z"/>'


def platform_icon(platform: str) -> Markup:
    """The inline SVG for ``platform`` (stored name or alias: "twitter", "x"), hidden from
    screen readers: the platform's name is always written beside it."""
    shapes = _GLYPHS.get(label(platform), _OTHER)
    return Markup(f"{_OPEN}{shapes}</svg>")  # noqa: S704  (fixed markup, no input in it)


def known_icons() -> list[str]:
    """The display names with a glyph of their own (the tests check every live platform)."""
    return list(_GLYPHS)
