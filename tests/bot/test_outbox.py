"""The outbox delivers every queued message once, in order per chat, and survives failures."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import PermanentFailure, RetryLater, TransientFailure
from bot.outbox import PRIORITY_ALERT, DeliveryWorker, decode_reply, encode_reply, enqueue
from handlers.core import Button, Document, Platform, Reply
from storage.models import Identity, OutboxMessage, OutboxStatus, Person
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
