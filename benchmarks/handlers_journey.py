"""The handlers alone: the keyword analyzer's speed, and the citizen journey through the router.

Each simulated user onboards and submits one idea (14 messages: /start, language, consent, role,
/idea, title, description, topic, name, confirm, /my, /mydata, /forget, yes), one transaction per
message as the dispatcher does, on a fresh SQLite file. No transport and no outbox: this measures
what the handlers and the store cost per message.

    .venv/bin/python benchmarks/handlers_journey.py [--users 200]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from handlers.context import FLOW_PREFIX
from handlers.core import ContentKind, IncomingMessage, Platform, Reply
from handlers.features import ALL_FEATURES
from handlers.intents import KeywordAnalyzer
from handlers.router import Router
from storage.db import create_engine, session_factory
from storage.migrate import upgrade_engine

TEXTS = [
    "I have an idea: solar panels on school roofs to power the buses and the street lights.",
    "Vorrei proporre un sistema di riciclo della plastica per le scuole della città.",
    "Jag vill föreslå en app för kollektivtrafiken i staden, med realtid för bussarna.",
    "hello",
]


def analyzer_figures() -> None:
    analyzer = KeywordAnalyzer()
    rounds = 5000
    start = time.perf_counter()
    for i in range(rounds):
        analyzer.analyze(TEXTS[i % len(TEXTS)])
    elapsed = time.perf_counter() - start
    print(f"keyword analyzer: {rounds / elapsed:,.0f} short texts/s")
    long_text = TEXTS[1] * 60  # about 5,000 characters, the most it reads
    start = time.perf_counter()
    for _ in range(200):
        analyzer.analyze(long_text)
    print(f"keyword analyzer: {(time.perf_counter() - start) / 200 * 1000:.2f} ms per long text")


def _value_button(replies: list[Reply], value: str) -> str:
    for reply in replies:
        for row in reply.buttons:
            for button in row:
                if button.payload.startswith(FLOW_PREFIX) and button.payload.endswith(":" + value):
                    return button.payload
    raise RuntimeError(f"no button {value}")


async def journey(users: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
        await upgrade_engine(engine)
        sessions = session_factory(engine)
        router = Router(ALL_FEATURES, KeywordAnalyzer())
        latencies: list[float] = []

        async def send(user: str, text: str = "", button: str | None = None) -> list[Reply]:
            msg = IncomingMessage(
                Platform.CONSOLE, user, user, text=text, button=button,
                kind=ContentKind.BUTTON if button else ContentKind.TEXT, language_hint="en",
            )  # fmt: skip
            began = time.perf_counter()
            async with sessions() as session, session.begin():
                outcome = await router.handle(session, msg)
            latencies.append(time.perf_counter() - began)
            return outcome.replies

        start = time.perf_counter()
        for n in range(users):
            user = f"u{n}"
            replies = await send(user, "/start")
            for value in ("en", "agree", "citizen"):
                replies = await send(user, button=_value_button(replies, value))
            await send(user, "/idea")
            await send(user, f"Idea number {n}")
            replies = await send(user, TEXTS[n % 3])
            for value in ("other", "yes", "confirm"):
                replies = await send(user, button=_value_button(replies, value))
            await send(user, "/my")
            await send(user, "/mydata")
            replies = await send(user, "/forget")
            await send(user, button=_value_button(replies, "yes"))
        elapsed = time.perf_counter() - start
        await engine.dispose()

    latencies.sort()
    print(f"journey on SQLite: {users} users, {len(latencies)} messages in {elapsed:.1f} s")
    print(f"  {len(latencies) / elapsed:,.0f} messages/s, one at a time")
    print(
        f"  per message: median {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--users", type=int, default=200)
    args = parser.parse_args()
    analyzer_figures()
    asyncio.run(journey(args.users))


if __name__ == "__main__":
    main()
