"""Soak: innobot processes on one PostgreSQL database under steady webhook load, one of them
restarted (SIGTERM, as systemd does) again and again; nothing may be lost or said twice.

Participants take ideas to submission without pause (every other time pressing "confirm" twice
at once, so that two processes get the same button together) at about ``--rate`` updates per
second, for ``--minutes``; every ``--restart-every`` seconds the next process in turn is stopped
and started again. At the end every process is stopped and the run is checked: each participant
got exactly the replies of the journeys they made, each idea was stored once, the outbox is
empty, every stop took less than 10 seconds. The pytest version (about 30 s) is
``tests/ops/test_scale_out.py``. Bounded: at most ``--minutes`` of load plus the draining.

    .venv/bin/python benchmarks/soak_restarts.py [--minutes 3] [--processes 2] [--rate 40]
        [--restart-every 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.load_webhook import postgres  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.ops.cluster import (  # noqa: E402
    REPLIES_PER_JOURNEY,
    STOP_LIMIT,
    UPDATES_PER_JOURNEY,
    ClusterBotAPI,
    InnobotProcess,
    JourneyLog,
    Participant,
    add_participants,
    idea_journey,
    participants,
    store_report,
)


async def soak(url: str, args: argparse.Namespace, tmp: Path) -> bool:
    await upgrade(url)
    # Enough people for the rate: each keeps one journey going (about 1 s each when idle).
    people = participants(max(10, int(args.rate)), first_id=2_000_000)
    await add_participants(url, people)
    log = JourneyLog()
    failures: list[str] = []
    deadline = time.monotonic() + args.minutes * 60
    restarts = 0
    async with ClusterBotAPI() as fake:
        processes = [
            InnobotProcess(f"innobot-{n}", url, fake, tmp / f"innobot-{n}")
            for n in range(args.processes)
        ]

        async def take_part(person: Participant) -> None:
            pace = len(people) * UPDATES_PER_JOURNEY / args.rate  # seconds per journey
            while time.monotonic() < deadline:
                started = time.monotonic()
                try:
                    double = person.journeys % 2 == 1
                    await idea_journey(fake, person, log, double_confirm=double, timeout=120)
                except AssertionError as error:
                    failures.append(f"{person.user_id}: {error}")
                    return
                await asyncio.sleep(max(0.0, pace - (time.monotonic() - started)))

        async def restart_in_turn() -> None:
            nonlocal restarts
            while time.monotonic() + args.restart_every < deadline:
                await asyncio.sleep(args.restart_every)
                process = processes[restarts % len(processes)]
                await process.stop()
                await process.start()
                restarts += 1

        try:
            await asyncio.gather(*(process.start() for process in processes))
            fake.upstreams = [process.url for process in processes]
            started = time.monotonic()
            await asyncio.gather(restart_in_turn(), *(take_part(p) for p in people))
            await fake.drain()
            elapsed = time.monotonic() - started
        finally:
            for process in processes:
                if process.alive:
                    await process.stop()
    report = await store_report(url)

    # Six replies a journey, and a stale-button notice for every double press.
    expected_replies = sum(p.expected for p in people)
    assert expected_replies >= sum(p.journeys for p in people) * REPLIES_PER_JOURNEY
    received = sum(len(fake.sent(p.user_id)) for p in people)
    lost = duplicated = 0
    for person in people:
        got, want = len(fake.sent(person.user_id)), person.expected
        lost += max(0, want - got)
        duplicated += max(0, got - want)
    wrong_ideas = sum(report.ideas_per_person.get(str(p.user_id), 0) != p.journeys for p in people)
    stops = [seconds for process in processes for _, seconds in process.exits]
    codes = {code for process in processes for code, _ in process.exits}
    latencies = sorted(log.latencies)
    print(f"load: {elapsed:.0f} s, {args.processes} processes, {restarts} restarts")
    print(f"updates: {log.updates} ({log.updates / elapsed:.1f}/s), journeys: {log.journeys}")
    if latencies:
        p99 = statistics.quantiles(latencies, n=100)[98] if len(latencies) > 1 else latencies[0]
        print(
            f"latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
            f"p99 {p99 * 1000:.0f} ms, max {latencies[-1] * 1000:.0f} ms"
        )
    print(
        f"webhook retries: {fake.refused} refused (503 while stopping or starting), "
        f"{fake.unreachable} unreachable (restarting); {len(fake.undelivered)} never delivered"
    )
    print(f"stops: {len(stops)}, longest {max(stops):.2f} s, exit codes {sorted(codes)}")
    print(
        f"replies: {received} of {expected_replies} expected; lost {lost}, duplicated {duplicated}"
    )
    print(
        f"ideas stored: {report.ideas} (wrong for {wrong_ideas} participants); outbox: "
        f"{report.telegram_pending} pending, {report.telegram_failed} failed"
    )
    for failure in failures[:5]:
        print("FAILED", failure)
    return (
        not failures
        and lost == duplicated == wrong_ideas == 0
        and received == expected_replies
        and not fake.undelivered
        and codes == {0}
        and max(stops) < STOP_LIMIT
        and report.telegram_pending == report.telegram_failed == 0
    )


async def main_async(args: argparse.Namespace) -> bool:
    database, cleanup = await asyncio.to_thread(postgres)
    try:
        url = await asyncio.to_thread(database, "soak")
        with tempfile.TemporaryDirectory(prefix="innobot-soak-") as tmp:
            return await soak(url, args, Path(tmp))
    finally:
        await asyncio.to_thread(cleanup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=3.0)
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--rate", type=float, default=40.0, help="updates per second, about")
    parser.add_argument("--restart-every", type=float, default=20.0, help="seconds")
    args = parser.parse_args()
    if args.minutes > 60:
        raise SystemExit("a soak run is bounded: at most 60 minutes")
    logging.basicConfig(level=logging.ERROR)
    print(
        f"soak with restarts, PostgreSQL, {os.cpu_count()} cores, Python {sys.version.split()[0]}"
    )
    ok = asyncio.run(main_async(args))
    print("OK: nothing lost, nothing twice" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
