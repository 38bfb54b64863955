"""The message catalog: complete in every language, consistent placeholders, valid markup."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from handlers.i18n import LANGUAGES, catalog, t
from handlers.ideas import FIELDS
from handlers.intents import TOPICS
from handlers.onboarding import ROLES
from storage.models import Status

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "bot" / "dashboard"
# Keys the delivery shell and the router use.
SHELL_KEYS = {
    "errors.apology",
    "errors.busy",
    "errors.flood",
    "errors.too_long",
    "flow.finish_first",
    "flow.lost",
    "errors.text_only",
    "errors.empty",
    "errors.stale_button",
    "errors.unknown_command",
    "errors.needs_consent",
    "errors.not_understood",
}
WORD = re.compile(r"[^\W\d_]{2,}")
# Keys built at run time from a name.
DYNAMIC_KEYS = (
    {f"topics.{name}" for name in TOPICS}
    | {f"status.{status.value}" for status in Status}
    | {f"roles.{role.value}" for role in ROLES}
    | {f"idea.field_{name}" for name in FIELDS}
)


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def keys_in_code() -> set[str]:
    """String constants in handlers/ and bot/ that name an entry of a catalog section.

    Prefixes of keys built at run time (``f"topics.{name}"``) end with "." or "_" and are left
    out; :data:`DYNAMIC_KEYS` lists what they become.
    """
    sections = {key.split(".", 1)[0] for key in catalog("en")}
    pattern = re.compile(r"^[a-z_]+\.[a-z0-9_]*[a-z0-9]$")
    found: set[str] = set()
    for folder in ("handlers", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            if DASHBOARD in path.parents:
                continue  # the dashboard has a catalog of its own (bot/dashboard/locales)
            for node in ast.walk(ast.parse(path.read_text("utf-8"))):
                if (
                    isinstance(node, ast.Constant)
                    and isinstance(node.value, str)
                    and pattern.match(node.value)
                    and node.value.split(".", 1)[0] in sections
                ):
                    found.add(node.value)
    return found


@pytest.mark.parametrize("lang", ["it", "sv"])
def test_every_language_has_the_same_keys(lang: str) -> None:
    assert set(catalog(lang)) == set(catalog("en"))


@pytest.mark.parametrize("lang", ["it", "sv"])
def test_every_language_has_the_same_placeholders(lang: str) -> None:
    english = catalog("en")
    different = {
        key: (placeholders(english[key]), placeholders(text))
        for key, text in catalog(lang).items()
        if placeholders(text) != placeholders(english[key])
    }
    assert different == {}


def test_every_key_used_in_code_exists() -> None:
    used = keys_in_code() | SHELL_KEYS | DYNAMIC_KEYS
    assert len(used) > 60
    for lang in LANGUAGES:
        assert used - set(catalog(lang)) == set(), lang


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_formats_and_has_balanced_markup(lang: str) -> None:
    for key, template in catalog(lang).items():
        text = t(lang, key, **dict.fromkeys(placeholders(template), "value"))
        unescaped = re.sub(r"\\.", "", text)
        for marker in "*_`":
            assert unescaped.count(marker) % 2 == 0, (lang, key, marker)


@pytest.mark.parametrize("lang", ["it", "sv"])
def test_translations_are_not_left_in_english(lang: str) -> None:
    english = catalog("en")
    # Short texts may well be the same word ("Privacy", "No"); sentences may not.
    untranslated = {
        key
        for key, text in catalog(lang).items()
        if text == english[key] and len(WORD.findall(re.sub(r"\{[^}]*\}", "", text))) >= 3
    }
    assert untranslated == set()


def test_button_labels_are_short() -> None:
    families = ("menu.", "roles.", "topics.", "common.", "privacy.button_", "idea.field_")
    keys = {
        "privacy.forget_yes", "privacy.forget_no", "onboarding.agree", "onboarding.decline",
        "idea.confirm", "idea.edit", "idea.cancel", "idea.back", "idea.topic_other",
    }  # fmt: skip
    for lang in LANGUAGES:
        for key, text in catalog(lang).items():
            if (key.startswith(families) and key != "menu.text") or key in keys:
                assert len(text) <= 32, (lang, key, text)
