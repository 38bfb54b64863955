"""A chat driver for handler tests: a person talking to the router, one transaction per message."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.context import COMMAND_PREFIX, FLOW_PREFIX
from handlers.core import Button, ContentKind, IncomingMessage, Platform, Reply
from handlers.features import ALL_FEATURES
from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from handlers.markup import to_plain
from handlers.router import Outcome, Router


def make_router() -> Router:
    return Router(ALL_FEATURES, KeywordAnalyzer())


@dataclass
class Chat:
    """One person in one private chat. ``send``/``press`` return innobot's replies."""

    sessions: async_sessionmaker[AsyncSession]
    router: Router
    user_id: str = "1001"
    display_name: str | None = "Ada Lovelace"
    language_hint: str | None = "en"
    platform: Platform = Platform.TELEGRAM
    replies: list[Reply] = field(default_factory=list)
    outcome: Outcome | None = None

    async def _handle(self, msg: IncomingMessage) -> list[Reply]:
        # Like the dispatcher: one transaction per message, committed when handling succeeds.
        async with self.sessions() as session, session.begin():
            self.outcome = await self.router.handle(session, msg)
        self.replies = self.outcome.replies
        return self.replies

    def _message(self, **values: Any) -> IncomingMessage:
        return IncomingMessage(
            platform=self.platform,
            chat_id=self.user_id,
            user_id=self.user_id,
            display_name=self.display_name,
            language_hint=self.language_hint,
            **values,
        )

    async def send(self, text: str = "", kind: ContentKind = ContentKind.TEXT) -> list[Reply]:
        return await self._handle(self._message(text=text, kind=kind))

    async def send_payload(self, payload: str) -> list[Reply]:
        return await self._handle(self._message(button=payload, kind=ContentKind.BUTTON))

    @property
    def buttons(self) -> list[Button]:
        return [button for reply in self.replies for row in reply.buttons for button in row]

    def button(self, *, label: str | None = None, value: str | None = None) -> Button:
        """A button of the last replies, by its label or by the value / command it carries."""
        for button in self.buttons:
            if label is not None and button.label == label:
                return button
            if value is not None and (
                (button.payload.startswith(FLOW_PREFIX) and button.payload.endswith(":" + value))
                or button.payload == COMMAND_PREFIX + value
            ):
                return button
        offered = [(b.label, b.payload) for b in self.buttons]
        raise AssertionError(f"no button {label or value!r} among {offered}")

    async def press(self, label: str | None = None, *, value: str | None = None) -> list[Reply]:
        return await self.send_payload(self.button(label=label, value=value).payload)

    @property
    def text(self) -> str:
        """The last replies' markup, one reply per line."""
        return "\n".join(reply.text for reply in self.replies)

    @property
    def plain(self) -> str:
        """The last replies as a person reads them."""
        return "\n".join(to_plain(reply.text) for reply in self.replies)

    def said(self, lang: str, key: str, /, **values: object) -> bool:
        """Whether one of the last replies is the catalog text ``key`` in ``lang``."""
        expected = t(lang, key, **values)
        return any(reply.text == expected for reply in self.replies)


ChatFactory = Callable[..., Chat]


async def onboard(chat: Chat, lang: str = "en", role: str = "citizen") -> None:
    """Take ``chat``'s person through /start: language, consent, role."""
    await chat.send("/start")
    await chat.press(value=lang)
    await chat.press(value="agree")
    await chat.press(value=role)
    assert chat.said(lang, "onboarding.ready", role=t(lang, f"roles.{role}"))


async def count(sessions: async_sessionmaker[AsyncSession], model: type[Any], *where: Any) -> int:
    async with sessions() as session:
        query = select(func.count()).select_from(model).where(*where)
        return int(await session.scalar(query) or 0)
