"""The programme dashboard: server-rendered pages behind a sign-in, and the open-data download.

:func:`build_dashboard` makes the aiohttp application that ``bot.web`` mounts at ``/dashboard``.
"""

from __future__ import annotations

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dashboard.auth import CONFIG, PREFIX, SESSIONS, DashboardConfig, guard
from bot.dashboard.views import TEMPLATES, error_pages, routes, template_environment

__all__ = ["PREFIX", "DashboardConfig", "build_dashboard"]


def build_dashboard(
    sessions: async_sessionmaker[AsyncSession], config: DashboardConfig | None = None
) -> web.Application:
    """The dashboard as an application to mount at :data:`PREFIX` (``app.add_subapp``)."""
    app = web.Application(middlewares=[error_pages, guard])
    app[SESSIONS] = sessions
    app[CONFIG] = config or DashboardConfig()
    app[TEMPLATES] = template_environment()
    app.add_routes(routes)
    return app
