"""PostgreSQL advisory locks that live as long as the process holding them.

Several innobot processes may share one PostgreSQL database: one of them is the scheduler's
leader, and every delivery worker marks the outbox rows it claims with its own key. Each holds a
session-level advisory lock on a connection of its own; when a process dies its connection
closes and the server releases its locks at once, so the others can tell a dead process from a
slow one. SQLite is used by one process only and needs none of this.
"""

from __future__ import annotations

import logging
import secrets

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

log = logging.getLogger(__name__)

# The first key of the two-key advisory locks (a 32-bit integer): what the lock is for.
LEADER_NAMESPACE = 0x1BB0_0001
WORKER_NAMESPACE = 0x1BB0_0002


def new_key() -> int:
    """A random second key (positive 32-bit) naming one process."""
    return secrets.randbelow(2**31 - 2) + 1


class ProcessLock:
    """The advisory lock ``(namespace, key)``, held on a dedicated connection."""

    def __init__(self, engine: AsyncEngine, namespace: int, key: int) -> None:
        self.namespace = namespace
        self.key = key
        self._engine = engine
        self._conn: AsyncConnection | None = None

    @property
    def held(self) -> bool:
        return self._conn is not None

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            conn = await self._engine.connect()
            # No transaction stays open on it: the lock belongs to the session, not a transaction.
            self._conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        return self._conn

    async def try_acquire(self) -> bool:
        """Take the lock if nobody holds it. False (and no connection kept) otherwise."""
        conn = await self._connection()
        got = await conn.scalar(
            text("SELECT pg_try_advisory_lock(:namespace, :key)"),
            {"namespace": self.namespace, "key": self.key},
        )
        if not got:
            await self._close()
        return bool(got)

    async def alive(self) -> bool:
        """Whether the lock is still held (its connection still works)."""
        if self._conn is None:
            return False
        try:
            await self._conn.scalar(text("SELECT 1"))
        except Exception as exc:  # the server or the network went away: so did the lock
            log.warning("lost the connection holding advisory lock %s: %s", self.key, exc)
            await self._close()
            return False
        return True

    async def is_free(self, namespace: int, key: int) -> bool:
        """Whether nobody holds ``(namespace, key)`` — for example, its process is dead.

        Asked on this lock's connection (the probe lock is taken and given back at once)."""
        conn = await self._connection()
        got = await conn.scalar(
            text("SELECT pg_try_advisory_lock(:namespace, :key)"),
            {"namespace": namespace, "key": key},
        )
        if got:
            await conn.execute(
                text("SELECT pg_advisory_unlock(:namespace, :key)"),
                {"namespace": namespace, "key": key},
            )
        return bool(got)

    async def release(self) -> None:
        if self._conn is None:
            return
        try:
            await self._conn.execute(
                text("SELECT pg_advisory_unlock(:namespace, :key)"),
                {"namespace": self.namespace, "key": self.key},
            )
        except Exception as exc:
            log.warning("could not release advisory lock %s: %s", self.key, exc)
        await self._close()

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                await conn.close()
            except Exception as exc:
                log.debug("closing an advisory-lock connection failed: %s", exc)
