"""innobot's web server: the Telegram webhook, the health and readiness probes, the Prometheus
metrics and the programme dashboard (mounted at ``/dashboard``)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.telegram import TelegramAdapter
from bot.metrics import Metrics
from bot.settings import Settings

log = logging.getLogger(__name__)

SECRET_HEADER: Final = "X-Telegram-Bot-Api-Secret-Token"
# Telegram's updates are a few kilobytes; anything much larger is not from Telegram.
MAX_BODY_BYTES: Final = 256 * 1024

ReadinessCheck = Callable[[], Awaitable[bool]]

SETTINGS: Final = web.AppKey("settings", Settings)
TELEGRAM: Final = web.AppKey("telegram", TelegramAdapter)
READY: Final = web.AppKey[ReadinessCheck]("ready")
METRICS: Final = web.AppKey("metrics", Metrics)
SESSIONS: Final = web.AppKey[async_sessionmaker[AsyncSession]]("sessions")

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
    if not adapter.running:
        # Stopping (or not started): an update queued now would never be handled. Telegram, or
        # the reverse proxy, delivers it again, to this process later or to another one now.
        raise web.HTTPServiceUnavailable()
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise web.HTTPRequestEntityTooLarge(
            max_size=MAX_BODY_BYTES, actual_size=request.content_length
        )
    body = await request.read()  # the application's client_max_size bounds it too
    if not adapter.running:  # stopped while the body was arriving
        raise web.HTTPServiceUnavailable()
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


@routes.get("/metrics")
async def metrics(request: web.Request) -> web.Response:
    """Prometheus metrics of this process (and the outbox's depth, read from the store)."""
    collected = request.app.get(METRICS)
    if collected is None:
        raise web.HTTPNotFound()
    sessions = request.app.get(SESSIONS)
    if sessions is not None:
        try:
            await collected.refresh_outbox(sessions)
        except Exception as error:  # the other metrics are still worth having
            log.warning("metrics: could not read the outbox's depth: %s", type(error).__name__)
    body, content_type = collected.render(request.headers.get("Accept"))
    return web.Response(body=body, headers={"Content-Type": content_type})


@routes.get("/dashboard")
async def dashboard_root(_request: web.Request) -> web.Response:
    raise web.HTTPMovedPermanently("/dashboard/")


def build_web_app(
    settings: Settings,
    telegram: TelegramAdapter | None,
    ready: ReadinessCheck | None = None,
    *,
    metrics: Metrics | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> web.Application:
    """The aiohttp application; the caller runs it (``web.AppRunner``) inside innobot's loop.

    ``/metrics`` is served when ``metrics`` is given, the dashboard when ``sessions`` is.
    """
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[SETTINGS] = settings
    if telegram is not None:
        app[TELEGRAM] = telegram
    if ready is not None:
        app[READY] = ready
    if metrics is not None:
        app[METRICS] = metrics
    app.add_routes(routes)
    if sessions is not None:
        from bot.dashboard import PREFIX, DashboardConfig, build_dashboard

        app[SESSIONS] = sessions
        config = DashboardConfig(secure_cookies=settings.dashboard_secure_cookies)
        app.add_subapp(PREFIX, build_dashboard(sessions, config))
    return app
