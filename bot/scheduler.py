"""innobot's scheduler: APScheduler's AsyncIOScheduler in the bot's event loop, one leader.

The jobs are few and fixed (:data:`JOBS`); what they work on lives in innobot's own tables, so
every run is idempotent and a late or repeated run does no harm:

- ``alerts:announce`` fans approved challenges out to instant subscribers, in batches;
- ``alerts:digests`` makes the daily and weekly digests that are due, at each subscriber's local
  time (DST-safe: see :func:`storage.alerts.next_delivery`);
- ``alerts:deadlines`` reminds interested people three days before a challenge closes;
- ``alerts:followups`` asks both sides how an introduction went, some weeks after it.
- ``engagement:consultations-and-reminders`` opens and closes consultations and reminds people
  of the events they registered for, the day before and an hour before.

APScheduler's job store is :class:`DatabaseJobStore`, a table in innobot's database. A job that
could not run while innobot was down runs once when it is back (``coalesce``), however many runs
it missed. With PostgreSQL, several innobot processes may run: the one holding an advisory lock
is the leader and runs the scheduler; the others take over when it dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import pickle
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from storage import alerts as store
from storage.locks import LEADER_NAMESPACE, ProcessLock
from storage.models import SchedulerJob, Subscription, utcnow
from storage.moderation import forget_handled
from storage.retention import scrub_delivered

log = logging.getLogger(__name__)

LEADER_KEY = 1  # one leader per database
DIGEST_BATCH = 200  # digests made per transaction
BATCH_PAUSE = 0.05  # seconds between two batches of a job
WRITE_RETRY = 2.0  # seconds before writing a job again after a database error
STOP_GRACE = 10.0  # seconds a running job gets to finish when innobot stops
# Telegram redelivers an unconfirmed update for 24 hours; Matrix gaps are read back further.
HANDLED_EVENTS_KEEP = timedelta(days=30)


# --- the jobs --------------------------------------------------------------------------------


@dataclass
class AlertJobs:
    """What the scheduled jobs do. Each method runs until nothing is left and returns a count;
    tests call them directly with a fixed clock."""

    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime] = utcnow
    # Called whenever alerts were queued (the delivery worker starts sending at once).
    wake: Callable[[], None] = lambda: None
    fanout_batch: int = store.FANOUT_BATCH
    digest_batch: int = DIGEST_BATCH
    # Between two batches: SQLite's write lock is not fair (a writer retrying after a busy
    # answer loses to one that begins again at once), so a fan-out leaves a gap for the
    # transactions of people talking to the bot.
    pause: float = BATCH_PAUSE
    # How long delivered messages keep their text (storage.retention).
    outbox_retention: timedelta = timedelta(days=30)
    running: set[asyncio.Task[Any]] = field(default_factory=set)

    @contextlib.contextmanager
    def _tracked(self) -> Iterator[None]:
        task = asyncio.current_task()
        if task is not None:
            self.running.add(task)
        try:
            yield
        finally:
            if task is not None:
                self.running.discard(task)

    async def announce(self) -> int:
        """Fan out every approved challenge not yet announced; one transaction per batch."""
        total = 0
        with self._tracked():
            while True:
                async with self.sessions() as session, session.begin():
                    queued = await store.fan_out_next(session, self.clock(), self.fanout_batch)
                if queued is None:
                    break
                if queued:
                    total += queued
                    self.wake()
                await asyncio.sleep(self.pause)
        return total

    async def digests(self) -> int:
        """Make every digest that is due (one transaction per batch of subscriptions)."""
        total = 0
        with self._tracked():
            while True:
                now = self.clock()
                failed: list[int] = []
                async with self.sessions() as session, session.begin():
                    due = await store.due_digests(session, now, self.digest_batch)
                    for sub in due:
                        try:
                            async with session.begin_nested():
                                total += await store.make_digest(session, sub, now)
                        except SQLAlchemyError:
                            log.exception("digest of subscription %s failed; skipping it", sub.id)
                            failed.append(sub.id)
                if failed:
                    await self._skip(failed, now)
                if total:
                    self.wake()
                if len(due) < self.digest_batch:
                    break
                await asyncio.sleep(self.pause)
        return total

    async def _skip(self, subscription_ids: Sequence[int], now: datetime) -> None:
        """Move a digest that cannot be made to its next time, so that it blocks nothing."""
        async with self.sessions() as session, session.begin():
            for sub_id in subscription_ids:
                sub = await session.get(Subscription, sub_id)
                if sub is not None:
                    store.plan_next_digest(sub, now)

    async def deadlines(self) -> int:
        with self._tracked():
            async with self.sessions() as session, session.begin():
                queued = await store.queue_deadline_reminders(session, self.clock())
        if queued:
            self.wake()
        return queued

    async def followups(self) -> int:
        with self._tracked():
            async with self.sessions() as session, session.begin():
                queued = await store.queue_outcome_followups(session, self.clock())
        if queued:
            self.wake()
        return queued

    async def engagement(self) -> int:
        """Consultations that open or close, and event reminders (handlers.consultations and
        handlers.events; each message is queued once, whenever the job runs)."""
        from handlers.consultations import open_and_close
        from handlers.events import queue_reminders

        with self._tracked():
            async with self.sessions() as session, session.begin():
                now = self.clock()
                queued = await open_and_close(session, now)
                queued += await queue_reminders(session, now)
        if queued:
            self.wake()
        return queued

    async def retention(self) -> int:
        """Remove the text of messages delivered longer ago than the retention period."""
        scrubbed = 0
        with self._tracked():
            while True:
                async with self.sessions() as session, session.begin():
                    deleted, emptied, more = await scrub_delivered(
                        session, self.clock(), self.outbox_retention
                    )
                scrubbed += deleted + emptied
                if not more:
                    break
                await asyncio.sleep(self.pause)
            async with self.sessions() as session, session.begin():
                # Records of handled platform events, kept to drop redelivered ones.
                await forget_handled(session, self.clock() - HANDLED_EVENTS_KEEP)
        if scrubbed:
            log.info("outbox retention: %d delivered messages scrubbed", scrubbed)
        return scrubbed


# APScheduler stores jobs by reference to module-level functions; the running scheduler's
# AlertJobs reaches them through this context variable (set by its executor, per job).
_jobs: ContextVar[AlertJobs] = ContextVar("innobot_alert_jobs")


async def announce_challenges() -> None:
    await _jobs.get().announce()


async def make_digests() -> None:
    await _jobs.get().digests()


async def remind_deadlines() -> None:
    await _jobs.get().deadlines()


async def follow_up_introductions() -> None:
    await _jobs.get().followups()


async def run_engagement() -> None:
    await _jobs.get().engagement()


async def run_retention() -> None:
    await _jobs.get().retention()


@dataclass(frozen=True)
class JobSpec:
    id: str
    func: Callable[[], Awaitable[None]]
    every: float  # seconds


JOBS: tuple[JobSpec, ...] = (
    JobSpec("alerts:announce", announce_challenges, 10.0),
    JobSpec("alerts:digests", make_digests, 60.0),
    JobSpec("alerts:deadlines", remind_deadlines, 3600.0),
    JobSpec("alerts:followups", follow_up_introductions, 6 * 3600.0),
    JobSpec("engagement:consultations-and-reminders", run_engagement, 60.0),
    JobSpec("outbox:retention", run_retention, 3600.0),
)


class _JobsExecutor(AsyncIOExecutor):  # type: ignore[misc]
    """Runs coroutine jobs in the loop with innobot's :class:`AlertJobs` in their context."""

    def __init__(self, jobs: AlertJobs) -> None:
        super().__init__()
        self._alert_jobs = jobs

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        token = _jobs.set(self._alert_jobs)  # the task created below copies this context
        try:
            super()._do_submit_job(job, run_times)
        finally:
            _jobs.reset(token)


# --- the job store ---------------------------------------------------------------------------


class DatabaseJobStore(MemoryJobStore):  # type: ignore[misc]
    """APScheduler's jobs, kept in innobot's ``scheduler_job`` table.

    APScheduler calls its job store synchronously from inside the event loop. A synchronous
    database driver there would stall the bot (and, on SQLite, wait for the write lock that an
    async transaction in the same loop holds: a deadlock until the busy timeout). So the jobs
    are served from memory, loaded from the table at start, and every change is written through
    to the table by a task of their own, in order. The pickled state is APScheduler's own, as
    its SQLAlchemy job store keeps it.
    """

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        super().__init__()
        self._sessions = sessions
        self._loaded: list[tuple[str, bytes]] = []
        self._writes: asyncio.Queue[tuple[str, float | None, bytes | None]] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    async def load(self) -> None:
        """Read the stored jobs (before the scheduler starts)."""
        async with self._sessions() as session:
            rows = await session.execute(select(SchedulerJob.id, SchedulerJob.job_state))
            self._loaded = [(str(job_id), bytes(state)) for job_id, state in rows]

    def start(self, scheduler: Any, alias: str) -> None:
        super().start(scheduler, alias)
        for job_id, state in self._loaded:
            try:
                MemoryJobStore.add_job(self, self._reconstitute(state))
            except Exception:
                log.exception("scheduler: cannot restore job %s; removing it", job_id)
                self._writes.put_nowait((job_id, None, None))
        self._loaded = []
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_all(), name="scheduler-job-store"
            )

    def _reconstitute(self, blob: bytes) -> Job:
        state = pickle.loads(blob)  # innobot's own table: written by this class only
        state["jobstore"] = self
        job = Job.__new__(Job)
        job.__setstate__(state)
        job._scheduler = self._scheduler
        job._jobstore_alias = self._alias
        return job

    def _save(self, job: Job) -> None:
        state = pickle.dumps(job.__getstate__(), pickle.HIGHEST_PROTOCOL)
        self._writes.put_nowait((job.id, datetime_to_utc_timestamp(job.next_run_time), state))

    def add_job(self, job: Job) -> None:
        super().add_job(job)
        self._save(job)

    def update_job(self, job: Job) -> None:
        super().update_job(job)
        self._save(job)

    def remove_job(self, job_id: str) -> None:
        super().remove_job(job_id)
        self._writes.put_nowait((job_id, None, None))

    def remove_all_jobs(self) -> None:
        for job in self.get_all_jobs():
            self._writes.put_nowait((job.id, None, None))
        super().remove_all_jobs()

    def shutdown(self) -> None:
        # Forget the jobs in memory only: they stay in the table for the next start.
        MemoryJobStore.remove_all_jobs(self)

    async def _write_all(self) -> None:
        while True:
            job_id, next_run_time, state = await self._writes.get()
            while True:
                try:
                    await self._write(job_id, next_run_time, state)
                    break
                except SQLAlchemyError as exc:
                    log.warning("scheduler: could not store job %s (%s); retrying", job_id, exc)
                    await asyncio.sleep(WRITE_RETRY)
            self._writes.task_done()

    async def _write(self, job_id: str, next_run_time: float | None, state: bytes | None) -> None:
        async with self._sessions() as session, session.begin():
            if state is None:
                await session.execute(delete(SchedulerJob).where(SchedulerJob.id == job_id))
                return
            row = await session.get(SchedulerJob, job_id)
            if row is None:
                session.add(SchedulerJob(id=job_id, next_run_time=next_run_time, job_state=state))
            else:
                row.next_run_time = next_run_time
                row.job_state = state

    async def close(self) -> None:
        """Write what is still pending, then stop writing."""
        if self._writer is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._writes.join(), STOP_GRACE)
        self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer
        self._writer = None


# --- leadership ------------------------------------------------------------------------------


class AlertScheduler:
    """Runs :data:`JOBS` in this process while it is the leader.

    With SQLite the process is always the leader (SQLite serves one process). With PostgreSQL it
    becomes the leader when it gets the advisory lock, checks every ``leader_check`` seconds that
    it still holds it, and steps down if its connection was lost.
    """

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jobs: AlertJobs,
        *,
        engine: AsyncEngine | None = None,
        specs: Sequence[JobSpec] = JOBS,
        leader_check: float = 15.0,
    ) -> None:
        self._sessions = sessions
        self.jobs = jobs
        self._engine = engine  # PostgreSQL: leader election; None: always the leader
        self._specs = tuple(specs)
        self._leader_check = leader_check
        self._lock: ProcessLock | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._store: DatabaseJobStore | None = None
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()
        self.leading = asyncio.Event()  # set while this process leads
        self.stepped_down = asyncio.Event()  # set when it stopped leading

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    @property
    def scheduler(self) -> AsyncIOScheduler | None:
        return self._scheduler

    async def start(self) -> None:
        """Lead now if possible; otherwise keep trying in the background."""
        self._stop.clear()
        await self._elect()
        self._task = asyncio.create_task(self._watch(), name="scheduler-leadership")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self._step_down()

    async def _watch(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self._leader_check)
            if self._stop.is_set():
                return
            try:
                if self.is_leader:
                    if self._lock is not None and not await self._lock.alive():
                        log.warning("scheduler: lost the leader lock; stepping down")
                        await self._step_down()
                else:
                    await self._elect()
            except SQLAlchemyError as exc:
                log.warning("scheduler: leader election failed (%s); trying again later", exc)
            except OSError as exc:
                log.warning("scheduler: database unreachable (%s); trying again later", exc)

    async def _elect(self) -> None:
        if self._engine is not None:
            self._lock = self._lock or ProcessLock(self._engine, LEADER_NAMESPACE, LEADER_KEY)
            if not await self._lock.try_acquire():
                return
        await self._lead()

    async def _lead(self) -> None:
        store_ = DatabaseJobStore(self._sessions)
        await store_.load()
        scheduler = AsyncIOScheduler(
            jobstores={"default": store_},
            executors={"default": _JobsExecutor(self.jobs)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=UTC,
        )
        scheduler.start()
        now = datetime.now(UTC)
        for job in scheduler.get_jobs():
            if job.id not in {spec.id for spec in self._specs}:
                scheduler.remove_job(job.id)  # a job this version of innobot no longer has
        for spec in self._specs:
            trigger = IntervalTrigger(seconds=spec.every, timezone=UTC)
            job = scheduler.get_job(spec.id)
            if job is None:
                scheduler.add_job(spec.func, trigger, id=spec.id, next_run_time=now)
            elif getattr(job.trigger, "interval_length", None) != spec.every:
                scheduler.reschedule_job(spec.id, trigger=trigger)
        self._scheduler, self._store = scheduler, store_
        self.stepped_down.clear()
        self.leading.set()
        log.info("scheduler: this process is the leader; %d jobs", len(self._specs))

    async def _step_down(self) -> None:
        scheduler, self._scheduler = self._scheduler, None
        store_, self._store = self._store, None
        self.leading.clear()
        if scheduler is not None:
            scheduler.pause()  # no new runs; the running ones may finish
            running = [task for task in self.jobs.running if not task.done()]
            if running:
                await asyncio.wait(running, timeout=STOP_GRACE)
            scheduler.shutdown(wait=False)
        if store_ is not None:
            await store_.close()
        if self._lock is not None:
            await self._lock.release()
        if scheduler is not None:
            self.stepped_down.set()


def build_scheduler(
    sessions: async_sessionmaker[AsyncSession],
    engine: AsyncEngine,
    wake: Callable[[], None],
    *,
    shared_database: bool,
    outbox_retention: timedelta = timedelta(days=30),
) -> AlertScheduler:
    """The scheduler of an innobot process (``shared_database``: PostgreSQL, elect a leader)."""
    jobs = AlertJobs(sessions, wake=wake, outbox_retention=outbox_retention)
    return AlertScheduler(sessions, jobs, engine=engine if shared_database else None)
