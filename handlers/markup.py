"""innobot's tiny reply markup and its renderers.

Reply texts use three markers: ``*bold*``, ``_italic_`` and `` `code` ``. A backslash makes the
next character literal. User content is always passed through :func:`escape` before it is put into
a reply (the catalog does this for every placeholder), so a user's ``*`` or ``<b>`` is shown as
typed and never changes the formatting. Adapters render with :func:`to_html` or :func:`to_plain`.
"""

from __future__ import annotations

import html

_MARKERS = {"*": "b", "_": "i", "`": "code"}
_SPECIAL = set(_MARKERS) | {"\\"}


def escape(text: str) -> str:
    """Make ``text`` literal inside reply markup."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def _tokens(text: str) -> list[tuple[str, str]]:
    """Split markup into ("lit", char) and ("mark", marker) tokens, pairing markers."""
    tokens: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            tokens.append(("lit", text[i + 1]))
            i += 2
            continue
        tokens.append(("mark", c) if c in _MARKERS else ("lit", c))
        i += 1
    # A marker without a partner is literal text.
    open_at: dict[str, int] = {}
    paired: set[int] = set()
    for idx, (kind, value) in enumerate(tokens):
        if kind != "mark":
            continue
        if value in open_at:
            paired.update({open_at.pop(value), idx})
        else:
            open_at[value] = idx
    return [
        ("lit", value) if kind == "mark" and idx not in paired else (kind, value)
        for idx, (kind, value) in enumerate(tokens)
    ]


def to_html(text: str) -> str:
    """Render markup as Telegram / Matrix HTML, escaping everything else."""
    out: list[str] = []
    open_tags: list[str] = []
    for kind, value in _tokens(text):
        if kind == "lit":
            out.append(html.escape(value, quote=False))
            continue
        tag = _MARKERS[value]
        if open_tags and open_tags[-1] == tag:
            open_tags.pop()
            out.append(f"</{tag}>")
        elif tag in open_tags:
            # Crossed markers (*a _b* c_): treat as literal rather than emit broken HTML.
            out.append(html.escape(value, quote=False))
        else:
            open_tags.append(tag)
            out.append(f"<{tag}>")
    for tag in reversed(open_tags):
        out.append(f"</{tag}>")
    return "".join(out)


def to_plain(text: str) -> str:
    """Render markup as plain text (markers removed, escapes resolved)."""
    return "".join(value for kind, value in _tokens(text) if kind == "lit")
