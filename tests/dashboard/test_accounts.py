"""Dashboard accounts and sessions in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import accounts
from storage.models import DashboardAccount, DashboardSession
from tests.dashboard.conftest import NOW, PASSWORD

Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
async def manager(sessions: Sessions) -> DashboardAccount:
    async with sessions() as session, session.begin():
        return await accounts.add_account(session, "manager", PASSWORD, "it")


async def test_a_password_is_stored_as_an_argon2id_hash(
    sessions: Sessions, manager: DashboardAccount
) -> None:
    assert manager.password_hash.startswith("$argon2id$")
    assert PASSWORD not in manager.password_hash
    async with sessions() as session, session.begin():
        found = await accounts.authenticate(session, "manager", PASSWORD, now=NOW)
    assert found is not None
    assert found.last_login_at == NOW


@pytest.mark.parametrize(
    ("name", "password", "language", "problem"),
    [
        ("", PASSWORD, "en", "a user name is"),
        ("-dash", PASSWORD, "en", "a user name is"),
        ("has space", PASSWORD, "en", "a user name is"),
        ("x" * 65, PASSWORD, "en", "a user name is"),
        ("ok", "short", "en", "at least 12"),
        ("ok", "p" * 1025, "en", "at most 1024"),
        ("ok", PASSWORD, "de", "the dashboard speaks"),
        ("manager", PASSWORD, "en", "there is already an account"),
    ],
)
async def test_accounts_are_checked(
    sessions: Sessions,
    manager: DashboardAccount,
    name: str,
    password: str,
    language: str,
    problem: str,
) -> None:
    async with sessions() as session, session.begin():
        with pytest.raises(accounts.AccountError, match=problem):
            await accounts.add_account(session, name, password, language)


async def test_repeated_wrong_passwords_lock_the_account_for_a_while(
    sessions: Sessions, manager: DashboardAccount
) -> None:
    for attempt in range(accounts.MAX_FAILED_LOGINS):
        async with sessions() as session, session.begin():
            assert (
                await accounts.authenticate(session, "manager", f"wrong {attempt}", now=NOW) is None
            )
    async with sessions() as session, session.begin():
        with pytest.raises(accounts.AccountLocked) as locked:
            await accounts.authenticate(session, "manager", PASSWORD, now=NOW)
    assert locked.value.until == NOW + accounts.LOCKOUT
    later = NOW + accounts.LOCKOUT + timedelta(seconds=1)
    async with sessions() as session, session.begin():
        assert await accounts.authenticate(session, "manager", PASSWORD, now=later) is not None
    async with sessions() as session:
        account = await accounts.find_account(session, "manager")
    assert account is not None
    assert (account.failed_logins, account.locked_until) == (0, None)


async def test_an_unknown_name_is_just_a_failed_login(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        assert await accounts.authenticate(session, "nobody", PASSWORD, now=NOW) is None
        assert await accounts.authenticate(session, "bad name!", PASSWORD, now=NOW) is None


async def test_a_session_lives_until_it_expires_or_idles(
    sessions: Sessions, manager: DashboardAccount
) -> None:
    async with sessions() as session, session.begin():
        token = await accounts.open_session(session, manager, now=NOW)
    async with sessions() as session:
        stored = list((await session.execute(select(DashboardSession.token_hash))).scalars())
    assert stored == [accounts.token_hash(token)]  # never the token itself
    moments = [NOW + timedelta(hours=h) for h in (1, 2.5, 4, 5.5, 7, 8.5, 10, 11.5)]
    for moment in moments:  # active every 90 minutes: never idle long enough
        async with sessions() as session, session.begin():
            signed = await accounts.find_session(session, token, now=moment)
        assert signed is not None
        assert signed.account.username == "manager"
    async with sessions() as session, session.begin():
        assert await accounts.find_session(session, token, now=NOW + timedelta(hours=12)) is None
    async with sessions() as session, session.begin():
        idle = await accounts.open_session(session, manager, now=NOW)
    async with sessions() as session, session.begin():
        assert await accounts.find_session(session, idle, now=NOW + timedelta(hours=3)) is None
        assert await accounts.find_session(session, "not-a-token", now=NOW) is None


async def test_a_new_password_or_removal_ends_the_sessions(
    sessions: Sessions, manager: DashboardAccount
) -> None:
    async with sessions() as session, session.begin():
        first = await accounts.open_session(session, manager, now=NOW)
        await accounts.set_password(session, "manager", "another long password")
    async with sessions() as session, session.begin():
        assert await accounts.find_session(session, first, now=NOW) is None
        second = await accounts.open_session(session, manager, now=NOW)
        assert await accounts.remove_account(session, "manager")
        assert not await accounts.remove_account(session, "manager")
    async with sessions() as session:
        assert await accounts.find_session(session, second, now=NOW) is None
        count = (await session.execute(select(func.count(DashboardSession.token_hash)))).scalar()
    assert count == 0
