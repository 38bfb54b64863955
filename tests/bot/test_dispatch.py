"""The dispatcher: one transaction per message, serialized per sender, apologies on failure."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import Pacing
from bot.dispatch import Dispatcher, FloodGuard
from bot.outbox import DeliveryWorker
from handlers.context import Analysis, Command, Context, Feature, Step
from handlers.core import IncomingMessage, Platform, Reply
from handlers.i18n import t
from handlers.router import Router
from storage.models import Organisation
from tests.fakes.recording_adapter import RecordingAdapter


class EchoAnalyzer:
    def analyze(self, text: str) -> Analysis:
        return Analysis(lang="en", intent="out_of_scope", intent_score=1.0)


async def _boom(ctx: Context) -> list[Reply]:
    ctx.session.add(Organisation(name="half-done work"))
    raise RuntimeError("handler bug")


async def _count_prompt(ctx: Context) -> list[Reply]:
    return [Reply(f"step {ctx.data.get('n', 0)}")]


async def _count_answer(ctx: Context) -> list[Reply]:
    n = ctx.data.get("n", 0) + 1
    ctx.update(n=n)
    await asyncio.sleep(0)  # give a concurrent message a chance to interleave
    ctx.goto("count", "next")
    return [Reply(f"counted {n}")]


async def _start_count(ctx: Context) -> list[Reply]:
    return await ctx.enter("count", "next", {"n": 0})


async def _ping(ctx: Context) -> list[Reply]:
    return [Reply("pong")]


FEATURE = Feature(
    commands={
        "ping": Command(_ping, needs_consent=False),
        "boom": Command(_boom, needs_consent=False),
        "count": Command(_start_count, needs_consent=False),
    },
    flows={"count": {"next": Step(_count_prompt, _count_answer)}},
)


@pytest.fixture
def bot(
    sessions: async_sessionmaker[AsyncSession],
) -> tuple[Dispatcher, RecordingAdapter, DeliveryWorker]:
    adapter = RecordingAdapter(pacing=Pacing(1000.0, 1000, 1000.0))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    router = Router([FEATURE], EchoAnalyzer())
    dispatcher = Dispatcher(sessions, router, worker, {"console": adapter}, flood_burst=50)
    return dispatcher, adapter, worker


def _msg(text: str, user: str = "u1", lang: str | None = None) -> IncomingMessage:
    return IncomingMessage(Platform.CONSOLE, f"chat-{user}", user, text=text, language_hint=lang)


async def test_handler_error_apologises_in_the_users_language_and_commits_nothing(
    bot: tuple[Dispatcher, RecordingAdapter, DeliveryWorker],
    sessions: async_sessionmaker[AsyncSession],
    caplog: pytest.LogCaptureFixture,
) -> None:
    dispatcher, adapter, worker = bot
    await dispatcher.handle(_msg("/boom", lang="it"))
    await worker.deliver_due()
    assert adapter.texts("chat-u1") == [t("it", "errors.apology")]
    async with sessions() as session:
        assert (await session.execute(select(func.count(Organisation.id)))).scalar_one() == 0
    assert "handler failed" in caplog.text
    assert "RuntimeError: handler bug" in caplog.text
    assert "u1" not in caplog.text  # pseudonymous


async def test_concurrent_messages_from_one_user_are_serialized(
    bot: tuple[Dispatcher, RecordingAdapter, DeliveryWorker],
) -> None:
    dispatcher, adapter, worker = bot
    await dispatcher.handle(_msg("/count"))
    await asyncio.gather(*(dispatcher.handle(_msg(str(i))) for i in range(5)))
    while await worker.deliver_due():
        pass
    assert adapter.texts("chat-u1") == ["step 0"] + [f"counted {n}" for n in range(1, 6)]


async def test_busy_database_is_retried_then_apologised(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    calls = 0

    async def locked(ctx: Context) -> list[Reply]:
        nonlocal calls
        calls += 1
        raise OperationalError("UPDATE x", {}, Exception("database is locked"))

    router = Router([Feature(commands={"x": Command(locked, needs_consent=False)})], EchoAnalyzer())
    dispatcher = Dispatcher(sessions, router, worker, {"console": adapter}, attempts=3)
    await dispatcher.handle(_msg("/x", lang="sv"))
    await worker.deliver_due()
    assert calls == 3
    assert adapter.texts("chat-u1") == [t("sv", "errors.busy")]


async def test_database_down_notice_goes_straight_to_the_adapter() -> None:
    class DownSessions:
        def __call__(self) -> AsyncSession:
            raise OSError("connection refused")

    adapter = RecordingAdapter()
    worker = DeliveryWorker(DownSessions(), {Platform.CONSOLE: adapter})  # type: ignore[arg-type]
    router = Router([], EchoAnalyzer())
    dispatcher = Dispatcher(
        DownSessions(),  # type: ignore[arg-type]
        router,
        worker,
        {"console": adapter},
        attempts=2,
    )
    await dispatcher.handle(_msg("hello"))
    assert adapter.texts("chat-u1") == [t("en", "errors.busy")]


async def test_flood_is_throttled_per_user_without_slowing_others(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = RecordingAdapter()
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    router = Router([FEATURE], EchoAnalyzer())
    dispatcher = Dispatcher(
        sessions, router, worker, {"console": adapter}, flood_burst=3, flood_rate=0.001
    )
    for _ in range(10):
        await dispatcher.handle(_msg("/ping", user="flooder"))
    await dispatcher.handle(_msg("/ping", user="calm"))
    while await worker.deliver_due():
        pass
    flooder = adapter.texts("chat-flooder")
    assert flooder.count(t("en", "errors.flood")) == 1
    assert flooder == ["pong"] * 3 + [t("en", "errors.flood")]  # the rest were dropped
    assert adapter.texts("chat-calm") == ["pong"]


def test_flood_guard_recovers() -> None:
    guard = FloodGuard(burst=1, rate=1e9)
    assert [guard.check("k") for _ in range(3)] == ["ok", "ok", "ok"]
    slow = FloodGuard(burst=1, rate=1e-9)
    assert [slow.check("k") for _ in range(3)] == ["ok", "warn", "drop"]


async def test_group_chats_get_a_pointer_to_the_private_chat(
    bot: tuple[Dispatcher, RecordingAdapter, DeliveryWorker],
) -> None:
    dispatcher, adapter, worker = bot
    group = IncomingMessage(Platform.CONSOLE, "group", "u1", text="/ping", is_private=False)
    chatter = IncomingMessage(Platform.CONSOLE, "group", "u2", text="hello all", is_private=False)
    await dispatcher.handle(group)
    await dispatcher.handle(chatter)
    await worker.deliver_due()
    assert adapter.texts("group") == [t("en", "errors.private_only")]


async def test_an_event_delivered_again_is_handled_once(
    bot: tuple[Dispatcher, RecordingAdapter, DeliveryWorker],
) -> None:
    dispatcher, adapter, worker = bot
    await dispatcher.handle(_msg("/count"))
    first = replace(_msg("1"), event_id="bot:41")
    await dispatcher.handle(first)
    await dispatcher.handle(first)  # the same update, delivered again
    await dispatcher.handle(replace(_msg("2"), event_id="bot:42"))
    await dispatcher.handle(_msg("3"))  # no event id: handled as it comes
    while await worker.deliver_due():
        pass
    assert adapter.texts("chat-u1") == ["step 0", "counted 1", "counted 2", "counted 3"]


async def test_two_processes_racing_on_one_event_handle_it_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    adapter = RecordingAdapter(pacing=Pacing(1000.0, 1000, 1000.0))
    worker = DeliveryWorker(sessions, {Platform.CONSOLE: adapter})
    router = Router([FEATURE], EchoAnalyzer())
    # Two dispatchers do not share their per-sender locks, as two processes would not.
    one, two = (
        Dispatcher(sessions, router, worker, {"console": adapter}, flood_burst=50) for _ in range(2)
    )
    ping = replace(_msg("/ping"), event_id="bot:7")
    await asyncio.gather(one.handle(ping), two.handle(ping))
    while await worker.deliver_due():
        pass
    assert adapter.texts("chat-u1") == ["pong"]
