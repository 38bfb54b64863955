"""Load: Telegram webhook updates at increasing rates into 1, 2 and 4 innobot processes sharing
one PostgreSQL database.

Consented participants tell innobot an idea in free text and take it to submission: five
updates each (classified, stored, answered), waiting for innobot's replies before the next step,
as people do. This process plays Telegram: it runs the Bot API double, injects the updates and
POSTs each to the innobot processes in turn (up to 40 at once, a refused or unreachable process
skipped, as a reverse proxy's upstream does); it receives the replies. The innobot processes are
real ``innobot run`` processes (``tests/ops/serve.py``: keyword analyzer, Telegram's flood limits
lifted since the double has none).

For each process count and each offered rate, journeys start at ``rate / 5`` per second for
``--seconds``; the table shows the sustained rate (updates answered / time until the last answer),
p50 and p99 latency (update injected → its last reply received by the double), and, counted
after every process has stopped, replies lost (expected but never sent) and duplicated (sent
more than once), journeys that failed (an unexpected answer or none within 180 s), ideas not
stored exactly once, and the CPU time innobot's processes spent per update. PostgreSQL is a
throwaway cluster (fsync off, like the test suite's), so figures are an upper bound for a
durable server; everything (the generator, PostgreSQL, innobot) shares this machine's cores.

    .venv/bin/python benchmarks/load_webhook.py [--processes 1 2 4] [--rates 25 50 100 200]
        [--seconds 15]
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from storage.migrate import upgrade  # noqa: E402
from tests.ops.cluster import (  # noqa: E402
    REPLIES_PER_JOURNEY,
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


@dataclass
class Step:
    processes: int
    offered: float
    log: JourneyLog
    elapsed: float
    people: list[Participant]
    cpu: float = 0.0  # seconds of CPU the innobot processes used
    failed: int = 0
    lost: int = 0
    duplicated: int = 0
    ideas_wrong: int = 0


def postgres() -> tuple[Callable[[str], str], Callable[[], None]]:
    """A throwaway PostgreSQL cluster (or INNOBOT_TEST_POSTGRES_URL's server): database maker."""
    from sqlalchemy.engine import make_url

    from tests.conftest import POSTGRES_URL_ENV, PostgresServer, _LocalCluster, _postgres_bin_dir

    configured = os.environ.get(POSTGRES_URL_ENV)
    cluster = None
    if configured:
        server = PostgresServer(make_url(configured))
    else:
        bin_dir = _postgres_bin_dir()
        if bin_dir is None:
            raise SystemExit("PostgreSQL binaries not found; set " + POSTGRES_URL_ENV)
        cluster = _LocalCluster(bin_dir)
        server = PostgresServer(cluster.start())
    made: list[str] = []

    def database(name: str) -> str:
        server.create_database(name)
        made.append(name)
        return server.database_url(name)

    def cleanup() -> None:
        for name in made:
            server.drop_database(name)
        if cluster is not None:
            cluster.stop()

    return database, cleanup


async def run_step(
    fake: ClusterBotAPI, people: list[Participant], rate: float, seconds: float
) -> tuple[JourneyLog, float, int]:
    """Start one journey every ``5 / rate`` seconds for ``seconds``; wait for all to end."""
    log = JourneyLog()
    interval = UPDATES_PER_JOURNEY / rate
    started = time.monotonic()
    tasks = []
    for n, person in enumerate(people):
        due = started + n * interval
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        tasks.append(asyncio.create_task(idea_journey(fake, person, log, timeout=180)))
    results = await asyncio.gather(*tasks, return_exceptions=True)
    elapsed = time.monotonic() - started
    failed = sum(1 for result in results if isinstance(result, BaseException))
    return log, elapsed, failed


async def run_processes(
    database_url: str, count: int, rates: list[float], seconds: float, tmp: Path
) -> list[Step]:
    await upgrade(database_url)
    sizes = [max(1, round(rate * seconds / UPDATES_PER_JOURNEY)) for rate in rates]
    everyone = participants(sum(sizes) + 20, first_id=1_000_000)
    await add_participants(database_url, everyone)
    steps: list[Step] = []
    async with ClusterBotAPI() as fake:
        processes = [
            InnobotProcess(f"innobot-{n}", database_url, fake, tmp / f"p{count}-{n}")
            for n in range(count)
        ]
        try:
            await asyncio.gather(*(process.start() for process in processes))
            fake.upstreams = [process.url for process in processes]
            await run_step(fake, everyone[:20], 40, 1)  # warm up: connections, caches
            offset = 20
            for rate, size in zip(rates, sizes, strict=True):
                people = everyone[offset : offset + size]
                offset += size
                before = sum(process.cpu_seconds() for process in processes)
                log, elapsed, failed = await run_step(fake, people, rate, seconds)
                cpu = sum(process.cpu_seconds() for process in processes) - before
                steps.append(Step(count, rate, log, elapsed, people, cpu, failed))
            await fake.drain()
        finally:
            for process in processes:
                if process.alive:
                    await process.stop()
        report = await store_report(database_url)
        for step in steps:
            for person in step.people:
                got = len(fake.sent(person.user_id))
                want = REPLIES_PER_JOURNEY  # one journey each
                step.lost += max(0, want - got)
                step.duplicated += max(0, got - want)
                step.ideas_wrong += report.ideas_per_person.get(str(person.user_id), 0) != 1
    return steps


def show(step: Step) -> None:
    latencies = sorted(step.log.latencies)
    updates = len(latencies)
    p50 = statistics.median(latencies) * 1000 if latencies else float("nan")
    p99 = statistics.quantiles(latencies, n=100)[98] * 1000 if updates > 1 else float("nan")
    print(
        f"{step.processes:>9} {step.offered:>9.0f} {updates / step.elapsed:>11.1f} "
        f"{p50:>8.1f} {p99:>8.1f} {updates:>8} {step.failed:>7} {step.lost:>5} "
        f"{step.duplicated:>10} {step.ideas_wrong:>11} {step.cpu / max(1, updates) * 1000:>9.1f}",
        flush=True,
    )


async def main_async(args: argparse.Namespace) -> None:
    database, cleanup = await asyncio.to_thread(postgres)
    try:
        with tempfile.TemporaryDirectory(prefix="innobot-load-") as tmp:
            for count in args.processes:
                url = await asyncio.to_thread(database, f"load_{count}p")
                before = os.getloadavg()[0]
                steps = await run_processes(url, count, args.rates, args.seconds, Path(tmp))
                for step in steps:
                    show(step)
                # Other work on the machine takes cores from the figures above: say how much.
                print(f"  (load average {before:.1f} before, {os.getloadavg()[0]:.1f} after)")
    finally:
        await asyncio.to_thread(cleanup)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--rates", type=float, nargs="+", default=[25, 50, 100, 200])
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(
        f"webhook load: idea journeys ({UPDATES_PER_JOURNEY} updates, {REPLIES_PER_JOURNEY} "
        f"replies each), {args.seconds:g} s per rate, PostgreSQL, {os.cpu_count()} cores, "
        f"Python {sys.version.split()[0]}"
    )
    print(
        f"{'processes':>9} {'offered/s':>9} {'sustained/s':>11} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'updates':>8} {'failed':>7} {'lost':>5} {'duplicated':>10} {'ideas wrong':>11} "
        f"{'CPU ms/u':>9}",
        flush=True,
    )
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
