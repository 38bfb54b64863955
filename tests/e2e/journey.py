"""A person on Telegram, for end-to-end tests: types, presses buttons, reads what innobot says."""

from __future__ import annotations

from dataclasses import dataclass

from handlers.i18n import t
from handlers.markup import to_plain
from tests.fakes.bot_api import FakeBotAPI, SentMessage


def shown(lang: str, key: str, /, **values: object) -> str:
    """The catalog text ``key`` as the Telegram user reads it (formatting gone, trimmed)."""
    return to_plain(t(lang, key, **values)).strip()


@dataclass
class TelegramUser:
    fake: FakeBotAPI
    user_id: int
    language_code: str = "en"
    first_name: str = "Ada"
    last_name: str | None = None

    def __post_init__(self) -> None:
        self.seen = 0  # messages from innobot already read

    def inbox(self) -> list[SentMessage]:
        return self.fake.sent(self.user_id)

    async def read(self, count: int) -> list[SentMessage]:
        """The next ``count`` messages innobot sends (waiting for them)."""
        messages = await self.fake.wait_for_messages(self.user_id, self.seen + count)
        new = messages[self.seen : self.seen + count]
        self.seen += count
        return new

    async def say(self, text: str, *, expect: int) -> list[SentMessage]:
        self.fake.send_text(
            self.user_id,
            text,
            language_code=self.language_code,
            first_name=self.first_name,
            last_name=self.last_name,
        )
        return await self.read(expect)

    async def press(self, label: str, *, expect: int) -> list[SentMessage]:
        """Press the button labelled ``label`` on the newest message showing it."""
        self.fake.press_button_labelled(self.user_id, label)
        return await self.read(expect)
