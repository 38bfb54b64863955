"""``GET /metrics``: Prometheus text with updates by platform and intent, handler latency, the
outbox's depth and sends, Telegram's 429s and errors, after real traffic through the whole app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.web import build_web_app
from handlers.i18n import LANGUAGE_NAMES
from storage.db import session_factory
from storage.models import OutboxMessage
from tests.e2e.journey import TelegramUser
from tests.fakes.bot_api import FakeBotAPI
from tests.ops.cluster import IDEAS, Participant, add_participants, start_in_process


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=None) as server:
        yield server


def samples(exposition: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


async def test_metrics_count_what_happened(
    db_url: str, engine: AsyncEngine, fake: FakeBotAPI, tmp_path: Path
) -> None:
    app = await start_in_process(db_url, fake, tmp_path)
    async with session_factory(engine)() as session, session.begin():
        # Waiting for a Matrix room that is not connected: the outbox's depth.
        session.add(OutboxMessage(platform="matrix", chat_id="!room", payload={"text": "card"}))
    await add_participants(db_url, [Participant(830_002, "en")])
    try:
        stranger, participant = TelegramUser(fake, 830_001), TelegramUser(fake, 830_002)
        await stranger.say("/start", expect=2)  # a command
        await stranger.press(LANGUAGE_NAMES["en"], expect=1)  # a button
        fake.fail_next(1, 429, retry_after=1)  # Telegram's flood control, once
        await participant.say(IDEAS["en"], expect=2)  # free text, classified as an idea
    finally:
        await app.stop()  # the outbox finishes its batch: the figures are final
    # The same metrics, served by a web app of their own (innobot's has stopped with it).
    server = TestServer(
        build_web_app(app.settings, None, metrics=app.metrics, sessions=app.sessions)
    )
    async with TestClient(server) as client:
        response = await client.get("/metrics")
        assert response.status == 200
        content_type = response.headers["Content-Type"]
        exposition = await response.text()

    assert content_type == "text/plain; version=0.0.4; charset=utf-8"
    found = samples(exposition)
    telegram = (("platform", "telegram"),)

    def updates(intent: str) -> float:
        return found[("innobot_updates_total", (("intent", intent), ("platform", "telegram")))]

    assert (updates("command"), updates("button"), updates("submit_idea")) == (1, 1, 1)
    assert found[("innobot_handler_seconds_count", telegram)] == 3
    assert (
        found[("innobot_handler_seconds_bucket", (("le", "+Inf"), ("platform", "telegram")))] == 3
    )
    assert found[("innobot_outbox_sent_total", telegram)] == len(fake.all_sent()) == 5
    assert found[("innobot_outbox_throttled_total", telegram)] == 1
    assert found[("innobot_outbox_pending", telegram)] == 0
    assert found[("innobot_outbox_oldest_pending_seconds", telegram)] == 0
    assert found[("innobot_outbox_pending", (("platform", "matrix"),))] == 1
    assert found[("innobot_outbox_oldest_pending_seconds", (("platform", "matrix"),))] >= 0
    assert found[("innobot_handler_errors_total", ())] == 0
    assert ("process_cpu_seconds_total", ()) in found


async def test_openmetrics_on_request(
    db_url: str, engine: AsyncEngine, fake: FakeBotAPI, tmp_path: Path
) -> None:
    app = await start_in_process(db_url, fake, tmp_path)
    try:
        url = f"http://127.0.0.1:{app.settings.web_port}/metrics"
        headers = {"Accept": "application/openmetrics-text; version=1.0.0"}
        async with aiohttp.ClientSession() as http, http.get(url, headers=headers) as response:
            body = await response.text()
            content_type = response.headers["Content-Type"]
    finally:
        await app.stop()
    assert content_type.startswith("application/openmetrics-text")
    assert body.rstrip().endswith("# EOF")
