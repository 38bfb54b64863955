"""innobot in a process of its own, for the kill-and-restart tests.

``python -m tests.alerts.bot_process`` reads its settings from the environment (``INNOBOT_*``),
as ``innobot run`` does. Test knobs:

- ``INNOBOT_TEST_PACING=per_chat_rate,per_chat_burst,overall_rate``: Telegram's pace, scaled;
- ``INNOBOT_TEST_FANOUT_BATCH=N``: subscriptions per fan-out transaction;
- ``INNOBOT_TEST_DIE_AT_BATCH=K``: the process kills itself (SIGKILL) as fan-out batch K starts,
  batches 1..K-1 being committed — a kill in the middle of a fan-out, at a known point.

It prints ``ready`` once started, ``sent N`` each time deliveries are committed (N in all), and
stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.adapters.base import Pacing
from bot.app import build_app
from bot.outbox import DeliveryWorker
from bot.scheduler import JOBS, AlertJobs, AlertScheduler, JobSpec
from bot.settings import Settings
from handlers.intents import KeywordAnalyzer
from storage import alerts as store
from storage.db import is_sqlite


def _die_at_batch(batch: int) -> None:
    original: Callable[..., Awaitable[int | None]] = store.fan_out_next
    calls = 0

    async def fan_out_next(session: AsyncSession, now: datetime, *args: Any) -> int | None:
        nonlocal calls
        calls += 1
        if calls == batch:
            os.kill(os.getpid(), signal.SIGKILL)
        return await original(session, now, *args)

    store.fan_out_next = fan_out_next  # type: ignore[assignment]


def _report_deliveries(worker: DeliveryWorker) -> None:
    """Print the number of deliveries committed, after each commit (the group commit's work)."""
    marks = worker._marks
    original = marks._work
    total = 0

    async def mark_all(ids: Sequence[int]) -> list[None]:
        nonlocal total
        result = await original(ids)
        total += len(ids)
        print(f"sent {total}", flush=True)
        return result

    marks._work = mark_all


async def main() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
    assert app.telegram is not None
    pacing = os.environ.get("INNOBOT_TEST_PACING")
    if pacing:
        rate, burst, overall = pacing.split(",")
        app.telegram.pacing = Pacing(float(rate), int(burst), float(overall))
    jobs = AlertJobs(
        app.sessions,
        wake=app.worker.wake,
        fanout_batch=int(os.environ.get("INNOBOT_TEST_FANOUT_BATCH", store.FANOUT_BATCH)),
    )
    # The announcing job every half second, so that a restarted process resumes at once.
    specs = [JobSpec(s.id, s.func, 0.5 if s.id == "alerts:announce" else s.every) for s in JOBS]
    url = settings.resolved_database_url()
    app.scheduler = AlertScheduler(
        app.sessions, jobs, engine=None if is_sqlite(url) else app.engine, specs=specs
    )
    _report_deliveries(app.worker)
    if "INNOBOT_TEST_DIE_AT_BATCH" in os.environ:
        _die_at_batch(int(os.environ["INNOBOT_TEST_DIE_AT_BATCH"]))

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await app.start()
    print("ready", flush=True)
    await stop.wait()
    await app.stop()


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    asyncio.run(main())
