"""The scheduler: jobs kept in innobot's database, missed runs caught up once, one leader."""

from __future__ import annotations

import asyncio
import pickle
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from apscheduler.events import EVENT_JOB_EXECUTED, JobExecutionEvent
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.scheduler import JOBS, LEADER_KEY, AlertJobs, AlertScheduler, JobSpec
from storage.db import create_engine, session_factory
from storage.locks import LEADER_NAMESPACE
from storage.models import SchedulerJob

RUNS: list[datetime] = []
JOB_ID = "test.counted"


async def counted() -> None:
    """A job that only counts its runs."""
    RUNS.append(datetime.now(UTC))


SPECS = (JobSpec(JOB_ID, counted, 3600.0),)

MakeScheduler = Callable[..., Awaitable[AlertScheduler]]


@pytest.fixture
async def make_scheduler(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[MakeScheduler]:
    RUNS.clear()
    running: list[AlertScheduler] = []

    async def make(
        engine: AsyncEngine | None = None,
        specs: tuple[JobSpec, ...] = SPECS,
        own_sessions: async_sessionmaker[AsyncSession] | None = None,
        leader_check: float = 15.0,
    ) -> AlertScheduler:
        factory = own_sessions or sessions
        scheduler = AlertScheduler(
            factory, AlertJobs(factory), engine=engine, specs=specs, leader_check=leader_check
        )
        await scheduler.start()
        running.append(scheduler)
        return scheduler

    yield make
    for scheduler in running:
        await scheduler.stop()


async def executed(scheduler: AlertScheduler) -> asyncio.Event:
    """An event set once the counted job has finished a run (all its coalesced run times)."""
    done = asyncio.Event()

    def listener(event: JobExecutionEvent) -> None:
        if event.job_id == JOB_ID:
            done.set()

    assert scheduler.scheduler is not None
    scheduler.scheduler.add_listener(listener, EVENT_JOB_EXECUTED)
    return done


async def stored(sessions: async_sessionmaker[AsyncSession]) -> dict[str, SchedulerJob]:
    async with sessions() as session:
        return {job.id: job for job in (await session.scalars(select(SchedulerJob))).all()}


async def test_jobs_are_kept_in_the_database_across_restarts(
    make_scheduler: MakeScheduler, sessions: async_sessionmaker[AsyncSession]
) -> None:
    scheduler = await make_scheduler()
    assert scheduler.is_leader  # SQLite, or PostgreSQL with nobody else: this process leads
    done = await executed(scheduler)
    await asyncio.wait_for(done.wait(), 10)  # a new job runs at once
    await scheduler.stop()
    [job] = (await stored(sessions)).values()
    assert job.next_run_time is not None
    first_next = job.next_run_time
    assert first_next > datetime.now(UTC).timestamp() + 3500  # the next run, an hour later

    again = await make_scheduler()
    assert again.scheduler is not None
    loaded = again.scheduler.get_job(JOB_ID)
    assert loaded is not None
    assert loaded.next_run_time.timestamp() == pytest.approx(first_next)  # not reset by a restart
    assert len(RUNS) == 1


async def test_runs_missed_while_down_are_caught_up_once(
    make_scheduler: MakeScheduler, sessions: async_sessionmaker[AsyncSession]
) -> None:
    scheduler = await make_scheduler()
    await asyncio.wait_for((await executed(scheduler)).wait(), 10)
    await scheduler.stop()
    # innobot was down for three days: 72 hourly runs were missed.
    async with sessions() as session, session.begin():
        job = await session.get_one(SchedulerJob, JOB_ID)
        state = pickle.loads(job.job_state)
        state["next_run_time"] = datetime.now(UTC) - timedelta(days=3)
        job.job_state = pickle.dumps(state)
        job.next_run_time = state["next_run_time"].timestamp()
    RUNS.clear()

    again = await make_scheduler()
    await asyncio.wait_for((await executed(again)).wait(), 10)
    assert len(RUNS) == 1
    assert again.scheduler is not None
    job_now = again.scheduler.get_job(JOB_ID)
    assert job_now is not None
    assert job_now.next_run_time > datetime.now(UTC)  # nothing else is due


async def test_innobots_jobs_are_all_scheduled_and_no_others(
    make_scheduler: MakeScheduler, sessions: async_sessionmaker[AsyncSession]
) -> None:
    older = await make_scheduler()  # a version of innobot with another job
    await older.stop()
    scheduler = await make_scheduler(specs=JOBS)
    await scheduler.stop()
    jobs = await stored(sessions)
    assert sorted(jobs) == sorted(spec.id for spec in JOBS)
    assert all(job.next_run_time for job in jobs.values())


async def _engine_and_sessions(
    url: str,
) -> tuple[AsyncEngine, async_sessionmaker[AsyncSession]]:
    engine = create_engine(url)
    return engine, session_factory(engine)


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
async def test_one_leader_at_a_time_on_postgresql(
    make_scheduler: MakeScheduler, engine: AsyncEngine, postgresql_url: str
) -> None:
    second_engine, second_sessions = await _engine_and_sessions(postgresql_url)
    try:
        first = await make_scheduler(engine=engine, leader_check=0.05)
        second = await make_scheduler(
            engine=second_engine, own_sessions=second_sessions, leader_check=0.05
        )
        assert first.is_leader
        assert not second.is_leader

        # The leader's connection dies (its process was killed): the other one takes over.
        async with engine.connect() as conn:
            await conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :namespace AND objid = :key AND granted"
                ),
                {"namespace": LEADER_NAMESPACE, "key": LEADER_KEY},
            )
        await asyncio.wait_for(second.leading.wait(), 10)
        assert second.is_leader
        # The old leader noticed that it lost the lock, and stopped running jobs.
        await asyncio.wait_for(first.stepped_down.wait(), 10)
        assert not first.is_leader
    finally:
        await second_engine.dispose()
