"""Drivers for the engagement end-to-end tests: the moderation room and handled updates.

The moderation room is played through :func:`bot.adapters.matrix.act_on`, exactly what the
Matrix adapter does with a room event; what innobot says there is recorded by an in-memory
Matrix adapter the outbox delivers to.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from itertools import count

from bot.adapters.matrix import act_on
from bot.app import App
from handlers.core import IncomingMessage, Platform
from handlers.markup import to_plain
from handlers.moderation import ROOM_LANGUAGE_KEY, DeskConfig, RoomEvent
from storage import moderation as moderation_store
from tests.fakes.recording_adapter import RecordingAdapter

ROOM = "!moderation:example.org"
MODERATOR = "@mod:example.org"
_event_ids = count(1)


async def _moderator_power() -> int | None:
    return 100


@dataclass
class ModerationRoom:
    """The moderation room: a moderator's commands in, what innobot says there out."""

    app: App
    lang: str
    adapter: RecordingAdapter = field(default_factory=lambda: RecordingAdapter(Platform.MATRIX))
    seen: int = 0

    async def open(self) -> ModerationRoom:
        self.app.add_adapter(self.adapter)
        async with self.app.sessions() as session, session.begin():
            await moderation_store.set_state(session, ROOM_LANGUAGE_KEY, self.lang)
        return self

    async def command(self, text: str) -> None:
        event = RoomEvent(
            room_id=ROOM, sender=MODERATOR, event_id=f"$e2e{next(_event_ids)}", text=text
        )
        config = DeskConfig(rooms=frozenset({ROOM}), lang=self.lang)
        assert await act_on(self.app.sessions, event, config, _moderator_power)
        self.app.worker.wake()

    async def read(self, count: int) -> list[str]:
        """The next ``count`` messages innobot says in the room, as plain text."""
        await self.adapter.wait_for(self.seen + count)
        texts = [
            to_plain(reply.text).strip()
            for _, reply in self.adapter.sent[self.seen : self.seen + count]
        ]
        self.seen += count
        return texts


class Handled:
    """Counts the Telegram updates innobot has finished handling (a vote in a poll is handled
    without a word back: this is what a test awaits instead)."""

    def __init__(self, app: App) -> None:
        assert app.telegram is not None
        self.count = 0
        self._changed = asyncio.Condition()
        inner = app.telegram._on_message

        async def counting(msg: IncomingMessage) -> None:
            try:
                await inner(msg)
            finally:
                async with self._changed:
                    self.count += 1
                    self._changed.notify_all()

        app.telegram._on_message = counting

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._changed:
            await self._changed.wait_for(lambda: self.count >= count)
