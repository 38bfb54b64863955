"""Telegram throughput: many users' updates through the Bot API double into innobot and back.

Each simulated user goes through onboarding (/start, language, consent, role: 4 updates, 6
replies), waiting for innobot's answer before the next step, all users at once. The whole
application runs as in production (python-telegram-bot polling over HTTP, dispatcher, router,
store, outbox); the Bot API double and the users run in a second process, so their cost is not
counted against innobot. Latency is measured in that process: update injected → the update's
last reply received by the double.

    .venv/bin/python benchmarks/telegram_throughput.py [--users 200] [--backend sqlite]
        [--telegram-limits]

``--telegram-limits`` keeps Telegram's flood limits (about 1 message/s per chat, 30/s overall) in
the double and innobot's matching pacing; without it both are lifted, to measure innobot itself.
PostgreSQL is a throwaway cluster started like the test suite's (or INNOBOT_TEST_POSTGRES_URL);
it runs with fsync off, so its figures are an upper bound for a durable server.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import resource
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.adapters.base import Pacing  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.i18n import LANGUAGE_NAMES, t  # noqa: E402
from handlers.intents import KeywordAnalyzer  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI, FloodLimits  # noqa: E402

UPDATES_PER_USER = 4
LIFTED_PACING = Pacing(per_chat_rate=1000.0, per_chat_burst=1000, overall_rate=100_000.0)


# --- the users' side: runs in its own process ---------------------------------------------------


def drive_users(conn: Connection, users: int, telegram_limits: bool) -> None:
    asyncio.run(_drive(conn, users, telegram_limits))


async def _receive(conn: Connection) -> Any:
    return await asyncio.to_thread(conn.recv)


async def _drive(conn: Connection, users: int, telegram_limits: bool) -> None:
    limits = FloodLimits() if telegram_limits else None
    async with FakeBotAPI(limits=limits) as fake:
        conn.send((fake.token, fake.base_url, fake.base_file_url))
        await _receive(conn)  # innobot is up
        latencies: list[float] = []
        started = time.monotonic()
        await asyncio.gather(*(_onboard(fake, 10_000 + n, latencies) for n in range(users)))
        elapsed = time.monotonic() - started
        replies = sum(len(fake.sent(10_000 + n)) for n in range(users))
        throttled = sum(1 for call in fake.calls if call.status == 429)
        conn.send({"elapsed": elapsed, "latencies": latencies, "replies": replies,
                   "throttled": throttled})  # fmt: skip
        await _receive(conn)  # innobot has stopped: the double may go


async def _onboard(fake: FakeBotAPI, user_id: int, latencies: list[float]) -> None:
    lang = ("en", "it", "sv")[user_id % 3]
    seen = 0

    async def step(inject: Callable[[], object], replies: int) -> None:
        nonlocal seen
        injected = time.monotonic()
        inject()
        messages = await fake.wait_for_messages(user_id, seen + replies, timeout=600)
        latencies.append(messages[seen + replies - 1].at - injected)
        seen += replies

    await step(lambda: fake.send_text(user_id, "/start", language_code=lang), 2)
    await step(lambda: fake.press_button_labelled(user_id, LANGUAGE_NAMES[lang]), 1)
    await step(lambda: fake.press_button_labelled(user_id, t(lang, "onboarding.agree")), 2)
    await step(lambda: fake.press_button_labelled(user_id, t(lang, "roles.citizen")), 1)


# --- innobot's side -----------------------------------------------------------------------------


async def run_once(
    database_url: str, data_dir: Path, users: int, telegram_limits: bool
) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    driver = spawn.Process(target=drive_users, args=(child_conn, users, telegram_limits))
    driver.start()
    try:
        token, base_url, file_url = await _receive(conn)
        await upgrade(database_url)
        settings = Settings(
            _env_file=None,
            data_dir=data_dir,
            database_url=database_url,
            telegram_token=SecretStr(token),
            telegram_api_url=base_url,
            telegram_file_url=file_url,
            flood_burst=1000,  # simulated users answer faster than people type
        )
        app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
        if app.telegram is not None and not telegram_limits:
            app.telegram.pacing = LIFTED_PACING
        await app.start()
        try:
            cpu_before = _cpu_seconds()
            conn.send("go")
            result: dict[str, Any] = await _receive(conn)
            result["cpu"] = _cpu_seconds() - cpu_before
        finally:
            await app.stop()
        conn.send("stop")
    finally:
        await asyncio.to_thread(driver.join, 30)
        if driver.is_alive():
            driver.terminate()
    return result


def _cpu_seconds() -> float:
    """CPU time of innobot's process so far (all its threads: the SQLite driver runs in one)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def report(backend: str, users: int, result: dict[str, Any]) -> None:
    latencies = sorted(result["latencies"])
    updates = len(latencies)
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    print(
        f"{backend:<11} {users:>6} {updates:>8} {result['replies']:>8} "
        f"{result['elapsed']:>8.2f} {updates / result['elapsed']:>10.1f} "
        f"{statistics.median(latencies) * 1000:>8.1f} {cuts[98] * 1000:>8.1f} "
        f"{latencies[-1] * 1000:>8.1f} {result['cpu'] / result['elapsed'] * 100:>6.0f}% "
        f"{result['cpu'] / updates * 1000:>7.1f} {result['throttled']:>6}",
        flush=True,
    )


def postgres_url() -> tuple[str, Callable[[], None]]:
    """A fresh database on a throwaway cluster (the test suite's helper) or on the given server."""
    from tests.conftest import (
        POSTGRES_URL_ENV,
        PostgresServer,
        _LocalCluster,
        _postgres_bin_dir,
    )

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
    name = f"bench_{secrets.token_hex(4)}"
    server.create_database(name)

    def cleanup() -> None:
        server.drop_database(name)
        if cluster is not None:
            cluster.stop()

    return server.database_url(name), cleanup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--telegram-limits", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    pacing = "Telegram's flood limits" if args.telegram_limits else "flood limits lifted"
    print(f"{args.users} users x {UPDATES_PER_USER} updates, {pacing}, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}")  # fmt: skip
    print(f"{'backend':<11} {'users':>6} {'updates':>8} {'replies':>8} {'seconds':>8} "
          f"{'updates/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'CPU':>7} "
          f"{'CPU ms/u':>8} {'429s':>6}")  # fmt: skip
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="innobot-bench-") as tmp:
            if backend == "sqlite":
                url, cleanup = f"sqlite+aiosqlite:///{tmp}/innobot.db", None
            else:
                url, cleanup = postgres_url()
            try:
                result = asyncio.run(run_once(url, Path(tmp), args.users, args.telegram_limits))
            finally:
                if cleanup is not None:
                    cleanup()
        report(backend, args.users, result)


if __name__ == "__main__":
    main()
