"""Graceful shutdown: SIGTERM stops taking updates, lets the handlers in flight finish, leaves
queued messages in the outbox (another process, or the next start, sends them) and exits within
10 seconds. On PostgreSQL, the store of a scaled-out innobot."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from storage.db import session_factory
from storage.models import ConversationState, OutboxMessage
from tests.e2e.journey import shown
from tests.fakes.bot_api import FakeBotAPI
from tests.ops.cluster import (
    IDEAS,
    PUBLIC_WEBHOOK,
    STOP_LIMIT,
    ClusterBotAPI,
    InnobotProcess,
    Participant,
    add_participants,
    start_in_process,
)


@pytest.fixture
def db_url(postgresql_url: str) -> str:
    return postgresql_url


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=None) as server:
        yield server


async def wait_for_a_blocked_query(engine: AsyncEngine) -> None:
    """Until another connection waits for a row lock (the handler in flight). PostgreSQL tells
    no one when a query starts waiting, so its activity view is looked at, briefly and bounded."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE wait_event_type = 'Lock' AND datname = current_database()"
    )
    for _ in range(1000):
        async with engine.connect() as conn:
            if (await conn.execute(query)).scalar_one():
                return
        await asyncio.sleep(0.01)
    raise AssertionError("no handler ever waited for the conversation's lock")


async def test_stopping_finishes_the_handler_in_flight_and_refuses_new_updates(
    db_url: str, engine: AsyncEngine, fake: FakeBotAPI, tmp_path: Path
) -> None:
    ada, bo = Participant(810_001, "en"), Participant(810_002, "en")
    await add_participants(db_url, [ada, bo])
    async with session_factory(engine)() as session, session.begin():
        session.add(
            ConversationState(
                platform="telegram", chat_id=str(ada.user_id), user_id=str(ada.user_id), data={}
            )
        )
    app = await start_in_process(db_url, fake, tmp_path)
    assert app.telegram is not None
    # Someone else holds Ada's conversation: her message's handler will wait in flight.
    async with engine.connect() as blocker:
        held = await blocker.begin()
        await blocker.execute(
            select(ConversationState)
            .where(ConversationState.chat_id == str(ada.user_id))
            .with_for_update()
        )
        fake.send_text(ada.user_id, IDEAS["en"])
        await fake.wait_for_webhook_deliveries()
        await wait_for_a_blocked_query(engine)

        started = time.monotonic()
        stopping = asyncio.create_task(app.stop())
        for _ in range(1000):  # let stop() run up to its first wait
            if not app.telegram.running:
                break
            await asyncio.sleep(0)
        fake.send_text(bo.user_id, IDEAS["en"])  # arrives while innobot is stopping
        await fake.wait_for_webhook_deliveries()
        assert fake.webhook_statuses == [200, 503]  # refused: Telegram delivers it again
        assert not stopping.done()  # still waiting for Ada's handler
        await held.commit()
    await asyncio.wait_for(stopping, STOP_LIMIT)
    assert time.monotonic() - started < STOP_LIMIT

    async with session_factory(engine)() as session:
        state = (
            await session.execute(
                select(ConversationState).where(ConversationState.chat_id == str(ada.user_id))
            )
        ).scalar_one()
        statuses = list(
            (
                await session.execute(
                    select(OutboxMessage.status).where(OutboxMessage.chat_id == str(ada.user_id))
                )
            ).scalars()
        )
    assert (state.flow, state.step) == ("idea", "title")  # her message was handled
    assert len(statuses) == 2
    assert set(statuses) <= {"sent", "pending"}

    again = await start_in_process(db_url, fake, tmp_path)  # sends whatever was left queued
    try:
        messages = await fake.wait_for_messages(ada.user_id, 2)
    finally:
        await again.stop()
    assert [m.text for m in messages] == [
        shown("en", "idea.from_text"),
        shown("en", "idea.ask_title", max=120),
    ]
    assert fake.sent(bo.user_id) == []  # refused, never half-handled


async def test_sigterm_exits_within_ten_seconds_and_leaves_the_outbox_queued(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    ada = Participant(820_001, "it")
    await add_participants(db_url, [ada])
    async with ClusterBotAPI() as telegram:
        first = InnobotProcess("first", db_url, telegram, tmp_path / "first")
        await first.start()
        telegram.upstreams = [first.url]
        assert telegram.webhook_url == PUBLIC_WEBHOOK
        # Telegram throttles the chat: innobot must wait 3 s before sending into it again.
        telegram.fail_next(1, 429, retry_after=3)
        telegram.send_text(ada.user_id, IDEAS["it"], language_code="it")
        await telegram.wait_for_call("sendMessage", status=429)
        code, seconds = await first.stop()
        assert code == 0
        assert seconds < STOP_LIMIT
        async with session_factory(engine)() as session:
            queued = list(
                (
                    await session.execute(
                        select(OutboxMessage.status).where(
                            OutboxMessage.chat_id == str(ada.user_id)
                        )
                    )
                ).scalars()
            )
        assert queued == ["pending", "pending"]  # kept for later, not lost, not failed

        second = InnobotProcess("second", db_url, telegram, tmp_path / "second")
        await second.start()
        try:
            messages = await telegram.wait_for_messages(ada.user_id, 2, timeout=30)
        finally:
            await second.stop()
    assert [m.text for m in messages] == [
        shown("it", "idea.from_text"),
        shown("it", "idea.ask_title", max=120),
    ]
