"""``innobot users add|password|list|remove``: the dashboard's accounts from the command line."""

from __future__ import annotations

import asyncio
import io

import pytest

from bot.cli import main
from storage.accounts import authenticate
from storage.db import create_engine, session_factory
from storage.migrate import upgrade
from tests.dashboard.conftest import PASSWORD


@pytest.fixture
def database(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    asyncio.run(upgrade(sqlite_url))
    monkeypatch.setenv("INNOBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setattr("bot.logs.configure", lambda *args: None)
    return sqlite_url


def run(monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(list(argv))


def can_sign_in(url: str, name: str, password: str) -> bool:
    async def check() -> bool:
        engine = create_engine(url)
        try:
            async with session_factory(engine)() as session, session.begin():
                return await authenticate(session, name, password) is not None
        finally:
            await engine.dispose()

    return asyncio.run(check())


def test_add_list_change_and_remove_an_account(
    database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    add = ("users", "add", "giulia", "--language", "it", "--password-stdin")
    assert run(monkeypatch, *add, stdin=PASSWORD + "\n") == 0
    assert can_sign_in(database, "giulia", PASSWORD)
    assert run(monkeypatch, *add, stdin=PASSWORD + "\n") == 2  # the name is taken
    assert "there is already an account 'giulia'" in capsys.readouterr().err

    assert run(monkeypatch, "users", "list") == 0
    assert "giulia\tit\tlast sign-in" in capsys.readouterr().out

    new = "a brand new passphrase"
    assert run(monkeypatch, "users", "password", "giulia", "--password-stdin", stdin=new) == 0
    assert can_sign_in(database, "giulia", new)
    assert not can_sign_in(database, "giulia", PASSWORD)

    assert run(monkeypatch, "users", "remove", "giulia") == 0
    assert not can_sign_in(database, "giulia", new)
    assert run(monkeypatch, "users", "remove", "giulia") == 1


@pytest.mark.parametrize(
    ("argv", "stdin", "message"),
    [
        (("users", "add", "bad name", "--password-stdin"), PASSWORD, "a user name is"),
        (("users", "add", "ok", "--password-stdin"), "short", "at least 12 characters"),
        (("users", "password", "nobody", "--password-stdin"), PASSWORD, "no account 'nobody'"),
    ],
)
def test_bad_input_is_explained(
    database: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: tuple[str, ...],
    stdin: str,
    message: str,
) -> None:
    assert run(monkeypatch, *argv, stdin=stdin) == 2
    assert message in capsys.readouterr().err


def test_the_password_is_asked_twice(database: str, monkeypatch: pytest.MonkeyPatch) -> None:
    answers = iter([PASSWORD, PASSWORD + " typo"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["users", "add", "erik"]) == 2
    answers = iter([PASSWORD, PASSWORD])
    assert main(["users", "add", "erik"]) == 0
    assert can_sign_in(database, "erik", PASSWORD)


def test_a_database_not_migrated_is_refused(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("INNOBOT_DATABASE_URL", sqlite_url)
    monkeypatch.setattr("bot.logs.configure", lambda *args: None)
    assert run(monkeypatch, "users", "list") == 3
    assert "innobot db upgrade" in capsys.readouterr().err
