"""Alerts delivered through the whole application and the Bot API double, within its limits.

The double enforces Telegram's flood limits and answers 429 with ``retry_after`` when they are
exceeded; a fan-out must never get one. Limits are Telegram's scaled up five times (150
messages/s overall, innobot paced to match) so that a 2,000-alert fan-out takes seconds; the
benchmark (benchmarks/alerts_fanout.py) runs at Telegram's real limits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.base import Pacing
from bot.app import App, build_app
from bot.scheduler import AlertJobs
from bot.settings import Settings
from handlers.intents import KeywordAnalyzer
from storage import alerts as store
from storage.models import (
    Challenge,
    Identity,
    OutboxMessage,
    Person,
    Status,
    Subscription,
)
from storage.people import forget_person
from tests.alerts.helpers import add_challenge, add_subscribers, outbox
from tests.fakes.bot_api import FakeBotAPI, FloodLimits

SCALE = 5
LIMITS = FloodLimits(
    per_chat_rate=1.0, per_chat_burst=3, overall_rate=30.0 * SCALE, overall_burst=30 * SCALE
)
PACING = Pacing(per_chat_rate=1.0, per_chat_burst=3, overall_rate=30.0 * SCALE)

StartApp = Callable[..., Awaitable[App]]


@pytest.fixture
def limits() -> FloodLimits:
    return LIMITS


@pytest.fixture
async def fake(limits: FloodLimits) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=limits) as server:
        yield server


@pytest.fixture
async def start_app(
    fake: FakeBotAPI, db_url: str, engine: AsyncEngine, tmp_path: Path
) -> AsyncIterator[StartApp]:
    running: list[App] = []
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=tmp_path,
        database_url=db_url,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        flood_burst=1000,
    )

    async def start(**overrides: Any) -> App:
        app = await build_app(
            settings.model_copy(update=overrides), analyzer=KeywordAnalyzer(), web_server=False
        )
        assert app.telegram is not None
        app.telegram.pacing = PACING
        app.worker.retry_base = 0.05
        await app.start()
        running.append(app)
        return app

    yield start
    for app in running:
        await app.stop()


async def announce(app: App) -> None:
    """Run the fan-out now (the scheduler would within seconds)."""
    assert app.scheduler is not None
    await app.scheduler.jobs.announce()


async def wait_delivered(fake: FakeBotAPI, users: list[int], timeout: float = 120.0) -> None:
    for user in users:
        await fake.wait_for_messages(user, 1, timeout=timeout)


async def settled(sessions: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    async with sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
        )
        return dict(rows.tuples().all())


async def test_a_2000_alert_fan_out_never_hits_the_flood_limit(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users = await add_subscribers(sessions, 10_000, 2000)
    for user in users:
        fake.add_user(user)
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session, announce=True)
    app = await start_app()
    await announce(app)
    await wait_delivered(fake, users)
    await app.stop()  # what is in flight is finished and recorded

    assert [call for call in fake.calls if call.status == 429] == []
    assert {user: len(fake.sent(user)) for user in users} == dict.fromkeys(users, 1)
    assert await settled(sessions) == {"sent": 2000}
    [message] = fake.sent(users[0])
    assert message.text.startswith(f"🔔 New challenge {challenge.ref}")
    assert "Stop these alerts" in message.button_labels()


async def test_flood_control_server_errors_and_network_trouble_are_survived(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users = await add_subscribers(sessions, 20_000, 6)
    for user in users:
        fake.add_user(user)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    fake.fail_next(1, 429, retry_after=1)  # "slow down"
    fake.fail_next(2, 502)  # a gateway in trouble
    fake.fail_next(1, 500)
    app = await start_app()
    await announce(app)
    await wait_delivered(fake, users)
    await app.stop()
    assert {user: len(fake.sent(user)) for user in users} == dict.fromkeys(users, 1)
    assert sorted(call.status for call in fake.calls if call.status >= 400) == [429, 500, 502, 502]
    assert await settled(sessions) == {"sent": 6}


async def test_a_user_who_blocked_innobot_has_their_alerts_stopped(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users = await add_subscribers(sessions, 30_000, 3)
    for user in users:
        fake.add_user(user)
    blocked = users[1]
    fake.block(blocked)
    async with sessions() as session, session.begin():
        first = await add_challenge(session, announce=True)
        second = await add_challenge(session, title="Batteries", announce=True)
        assert first.id != second.id
    app = await start_app()
    await announce(app)
    await wait_delivered(fake, [users[0], users[2]])
    for user in (users[0], users[2]):
        await fake.wait_for_messages(user, 2)
    await fake.wait_for_call("sendMessage", status=403, chat_id=blocked)
    await app.stop()

    async with sessions() as session:
        identity = (
            await session.scalars(select(Identity).where(Identity.chat_id == str(blocked)))
        ).one()
        sub = (
            await session.scalars(
                select(Subscription).where(Subscription.person_id == identity.person_id)
            )
        ).one()
        statuses = (
            await session.scalars(
                select(OutboxMessage.status).where(OutboxMessage.chat_id == str(blocked))
            )
        ).all()
    assert identity.blocked_at is not None  # recorded
    assert (sub.active, sub.stopped_reason) == (False, store.STOP_BLOCKED)
    # One 403; the other alert was either queued before the 403 and dropped, or never queued
    # because the fan-out reached this person after their alerts had been stopped.
    assert sorted(statuses) in (["dropped", "failed"], ["failed"])
    assert len([c for c in fake.calls if c.status == 403]) == 1


async def test_replies_go_first_while_a_fan_out_is_under_way(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users = await add_subscribers(sessions, 40_000, 600)
    for user in users:
        fake.add_user(user)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    app = await start_app()
    await announce(app)
    await fake.wait_for_messages(users[0], 1)
    talker = 50_000
    before = sum(len(fake.sent(user)) for user in users)
    fake.send_text(talker, "/help")
    await fake.wait_for_messages(talker, 1, timeout=30)
    during = sum(len(fake.sent(user)) for user in users) - before
    await wait_delivered(fake, users)
    # The answer did not wait behind the alerts queued before it: only a few alerts went out
    # while it was being handled.
    assert during < 60
    assert [call for call in fake.calls if call.status == 429] == []


async def test_withdrawn_challenges_and_forgotten_people_are_not_alerted(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    users = await add_subscribers(sessions, 60_000, 3)
    for user in users:
        fake.add_user(user)
    async with sessions() as session, session.begin():
        withdrawn = await add_challenge(session, title="Withdrawn", announce=True)
        kept = await add_challenge(session, title="Still open", announce=True)
    await AlertJobs(sessions).announce()  # queued while innobot was down
    async with sessions() as session, session.begin():
        challenge = await session.get_one(Challenge, withdrawn.id)
        challenge.status = Status.CLOSED.value  # its owner withdrew it
        identity = (
            await session.scalars(select(Identity).where(Identity.chat_id == str(users[2])))
        ).one()
        await forget_person(session, await session.get_one(Person, identity.person_id))
    assert len(await outbox(sessions, store.KIND_ALERT)) == 4

    app = await start_app()
    await wait_delivered(fake, users[:2])
    await app.stop()
    for user in users[:2]:
        [message] = fake.sent(user)
        assert kept.ref in message.text
    assert fake.sent(users[2]) == []
    statuses = sorted(row.status for row in await outbox(sessions, store.KIND_ALERT))
    assert statuses == ["dropped", "dropped", "sent", "sent"]


async def test_a_stop_button_under_an_alert_stops_the_next_ones(
    start_app: StartApp, fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]
) -> None:
    [user] = await add_subscribers(sessions, 70_000, 1)
    fake.add_user(user)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    app = await start_app()
    await announce(app)
    await fake.wait_for_messages(user, 1)
    fake.press_button_labelled(user, "Stop these alerts")
    [_, stopped] = await fake.wait_for_messages(user, 2)
    assert stopped.text.startswith("Stopped: Energy")
    async with sessions() as session, session.begin():
        await add_challenge(session, title="Another one", announce=True)
        assert not (await session.scalars(select(Subscription.active))).one()
    await announce(app)
    await app.stop()
    assert len(fake.sent(user)) == 2
