"""An in-memory adapter for outbox and dispatcher tests: records sends, fails on request."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

from bot.adapters.base import DeliveryError, Pacing
from handlers.core import Platform, Reply


@dataclass
class RecordingAdapter:
    platform: Platform = Platform.CONSOLE
    pacing: Pacing = field(default_factory=lambda: Pacing(1000.0, 1000, 1000.0))
    sent: list[tuple[str, Reply]] = field(default_factory=list)
    failures: deque[DeliveryError] = field(default_factory=deque)
    _arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def send(self, chat_id: str, reply: Reply) -> None:
        if self.failures:
            raise self.failures.popleft()
        self.sent.append((chat_id, reply))
        async with self._arrived:
            self._arrived.notify_all()

    def texts(self, chat_id: str) -> list[str]:
        return [reply.text for chat, reply in self.sent if chat == chat_id]

    async def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Wait until ``count`` messages in all have been sent."""
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(self.sent) >= count)
