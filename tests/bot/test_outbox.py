"""The outbox delivers every queued message once, in order per chat, and survives failures."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Pacing, PermanentFailure, RetryLater, TransientFailure
from bot.outbox import (
    PRIORITY_ALERT,
    DeliveryWorker,
    _Limiter,
    decode_reply,
    encode_reply,
    enqueue,
)
from handlers.core import Button, Document, Platform, Reply
from storage.models import Identity, OutboxMessage, OutboxStatus, Person, utcnow
from tests.fakes.recording_adapter import RecordingAdapter


async def _queue(sessions: async_sessionmaker[AsyncSession], chat: str, *texts: str) -> None:
    async with sessions() as session, session.begin():
        enqueue(session, Platform.CONSOLE, chat, [Reply(t) for t in texts])


async def _statuses(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = await session.execute(select(OutboxMessage.status).order_by(OutboxMessage.id))
        return list(rows.scalars())


def test_payload_round_trip() -> None:
    reply = Reply(
        "*hi*",
        buttons=((Button("Yes", "f:1:yes"), Button("No", "f:1:no")),),
        document=Document("me.json", b'{"a": 1}'),
    )
    assert decode_reply(encode_reply(reply)) == reply


async def test_delivers_in_order_and_marks_sent(sessions: async_sessionmaker[AsyncSession]) -> None:
    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", "one", "two", "three")
    await _queue(sessions, "b", "other")

    assert await worker.deliver_due()
    assert adapter.texts("a") == ["one", "two", "three"]
    assert adapter.texts("b") == ["other"]
    assert await _statuses(sessions) == ["sent"] * 4
    assert not await worker.deliver_due()  # nothing is sent twice


async def test_replies_go_before_alerts(sessions: async_sessionmaker[AsyncSession]) -> None:
    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter}, batch_size=1)
    async with sessions() as session, session.begin():
        enqueue(session, Platform.CONSOLE, "c", [Reply("digest")], priority=PRIORITY_ALERT)
    await _queue(sessions, "d", "answer")
    await worker.deliver_due()
    assert adapter.texts("d") == ["answer"]
    assert adapter.texts("c") == []


async def test_retry_after_keeps_order(sessions: async_sessionmaker[AsyncSession]) -> None:
    adapter = RecordingAdapter()
    adapter.failures.append(RetryLater(0.0))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", "one", "two")

    await worker.deliver_due()
    assert adapter.sent == []
    assert await _statuses(sessions) == ["pending", "pending"]
    await worker.deliver_due()
    assert adapter.texts("a") == ["one", "two"]


async def test_transient_failure_is_retried_later(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = RecordingAdapter()
    adapter.failures.append(TransientFailure("502 Bad Gateway"))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", "one")

    await worker.deliver_due()
    async with sessions() as session:
        row = (await session.execute(select(OutboxMessage))).scalar_one()
    assert row.status == OutboxStatus.PENDING.value
    assert row.attempts == 1
    assert row.last_error == "502 Bad Gateway"
    assert not await worker.deliver_due()  # backing off: not due yet


async def test_blocked_recipient_fails_for_good_and_is_recorded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        person = Person(language="en")
        person.identities.append(Identity(platform="console", external_id="u1", chat_id="a"))
        session.add(person)
    adapter = RecordingAdapter()
    adapter.failures.append(PermanentFailure("Forbidden: bot was blocked by the user"))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", "one", "two")

    await worker.deliver_due()
    assert await _statuses(sessions) == ["failed", "sent"]
    async with sessions() as session:
        identity = (await session.execute(select(Identity))).scalar_one()
    assert identity.blocked_at is not None


async def test_a_second_worker_does_not_resend_claimed_rows(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first, second = RecordingAdapter(), RecordingAdapter()
    await _queue(sessions, "a", "one")
    worker_a = DeliveryWorker(sessions, {Platform.CONSOLE: first})
    worker_b = DeliveryWorker(sessions, {Platform.CONSOLE: second})
    await worker_a.deliver_due()
    await worker_b.deliver_due()
    assert len(first.sent) + len(second.sent) == 1


async def test_dedupe_key_queues_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    from sqlalchemy.exc import IntegrityError

    async with sessions() as session, session.begin():
        enqueue(session, Platform.CONSOLE, "a", [Reply("alert")], dedupe_key="a:C-1:new")
    try:
        async with sessions() as session, session.begin():
            enqueue(session, Platform.CONSOLE, "a", [Reply("alert")], dedupe_key="a:C-1:new")
    except IntegrityError:
        pass
    assert await _statuses(sessions) == ["pending"]


# --- lanes, pacing, claims and rendering ---------------------------------------------------------


def _slow(rate: float, burst: int = 1) -> RecordingAdapter:
    """An adapter the outbox must pace: ``rate`` messages per second, per chat and overall."""
    return RecordingAdapter(pacing=Pacing(rate, burst, rate))


async def _rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())


async def test_limiter_serves_replies_before_waiting_alerts() -> None:
    limiter = _Limiter(rate=50.0, burst=1)
    order: list[str] = []

    async def take(name: str, urgent: bool) -> None:
        assert await limiter.acquire(urgent)
        order.append(name)

    await take("first", urgent=False)  # the burst
    bulk = [asyncio.create_task(take(f"alert{n}", urgent=False)) for n in range(3)]
    await asyncio.sleep(0)  # the alerts queue up
    await take("reply", urgent=True)
    await asyncio.gather(*bulk)
    assert order == ["first", "reply", "alert0", "alert1", "alert2"]


async def test_a_closed_limiter_lets_its_waiters_go_without_a_token() -> None:
    limiter = _Limiter(rate=0.001, burst=1)
    assert await limiter.acquire(urgent=False)
    waiting = asyncio.create_task(limiter.acquire(urgent=False))
    await asyncio.sleep(0)
    limiter.close()
    assert await waiting is False


def test_group_chats_have_their_own_pace() -> None:
    pacing = Pacing(1.0, 3, 30.0, per_group_rate=20 / 60, per_group_burst=3, group_prefix="-")
    assert pacing.for_chat("-1001234") == (20 / 60, 3)
    assert pacing.for_chat("1234") == (1.0, 3)


async def test_a_reply_overtakes_a_queue_of_alerts(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = _slow(rate=20.0)
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter}, idle_interval=0.05)
    async with sessions() as session, session.begin():
        for n in range(30):
            enqueue(session, Platform.CONSOLE, f"s{n}", [Reply(f"alert {n}")], priority=10)
    worker.start()
    try:
        await adapter.wait_for(3)
        await _queue(sessions, "talking", "answer")
        worker.wake()
        await adapter.wait_for(len(adapter.sent) + 1)
        await adapter.wait_for(31)
    finally:
        await worker.stop()
    texts = [reply.text for _, reply in adapter.sent]
    assert texts.index("answer") < 8  # it did not wait behind the 30 alerts
    assert sorted(texts) == sorted([*(f"alert {n}" for n in range(30)), "answer"])


async def test_stopping_gives_back_what_was_claimed_but_not_sent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = _slow(rate=2.0)
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", "one", "two", "three")
    worker.start()
    await adapter.wait_for(1)
    await worker.stop()
    rows = await _rows(sessions)
    assert [r.status for r in rows] == ["sent", "pending", "pending"]
    assert [(r.claimed_by, r.attempts) for r in rows[1:]] == [(None, 0), (None, 0)]
    assert all(r.next_attempt_at <= utcnow() for r in rows[1:])


async def test_claims_left_by_a_killed_run_are_released_at_start(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _queue(sessions, "a", "one")
    async with sessions() as session, session.begin():
        await session.execute(
            update(OutboxMessage).values(
                claimed_by="12345", attempts=1, next_attempt_at=utcnow() + timedelta(minutes=2)
            )
        )
    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    assert not await worker.deliver_due()  # another worker's claim is not taken over...
    worker.start()  # ... but on SQLite a claim found at start is a previous run's
    try:
        await adapter.wait_for(1)
    finally:
        await worker.stop()
    assert adapter.texts("a") == ["one"]


async def test_retry_after_holds_the_chats_later_messages_too(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = RecordingAdapter()
    adapter.failures.append(RetryLater(30.0))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    await _queue(sessions, "a", *(f"m{n}" for n in range(5)))  # more than one batch's worth
    await worker.deliver_due()
    rows = await _rows(sessions)
    assert adapter.sent == []
    assert [r.status for r in rows] == ["pending"] * 5
    # Also those not claimed in that batch wait, so that no worker sends them out of order.
    assert min(r.next_attempt_at for r in rows) > utcnow() + timedelta(seconds=25)
    assert not await worker.deliver_due()


async def test_a_message_no_longer_wanted_is_dropped_when_its_turn_comes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def render(session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Reply | None]:
        return [
            None if row.payload["text"] == "stale" else Reply(row.payload["text"].upper())
            for row in rows
        ]

    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter}, renderers={"alert": render})
    async with sessions() as session, session.begin():
        for text in ("fresh", "stale"):
            enqueue(session, Platform.CONSOLE, "a", [Reply(text)], kind="alert", priority=10)
    await worker.deliver_due()
    assert adapter.texts("a") == ["FRESH"]
    assert [r.status for r in await _rows(sessions)] == ["sent", "dropped"]


async def test_a_message_deleted_while_waiting_its_turn_is_not_sent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async def render(session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Reply | None]:
        return [Reply(row.payload["text"]) for row in rows]

    adapter = _slow(rate=5.0)
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter}, renderers={"alert": render})
    async with sessions() as session, session.begin():
        for text in ("one", "two"):
            enqueue(session, Platform.CONSOLE, "a", [Reply(text)], kind="alert", priority=10)
    delivering = asyncio.create_task(worker.deliver_due())
    await adapter.wait_for(1)
    async with sessions() as session, session.begin():  # the person asked to be forgotten
        await session.execute(delete(OutboxMessage).where(OutboxMessage.status == "pending"))
    await delivering
    assert adapter.texts("a") == ["one"]


async def test_an_unreachable_chat_is_reported_in_the_same_transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    reported: list[tuple[str, str]] = []

    async def on_unreachable(session: AsyncSession, platform: str, chat_id: str) -> None:
        reported.append((platform, chat_id))

    adapter = RecordingAdapter()
    adapter.failures.append(PermanentFailure("Forbidden: bot was blocked by the user"))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter}, on_unreachable=on_unreachable)
    await _queue(sessions, "a", "one")
    await worker.deliver_due()
    assert reported == [("console", "a")]
