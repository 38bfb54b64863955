"""Daily and weekly digests: at local time across DST, late runs, downtime, never an item twice.

The scheduler's jobs are run directly with a fixed clock (``AlertJobs(clock=...)``): no sleeping.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import AlertJobs
from storage import alerts as store
from storage.models import (
    Frequency,
    OutboxMessage,
    Status,
    Subscription,
)
from tests.alerts.helpers import add_challenge, add_person, outbox, subscribe, utc

ROME = ZoneInfo("Europe/Rome")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def steps(start: datetime, end: datetime, every: timedelta) -> Iterator[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += every


async def digest_rows(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    return await outbox(sessions, store.KIND_DIGEST)


def contents(rows: list[OutboxMessage]) -> list[list[int]]:
    return [list(row.payload["challenges"]) for row in rows]


DST_CASES = {
    # Europe/Rome moves to CEST on Sunday 29 March 2026 ...
    "spring": (
        utc(2026, 3, 26, 12),
        [utc(2026, 3, 27, 8), utc(2026, 3, 28, 8), utc(2026, 3, 29, 7), utc(2026, 3, 30, 7),
         utc(2026, 3, 31, 7)],
    ),
    # ... and back to CET on Sunday 25 October 2026.
    "autumn": (
        utc(2026, 10, 21, 12),
        [utc(2026, 10, 22, 7), utc(2026, 10, 23, 7), utc(2026, 10, 24, 7), utc(2026, 10, 25, 8),
         utc(2026, 10, 26, 8)],
    ),
}  # fmt: skip


@pytest.mark.parametrize("change", sorted(DST_CASES))
async def test_daily_digests_come_at_local_nine_across_a_dst_change(
    sessions: async_sessionmaker[AsyncSession], change: str
) -> None:
    start, expected = DST_CASES[change]
    clock = Clock(start)
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1, lang="it")
        await subscribe(session, person, frequency=Frequency.DAILY, now=start)
        # A new challenge every day at 12:00 UTC, from the day the subscription was made.
        challenges = [
            (await add_challenge(session, title=f"C{n}", approved_at=start + timedelta(days=n))).id
            for n in range(6)
        ]

    made: list[datetime] = []  # the sweeps (every 15 minutes) that found a digest due
    end = expected[-1] + timedelta(hours=12)
    for moment in steps(start, end, timedelta(minutes=15)):
        clock.now = moment
        before = len(await digest_rows(sessions))
        await jobs.digests()
        if len(await digest_rows(sessions)) > before:
            made.append(moment)

    assert made == expected
    assert {moment.astimezone(ROME).strftime("%H:%M") for moment in made} == {"09:00"}
    # Each digest lists the challenge approved the day before: none twice, none skipped.
    assert contents(await digest_rows(sessions)) == [[cid] for cid in challenges[:5]]


async def test_a_late_run_covers_its_whole_period_and_nothing_twice(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        sub = await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        early = await add_challenge(session, title="Before nine", approved_at=utc(2026, 6, 10, 6))
        later = await add_challenge(session, title="After nine", approved_at=utc(2026, 6, 10, 8))
        sub_id = sub.id

    # The digest of 10 June was due at 09:00 (07:00 UTC) but runs two hours late.
    clock.now = utc(2026, 6, 10, 9)
    await jobs.digests()
    assert contents(await digest_rows(sessions)) == [[early.id]]
    async with sessions() as session:
        sub = await session.get_one(Subscription, sub_id)
        assert sub.last_covered_until == utc(2026, 6, 10, 7)
        assert sub.next_run_at == utc(2026, 6, 11, 7)  # tomorrow: no day skipped

    clock.now = utc(2026, 6, 10, 9, 5)
    await jobs.digests()  # nothing is due
    clock.now = utc(2026, 6, 11, 7)
    await jobs.digests()
    assert contents(await digest_rows(sessions)) == [[early.id], [later.id]]


async def test_downtime_is_caught_up_by_one_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        sub = await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        ids = [
            (await add_challenge(session, title=f"Day {day}", approved_at=utc(2026, 6, day, 12))).id
            for day in (10, 11, 12)
        ]
        sub_id = sub.id
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    assert await digest_rows(sessions) == []  # nothing new yet on the 10th at nine

    # innobot is down from the 10th to the 13th at noon: three digests were missed.
    clock.now = utc(2026, 6, 13, 10)
    await jobs.digests()
    await jobs.digests()
    assert contents(await digest_rows(sessions)) == [ids]
    async with sessions() as session:
        sub = await session.get_one(Subscription, sub_id)
        assert sub.next_run_at == utc(2026, 6, 14, 7)


async def test_weekly_digest_on_its_day(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(utc(2026, 6, 8, 12))  # a Monday
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1, lang="sv")
        await subscribe(
            session,
            person,
            frequency=Frequency.WEEKLY,
            weekday=4,
            at="16:30",
            timezone="Europe/Stockholm",
            now=clock.now,
        )
        first = await add_challenge(session, approved_at=utc(2026, 6, 9, 12))
    made = []
    for moment in steps(utc(2026, 6, 8, 12), utc(2026, 6, 20), timedelta(minutes=30)):
        clock.now = moment
        before = len(await digest_rows(sessions))
        await jobs.digests()
        if len(await digest_rows(sessions)) > before:
            made.append(moment)
    assert made == [utc(2026, 6, 12, 14, 30)]  # Friday 16:30 in Stockholm
    assert contents(await digest_rows(sessions)) == [[first.id]]


async def test_an_approval_committed_after_the_digest_is_in_the_next_one(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    # A moderator's transaction stamped at 06:59:59 commits only after the digest was made.
    async with sessions() as session, session.begin():
        slow = await add_challenge(session, approved_at=utc(2026, 6, 10, 6, 59, 59))
    clock.now = utc(2026, 6, 11, 7)
    await jobs.digests()
    clock.now = utc(2026, 6, 12, 7)
    await jobs.digests()
    assert contents(await digest_rows(sessions)) == [[slow.id]]


async def test_an_instant_alert_is_not_repeated_in_a_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, frequency=Frequency.INSTANT, now=clock.now)
        await subscribe(session, person, topics=("energy", "mobility"), frequency=Frequency.DAILY)
        told = await add_challenge(session, approved_at=utc(2026, 6, 9, 13), announce=True)
        other = await add_challenge(
            session, topics=("mobility",), approved_at=utc(2026, 6, 9, 14), announce=True
        )
    clock.now = utc(2026, 6, 9, 13)
    assert await jobs.announce() == 1  # only the energy one matches the instant subscription
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    assert [row.payload["challenge"] for row in await outbox(sessions, store.KIND_ALERT)] == [
        told.id
    ]
    assert contents(await digest_rows(sessions)) == [[other.id]]


async def test_withdrawn_and_expired_challenges_stay_out_and_an_empty_digest_is_not_sent(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        await add_challenge(session, approved_at=utc(2026, 6, 9, 13), status=Status.CLOSED)
        await add_challenge(
            session, approved_at=utc(2026, 6, 9, 14), deadline=utc(2026, 6, 9).date()
        )
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    assert await digest_rows(sessions) == []


async def test_a_big_digest_is_split_and_bounded(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        for n in range(store.DIGEST_MAX_ITEMS + 7):
            await add_challenge(session, title=f"C{n}", approved_at=utc(2026, 6, 9, 13))
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    rows = await digest_rows(sessions)
    assert [len(c) for c in contents(rows)] == [store.DIGEST_ITEMS] * 5
    assert {row.payload["total"] for row in rows} == {store.DIGEST_MAX_ITEMS + 7}
    assert len({row.dedupe_key for row in rows}) == 5


async def test_a_stopped_subscription_makes_no_digest_and_resumes_without_a_backlog(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 1, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        sub = await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        store.stop_subscription(sub, store.STOP_USER, clock.now)
        await add_challenge(session, title="While paused", approved_at=utc(2026, 6, 3, 12))
        sub_id = sub.id
    clock.now = utc(2026, 6, 5, 7)
    await jobs.digests()
    assert await digest_rows(sessions) == []
    async with sessions() as session, session.begin():
        sub = await session.get_one(Subscription, sub_id)
        clock.now = utc(2026, 6, 10, 12)
        store.resume_subscription(sub, clock.now)
        fresh = await add_challenge(session, title="Fresh", approved_at=utc(2026, 6, 10, 13))
    clock.now = utc(2026, 6, 11, 7)
    await jobs.digests()
    assert contents(await digest_rows(sessions)) == [[fresh.id]]


async def test_digest_rows_follow_quiet_hours(sessions: async_sessionmaker[AsyncSession]) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(
            session,
            person,
            frequency=Frequency.DAILY,
            at="06:00",
            quiet=("22:00", "07:30"),
            now=clock.now,
        )
        await add_challenge(session, approved_at=utc(2026, 6, 9, 13))
    clock.now = utc(2026, 6, 10, 4)  # 06:00 in Rome, inside the quiet hours
    await jobs.digests()
    [row] = await digest_rows(sessions)
    assert row.next_attempt_at == utc(2026, 6, 10, 5, 30)  # 07:30 in Rome


async def test_a_person_without_a_reachable_account_gets_no_digest(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = Clock(utc(2026, 6, 9, 12))
    jobs = AlertJobs(sessions, clock=clock)
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, frequency=Frequency.DAILY, now=clock.now)
        await add_challenge(session, approved_at=utc(2026, 6, 9, 13))
        for identity in await person.awaitable_attrs.identities:
            identity.blocked_at = clock.now
    clock.now = utc(2026, 6, 10, 7)
    await jobs.digests()
    assert await digest_rows(sessions) == []
    async with sessions() as session:
        assert (await session.scalars(select(Subscription.next_run_at))).one() == utc(
            2026, 6, 11, 7
        )


async def test_a_weekly_subscription_without_a_day_goes_out_on_mondays(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        sub = await subscribe(session, person, frequency=Frequency.WEEKLY, weekday=None)
        assert sub.weekday == 0
        assert sub.next_run_at is not None
        assert sub.next_run_at.astimezone(ROME).weekday() == 0
