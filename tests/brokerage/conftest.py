"""Fixtures for brokerage tests (the database fixtures come from the root conftest)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tests.handlers.chat import Chat, ChatFactory, make_router


@pytest.fixture
def chat(sessions: async_sessionmaker[AsyncSession]) -> ChatFactory:
    """``chat(user_id=..., language_hint=...)``: a new person talking to a fresh router."""

    def make(**values: Any) -> Chat:
        return Chat(sessions, make_router(), **values)

    return make
