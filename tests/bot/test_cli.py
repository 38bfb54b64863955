"""The ``innobot`` command as an operator uses it: migrate, refuse an old schema, chat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from handlers.i18n import t

ROOT = Path(__file__).resolve().parents[2]


def innobot(
    data_dir: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("INNOBOT_") and key not in {"LANG", "LC_ALL"}
    }
    env.update({"INNOBOT_DATA_DIR": str(data_dir), "LANG": "C.UTF-8", **(extra_env or {})})
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_run_refuses_an_unmigrated_database_and_names_the_fix(data_dir: Path) -> None:
    result = innobot(data_dir, "run")
    assert result.returncode == 3
    assert "innobot db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


def test_db_upgrade_then_current(data_dir: Path) -> None:
    assert innobot(data_dir, "db", "upgrade").returncode == 0
    current = innobot(data_dir, "db", "current")
    assert current.returncode == 0
    lines = dict(line.split(":", 1) for line in current.stdout.strip().splitlines())
    assert lines["current"].strip() == lines["head"].strip()


def test_invalid_configuration_is_reported_without_a_traceback(data_dir: Path) -> None:
    result = innobot(data_dir, "db", "current", extra_env={"INNOBOT_WEB_PORT": "eighty"})
    assert result.returncode == 2
    assert "INNOBOT_WEB_PORT" in result.stderr or "web_port" in result.stderr
    assert "Traceback" not in result.stderr


def test_webhook_mode_needs_url_and_secret(data_dir: Path) -> None:
    result = innobot(data_dir, "run", extra_env={"INNOBOT_TELEGRAM_MODE": "webhook"})
    assert result.returncode == 2
    assert "INNOBOT_WEBHOOK_URL" in result.stderr


def test_console_chat_with_demo_data_walks_through_onboarding(data_dir: Path) -> None:
    assert innobot(data_dir, "db", "upgrade").returncode == 0
    # /start → 1 (English) → 1 (I agree) → 1 (citizen) → /my → /quit
    result = innobot(data_dir, "chat", "--demo", stdin="/start\n1\n1\n1\n/my\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "(demo data added:" in result.stdout
    assert "[1] English" in result.stdout
    assert "Traceback" not in result.stderr
    # A second start finds the demo data already there and the person already known.
    again = innobot(data_dir, "chat", "--demo", stdin="/my\n/quit\n")
    assert "(demo data added:" not in again.stdout
    assert t("en", "errors.needs_consent").split(".")[0] not in again.stdout
