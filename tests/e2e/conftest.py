"""innobot end to end: the whole application (``bot.app``) against the Bot API double.

Real python-telegram-bot, dispatcher, router, outbox and store (SQLite and PostgreSQL through
the root ``db_url`` fixture); only Telegram's servers are replaced by the double.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.adapters.base import Pacing
from bot.app import App, build_app
from bot.settings import Settings
from handlers.intents import KeywordAnalyzer
from tests.fakes.bot_api import FakeBotAPI, FloodLimits

# Telegram's flood limits scaled up, with the adapter paced to match: journeys run in seconds
# instead of being paced at one message per second. test_pacing.py keeps Telegram's real limits.
FAST_LIMITS = FloodLimits(per_chat_rate=50, per_chat_burst=20, overall_rate=500, overall_burst=500)
FAST_PACING = Pacing(per_chat_rate=50, per_chat_burst=20, overall_rate=500)

StartApp = Callable[..., Awaitable[App]]


@pytest.fixture
def limits() -> FloodLimits:
    return FAST_LIMITS


@pytest.fixture
async def fake(limits: FloodLimits) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=limits) as server:
        yield server


@pytest.fixture
def settings(fake: FakeBotAPI, db_url: str, engine: AsyncEngine, tmp_path: Path) -> Settings:
    """innobot's settings for a store already migrated by the root ``engine`` fixture."""
    return Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=db_url,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        # Test users answer within milliseconds, faster than the flood guard lets people type.
        flood_burst=1000,
    )


@pytest.fixture
async def start_app(settings: Settings, limits: FloodLimits) -> AsyncIterator[StartApp]:
    """Build and start innobot (again, for a restart); every app still running is stopped."""
    running: list[App] = []

    async def start(**overrides: Any) -> App:
        app = await build_app(
            settings.model_copy(update=overrides),
            analyzer=KeywordAnalyzer(),
            web_server="telegram_mode" in overrides,
        )
        if app.telegram is not None and limits is FAST_LIMITS:
            app.telegram.pacing = FAST_PACING
        await app.start()
        running.append(app)
        return app

    yield start
    for app in running:
        await app.stop()
