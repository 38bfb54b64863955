"""innobot's web server: the Telegram webhook and the health and readiness probes."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from bot.adapters.telegram import TelegramAdapter
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes; anything much larger is not from Telegram.
MAX_BODY_BYTES: Final = 256 * 1024

ReadinessCheck = Callable[[], Awaitable[bool]]

SETTINGS: Final = web.AppKey("settings", Settings)
TELEGRAM: Final = web.AppKey("telegram", TelegramAdapter)
READY: Final = web.AppKey[ReadinessCheck]("ready")

routes = web.RouteTableDef()


@routes.post("/telegram")
async def telegram_webhook(request: web.Request) -> web.Response:
    """One update from Telegram: checked, queued, answered at once."""
    settings = request.app[SETTINGS]
    adapter = request.app.get(TELEGRAM)
    secret = settings.webhook_secret
    if adapter is None or secret is None or settings.telegram_mode != "webhook":
        raise web.HTTPNotFound()
    given = request.headers.get(SECRET_HEADER, "").encode()
    if not hmac.compare_digest(given, secret.get_secret_value().encode()):
        log.warning("webhook: request from %s without the right secret", request.remote)
        raise web.HTTPForbidden()
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_BYTES, actual_size=request.content_length
        )
    body = await request.read()  # the application's client_max_size bounds it too
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise web.HTTPBadRequest(text="not JSON") from None
    if not isinstance(data, dict):
        raise web.HTTPBadRequest(text="not a Telegram update")
    try:
        await adapter.process_webhook_update(data)
    except ValueError:
        raise web.HTTPBadRequest(text="not a Telegram update") from None
    except RuntimeError:  # not started yet, or stopping: Telegram will deliver it again
        raise web.HTTPServiceUnavailable() from None
    return web.Response(text="ok")


@routes.get("/healthz")
async def healthz(_request: web.Request) -> web.Response:
    """The process is alive and serving."""
    return web.Response(text="ok")


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    """innobot can do its work (for example, the store answers)."""
    check = request.app.get(READY)
    try:
        ready = True if check is None else await check()
    except Exception:
        log.exception("readiness check failed")
        ready = False
    if ready:
        return web.Response(text="ready")
    return web.Response(status=503, text="not ready")


def build_web_app(
    settings: Settings,
    telegram: TelegramAdapter | None,
    ready: ReadinessCheck | None = None,
) -> web.Application:
    """The aiohttp application; the caller runs it (``web.AppRunner``) inside innobot's loop."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    if telegram is not None:
        app[TELEGRAM] = telegram
    if ready is not None:
        app[READY] = ready
    app.add_routes(routes)
    return app
