"""The outbox: every reply and alert is a row first, then a delivery worker sends it.

Queuing happens in the same transaction as the change that caused it, so a reply is never lost
and never sent for a change that was rolled back. The worker claims due rows (``FOR UPDATE SKIP
LOCKED`` on PostgreSQL, so several processes can share the work), sends each chat's messages in
order through the recipient's adapter within that platform's pace, and records the outcome.

Claims are marked with the worker's key. A process that is killed leaves its claims behind: the
next start releases them at once (SQLite has one process), and on PostgreSQL any live worker
releases the claims of a worker whose advisory lock is gone. Only a message whose HTTP request
was in flight at the moment of the kill can be sent twice — the platform may or may not have
received it, and Telegram offers no way to ask.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, TypeVar

from sqlalchemy import func, or_, select, text, true, tuple_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from bot.adapters.base import (
    Adapter,
    PermanentFailure,
    Receipt,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from handlers.core import Button, Document, GroupAction, Platform, Poll, Reply
from storage.locks import WORKER_NAMESPACE, ProcessLock, new_key
from storage.models import Identity, OutboxMessage, OutboxStatus, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

PRIORITY_REPLY = 0
PRIORITY_NOTIFICATION = 5
PRIORITY_ALERT = 10

MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0  # seconds between two attempts at most
# A claimed row whose worker vanished without a trace is retried after this long at the latest.
CLAIM_TIMEOUT = timedelta(minutes=2)
MAX_ROWS_PER_CHAT = 3  # rows of one chat in one batch
HOUSEKEEPING_INTERVAL = 2.0  # seconds between counts of live workers (they share the pace)
RECOVERY_INTERVAL = 30.0  # seconds between looks for rows of dead workers


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
    if reply.poll is not None:
        poll = reply.poll
        payload["poll"] = {
            "question": poll.question,
            "options": list(poll.options),
            "subject": poll.subject,
            "multiple": poll.multiple,
            "intro": poll.intro,
        }
    if reply.action is not None:
        action = reply.action
        payload["action"] = {
            "kind": action.kind,
            "ref": action.ref,
            "message_id": action.message_id,
            "user_id": action.user_id,
            "until": action.until,
        }
        if action.level is not None:
            payload["action"]["level"] = action.level
    return payload


def decode_reply(payload: Mapping[str, Any]) -> Reply:
    buttons = tuple(
        tuple(Button(label, data) for label, data in row) for row in payload.get("buttons", ())
    )
    document = None
    if doc := payload.get("document"):
        document = Document(doc["filename"], base64.b64decode(doc["content"]), doc["mime_type"])
    poll = None
    if found := payload.get("poll"):
        poll = Poll(
            question=found["question"],
            options=tuple(found["options"]),
            subject=found["subject"],
            multiple=bool(found.get("multiple")),
            intro=found.get("intro", ""),
        )
    action = None
    if found := payload.get("action"):
        action = GroupAction(
            kind=found["kind"],
            ref=found.get("ref", ""),
            message_id=found.get("message_id"),
            user_id=found.get("user_id"),
            until=found.get("until"),
            level=found.get("level"),
        )
    return Reply(text=payload["text"], buttons=buttons, document=document, poll=poll, action=action)


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


# A renderer writes the text of rows at the moment they are sent (alerts: from the stored
# challenge, in the recipient's language), one reply per row, in order; None means the message is
# no longer wanted and is dropped. Rows whose turn comes together are rendered in one call.
Renderer = Callable[[AsyncSession, Sequence[OutboxMessage]], Awaitable[list[Reply | None]]]
# Called, in the transaction recording the failure, when a chat turns out to be unreachable.
OnUnreachable = Callable[[AsyncSession, str, str], Awaitable[object]]
# Called, in the transaction settling a row that carried a group action, with the adapter's
# receipt (the action's outcome) or, when it could not be attempted at all, the error.
OnAction = Callable[
    [AsyncSession, OutboxMessage, GroupAction, Receipt | None, str | None], Awaitable[object]
]

# The lanes of a worker: replies and notifications never wait behind alerts.
URGENT = "urgent"
BULK = "bulk"


class _Limiter:
    """A token bucket (``rate`` per second, ``burst`` at once) whose waiters are served in order
    of arrival, urgent ones (replies) before all others."""

    def __init__(self, rate: float, burst: float) -> None:
        self.rate = max(rate, 1e-6)
        self.burst = max(1.0, burst)
        self.tokens = self.burst
        self._loop = asyncio.get_running_loop()
        self._stamp = self._loop.time()
        self._urgent: deque[asyncio.Future[bool]] = deque()
        self._bulk: deque[asyncio.Future[bool]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self._paused_until = 0.0
        self._closed = False

    def _refill(self) -> float:
        now = self._loop.time()
        if now > self._stamp:
            self.tokens = min(self.burst, self.tokens + (now - self._stamp) * self.rate)
            self._stamp = now
        return now

    async def acquire(self, urgent: bool) -> bool:
        """Wait for a token (True), or for :meth:`close` (False)."""
        if self._closed:
            return False
        now = self._refill()
        free = self.tokens >= 1 - 1e-9 and now >= self._paused_until and not self._urgent
        if free and (urgent or not self._bulk):
            self.tokens -= 1
            return True
        future: asyncio.Future[bool] = self._loop.create_future()
        (self._urgent if urgent else self._bulk).append(future)
        self._arm()
        try:
            return await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled() and future.result():
                self.tokens += 1  # granted just as the waiter gave up: give it back
            else:
                with contextlib.suppress(ValueError):
                    (self._urgent if urgent else self._bulk).remove(future)
            raise

    def _arm(self) -> None:
        if self._timer is not None or not (self._urgent or self._bulk) or self._closed:
            return
        now = self._refill()
        wait = max(0.0, self._paused_until - now, (1 - self.tokens) / self.rate)
        self._timer = self._loop.call_later(wait, self._release)

    def _release(self) -> None:
        self._timer = None
        now = self._refill()
        if now >= self._paused_until:
            while self.tokens >= 1 - 1e-9:
                future = self._next_waiter()
                if future is None:
                    break
                self.tokens -= 1
                future.set_result(True)
        self._arm()

    def _next_waiter(self) -> asyncio.Future[bool] | None:
        for queue in (self._urgent, self._bulk):
            while queue:
                future = queue.popleft()
                if not future.done():
                    return future
        return None

    def pause(self, seconds: float) -> None:
        """Grant nothing for ``seconds`` (the platform asked us to slow down)."""
        self._paused_until = max(self._paused_until, self._loop.time() + seconds)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._arm()

    def close(self) -> None:
        """Wake every waiter with False; later calls get False at once."""
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for queue in (self._urgent, self._bulk):
            while queue:
                future = queue.popleft()
                if not future.done():
                    future.set_result(False)

    @property
    def idle(self) -> bool:
        """Nobody waits and the bucket is full again (the limiter can be forgotten)."""
        self._refill()
        return not (self._urgent or self._bulk) and self.tokens >= self.burst - 1e-9


class _Coalescer(Generic[T, R]):
    """Runs ``work`` once for everything submitted while its previous run was busy.

    Group commit: the first item waits for one run, as it would alone; items that arrive during
    that run share the next one. Each submitter gets its own result (or the run's exception).
    """

    def __init__(self, work: Callable[[Sequence[T]], Awaitable[list[R]]]) -> None:
        self._work = work
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                try:
                    results = await self._work([item for item, _ in batch])
                except Exception as exc:
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, future), result in zip(batch, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self._task = None


class DeliveryWorker:
    """Sends due outbox rows through the adapters. ``wake()`` after queuing for a fast reply.

    Two lanes share each platform's pace: one for replies and notifications (priority below
    :data:`PRIORITY_ALERT`), one for alerts. A reply waits for no batch of alerts and gets the
    next free slot of the platform's overall rate, so a big digest never slows down an answer.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        adapters: Mapping[Platform, Adapter],
        *,
        batch_size: int = 100,
        bulk_batch_size: int = 50,
        idle_interval: float = 2.0,
        claim_rows: bool = False,
        renderers: Mapping[str, Renderer] | None = None,
        on_unreachable: OnUnreachable | None = None,
        on_action: OnAction | None = None,
        retry_base: float = 2.0,  # seconds before the 2nd attempt; doubles every time
        engine: AsyncEngine | None = None,
    ) -> None:
        self._sessions = sessions
        self._adapters = dict(adapters)
        self._batch_size = batch_size
        self._bulk_batch_size = bulk_batch_size
        self._idle_interval = idle_interval
        self._claim_rows = claim_rows  # FOR UPDATE SKIP LOCKED (PostgreSQL)
        self._renderers = dict(renderers or {})
        self._on_unreachable = on_unreachable
        self._on_action = on_action
        self.retry_base = retry_base
        self._engine = engine
        self._key = new_key()
        self.worker_id = str(self._key)
        self._liveness: ProcessLock | None = None
        self._wakes = {URGENT: asyncio.Event(), BULK: asyncio.Event()}
        self._task: asyncio.Task[None] | None = None
        self._chat_limiters: dict[tuple[str, str], _Limiter] = {}
        self._platform_limiters: dict[str, _Limiter] = {}
        self._chat_hold: dict[tuple[str, str], float] = {}
        self._stopping = False
        self._stopped = asyncio.Event()
        self.started = asyncio.Event()  # set once claims are released and the lanes run
        self._last_recovery = 0.0
        self.workers = 1  # delivery workers sharing the database, this one included
        self._renders: _Coalescer[tuple[Renderer, OutboxMessage], Reply | None] = _Coalescer(
            self._render_all
        )
        self._marks: _Coalescer[int, None] = _Coalescer(self._mark_all)
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def add_adapter(self, adapter: Adapter) -> None:
        self._adapters[adapter.platform] = adapter

    def add_renderer(self, kind: str, renderer: Renderer) -> None:
        self._renderers[kind] = renderer

    def set_action_hook(self, hook: OnAction) -> None:
        """Who hears the outcome of group actions (the moderation desk)."""
        self._on_action = hook

    def wake(self) -> None:
        for event in self._wakes.values():
            event.set()

    def start(self) -> None:
        """Release what a previous run left claimed, then deliver until :meth:`stop`."""
        if self._task is None:
            self._stopping = False
            self._stopped.clear()
            self._task = asyncio.create_task(self._main(), name="outbox-delivery")

    async def _main(self) -> None:
        try:
            await self._prepare()
        except SQLAlchemyError:
            log.exception("outbox: could not release the claims of a previous run")
        self.started.set()
        await asyncio.gather(self._run(URGENT), self._run(BULK), self._keep_house())

    async def stop(self) -> None:
        """Finish the sends in flight; whatever is still waiting stays queued for the next run."""
        self._stopping = True
        self._stopped.set()
        for limiter in [*self._chat_limiters.values(), *self._platform_limiters.values()]:
            limiter.close()
        self.wake()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        self._chat_limiters.clear()
        self._platform_limiters.clear()
        if self._liveness is not None:
            await self._liveness.release()
            self._liveness = None

    async def _prepare(self) -> None:
        if not self._claim_rows:
            # SQLite belongs to this process alone: every claim is a previous run's.
            await self._release_claims(None)
            return
        if self._engine is not None and self._liveness is None:
            lock = ProcessLock(self._engine, WORKER_NAMESPACE, self._key)
            if await lock.try_acquire():
                self._liveness = lock
        await self._release_dead_claims()
        await self.count_workers()

    async def _run(self, lane: str) -> None:
        wake = self._wakes[lane]
        while not self._stopping:
            wake.clear()
            try:
                busy = await self.deliver_due(lane)
            except SQLAlchemyError:
                log.exception("outbox: database error while delivering; retrying shortly")
                busy = False
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._idle_interval)

    async def _keep_house(self) -> None:
        while not self._stopping:
            try:
                await self.count_workers()
                now = time.monotonic()
                if now - self._last_recovery >= RECOVERY_INTERVAL:
                    self._last_recovery = now
                    await self._release_dead_claims()
                    self._chat_limiters = {
                        k: v for k, v in self._chat_limiters.items() if not v.idle
                    }
                    self._chat_hold = {k: v for k, v in self._chat_hold.items() if v > now}
            except SQLAlchemyError as exc:
                log.warning("outbox: housekeeping failed (%s); trying again later", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopped.wait(), HOUSEKEEPING_INTERVAL)

    async def count_workers(self) -> int:
        """How many delivery workers share the database (PostgreSQL: those holding their
        advisory lock); each paces itself at its share of every platform's overall rate."""
        workers = 1
        if self._liveness is not None:
            async with self._sessions() as session:
                counted = await session.scalar(
                    text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND classid = :namespace AND objsubid = 2 AND granted"
                    ),
                    {"namespace": WORKER_NAMESPACE},
                )
            workers = max(1, int(counted or 0))
        if workers != self.workers:
            log.info("outbox: %d delivery workers share the platforms' pace", workers)
            self.workers = workers
            for platform, limiter in self._platform_limiters.items():
                if Platform(platform) in self._adapters:
                    limiter.rate = self.overall_rate(Platform(platform))
        return workers

    async def deliver_due(self, lane: str | None = None) -> bool:
        """Send one batch of due rows (of one lane, or any). True when rows were found."""
        rows = await self._claim(lane)
        if not rows:
            return False
        by_chat: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
        for row in rows:
            by_chat[(row.platform, row.chat_id)].append(row)
        await asyncio.gather(*(self._deliver_chat(chat, msgs) for chat, msgs in by_chat.items()))
        return True

    async def _claim(self, lane: str | None) -> list[OutboxMessage]:
        now = utcnow()
        platforms = [p.value for p in self._adapters]
        if not platforms:
            return []
        clock = time.monotonic()
        held = {chat for chat, until in self._chat_hold.items() if until > clock}
        limit = self._bulk_batch_size if lane == BULK else self._batch_size
        async with self._sessions() as session, session.begin():
            query = select(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.next_attempt_at <= now,
                OutboxMessage.platform.in_(platforms),
                # A live worker's claim is never taken over; a dead one's is released first.
                or_(
                    OutboxMessage.claimed_by.is_(None),
                    OutboxMessage.claimed_by == self.worker_id,
                ),
            )
            in_lane: ColumnElement[bool] = true()
            if lane == URGENT:
                in_lane = OutboxMessage.priority < PRIORITY_ALERT
            elif lane == BULK:
                in_lane = OutboxMessage.priority >= PRIORITY_ALERT
            query = (
                query.where(in_lane).order_by(OutboxMessage.priority, OutboxMessage.id).limit(limit)
            )
            if self._claim_rows:
                query = query.with_for_update(skip_locked=True)
            candidates: dict[tuple[str, str], list[OutboxMessage]] = defaultdict(list)
            for row in (await session.execute(query)).scalars():
                if (row.platform, row.chat_id) not in held:
                    candidates[(row.platform, row.chat_id)].append(row)
            if not candidates:
                return []
            # A chat's messages go out in order, from one worker at a time: take a chat only if
            # its next message is among the candidates (not in flight at another worker, not
            # locked by one claiming it right now), then a few of its messages.
            first_query = (
                select(OutboxMessage.platform, OutboxMessage.chat_id, func.min(OutboxMessage.id))
                .where(
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    or_(
                        OutboxMessage.next_attempt_at <= now,
                        OutboxMessage.claimed_by.is_not(None),
                    ),
                    tuple_(OutboxMessage.platform, OutboxMessage.chat_id).in_(list(candidates)),
                    in_lane,
                )
                .group_by(OutboxMessage.platform, OutboxMessage.chat_id)
            )
            first = {(p, c): m for p, c, m in (await session.execute(first_query)).tuples()}
            rows: list[OutboxMessage] = []
            for chat, chat_rows in candidates.items():
                chat_rows.sort(key=lambda r: r.id)
                if chat_rows[0].id == first.get(chat):
                    # A few per batch: one slow chat must not hold up the batch.
                    rows.extend(chat_rows[:MAX_ROWS_PER_CHAT])
            if not rows:
                return []
            # A claimed row is pushed into the future and marked as this worker's: no other
            # worker takes it; if this process dies, the next start (or a live worker noticing
            # the death) releases it, and CLAIM_TIMEOUT is the last resort.
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(
                    next_attempt_at=now + CLAIM_TIMEOUT,
                    attempts=OutboxMessage.attempts + 1,
                    claimed_by=self.worker_id,
                )
            )
        return rows

    async def _deliver_chat(self, chat: tuple[str, str], rows: list[OutboxMessage]) -> None:
        platform, chat_id = chat
        adapter = self._adapters[Platform(platform)]
        for index, row in enumerate(rows):
            urgent = row.priority < PRIORITY_ALERT
            if self._stopping or not await self._pace(adapter, chat, urgent):
                await self._release(rows[index:])
                return
            reply = decode_reply(row.payload)
            renderer = self._renderers.get(row.kind)
            if renderer is not None:
                rendered = await self._render(renderer, row)
                if rendered is None:
                    continue
                reply = rendered
            try:
                receipt = await adapter.send(chat_id, reply)
            except RetryLater as exc:
                # The platform is throttling: hold this chat and the platform, keep the order.
                log.warning("outbox: %s throttled for %.1fs", platform, exc.retry_after)
                self._chat_hold[chat] = time.monotonic() + exc.retry_after
                self._platform_limiter(adapter).pause(exc.retry_after)
                await self._reschedule(rows[index:], exc.retry_after, str(exc), count=False)
                return
            except TransientFailure as exc:
                delay = min(MAX_BACKOFF, self.retry_base * 2**row.attempts)
                if row.attempts + 1 >= MAX_ATTEMPTS:
                    await self._fail(row, f"gave up: {exc}", action=reply.action)
                    continue
                log.warning("outbox: message %s to %s failed (%s); retrying", row.id, platform, exc)
                await self._reschedule(rows[index:], delay, str(exc), count=True)
                return
            except PermanentFailure as exc:
                await self._fail(row, str(exc), blocked=True, action=reply.action)
                continue
            except RejectedMessage as exc:
                await self._fail(row, str(exc), action=reply.action)
                continue
            except Exception as exc:
                log.exception("outbox: unexpected error sending message %s", row.id)
                await self._fail(row, f"{type(exc).__name__}: {exc}", action=reply.action)
                continue
            if reply.action is not None:
                await self._settle_action(row, reply.action, receipt)
            else:
                await self._mark_sent(row)

    def overall_rate(self, platform: Platform) -> float:
        """Messages per second this worker sends at most through ``platform``: its share."""
        return self._adapters[platform].pacing.overall_rate / self.workers

    def _platform_limiter(self, adapter: Adapter) -> _Limiter:
        platform = adapter.platform.value
        limiter = self._platform_limiters.get(platform)
        if limiter is None:
            rate = self.overall_rate(adapter.platform)
            # A small burst: the platform's own allowance stays nearly full, so that network
            # jitter (two sends arriving closer than they left) is never counted as a flood.
            limiter = _Limiter(rate, min(3.0, max(1.0, rate / 10)))
            self._platform_limiters[platform] = limiter
        return limiter

    async def _pace(self, adapter: Adapter, chat: tuple[str, str], urgent: bool) -> bool:
        """Wait for the chat's and then the platform's next slot; False when stopping."""
        limiter = self._chat_limiters.get(chat)
        if limiter is None:
            rate, burst = adapter.pacing.for_chat(chat[1])
            limiter = self._chat_limiters[chat] = _Limiter(rate, burst)
        if not await limiter.acquire(urgent):
            return False
        return await self._platform_limiter(adapter).acquire(urgent)

    async def _render(self, renderer: Renderer, row: OutboxMessage) -> Reply | None:
        """The row's text as of now, or None (dropped) if it is no longer wanted."""
        return await self._renders.submit((renderer, row))

    async def _render_all(
        self, batch: Sequence[tuple[Renderer, OutboxMessage]]
    ) -> list[Reply | None]:
        ids = [row.id for _, row in batch]
        replies: dict[int, Reply | None] = dict.fromkeys(ids)
        async with self._sessions() as session, session.begin():
            found = await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(ids)))
            # Deleted rows (their person was forgotten) and settled ones are not sent.
            current = {r.id: r for r in found if r.status == OutboxStatus.PENDING.value}
            by_renderer: dict[Renderer, list[OutboxMessage]] = defaultdict(list)
            for renderer, row in batch:
                if row.id in current:
                    by_renderer[renderer].append(current[row.id])
            for renderer, rows in by_renderer.items():
                for stored, reply in zip(rows, await renderer(session, rows), strict=True):
                    replies[stored.id] = reply
                    if reply is None:
                        stored.status = OutboxStatus.DROPPED.value
                        stored.last_error = "no longer wanted when its turn came"
                        self.dropped += 1
        return [replies[row_id] for row_id in ids]

    async def _mark_sent(self, row: OutboxMessage) -> None:
        """Record a delivery; returns once it is committed (with those of other chats that were
        delivered meanwhile: one transaction for all of them)."""
        await self._marks.submit(row.id)
        self.sent += 1

    async def _settle_action(
        self, row: OutboxMessage, action: GroupAction, receipt: Receipt | None
    ) -> None:
        """Record a group action's outcome (a refusal counts as failed) with its consequences."""
        refused = receipt is not None and receipt.get("ok") is False
        error = None
        if refused and receipt is not None:
            error = f"{receipt.get('reason', 'refused')}: {receipt.get('detail', '')}"[:500]
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row.id)
                .values(
                    status=(OutboxStatus.FAILED if refused else OutboxStatus.SENT).value,
                    sent_at=None if refused else utcnow(),
                    last_error=error,
                )
            )
            if self._on_action is not None:
                await self._on_action(session, row, action, receipt, None)
        if refused:
            self.failed += 1
        else:
            self.sent += 1
        self.wake()  # the outcome may have queued a message

    async def _mark_all(self, ids: Sequence[int]) -> list[None]:
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(status=OutboxStatus.SENT.value, sent_at=utcnow(), last_error=None)
            )
        return [None] * len(ids)

    async def _release(self, rows: Sequence[OutboxMessage]) -> None:
        """Give back rows claimed but not attempted (stopping): due again at once."""
        async with self._sessions() as session, session.begin():
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id.in_([r.id for r in rows]),
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                )
                .values(
                    next_attempt_at=utcnow(),
                    attempts=OutboxMessage.attempts - 1,
                    claimed_by=None,
                )
            )

    async def _release_claims(self, owner: str | None) -> int:
        """Make the rows claimed by ``owner`` (by anyone: None) due again at once."""
        async with self._sessions() as session, session.begin():
            query = update(OutboxMessage).where(
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.claimed_by.is_not(None),
            )
            if owner is not None:
                query = query.where(OutboxMessage.claimed_by == owner)
            result = await session.execute(query.values(claimed_by=None, next_attempt_at=utcnow()))
        released = int(getattr(result, "rowcount", 0) or 0)
        if released:
            log.info("outbox: %d messages claimed by a stopped worker are due again", released)
        return released

    async def _release_dead_claims(self) -> None:
        """Release the rows of workers whose process is gone (their advisory lock is free)."""
        if self._liveness is None:
            return
        async with self._sessions() as session:
            owners = (
                await session.scalars(
                    select(OutboxMessage.claimed_by)
                    .where(
                        OutboxMessage.status == OutboxStatus.PENDING.value,
                        OutboxMessage.claimed_by.is_not(None),
                        OutboxMessage.claimed_by != self.worker_id,
                    )
                    .distinct()
                )
            ).all()
        for owner in owners:
            if owner is None or not owner.isdigit():
                continue
            if await self._liveness.is_free(WORKER_NAMESPACE, int(owner)):
                await self._release_claims(owner)

    async def _reschedule(
        self, rows: Sequence[OutboxMessage], delay: float, error: str, *, count: bool
    ) -> None:
        due = utcnow() + timedelta(seconds=delay)
        async with self._sessions() as session, session.begin():
            values: dict[str, Any] = {
                "next_attempt_at": due,
                "last_error": error[:500],
                "claimed_by": None,
            }
            if not count:
                values["attempts"] = OutboxMessage.attempts - 1
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([r.id for r in rows]))
                .values(**values)
            )
            # The chat's later rows wait too, so that they keep their order.
            platform, chat_id = rows[0].platform, rows[0].chat_id
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.platform == platform,
                    OutboxMessage.chat_id == chat_id,
                    OutboxMessage.status == OutboxStatus.PENDING.value,
                    OutboxMessage.claimed_by.is_(None),
                    OutboxMessage.next_attempt_at < due,
                    OutboxMessage.id > rows[0].id,
                )
                .values(next_attempt_at=due)
            )
        self.wake()

    async def _fail(
        self,
        row: OutboxMessage,
        error: str,
        *,
        blocked: bool = False,
        action: GroupAction | None = None,
    ) -> None:
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
                if self._on_unreachable is not None:
                    await self._on_unreachable(session, row.platform, row.chat_id)
            if action is not None and self._on_action is not None:
                await self._on_action(session, row, action, None, error)
        self.failed += 1
        if action is not None:
            self.wake()
