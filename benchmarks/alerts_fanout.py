"""Alert fan-out: N instant alerts through the Bot API double at Telegram's flood limits.

innobot runs as in production (scheduler, outbox, python-telegram-bot over HTTP); the Bot API
double and the people run in a second process, so their cost is not counted against innobot.
A challenge is approved with N instant subscribers; meanwhile a few people keep chatting with
the bot (one message a second each, Telegram's per-chat limit), and the time from each of their
messages to innobot's answer is measured in the double's process.

Printed: the achieved sending rate as a fraction of the allowed overall rate (every message the
double accepted during the fan-out, alerts and answers, per second of the fan-out), the number
of 429 answers, and the chatting people's reply latency (p50, p99, max).

    .venv/bin/python benchmarks/alerts_fanout.py [--alerts 900] [--backend sqlite]
        [--scale 1] [--chatters 3]

``--scale S`` multiplies Telegram's limits (30 messages/s overall, 1/s per chat) in the double
and innobot's pacing alike; the default 1 is Telegram's own. PostgreSQL is a throwaway cluster
started like the test suite's (or INNOBOT_TEST_POSTGRES_URL), running with fsync off.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from benchmarks.telegram_throughput import postgres_url  # noqa: E402
from bot.adapters.base import Pacing  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.intents import KeywordAnalyzer  # noqa: E402
from storage.db import create_engine, session_factory  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.alerts.helpers import add_challenge, add_subscribers  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI, FloodLimits  # noqa: E402

FIRST_SUBSCRIBER = 100_000
FIRST_CHATTER = 900_000
TELEGRAM_OVERALL = 30.0
TELEGRAM_PER_CHAT = 1.0


def limits(scale: float) -> FloodLimits:
    return FloodLimits(
        per_chat_rate=TELEGRAM_PER_CHAT * scale,
        per_chat_burst=3,
        overall_rate=TELEGRAM_OVERALL * scale,
        overall_burst=int(TELEGRAM_OVERALL * scale),
    )


# --- the people's side: runs in its own process -------------------------------------------------


def drive(conn: Connection, alerts: int, chatters: int, scale: float) -> None:
    asyncio.run(_drive(conn, alerts, chatters, scale))


async def _receive(conn: Connection) -> Any:
    return await asyncio.to_thread(conn.recv)


async def _drive(conn: Connection, alerts: int, chatters: int, scale: float) -> None:
    async with FakeBotAPI(limits=limits(scale)) as fake:
        subscribers = range(FIRST_SUBSCRIBER, FIRST_SUBSCRIBER + alerts)
        for user in subscribers:
            fake.add_user(user)
        conn.send((fake.token, fake.base_url, fake.base_file_url))
        await _receive(conn)  # innobot is up and the challenge is about to be announced
        done = asyncio.Event()
        latencies: list[float] = []
        talk = [
            asyncio.create_task(_chat(fake, FIRST_CHATTER + n, n / chatters, done, latencies))
            for n in range(chatters)
        ]
        for user in subscribers:
            await fake.wait_for_messages(user, 1, timeout=3600)
        done.set()
        await asyncio.gather(*talk)
        alert_times = sorted(fake.sent(user)[0].at for user in subscribers)
        start, end = alert_times[0], alert_times[-1]
        accepted = sorted(
            m.at for m in fake.all_sent() if start <= m.at <= end
        )  # alerts and answers alike
        conn.send(
            {
                "window": end - start,
                "accepted": len(accepted),
                "alerts": len(alert_times),
                "duplicates": sum(len(fake.sent(u)) - 1 for u in subscribers),
                "throttled": sum(1 for call in fake.calls if call.status == 429),
                "latencies": latencies,
            }
        )
        await _receive(conn)  # innobot has stopped: the double may go


async def _chat(
    fake: FakeBotAPI, user: int, offset: float, done: asyncio.Event, latencies: list[float]
) -> None:
    """Someone chatting with innobot during the fan-out: a message a second, until it ends."""
    await asyncio.sleep(offset)  # spread the chatters over the second
    seen = 0
    while not done.is_set():
        sent = time.monotonic()
        fake.send_text(user, "/help")
        messages = await fake.wait_for_messages(user, seen + 1, timeout=600)
        seen = len(messages)
        latencies.append(messages[-1].at - sent)
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - sent)))


# --- innobot's side -----------------------------------------------------------------------------


async def run_once(
    url: str, data_dir: Path, alerts: int, chatters: int, scale: float
) -> dict[str, Any]:
    spawn = multiprocessing.get_context("spawn")
    conn, child_conn = spawn.Pipe()
    driver = spawn.Process(target=drive, args=(child_conn, alerts, chatters, scale))
    driver.start()
    try:
        token, base_url, file_url = await _receive(conn)
        await upgrade(url)
        engine = create_engine(url)
        sessions = session_factory(engine)
        await add_subscribers(sessions, FIRST_SUBSCRIBER, alerts)
        await engine.dispose()
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=data_dir,
            database_url=url,
            telegram_token=SecretStr(token),
            telegram_api_url=base_url,
            telegram_file_url=file_url,
        )
        app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
        assert app.telegram is not None
        assert app.scheduler is not None
        app.telegram.pacing = Pacing(TELEGRAM_PER_CHAT * scale, 3, TELEGRAM_OVERALL * scale)
        await app.start()
        try:
            conn.send("go")
            async with app.sessions() as session, session.begin():
                await add_challenge(session, announce=True)  # approved: to be announced
            fan_out = time.monotonic()
            await app.scheduler.jobs.announce()
            fan_out = time.monotonic() - fan_out
            result: dict[str, Any] = await _receive(conn)
            result["fan_out"] = fan_out
        finally:
            await app.stop()
        conn.send("stop")
    finally:
        await asyncio.to_thread(driver.join, 30)
        if driver.is_alive():
            driver.terminate()
    return result


def report(backend: str, scale: float, result: dict[str, Any]) -> None:
    allowed = TELEGRAM_OVERALL * scale
    achieved = (result["accepted"] - 1) / result["window"]
    latencies = sorted(result["latencies"])
    p99 = statistics.quantiles(latencies, n=100, method="inclusive")[98]
    print(
        f"{backend:<11} {result['alerts']:>7} {result['window']:>9.1f} {allowed:>8.0f} "
        f"{achieved:>9.2f} {achieved / allowed:>9.3f} {result['throttled']:>6} "
        f"{result['duplicates']:>5} {len(latencies):>8} "
        f"{statistics.median(latencies) * 1000:>8.0f} {p99 * 1000:>8.0f} "
        f"{latencies[-1] * 1000:>8.0f} {result['fan_out']:>9.2f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--alerts", type=int, default=900)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--chatters", type=int, default=3)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    print(
        f"{args.alerts} instant alerts, {args.chatters} people chatting meanwhile; limits: "
        f"Telegram's x{args.scale:g} ({TELEGRAM_OVERALL * args.scale:g}/s overall, "
        f"{TELEGRAM_PER_CHAT * args.scale:g}/s per chat); {os.cpu_count()} cores "
        f"(load average {os.getloadavg()[0]:.1f} at start), Python {sys.version.split()[0]}"
    )
    print(
        f"{'backend':<11} {'alerts':>7} {'seconds':>9} {'allowed':>8} {'msg/s':>9} "
        f"{'fraction':>9} {'429s':>6} {'twice':>5} {'replies':>8} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'fan-out s':>9}"
    )
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="innobot-bench-") as tmp:
            if backend == "sqlite":
                url, cleanup = f"sqlite+aiosqlite:///{tmp}/innobot.db", None
            else:
                url, cleanup = postgres_url()
            try:
                result = asyncio.run(
                    run_once(url, Path(tmp), args.alerts, args.chatters, args.scale)
                )
            finally:
                if cleanup is not None:
                    cleanup()
        report(backend, args.scale, result)


if __name__ == "__main__":
    main()
