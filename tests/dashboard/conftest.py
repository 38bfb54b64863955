"""The dashboard through its web server: a signed-in client, accounts, a fixed calendar."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dashboard import DashboardConfig, build_dashboard
from bot.settings import Settings
from bot.web import build_web_app
from storage.accounts import add_account

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')

Client = TestClient[web.Request, web.Application]


class Dashboard:
    """A browser-like client of the dashboard (cookies kept, forms posted with their token)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def get(self, path: str, **kwargs: Any) -> ClientResponse:
        return await self.client.get(path, **kwargs)

    async def form_token(self, path: str) -> str:
        page = await (await self.client.get(path)).text()
        match = CSRF_FIELD.search(page)
        assert match is not None, f"no CSRF field on {path}"
        return match.group(1)

    async def login(self, username: str = "manager", password: str = PASSWORD) -> ClientResponse:
        token = await self.form_token("/dashboard/login")
        return await self.client.post(
            "/dashboard/login",
            data={"csrf": token, "username": username, "password": password, "next": "/dashboard/"},
            allow_redirects=False,
        )

    async def post(self, path: str, data: dict[str, str], **kwargs: Any) -> ClientResponse:
        """Post a form of a signed-in page, with the session's CSRF token."""
        token = await self.form_token("/dashboard/")
        return await self.client.post(
            path, data={"csrf": token, **data}, allow_redirects=False, **kwargs
        )


async def make_account(
    sessions: async_sessionmaker[AsyncSession],
    username: str = "manager",
    language: str = "en",
) -> None:
    async with sessions() as session, session.begin():
        await add_account(session, username, PASSWORD, language)


@pytest.fixture
async def dashboard(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Dashboard]:
    """The dashboard on its own (plain HTTP cookies, the calendar stopped at NOW)."""
    app = web.Application()
    config = DashboardConfig(secure_cookies=False, clock=lambda: NOW)
    app.add_subapp("/dashboard", build_dashboard(sessions, config))
    async with TestClient(TestServer(app)) as client:
        yield Dashboard(client)


@pytest.fixture
async def web_client(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[Client]:
    """innobot's whole web server with production settings (secure cookies)."""
    app = build_web_app(Settings(_env_file=None), None, sessions=sessions)
    async with TestClient(TestServer(app)) as client:
        yield client
