"""The dashboard's own message catalog (en, it, sv) and number, month and duration formats.

The chat's catalog (``handlers/locales``) produces reply markup and escapes its placeholders for
it; the dashboard produces HTML, escaped by the templates. Keeping the two catalogs apart means
neither escaping can leak into the other. Topic names are shared: they come from the chat's
catalog, so that a topic is called the same on Telegram and on the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from typing import Final

from handlers import i18n as chat_i18n
from handlers.markup import to_plain

LANGUAGES: Final = ("en", "it", "sv")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_NAMES: Final = chat_i18n.LANGUAGE_NAMES


@cache
def catalog(lang: str) -> Mapping[str, str]:
    return chat_i18n.read_catalog("bot.dashboard", lang)


def pick(*candidates: str | None) -> str:
    """The first candidate the dashboard speaks (``"it-IT"`` counts as ``"it"``), else English."""
    for candidate in candidates:
        code = chat_i18n.normalize_language(candidate)
        if code in LANGUAGES:
            return code
    return DEFAULT_LANGUAGE


def from_accept_language(header: str | None) -> str | None:
    """The preferred language of an ``Accept-Language`` header that the dashboard speaks."""
    if not header:
        return None
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")[:20]):
        code, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, index, code))
    for _, _, code in sorted(ranked):
        found = chat_i18n.normalize_language(code)
        if found in LANGUAGES:
            return found
    return None


class Texts:
    """The dashboard's words and formats in one language: ``texts("nav.overview")``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self._catalog = catalog(self.lang)
        self._months = self._catalog["format.months"].split()

    def __call__(self, key: str, /, **values: object) -> str:
        template = self._catalog.get(key)
        if template is None:
            template = catalog(DEFAULT_LANGUAGE)[key]
        return template.format(**values) if values else template

    def label(self, key: str, fallback: str) -> str:
        """The text of ``key`` if the catalog has it, else ``fallback`` (a value from the store)."""
        return self(key) if key in self._catalog else fallback

    def number(self, value: int | float, decimals: int = 0) -> str:
        text = f"{value:,.{decimals}f}"
        thousands, decimal = self._catalog["format.thousands"], self._catalog["format.decimal"]
        return text.replace(",", "\x00").replace(".", decimal).replace("\x00", thousands)

    def percent(self, share: float | None) -> str:
        if share is None:
            return self("format.none")
        return self("format.percent", value=self.number(share * 100, 1))

    def month(self, key: str, *, year: bool = True) -> str:
        """``"2026-03"`` → ``"Mar 2026"`` (or ``"Mar"``)."""
        year_text, _, month_text = key.partition("-")
        name = self._months[int(month_text) - 1]
        return f"{name} {year_text}" if year else name

    def duration(self, value: timedelta | None) -> str:
        if value is None:
            return self("format.none")
        minutes = int(value.total_seconds() // 60)
        days, rest = divmod(minutes, 24 * 60)
        hours, minutes = divmod(rest, 60)
        if days:
            return f"{self('format.days', n=days)} {self('format.hours', n=hours)}"
        if hours:
            return f"{self('format.hours', n=hours)} {self('format.minutes', n=minutes)}"
        return self("format.minutes", n=minutes)

    def topic(self, name: str, no_topic: str = "overview.no_topic") -> str:
        if name in ("none", ""):
            return self(no_topic)
        entry = chat_i18n.catalog(self.lang).get(f"topics.{name}")
        return to_plain(entry) if entry else name
