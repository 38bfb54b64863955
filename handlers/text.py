"""Cleaning what people type before it is checked and stored."""

from __future__ import annotations

import unicodedata


def _without_controls(text: str, keep: str = "") -> str:
    # Control characters and lone surrogates go (PostgreSQL refuses NUL, UTF-8 refuses
    # surrogates); format characters stay, since emoji sequences and right-to-left text need them.
    return "".join(
        " " if unicodedata.category(c) in ("Cc", "Cs") and c not in keep else c for c in text
    )


def one_line(text: str) -> str:
    """``text`` as a single line without control characters, spaces collapsed."""
    return " ".join(_without_controls(text).split())


def paragraphs(text: str) -> str:
    """``text`` without control characters, line breaks kept, spaces collapsed within lines."""
    lines = [" ".join(line.split()) for line in _without_controls(text, "\n\r").splitlines()]
    return "\n".join(lines).strip()
