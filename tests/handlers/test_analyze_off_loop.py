"""Long texts are classified in a worker thread, so that the event loop keeps serving others."""

from __future__ import annotations

import threading

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.context import ANALYZE_INLINE_MAX, Analysis
from handlers.features import ALL_FEATURES
from handlers.intents import KeywordAnalyzer
from handlers.router import Router
from tests.handlers.chat import Chat


class ThreadRecordingAnalyzer:
    """The keyword analyzer, remembering which thread each text was read in."""

    def __init__(self) -> None:
        self.inner = KeywordAnalyzer()
        self.threads: list[tuple[int, bool]] = []

    def analyze(self, text: str) -> Analysis:
        on_main = threading.current_thread() is threading.main_thread()
        self.threads.append((len(text), on_main))
        return self.inner.analyze(text)


async def test_short_texts_on_the_loop_long_ones_in_a_thread(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    analyzer = ThreadRecordingAnalyzer()
    chat = Chat(sessions, Router(ALL_FEATURES, analyzer))
    await chat.send("what can you do?")
    long_text = "Solar panels on every school roof in the valley. " * 60
    assert len(long_text) > ANALYZE_INLINE_MAX
    replies = await chat.send(long_text)
    assert replies  # answered like any other message
    assert analyzer.threads == [(len("what can you do?"), True), (len(long_text), False)]
