"""The dispatcher: one incoming message → one transaction → replies queued in the outbox.

Messages of the same sender in the same chat are handled one at a time, in arrival order. A busy
database is retried with backoff; any failure ends with a polite apology in the user's language
and a log line with context — the bot keeps running, and nothing half-done is committed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Hashable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Adapter, DeliveryError
from bot.logs import pseudonym
from bot.outbox import PRIORITY_NOTIFICATION, DeliveryWorker, enqueue
from handlers.core import IncomingMessage, Reply
from handlers.i18n import pick_language, t
from handlers.router import Outcome, Router
from storage.moderation import is_handled, mark_handled

log = logging.getLogger(__name__)

RETRYABLE = (OperationalError, InterfaceError, IntegrityError, OSError, TimeoutError)


class KeyedLocks:
    """One asyncio lock per key, forgotten when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class FloodGuard:
    """A token bucket per sender: a burst, then a steady rate. One warning per flood."""

    burst: float
    rate: float
    _buckets: dict[Hashable, tuple[float, float, bool]] = field(default_factory=dict)

    def check(self, key: Hashable) -> str:
        """``"ok"``, ``"warn"`` (first message over the limit) or ``"drop"``."""
        now = time.monotonic()
        tokens, stamp, warned = self._buckets.get(key, (self.burst, now, False))
        tokens = min(self.burst, tokens + (now - stamp) * self.rate)
        if tokens >= 1:
            self._buckets[key] = (tokens - 1, now, False)
            self._forget_idle(now)
            return "ok"
        self._buckets[key] = (tokens, now, True)
        return "drop" if warned else "warn"

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) > 50_000:
            full = self.burst / self.rate
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full}


class Dispatcher:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        router: Router,
        worker: DeliveryWorker,
        adapters: Mapping[str, Adapter] | None = None,
        *,
        flood_burst: int = 8,
        flood_rate: float = 1.0,
        attempts: int = 4,
    ) -> None:
        self._sessions = sessions
        self._router = router
        self._worker = worker
        self._adapters = dict(adapters or {})
        self._locks = KeyedLocks()
        self._flood = FloodGuard(float(flood_burst), flood_rate)
        self._attempts = max(1, attempts)
        self.handled = 0
        self.errors = 0

    def add_adapter(self, adapter: Adapter) -> None:
        self._adapters[adapter.platform.value] = adapter

    async def handle(self, msg: IncomingMessage) -> None:
        """Handle one incoming message completely. Never raises."""
        key = (msg.platform.value, msg.chat_id, msg.user_id)
        verdict = self._flood.check(key)
        if verdict != "ok":
            if verdict == "warn":
                log.info("throttled a flood from user %s", pseudonym(msg.user_id))
                await self._say(msg, "errors.flood")
            return
        try:
            async with self._locks.hold(key):
                await self._handle_serialized(msg)
        except Exception:
            # Only a failure while apologising gets here; it must not stop the adapter.
            log.exception("could not handle or answer a message from %s", pseudonym(msg.user_id))
        self._worker.wake()

    async def _handle_serialized(self, msg: IncomingMessage) -> None:
        for attempt in range(1, self._attempts + 1):
            try:
                async with self._sessions() as session, session.begin():
                    if msg.event_id is not None:
                        if await is_handled(session, msg.platform.value, msg.event_id):
                            log.info(
                                "%s event of user %s handled already; not again",
                                msg.platform.value,
                                pseudonym(msg.user_id),
                            )
                            return
                        # Committed with the message's effects, or not at all.
                        mark_handled(session, msg.platform.value, msg.event_id)
                    outcome = await self._router.handle(session, msg)
                    self._queue(session, msg, outcome)
                self.handled += 1
                return
            except RETRYABLE as exc:
                if isinstance(exc, DBAPIError) and not _retryable(exc):
                    self._log_failure(msg, exc)
                    await self._say(msg, "errors.apology")
                    return
                if attempt < self._attempts:
                    log.info(
                        "database busy handling a message from user %s (attempt %d): %s",
                        pseudonym(msg.user_id),
                        attempt,
                        type(exc).__name__,
                    )
                    await asyncio.sleep(0.05 * 2**attempt)
                    continue
                self.errors += 1
                log.warning(
                    "database unavailable; gave up on a message from user %s after %d attempts",
                    pseudonym(msg.user_id),
                    attempt,
                    exc_info=exc,
                )
                await self._say(msg, "errors.busy")
                return
            except Exception as exc:
                self._log_failure(msg, exc)
                await self._say(msg, "errors.apology")
                return

    def _log_failure(self, msg: IncomingMessage, exc: BaseException) -> None:
        self.errors += 1
        log.error(
            "handler failed on a %s message from user %s in %s (command %s, button %s)",
            msg.kind.value,
            pseudonym(msg.user_id),
            msg.platform.value,
            msg.command[0] if msg.command else None,
            (msg.button or "")[:2] or None,
            exc_info=exc,
        )

    def _queue(self, session: AsyncSession, msg: IncomingMessage, outcome: Outcome) -> None:
        enqueue(session, msg.platform, msg.chat_id, outcome.replies, person_id=outcome.person_id)
        for note in outcome.notifications:
            if note.to is None:
                raise ValueError("a notification needs a recipient")
            enqueue(
                session, note.to.platform, note.to.chat_id, [note], priority=PRIORITY_NOTIFICATION
            )

    async def _say(self, msg: IncomingMessage, key: str) -> None:
        """Queue a short notice; if the database is down, send it straight through the adapter."""
        reply = Reply(t(pick_language(None, msg.language_hint), key))
        try:
            async with self._sessions() as session, session.begin():
                enqueue(session, msg.platform, msg.chat_id, [reply])
            self._worker.wake()
            return
        except Exception as exc:
            log.warning("could not queue a notice (%s); sending it directly", type(exc).__name__)
        adapter = self._adapters.get(msg.platform.value)
        if adapter is None:
            log.error("no adapter for %s to send a notice through", msg.platform.value)
            return
        try:
            await adapter.send(msg.chat_id, reply)
        except DeliveryError as exc:
            log.error("could not send a notice to user %s: %s", pseudonym(msg.user_id), exc)


def _retryable(exc: DBAPIError) -> bool:
    """Locked/busy SQLite, lost or refused connections, and serialization conflicts."""
    if isinstance(exc, IntegrityError):
        # Two first messages racing to create the same conversation state.
        return "conversation_state" in str(exc.orig) or "UNIQUE" in str(exc.orig).upper()
    return True
