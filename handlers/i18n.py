"""The message catalog: every user-visible text, in English, Italian and Swedish.

Catalogs are TOML files in ``handlers/locales/`` (one per language, flat ``section.key`` names).
Placeholders use ``{name}``; every value passed in is escaped for reply markup, because it may
be user content.
"""

from __future__ import annotations

import logging
import tomllib
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Final

from handlers.markup import escape

log = logging.getLogger(__name__)

LANGUAGES: Final = ("en", "it", "sv")
DEFAULT_LANGUAGE: Final = "en"
LANGUAGE_NAMES: Final = {"en": "English", "it": "Italiano", "sv": "Svenska"}


def _flatten(prefix: str, table: Mapping[str, object], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping):
            _flatten(name, value, out)
        elif isinstance(value, str):
            out[name] = value
        else:
            raise TypeError(f"catalog entry {name} must be a string")


def read_catalog(package: str, lang: str) -> dict[str, str]:
    """``package``'s ``locales/<lang>.toml`` with nested tables flattened to dotted keys."""
    text = resources.files(package).joinpath("locales", f"{lang}.toml").read_text("utf-8")
    out: dict[str, str] = {}
    _flatten("", tomllib.loads(text), out)
    return out


@cache
def catalog(lang: str) -> Mapping[str, str]:
    """The flattened catalog of ``lang`` (loaded once)."""
    return read_catalog("handlers", lang)


def normalize_language(code: str | None) -> str | None:
    """``"it-IT"`` → ``"it"``; None for languages innobot does not speak."""
    if not code:
        return None
    base = code.strip().lower().replace("_", "-").split("-", 1)[0]
    return base if base in LANGUAGES else None


def pick_language(chosen: str | None, hint: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The user's choice, else their app's language, else the default."""
    return normalize_language(chosen) or normalize_language(hint) or default


def t(lang: str, key: str, /, **values: object) -> str:
    """The text for ``key`` in ``lang`` (English if missing), with escaped placeholders."""
    lang = normalize_language(lang) or DEFAULT_LANGUAGE
    template = catalog(lang).get(key)
    if template is None:
        template = catalog(DEFAULT_LANGUAGE).get(key)
        if template is None:
            raise KeyError(f"no catalog entry {key!r}")
        log.warning("catalog entry %s missing in %s", key, lang)
    return template.format(**{name: escape(str(v)) for name, v in values.items()})
