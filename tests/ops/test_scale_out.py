"""Scale-out: two innobot processes on one PostgreSQL database behind Telegram's webhook.

Forty-eight participants each take two ideas to submission at the same time (528 updates); the
second time they press "confirm" twice at once, so that both processes get a press of the same
button together. Meanwhile one process is restarted twice with SIGTERM, as systemd does.
Nothing may be lost and nothing said twice: every participant gets exactly the replies of their
journeys, every idea is stored once, the outbox ends empty, every stop takes less than 10
seconds, and the logs are JSON lines without anybody's words or identifiers. (The long version is
``benchmarks/soak_restarts.py``.)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.ops.cluster import (
    IDEAS,
    REPLIES_PER_JOURNEY,
    STOP_LIMIT,
    TITLES,
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

PEOPLE = 48
JOURNEYS = 2
RESTART_AFTER = (120, 290)  # updates delivered (of 528)


@pytest.fixture
def db_url(postgresql_url: str) -> str:
    return postgresql_url


async def test_two_processes_with_restarts_lose_nothing_and_repeat_nothing(
    db_url: str, engine: AsyncEngine, tmp_path: Path
) -> None:
    people = participants(PEOPLE)
    await add_participants(db_url, people)
    log = JourneyLog()
    async with ClusterBotAPI() as fake:
        processes = [
            InnobotProcess(f"innobot-{n}", db_url, fake, tmp_path / f"innobot-{n}")
            for n in range(2)
        ]
        try:
            await asyncio.gather(*(process.start() for process in processes))
            fake.upstreams = [process.url for process in processes]

            async def take_part(person: Participant) -> None:
                for journey in range(JOURNEYS):
                    await idea_journey(fake, person, log, double_confirm=journey == 1)

            load = asyncio.gather(*(take_part(person) for person in people))
            for threshold in RESTART_AFTER:
                await fake.wait_delivered(threshold)
                await processes[0].stop()
                await processes[0].start()
            await load
            await fake.drain()
        finally:
            for process in processes:
                if process.alive:
                    await process.stop()

    updates = PEOPLE * JOURNEYS * UPDATES_PER_JOURNEY + PEOPLE  # the second confirm presses
    assert log.updates == updates
    assert fake.delivered == updates
    assert fake.undelivered == []
    assert fake.refused + fake.unreachable > 0  # the restarts were felt (and retried)
    assert len(processes[0].exits) == 3
    for process in processes:
        for code, seconds in process.exits:
            assert code == 0
            assert seconds < STOP_LIMIT
    for person in people:  # none lost, none twice: one stale-button notice per double press
        assert len(fake.sent(person.user_id)) == REPLIES_PER_JOURNEY * JOURNEYS + 1
    report = await store_report(db_url)
    assert report.ideas_per_person == {str(person.user_id): JOURNEYS for person in people}
    assert (report.telegram_pending, report.telegram_failed) == (0, 0)

    secrets = [*IDEAS.values(), *TITLES.values()] + [str(person.user_id) for person in people]
    for process in processes:
        entries = process.log_entries()  # one JSON object per line, or this fails
        assert entries
        assert {"time", "level", "logger", "message"} <= set(entries[0])
        text = json.dumps(entries, ensure_ascii=False)
        leaked = [secret for secret in secrets if secret in text]
        assert leaked == [], f"{process.name} logged {leaked}"
