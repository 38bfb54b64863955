"""Several delivery workers on one PostgreSQL database: nothing sent twice, nothing out of order,
and the claims of a worker that died are taken over at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.base import Pacing
from bot.outbox import DeliveryWorker, enqueue
from handlers.core import Platform, Reply
from storage.db import create_engine, session_factory
from storage.locks import WORKER_NAMESPACE, ProcessLock
from storage.models import OutboxMessage, OutboxStatus, utcnow

pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

CHATS = 200
PER_CHAT = 3


@dataclass
class Deliveries:
    """Everything any worker sent, and an event when ``expected`` messages have been sent."""

    expected: int
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (worker, chat, text)
    done: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class SharedAdapter:
    """A console adapter recording into :class:`Deliveries`; each send yields to the loop, so
    that the workers' sends interleave."""

    name: str
    deliveries: Deliveries
    platform: Platform = Platform.CONSOLE
    pacing: Pacing = field(default_factory=lambda: Pacing(1000.0, 1000, 10000.0))

    async def send(self, chat_id: str, reply: Reply) -> None:
        await asyncio.sleep(0)
        self.deliveries.sent.append((self.name, chat_id, reply.text))
        if len(self.deliveries.sent) >= self.deliveries.expected:
            self.deliveries.done.set()


@pytest.fixture
async def other_engine(engine: AsyncEngine, db_url: str) -> AsyncIterator[AsyncEngine]:
    """A second engine on the same database: another innobot process, as far as locks go."""
    second = create_engine(db_url)
    try:
        yield second
    finally:
        await second.dispose()


async def _queue_all(sessions: async_sessionmaker[AsyncSession]) -> None:
    async with sessions() as session, session.begin():
        for chat in range(CHATS):
            replies = [Reply(f"{chat}:{n}") for n in range(PER_CHAT)]
            enqueue(session, Platform.CONSOLE, f"c{chat}", replies, priority=10)


async def test_two_workers_share_the_work_and_send_nothing_twice(
    engine: AsyncEngine,
    other_engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _queue_all(sessions)
    deliveries = Deliveries(expected=CHATS * PER_CHAT)
    workers = [
        DeliveryWorker(
            session_factory(e),
            {Platform.CONSOLE: SharedAdapter(name, deliveries)},
            claim_rows=True,
            engine=e,
            bulk_batch_size=40,
        )
        for name, e in (("one", engine), ("two", other_engine))
    ]
    for worker in workers:
        worker.start()
    try:
        await asyncio.wait_for(deliveries.done.wait(), 60)
    finally:
        for worker in workers:
            await worker.stop()

    texts = Counter(text_ for _, _, text_ in deliveries.sent)
    assert len(texts) == CHATS * PER_CHAT
    assert set(texts.values()) == {1}  # nothing twice
    by_worker = Counter(name for name, _, _ in deliveries.sent)
    assert by_worker["one"] > 0
    assert by_worker["two"] > 0  # the work was shared
    for chat in range(CHATS):  # and every chat got its messages in order
        got = [t for _, c, t in deliveries.sent if c == f"c{chat}"]
        assert got == [f"{chat}:{n}" for n in range(PER_CHAT)]
    async with sessions() as session:
        statuses = set((await session.scalars(select(OutboxMessage.status))).all())
    assert statuses == {OutboxStatus.SENT.value}


async def test_a_claiming_worker_does_not_block_the_other(
    engine: AsyncEngine,
    other_engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _queue_all(sessions)
    deliveries = Deliveries(expected=10**6)
    second = DeliveryWorker(
        session_factory(other_engine),
        {Platform.CONSOLE: SharedAdapter("two", deliveries)},
        claim_rows=True,
        bulk_batch_size=30,
    )
    # The first worker's claim holds its rows locked (its transaction is still open).
    async with sessions() as session, session.begin():
        query = (
            select(OutboxMessage)
            .order_by(OutboxMessage.id)
            .limit(30)
            .with_for_update(skip_locked=True)
        )
        locked = [row.id for row in (await session.scalars(query)).all()]
        assert await asyncio.wait_for(second.deliver_due("bulk"), 10)  # skips them, no waiting
    sent_chats = {chat for _, chat, _ in deliveries.sent}
    locked_chats = {f"c{(row_id - 1) // PER_CHAT}" for row_id in locked}
    assert sent_chats
    assert not sent_chats & locked_chats  # nothing of the locked chats, not even later rows


async def test_the_claims_of_a_dead_worker_are_released_and_a_live_ones_are_not(
    engine: AsyncEngine,
    other_engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        enqueue(session, Platform.CONSOLE, "dead", [Reply("from a dead worker")], priority=10)
        enqueue(session, Platform.CONSOLE, "live", [Reply("from a live worker")], priority=10)
    deliveries = Deliveries(expected=1)
    live = ProcessLock(other_engine, WORKER_NAMESPACE, 777)  # another process, alive
    assert await live.try_acquire()
    try:
        async with sessions() as session, session.begin():
            far = utcnow() + timedelta(days=365)
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.chat_id == "dead")
                .values(claimed_by="424242", next_attempt_at=far)  # nobody holds that lock
            )
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.chat_id == "live")
                .values(claimed_by="777", next_attempt_at=far)
            )
        worker = DeliveryWorker(
            sessions,
            {Platform.CONSOLE: SharedAdapter("new", deliveries)},
            claim_rows=True,
            engine=engine,
        )
        worker.start()
        try:
            await asyncio.wait_for(deliveries.done.wait(), 10)
        finally:
            await worker.stop()
        assert [t for _, _, t in deliveries.sent] == ["from a dead worker"]
        async with sessions() as session:
            live_row = (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.chat_id == "live"))
            ).one()
        assert (live_row.status, live_row.claimed_by) == ("pending", "777")
    finally:
        await live.release()


async def test_workers_share_the_platforms_overall_pace(
    engine: AsyncEngine, other_engine: AsyncEngine
) -> None:
    pacing = Pacing(1.0, 3, 30.0)
    workers = [
        DeliveryWorker(
            session_factory(e),
            {Platform.CONSOLE: SharedAdapter(name, Deliveries(10**6), pacing=pacing)},
            claim_rows=True,
            engine=e,
        )
        for name, e in (("one", engine), ("two", other_engine))
    ]
    workers[0].start()
    try:
        await asyncio.wait_for(workers[0].started.wait(), 10)
        assert await workers[0].count_workers() == 1
        assert workers[0].overall_rate(Platform.CONSOLE) == 30.0
        workers[1].start()
        await asyncio.wait_for(workers[1].started.wait(), 10)
        # Two processes at 15 messages/s each: Telegram's 30/s is kept between them.
        for worker in workers:
            assert await worker.count_workers() == 2
            assert worker.overall_rate(Platform.CONSOLE) == 15.0
        await workers[1].stop()
        assert await workers[0].count_workers() == 1  # a stopped worker no longer counts
    finally:
        for worker in workers:
            await worker.stop()
