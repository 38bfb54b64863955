"""Instant alerts: who is told when a challenge is approved, once, even across a crash."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import AlertJobs
from storage import alerts as store
from storage.models import (
    AlertKind,
    AlertTask,
    ChallengeAlert,
    Frequency,
    Identity,
    MatchState,
    Status,
)
from tests.alerts.helpers import (
    T0,
    add_challenge,
    add_person,
    add_subscribers,
    outbox,
    subscribe,
    utc,
)


async def alerted(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    rows = await outbox(sessions, store.KIND_ALERT)
    return sorted(row.chat_id for row in rows)


async def test_matching_instant_subscribers_are_told_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        for user, values in [
            (1, {"topics": ("energy",)}),
            (2, {"topics": (), "keywords": ("electrolyser",)}),
            (3, {"topics": ("energy",), "region": "Västerbotten"}),  # elsewhere
            (4, {"topics": ("health",)}),  # another topic
            (5, {"topics": ("energy",), "frequency": Frequency.DAILY}),  # digest, not instant
        ]:
            person = await add_person(session, user)
            await subscribe(session, person, **values)  # type: ignore[arg-type]
        twice = await add_person(session, 6)
        await subscribe(session, twice, topics=("energy",))
        await subscribe(session, twice, keywords=("steel",))
        stopped = await add_person(session, 7)
        sub = await subscribe(session, stopped)
        store.stop_subscription(sub, store.STOP_USER, T0)
        await add_challenge(
            session,
            description="Electrolysers for a steel plant.",
            region="Lombardy",
            announce=True,
        )
    assert await AlertJobs(sessions, clock=lambda: T0).announce() == 3
    assert await alerted(sessions) == ["1", "2", "6"]
    assert await AlertJobs(sessions, clock=lambda: T0).announce() == 0  # nothing twice
    async with sessions() as session:
        task = (await session.scalars(select(AlertTask))).one()
        assert task.done_at == T0


async def test_the_approval_hook_records_the_work_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session, announce=True)
        await store.queue_instant_alerts(session, challenge)
    async with sessions() as session, session.begin():
        await store.queue_instant_alerts(session, challenge)
        tasks = await session.scalar(select(func.count()).select_from(AlertTask))
    assert tasks == 1


async def test_a_fan_out_interrupted_between_batches_goes_on_where_it_stopped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    users = await add_subscribers(sessions, 100, 25)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    # Two batches of ten are committed; then the process dies.
    for _ in range(2):
        async with sessions() as session, session.begin():
            assert await store.fan_out_next(session, T0, batch=10) == 10
    # A batch that was rolled back (killed mid-transaction) leaves no trace.
    async with sessions() as session:
        transaction = await session.begin()
        await store.fan_out_next(session, T0, batch=10)
        await transaction.rollback()
    # After the restart the job finishes the fan-out.
    assert await AlertJobs(sessions, clock=lambda: T0, fanout_batch=10).announce() == 5
    assert await alerted(sessions) == sorted(str(u) for u in users)


async def test_a_challenge_withdrawn_before_the_fan_out_is_not_announced(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_subscribers(sessions, 100, 3)
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session, announce=True)
        challenge.status = Status.CLOSED.value
    assert await AlertJobs(sessions, clock=lambda: T0).announce() == 0
    assert await alerted(sessions) == []


async def test_quiet_hours_hold_an_instant_alert_until_morning(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    late = utc(2026, 6, 10, 21)  # 23:00 in Rome
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        await subscribe(session, person, quiet=("22:00", "07:00"))
        await add_challenge(session, approved_at=late, announce=True)
    await AlertJobs(sessions, clock=lambda: late).announce()
    [row] = await outbox(sessions, store.KIND_ALERT)
    assert row.next_attempt_at == utc(2026, 6, 11, 5)  # 07:00 in Rome


async def test_people_who_blocked_innobot_are_skipped(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        blocked = await add_person(session, 1)
        await subscribe(session, blocked)
        for identity in await blocked.awaitable_attrs.identities:
            identity.blocked_at = T0
        reachable = await add_person(session, 2)
        await subscribe(session, reachable)
        await add_challenge(session, announce=True)
    await AlertJobs(sessions, clock=lambda: T0).announce()
    assert await alerted(sessions) == ["2"]


async def test_the_newest_reachable_account_gets_the_alert(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        person = await add_person(session, 1)
        person.identities.append(
            Identity(platform="matrix", external_id="@ada:example.org", chat_id="!dm:example.org")
        )
        await subscribe(session, person)
        await add_challenge(session, announce=True)
    await AlertJobs(sessions, clock=lambda: T0).announce()
    [row] = await outbox(sessions, store.KIND_ALERT)
    assert (row.platform, row.chat_id) == ("matrix", "!dm:example.org")


async def test_deadline_reminders_go_to_the_interested_three_days_before(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    async with sessions() as session, session.begin():
        keen = await add_person(session, 1)
        idle = await add_person(session, 2)
        closing = await add_challenge(session, deadline=utc(2026, 6, 20).date())
        later = await add_challenge(session, title="Later", deadline=utc(2026, 7, 20).date())
        for challenge in (closing, later):
            assert await store.record_interest(session, keen.id, challenge.id)
        assert not await store.record_interest(session, keen.id, closing.id)  # asked already
        assert idle.id
    jobs = AlertJobs(sessions, clock=lambda: utc(2026, 6, 16, 10))
    assert await jobs.deadlines() == 0  # four days before
    jobs.clock = lambda: utc(2026, 6, 17, 10)
    assert await jobs.deadlines() == 1
    assert await jobs.deadlines() == 0  # once
    [row] = await outbox(sessions, store.KIND_REMINDER)
    assert (row.chat_id, row.payload["challenge"]) == ("1", closing.id)


async def test_introductions_are_followed_up_once_on_both_sides(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from storage.models import Match, SolutionProfile

    async with sessions() as session, session.begin():
        owner = await add_person(session, 1)
        solver = await add_person(session, 2)
        challenge = await add_challenge(session)
        challenge.person_id = owner.id
        profile = SolutionProfile(
            title="Vision AI", description="We inspect surfaces.", person_id=solver.id
        )
        session.add(profile)
        await session.flush()
        match = Match(
            challenge_id=challenge.id,
            item_kind="solution",
            item_id=profile.id,
            score=0.9,
            state=MatchState.INTRODUCED.value,
            introduced_at=T0,
        )
        session.add(match)
    jobs = AlertJobs(sessions, clock=lambda: T0 + store.FOLLOWUP_AFTER - timedelta(hours=1))
    assert await jobs.followups() == 0
    jobs.clock = lambda: T0 + store.FOLLOWUP_AFTER
    assert await jobs.followups() == 2
    assert await jobs.followups() == 0
    assert sorted(r.chat_id for r in await outbox(sessions, store.KIND_FOLLOWUP)) == ["1", "2"]


async def test_the_ledger_counts_one_announcement_per_person_and_challenge(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await add_subscribers(sessions, 100, 4)
    async with sessions() as session, session.begin():
        await add_challenge(session, announce=True)
    await AlertJobs(sessions, clock=lambda: T0).announce()
    async with sessions() as session:
        kinds = (await session.scalars(select(ChallengeAlert.kind))).all()
    assert kinds == [AlertKind.NEW.value] * 4


async def test_a_challenge_approved_in_the_moderation_room_is_announced(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from handlers.moderation import DeskConfig, RoomEvent, handle_room_event

    await add_subscribers(sessions, 100, 2)
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session, status=Status.PENDING, approved_at=None)
    room = "!moderation:localhost"

    async def power() -> int:
        return 100

    async with sessions() as session, session.begin():
        event = RoomEvent(
            room, "@moderator:localhost", "$approve", text=f"!approve {challenge.ref}"
        )
        await handle_room_event(session, event, DeskConfig(frozenset({room})), power)
    assert await AlertJobs(sessions).announce() == 2
    assert await alerted(sessions) == ["100", "101"]
