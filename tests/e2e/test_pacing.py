"""Under Telegram's real flood limits every reply still arrives, in order, exactly once."""

from __future__ import annotations

import pytest

from handlers.i18n import LANGUAGE_NAMES, t
from tests.e2e.conftest import StartApp
from tests.e2e.journey import TelegramUser, shown
from tests.fakes.bot_api import FakeBotAPI, FloodLimits


@pytest.fixture
def limits() -> FloodLimits:
    return FloodLimits()  # about 1 message per second per chat, bursts of 3, 30/s overall


async def test_replies_survive_flood_control(start_app: StartApp, fake: FakeBotAPI) -> None:
    await start_app()
    user = TelegramUser(fake, 2001, language_code="sv")
    await user.say("/start", expect=2)
    fake.fail_next(1, 429, retry_after=1)  # Telegram says "slow down" once
    [notice] = await user.press(LANGUAGE_NAMES["sv"], expect=1)
    thanks, ask_role = await user.press(t("sv", "onboarding.agree"), expect=2)
    [ready] = await user.press(t("sv", "roles.citizen"), expect=1)

    assert [m.text for m in (notice, thanks, ask_role, ready)] == [
        shown("sv", "onboarding.privacy_notice"),
        shown("sv", "onboarding.thanks"),
        shown("sv", "onboarding.ask_role"),
        shown("sv", "onboarding.ready", role=t("sv", "roles.citizen")),
    ]
    assert any(call.status == 429 for call in fake.calls)
    assert len(user.inbox()) == 6  # nothing lost, nothing sent twice
