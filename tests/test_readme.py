"""The README stays true: every setting is documented, and CI runs the README's test command."""

from __future__ import annotations

from pathlib import Path

from bot.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_in_the_configuration_reference() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    missing = [
        f"INNOBOT_{name.upper()}"
        for name in Settings.model_fields
        if f"`INNOBOT_{name.upper()}`" not in readme
    ]
    assert missing == []


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    ci = (ROOT / ".ci" / "run").read_text("utf-8")
    assert "make test" in readme
    assert "make test" in ci
