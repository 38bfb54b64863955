"""innobot's web server: health and readiness probes; no webhook unless in webhook mode."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import SecretStr

from bot.settings import Settings
from bot.web import SECRET_HEADER, build_web_app

Check = Callable[[], Awaitable[bool]]
Client = TestClient[web.Request, web.Application]


def settings(**overrides: object) -> Settings:
    return Settings(_env_file=None, **overrides)  # type: ignore[arg-type]


async def client_for(ready: Check | None = None, **overrides: object) -> Client:
    client: Client = TestClient(TestServer(build_web_app(settings(**overrides), None, ready)))
    await client.start_server()
    return client


@pytest.fixture
async def clients() -> AsyncIterator[list[Client]]:
    opened: list[Client] = []
    yield opened
    for client in opened:
        await client.close()


async def test_healthz(clients: list[Client]) -> None:
    clients.append(client := await client_for())
    response = await client.get("/healthz")
    assert (response.status, await response.text()) == (200, "ok")


async def always(answer: bool) -> bool:
    return answer


async def broken() -> bool:
    raise ConnectionError("database unreachable")


@pytest.mark.parametrize(
    ("ready", "status"),
    [(None, 200), (lambda: always(True), 200), (lambda: always(False), 503), (broken, 503)],
)
async def test_readyz_asks_the_readiness_check(
    clients: list[Client],
    ready: Check | None,
    status: int,
) -> None:
    clients.append(client := await client_for(ready))
    assert (await client.get("/readyz")).status == status


async def test_no_webhook_without_telegram_in_webhook_mode(
    clients: list[Client],
) -> None:
    clients.append(client := await client_for(webhook_secret=SecretStr("s3cret")))
    response = await client.post("/telegram", json={}, headers={SECRET_HEADER: "s3cret"})
    assert response.status == 404
