"""Killing innobot (SIGKILL) in the middle of a fan-out and starting it again delivers every
queued alert exactly once — recorded by the Bot API double, which outlives both processes.

innobot runs in a process of its own (``tests/alerts/bot_process.py``). To kill it at a
deterministic point the double can hold sendMessage requests: a held request is one still on
the wire, which the double never receives (it answers 502 to a client long gone). A message the
double did receive is always recorded as sent before the kill: the test waits for that, because
a process killed between Telegram's answer and its own commit cannot know whether the message
went out (see docs/alerts.md, "Exactly once"). The process says when its deliveries are committed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import AlertTask, OutboxMessage, OutboxStatus
from tests.alerts.helpers import add_challenge, add_subscribers
from tests.fakes.bot_api import JSON, ApiError, FakeBotAPI, FloodLimits

ROOT = Path(__file__).resolve().parents[2]
USERS = 150
LIMITS = FloodLimits(per_chat_rate=1.0, per_chat_burst=3, overall_rate=300, overall_burst=300)
PACING = "1,3,300"  # per-chat rate, per-chat burst, overall rate: as the double's limits


class GatedBotAPI(FakeBotAPI):
    """The Bot API double, able to hold every sendMessage after the first ``hold_after``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.hold_after: int | None = None
        self.holding = asyncio.Event()  # set when a request is held
        self._open = asyncio.Event()

    async def _api_sendmessage(self, params: JSON) -> JSON:
        if self.hold_after is not None and len(self.all_sent()) >= self.hold_after:
            self.holding.set()
            await self._open.wait()
            raise ApiError(502, "Bad Gateway")  # lost on the wire: never delivered
        return await super()._api_sendmessage(params)

    def release(self) -> None:
        self.hold_after = None
        self._open.set()


@pytest.fixture
async def fake() -> AsyncIterator[GatedBotAPI]:
    async with GatedBotAPI(limits=LIMITS) as server:
        yield server


class BotProcess:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    async def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await asyncio.wait_for(self.process.wait(), 30)


async def start_bot(fake: FakeBotAPI, db_url: str, data_dir: Path, **knobs: str) -> BotProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "INNOBOT_DATABASE_URL": db_url,
        "INNOBOT_DATA_DIR": str(data_dir),
        "INNOBOT_TELEGRAM_TOKEN": fake.token,
        "INNOBOT_TELEGRAM_API_URL": fake.base_url,
        "INNOBOT_TELEGRAM_FILE_URL": fake.base_file_url,
        "INNOBOT_TEST_PACING": PACING,
        **{f"INNOBOT_TEST_{name.upper()}": value for name, value in knobs.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.alerts.bot_process",
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = await asyncio.wait_for(process.stdout.readline(), 60)
    assert line.strip() == b"ready", "innobot did not start (see its log above)"
    return BotProcess(process)


async def sent_rows(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        query = (
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.status == OutboxStatus.SENT.value)
        )
        return int(await session.scalar(query) or 0)


async def wait_committed(bot: BotProcess, count: int) -> None:
    """Wait until the bot says it has committed ``count`` deliveries."""
    stdout = bot.process.stdout
    assert stdout is not None
    async with asyncio.timeout(30):
        while True:
            line = (await stdout.readline()).decode().split()
            if line[:1] == ["sent"] and int(line[1]) >= count:
                return


async def seed(fake: FakeBotAPI, sessions: async_sessionmaker[AsyncSession]) -> list[int]:
    users = await add_subscribers(sessions, 80_000, USERS)
    for user in users:
        fake.add_user(user)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    return users


async def finish(
    fake: FakeBotAPI,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    data_dir: Path,
    users: list[int],
) -> None:
    """Start innobot again, let it deliver everything, stop it: every alert arrived once."""
    bot = await start_bot(fake, db_url, data_dir)
    try:
        for user in users:
            await fake.wait_for_messages(user, 1, timeout=60)
    finally:
        assert await bot.stop() == 0
    assert {user: len(fake.sent(user)) for user in users} == dict.fromkeys(users, 1)
    assert await sent_rows(sessions) == USERS
    assert [call for call in fake.calls if call.status == 429] == []


async def test_killed_in_the_middle_of_delivering(
    fake: GatedBotAPI,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    tmp_path: Path,
) -> None:
    users = await seed(fake, sessions)
    fake.hold_after = 40
    bot = await start_bot(fake, db_url, tmp_path)
    await asyncio.wait_for(fake.holding.wait(), 30)
    await wait_committed(bot, 40)  # nothing the double received is in doubt
    await bot.kill()  # with requests on the wire and rows claimed
    fake.release()
    assert len(fake.all_sent()) == 40

    await finish(fake, sessions, db_url, tmp_path, users)


async def test_killed_in_the_middle_of_a_fan_out(
    fake: GatedBotAPI,
    sessions: async_sessionmaker[AsyncSession],
    db_url: str,
    tmp_path: Path,
) -> None:
    users = await seed(fake, sessions)
    fake.hold_after = 0  # whatever the first process tries to send stays on the wire
    bot = await start_bot(fake, db_url, tmp_path, fanout_batch="40", die_at_batch="3")
    assert await asyncio.wait_for(bot.process.wait(), 30) == -signal.SIGKILL
    fake.release()
    async with sessions() as session:
        task = (await session.scalars(select(AlertTask))).one()
        queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
    assert task.done_at is None  # the fan-out was cut short...
    assert queued == 80  # ... after two batches of forty
    assert fake.all_sent() == []

    await finish(fake, sessions, db_url, tmp_path, users)
