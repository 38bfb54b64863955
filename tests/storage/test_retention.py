"""Delivered messages lose their text after the retention period; what keeps things once stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import AlertJobs
from storage.models import HandledEvent, OutboxMessage, OutboxStatus
from storage.moderation import is_handled
from storage.retention import scrub_delivered

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
KEEP = timedelta(days=30)
TEXT = {"text": "Your idea *Bike lanes by the school* was received."}


def row(
    age_days: float, status: OutboxStatus, key: str | None = None, **extra: Any
) -> OutboxMessage:
    created = NOW - timedelta(days=age_days)
    return OutboxMessage(
        platform="telegram",
        chat_id="1001",
        kind=extra.pop("kind", "reply" if key is None else "alert"),
        dedupe_key=key,
        payload=dict(TEXT),
        status=status.value,
        created_at=created,
        next_attempt_at=created,
        sent_at=created if status is OutboxStatus.SENT else None,
        **extra,
    )


async def rows(sessions: async_sessionmaker[AsyncSession]) -> dict[str, tuple[str, dict[str, Any]]]:
    async with sessions() as session:
        found = (await session.execute(select(OutboxMessage))).scalars().all()
        return {r.dedupe_key or f"#{r.id}": (r.status, r.payload) for r in found}


async def test_old_deliveries_are_scrubbed_and_recent_ones_kept(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            [
                row(40, OutboxStatus.SENT),  # an old reply: deleted
                row(40, OutboxStatus.SENT, "challenge:1:p:7"),  # an old alert: emptied
                row(35, OutboxStatus.FAILED, "digest:3"),  # given up: emptied
                row(31, OutboxStatus.DROPPED, "event:2:p:7"),  # no longer wanted: emptied
                row(5, OutboxStatus.SENT, "recent:1"),  # within the period: kept
                row(5, OutboxStatus.SENT),  # a recent reply: kept
            ]
        )
    async with sessions() as session, session.begin():
        deleted, emptied, more = await scrub_delivered(session, NOW, KEEP)
    assert (deleted, emptied, more) == (1, 3, False)
    left = await rows(sessions)
    assert left["challenge:1:p:7"] == ("sent", {})
    assert left["digest:3"] == ("failed", {})
    assert left["event:2:p:7"] == ("dropped", {})
    assert left["recent:1"] == ("sent", TEXT)
    assert sum(1 for key in left if key.startswith("#")) == 1  # only the recent reply
    assert [payload for key, (_, payload) in left.items() if key.startswith("#")] == [TEXT]


async def test_a_pending_message_holds_the_watermark_until_it_is_delivered(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        waiting = row(40, OutboxStatus.PENDING, "waiting")
        session.add(waiting)
        await session.flush()
        session.add(row(39, OutboxStatus.SENT, "after"))
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP) == (0, 0, False)
    assert (await rows(sessions))["after"] == ("sent", TEXT)  # behind the pending one

    async with sessions() as session, session.begin():
        pending = await session.get(OutboxMessage, waiting.id)
        assert pending is not None
        pending.status = OutboxStatus.SENT.value
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP) == (0, 2, False)
    left = await rows(sessions)
    assert left["waiting"] == ("sent", {})
    assert left["after"] == ("sent", {})


async def test_a_message_stuck_for_twice_the_period_does_not_hold_the_rest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add(row(61, OutboxStatus.PENDING, "stuck"))
        await session.flush()
        session.add(row(45, OutboxStatus.SENT, "later"))
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP) == (0, 1, False)
    left = await rows(sessions)
    assert left["stuck"] == ("pending", TEXT)  # still deliverable, untouched
    assert left["later"] == ("sent", {})


async def test_each_run_reads_only_rows_it_has_not_seen(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add_all([row(40, OutboxStatus.SENT, f"k{i}") for i in range(5)])
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP, batch=2) == (0, 2, True)
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP, batch=2) == (0, 2, True)
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP, batch=2) == (0, 1, False)
    async with sessions() as session, session.begin():
        assert await scrub_delivered(session, NOW, KEEP, batch=2) == (0, 0, False)
    assert all(payload == {} for _, payload in (await rows(sessions)).values())


async def test_the_scheduled_job_scrubs_everything_due(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add_all([row(40, OutboxStatus.SENT) for _ in range(7)])
        session.add_all([row(40, OutboxStatus.SENT, f"k{i}") for i in range(4)])
        session.add(row(1, OutboxStatus.SENT, "fresh"))
    jobs = AlertJobs(sessions, clock=lambda: NOW, pause=0, outbox_retention=KEEP)
    assert await jobs.retention() == 11
    left = await rows(sessions)
    assert sorted(left) == ["fresh", "k0", "k1", "k2", "k3"]
    assert left["fresh"] == ("sent", TEXT)
    assert await jobs.retention() == 0


async def test_the_job_forgets_handled_events_after_thirty_days(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        session.add(HandledEvent(platform="telegram", event_id="1:5", created_at=NOW - KEEP * 2))
        session.add(HandledEvent(platform="telegram", event_id="1:6", created_at=NOW))
    await AlertJobs(sessions, clock=lambda: NOW, pause=0).retention()
    async with sessions() as session:
        assert await is_handled(session, "telegram", "1:6")
        assert not await is_handled(session, "telegram", "1:5")
