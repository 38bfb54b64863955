"""The outbox: every reply and alert is a row first, then a delivery worker sends it.

Queuing happens in the same transaction as the change that caused it, so a reply is never lost
and never sent for a change that was rolled back. The worker claims due rows (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several processes can share the work), sends each chat's messages in
order through the recipient's adapter within that platform's pace, and records the outcome.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import (
    Adapter,
    PermanentFailure,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from handlers.core import Button, Document, Platform, Reply
from storage.models import Identity, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

PRIORITY_REPLY = 0
PRIORITY_NOTIFICATION = 5
PRIORITY_ALERT = 10

MAX_ATTEMPTS = 8
# A claimed row whose sender vanished (process killed mid-send) is retried after this long.
CLAIM_TIMEOUT = timedelta(minutes=2)


def encode_reply(reply: Reply) -> dict[str, Any]:
    """A JSON-safe payload for an outbox row."""
    payload: dict[str, Any] = {"text": reply.text}
    if reply.buttons:
        payload["buttons"] = [[[b.label, b.payload] for b in row] for row in reply.buttons]
    if reply.document is not None:
        payload["document"] = {
            "filename": reply.document.filename,
            "mime_type": reply.document.mime_type,
            "content": base64.b64encode(reply.document.content).decode("ascii"),
        }
    return payload


def decode_reply(payload: Mapping[str, Any]) -> Reply:
    buttons = tuple(
        tuple(Button(label, data) for label, data in row) for row in payload.get("buttons", ())
    )
    document = None
    if doc := payload.get("document"):
        document = Document(doc["filename"], base64.b64decode(doc["content"]), doc["mime_type"])
    return Reply(text=payload["text"], buttons=buttons, document=document)


def enqueue(
    session: AsyncSession,
    platform: Platform | str,
    chat_id: str,
    replies: Sequence[Reply],
    *,
    person_id: int | None = None,
    kind: str = "reply",
    priority: int = PRIORITY_REPLY,
    dedupe_key: str | None = None,
) -> list[OutboxMessage]:
    """Queue ``replies`` for ``chat_id`` in the caller's transaction (ids follow their order)."""
    rows = []
    for index, reply in enumerate(replies):
        key = dedupe_key if dedupe_key is None or len(replies) == 1 else f"{dedupe_key}#{index}"
        rows.append(
            OutboxMessage(
                platform=str(platform),
                chat_id=chat_id,
                person_id=person_id,
                kind=kind,
                priority=priority,
                dedupe_key=key,
                payload=encode_reply(reply),
                status=OutboxStatus.PENDING.value,
            )
        )
    session.add_all(rows)
    return rows


@dataclass
class _Bucket:
    """A token bucket: ``rate`` per second, at most ``burst`` at once."""

    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def delay(self) -> float:
        """Seconds to wait before the next send is allowed (taking it if 0)."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class DeliveryWorker:
    """Sends due outbox rows through the adapters. ``wake()`` after queuing for a fast reply."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        adapters: Mapping[Platform, Adapter],
        *,
        batch_size: int = 100,
        idle_interval: float = 2.0,
        claim_rows: bool = False,
    ) -> None:
        self._sessions = sessions
        self._adapters = dict(adapters)
        self._batch_size = batch_size
        self._idle_interval = idle_interval
        self._claim_rows = claim_rows  # FOR UPDATE SKIP LOCKED (PostgreSQL)
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._chat_buckets: dict[tuple[str, str], _Bucket] = {}
        self._platform_buckets: dict[str, _Bucket] = {}
        self._chat_hold: dict[tuple[str, str], float] = {}
        self._stopping = False
        self.sent = 0
        self.failed = 0

    def add_adapter(self, adapter: Adapter) -> None:
        self._adapters[adapter.platform] = adapter

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._run(), name="outbox-delivery")

    async def stop(self) -> None:
        """Stop after the current batch; what is still queued stays in the outbox."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                busy = await self.deliver_due()
            except SQLAlchemyError:
                log.exception("outbox: database error while delivering; retrying shortly")
                busy = False
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._idle_interval)

    async def deliver_due(self) -> bool:
        """Send one batch of due rows. True when rows were found (more may be waiting)."""
        rows = await self._claim()
        if not rows:
            return False
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[(row.platform, row.chat_id)].append(row)
        await asyncio.gather(*(self._deliver_chat(chat, msgs) for chat, msgs in by_chat.items()))
        return True

    async def _claim(self) -> list[OutboxMessage]:
        now = utcnow()
        platforms = [p.value for p in self._adapters]
        held = [chat for chat, until in self._chat_hold.items() if until > time.monotonic()]
        async with self._sessions() as session, session.begin():
            query = (
                select(OutboxMessage)
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.platform.in_(platforms),
                )
                .order_by(OutboxMessage.priority, OutboxMessage.id)
                .limit(self._batch_size)
            )
            if self._claim_rows:
                query = query.with_for_update(skip_locked=True)
            rows = [
                row
                for row in (await session.execute(query)).scalars()
                if (row.platform, row.chat_id) not in held
            ]
            if not rows:
                return []
            # A claimed row is pushed into the future: another worker will not take it, and if
            # this process dies mid-send it becomes due again after CLAIM_TIMEOUT.
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(next_attempt_at=now + CLAIM_TIMEOUT, attempts=OutboxMessage.attempts + 1)
            )
        return rows

    async def _deliver_chat(self, chat: tuple[str, str], rows: list[OutboxMessage]) -> None:
        platform, chat_id = chat
        adapter = self._adapters[Platform(platform)]
        for index, row in enumerate(rows):
            await self._pace(adapter, chat)
            try:
                await adapter.send(chat_id, decode_reply(row.payload))
            except RetryLater as exc:
                # The platform is throttling this chat: hold it, keep the order, try later.
                log.warning("outbox: %s throttled for %.1fs", platform, exc.retry_after)
                self._chat_hold[chat] = time.monotonic() + exc.retry_after
                await self._reschedule(rows[index:], exc.retry_after, str(exc), count=False)
                return
            except TransientFailure as exc:
                delay = min(300.0, 2.0 ** (row.attempts + 1))
                if row.attempts + 1 >= MAX_ATTEMPTS:
                    await self._fail(row, f"gave up: {exc}")
                    continue
                log.warning("outbox: message %s to %s failed (%s); retrying", row.id, platform, exc)
                await self._reschedule(rows[index:], delay, str(exc), count=True)
                return
            except PermanentFailure as exc:
                await self._fail(row, str(exc), blocked=True)
                continue
            except RejectedMessage as exc:
                await self._fail(row, str(exc))
                continue
            except Exception as exc:
                log.exception("outbox: unexpected error sending message %s", row.id)
                await self._fail(row, f"{type(exc).__name__}: {exc}")
                continue
            await self._mark_sent(row)

    async def _pace(self, adapter: Adapter, chat: tuple[str, str]) -> None:
        pacing = adapter.pacing
        chat_bucket = self._chat_buckets.get(chat)
        if chat_bucket is None:
            chat_bucket = self._chat_buckets[chat] = _Bucket(
                pacing.per_chat_rate, pacing.per_chat_burst
            )
        platform_bucket = self._platform_buckets.get(chat[0])
        if platform_bucket is None:
            platform_bucket = self._platform_buckets[chat[0]] = _Bucket(
                pacing.overall_rate, max(1.0, pacing.overall_rate)
            )
        for bucket in (chat_bucket, platform_bucket):
            wait = bucket.delay()
            while wait > 0:
                await asyncio.sleep(wait)
                wait = bucket.delay()
        if len(self._chat_buckets) > 10_000:
            # Forget chats whose buckets are full again.
            self._chat_buckets = {
                k: b for k, b in self._chat_buckets.items() if b.tokens < b.burst - 1e-9
            }

    async def _mark_sent(self, row: OutboxMessage) -> None:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(status=OutboxStatus.SENT.value, sent_at=utcnow(), last_error=None)
            )
        self.sent += 1

    async def _reschedule(
        self, rows: Sequence[OutboxMessage], delay: float, error: str, *, count: bool
    ) -> None:
        due = utcnow() + timedelta(seconds=delay)
        async with self._sessions() as session, session.begin():
            values: dict[str, Any] = {"next_attempt_at": due, "last_error": error[:500]}
            if not count:
                values["attempts"] = OutboxMessage.attempts - 1
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(**values)
            )
        self._wake.set()

    async def _fail(self, row: OutboxMessage, error: str, *, blocked: bool = False) -> None:
        log.warning("outbox: message %s to %s failed for good: %s", row.id, row.platform, error)
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(status=OutboxStatus.FAILED.value, last_error=error[:500])
            )
            if blocked:
                await session.execute(
                    update(Identity)
                    .where(
                        Identity.platform == row.platform,
                        Identity.chat_id == row.chat_id,
                        Identity.blocked_at.is_(None),
                    )
                    .values(blocked_at=utcnow())
                )
        self.failed += 1
