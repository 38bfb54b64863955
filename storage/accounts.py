"""Dashboard accounts: the programme managers who sign in to the web dashboard, and their sessions.

Passwords are hashed with Argon2id (argon2-cffi's defaults, RFC 9106's low-memory profile); the
hashing runs in a worker thread so that a login never stalls the bot's event loop. A session
cookie carries a random token of which only the SHA-256 is stored: a copy of the database opens
no browser session. Sessions live in the database, so every innobot process behind a load
balancer knows them, and removing an account ends its sessions (ON DELETE CASCADE).

Functions take the caller's session; the caller commits.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import DashboardAccount, DashboardSession, utcnow

USERNAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
PASSWORD_MIN: Final = 12
PASSWORD_MAX: Final = 1024  # Argon2 takes any length; a bound keeps a request cheap
LANGUAGES: Final = ("en", "it", "sv")

# After this many failed logins in a row the account refuses logins for LOCKOUT.
MAX_FAILED_LOGINS: Final = 5
LOCKOUT: Final = timedelta(minutes=15)
SESSION_LIFETIME: Final = timedelta(hours=12)
SESSION_IDLE: Final = timedelta(hours=2)
# last_seen_at is written at most this often, not at every page view.
TOUCH_EVERY: Final = timedelta(minutes=1)

_hasher: Final = PasswordHasher()


class AccountError(ValueError):
    """An account cannot be created or changed as asked (the message says why)."""


class AccountLocked(Exception):
    """Too many failed logins: the account refuses logins until ``until``."""

    def __init__(self, until: datetime) -> None:
        super().__init__(f"account locked until {until.isoformat(timespec='seconds')}")
        self.until = until


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A valid session and whose it is."""

    account: DashboardAccount
    session: DashboardSession


def check_username(username: str) -> str:
    if not USERNAME_PATTERN.fullmatch(username):
        raise AccountError(
            "a user name is 1-64 letters, digits or . _ @ - and starts with a letter or digit"
        )
    return username


def check_password(password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(f"a password has at least {PASSWORD_MIN} characters")
    if len(password) > PASSWORD_MAX:
        raise AccountError(f"a password has at most {PASSWORD_MAX} characters")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def _verify(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@cache
def _stand_in_hash() -> str:
    """A hash to verify against when the user name is unknown, so that both cost the same."""
    return _hasher.hash(secrets.token_urlsafe(16))


async def find_account(session: AsyncSession, username: str) -> DashboardAccount | None:
    query = select(DashboardAccount).where(DashboardAccount.username == username)
    return (await session.execute(query)).scalar_one_or_none()


async def list_accounts(session: AsyncSession) -> list[DashboardAccount]:
    query = select(DashboardAccount).order_by(DashboardAccount.username)
    return list((await session.execute(query)).scalars())


async def add_account(
    session: AsyncSession, username: str, password: str, language: str = "en"
) -> DashboardAccount:
    """A new account; AccountError if the name is taken or the input is not acceptable."""
    check_username(username)
    check_password(password)
    if language not in LANGUAGES:
        raise AccountError(f"the dashboard speaks {', '.join(LANGUAGES)}")
    if await find_account(session, username) is not None:
        raise AccountError(f"there is already an account {username!r}")
    account = DashboardAccount(
        username=username,
        password_hash=await hash_password(password),
        language=language,
        failed_logins=0,
    )
    session.add(account)
    await session.flush()
    return account


async def set_password(session: AsyncSession, username: str, password: str) -> DashboardAccount:
    """Give an account a new password; its sessions end and a lock is lifted."""
    check_password(password)
    account = await find_account(session, username)
    if account is None:
        raise AccountError(f"there is no account {username!r}")
    account.password_hash = await hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    await session.execute(delete(DashboardSession).where(DashboardSession.account_id == account.id))
    return account


async def remove_account(session: AsyncSession, username: str) -> bool:
    """Delete an account and its sessions; False if there was none."""
    account = await find_account(session, username)
    if account is None:
        return False
    await session.execute(delete(DashboardSession).where(DashboardSession.account_id == account.id))
    await session.delete(account)
    return True


async def set_language(session: AsyncSession, account_id: int, language: str) -> None:
    if language not in LANGUAGES:
        raise AccountError(f"the dashboard speaks {', '.join(LANGUAGES)}")
    await session.execute(
        update(DashboardAccount).where(DashboardAccount.id == account_id).values(language=language)
    )


async def authenticate(
    session: AsyncSession, username: str, password: str, *, now: datetime | None = None
) -> DashboardAccount | None:
    """The account if ``password`` is right; None otherwise. Raises AccountLocked.

    A wrong password counts towards the lock-out (atomically, so processes sharing the database
    count together); a right one resets the count and upgrades an outdated hash.
    """
    now = now or utcnow()
    account = None
    if USERNAME_PATTERN.fullmatch(username) and len(password) <= PASSWORD_MAX:
        account = await find_account(session, username)
    if account is None:
        await _verify(_stand_in_hash(), password[:PASSWORD_MAX])
        return None
    if account.locked_until is not None and account.locked_until > now:
        raise AccountLocked(account.locked_until)
    if not await _verify(account.password_hash, password):
        failed = (
            await session.execute(
                update(DashboardAccount)
                .where(DashboardAccount.id == account.id)
                .values(failed_logins=DashboardAccount.failed_logins + 1)
                .returning(DashboardAccount.failed_logins)
            )
        ).scalar_one()
        if failed >= MAX_FAILED_LOGINS:
            await session.execute(
                update(DashboardAccount)
                .where(DashboardAccount.id == account.id)
                .values(failed_logins=0, locked_until=now + LOCKOUT)
            )
        return None
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    if _hasher.check_needs_rehash(account.password_hash):
        account.password_hash = await hash_password(password)
    return account


async def open_session(
    session: AsyncSession, account: DashboardAccount, *, now: datetime | None = None
) -> str:
    """Start a session for ``account``; returns the token for the cookie (shown only once)."""
    now = now or utcnow()
    await session.execute(delete(DashboardSession).where(DashboardSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardSession(
            token_hash=token_hash(token),
            account_id=account.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen_at=now,
            expires_at=now + SESSION_LIFETIME,
        )
    )
    await session.flush()
    return token


async def find_session(
    session: AsyncSession, token: str, *, now: datetime | None = None
) -> SignedIn | None:
    """The live session of ``token`` (expired or idle ones are ended), or None."""
    if not token or len(token) > 128:
        return None
    now = now or utcnow()
    query = (
        select(DashboardSession, DashboardAccount)
        .join(DashboardAccount, DashboardAccount.id == DashboardSession.account_id)
        .where(DashboardSession.token_hash == token_hash(token))
    )
    row = (await session.execute(query)).one_or_none()
    if row is None:
        return None
    found, account = row
    if found.expires_at <= now or found.last_seen_at + SESSION_IDLE <= now:
        await session.delete(found)
        return None
    if now - found.last_seen_at >= TOUCH_EVERY:
        found.last_seen_at = now
    return SignedIn(account, found)


async def close_session(session: AsyncSession, token: str) -> None:
    await session.execute(
        delete(DashboardSession).where(DashboardSession.token_hash == token_hash(token))
    )
