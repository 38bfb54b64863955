"""The whole path: a citizen on Telegram submits, moderators decide in Matrix, the citizen hears.

innobot runs complete (``bot.app``: Telegram adapter, dispatcher, router, outbox, Matrix adapter)
against the Bot API double and the real homeserver.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App, build_app
from bot.settings import Settings
from handlers.intents import KeywordAnalyzer
from tests.e2e.conftest import FAST_LIMITS, FAST_PACING
from tests.e2e.journey import TelegramUser, shown
from tests.e2e.test_citizen_journey import onboard, submit_idea
from tests.fakes.bot_api import FakeBotAPI
from tests.matrix.conftest import MakeMember
from tests.matrix.member import body, html, is_card
from tests.matrix.synapse import Synapse


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=FAST_LIMITS) as server:
        yield server


async def start_innobot(
    fake: FakeBotAPI, synapse: Synapse, db_url: str, data_dir: Path, room: str, token: str
) -> App:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=db_url,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        flood_burst=1000,
        matrix_homeserver=synapse.url,
        matrix_access_token=SecretStr(token),
        matrix_rooms=room,
        matrix_max_backoff=1.0,
        matrix_send_rate=100.0,
    )
    app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
    assert app.telegram is not None
    assert app.matrix is not None
    app.telegram.pacing = FAST_PACING
    await app.start()
    await app.matrix.wait_ready()
    return app


async def test_a_telegram_idea_gets_a_card_and_the_approval_reaches_the_citizen(
    fake: FakeBotAPI,
    synapse: Synapse,
    make_member: MakeMember,
    db_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
) -> None:
    moderator = await make_member()
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id])
    app = await start_innobot(fake, synapse, db_url, tmp_path, room, bot_user.access_token)
    try:
        assert await app.ready()
        user = TelegramUser(fake, 5001, language_code="it", first_name="Giulia", last_name="Rossi")
        await onboard(user, "it")
        title = "Panchine solari <nei> parchi & *piazze*"
        description = "Panchine con pannelli solari per ricaricare telefoni e biciclette."
        ref = await submit_idea(user, "it", title, description)

        card = await moderator.wait_for(room, bot_user.user_id, is_card(ref))
        assert title in body(card)
        assert "Giulia Rossi" in body(card)  # the citizen allowed their name to be shown
        assert "Language: it" in body(card)
        assert "&lt;nei&gt; parchi &amp; *piazze*" in html(card)

        await moderator.say(room, f"!approve {ref}")
        await moderator.wait_for(room, bot_user.user_id, lambda e: f"{ref} approved" in body(e))
        [note] = await user.read(1)  # queued with the decision, in the same transaction
        assert note.text == shown("it", "moderation.notify_approved", ref=ref, title=title)
    finally:
        await app.stop()
