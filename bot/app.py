"""Wiring: builds innobot's parts from the settings, starts and stops them. No logic here."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.adapters.base import Adapter
from bot.dispatch import Dispatcher
from bot.metrics import Metrics
from bot.outbox import DeliveryWorker
from bot.scheduler import AlertScheduler, build_scheduler
from bot.settings import Settings
from handlers.context import Limits, TextAnalyzer
from handlers.router import Router
from storage.db import create_engine, is_sqlite, session_factory
from storage.migrate import ensure_migrated

if TYPE_CHECKING:
    from bot.adapters.matrix import MatrixAdapter
    from bot.adapters.telegram import TelegramAdapter

log = logging.getLogger(__name__)


def load_analyzer() -> TextAnalyzer:
    """The trained NLP pipeline (loaded once)."""
    from nlp.pipeline import Pipeline

    return Pipeline.load()


@dataclass
class App:
    """innobot's running parts. ``start()`` brings them up in order, ``stop()`` in reverse."""

    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    router: Router
    worker: DeliveryWorker
    dispatcher: Dispatcher
    telegram: TelegramAdapter | None = None
    matrix: MatrixAdapter | None = None
    web_app: web.Application | None = None
    metrics: Metrics = field(default_factory=Metrics)
    scheduler: AlertScheduler | None = None
    _web_runner: web.AppRunner | None = field(default=None, repr=False)

    def add_adapter(self, adapter: Adapter) -> None:
        metered = self.metrics.meter_adapter(adapter)  # sends, 429s and failures are counted
        self.worker.add_adapter(metered)
        self.dispatcher.add_adapter(metered)

    async def ready(self) -> bool:
        """The database answers and every adapter is connected."""
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        if self.matrix is not None and not self.matrix.connected:
            return False
        return self.telegram is None or self.telegram.running

    async def start(self) -> None:
        await ensure_migrated(self.engine)
        self.worker.start()
        if self.scheduler is not None:
            await self.scheduler.start()
        if self.web_app is not None:
            self._web_runner = web.AppRunner(self.web_app, access_log=None)
            await self._web_runner.setup()
            site = web.TCPSite(self._web_runner, self.settings.web_host, self.settings.web_port)
            await site.start()
            log.info("web server on %s:%d", self.settings.web_host, self.settings.web_port)
        if self.matrix is not None:
            self.matrix.start()
        if self.telegram is not None:
            await self.telegram.start()

    async def stop(self) -> None:
        """Stop taking updates, finish what is in flight, leave the rest queued."""
        if self.telegram is not None:
            await self.telegram.stop_receiving()
        if self.matrix is not None:
            await self.matrix.stop()
        if self._web_runner is not None:
            await self._web_runner.cleanup()
            self._web_runner = None
        if self.scheduler is not None:
            await self.scheduler.stop()
        await self.worker.stop()
        if self.telegram is not None:
            await self.telegram.stop()
        await self.engine.dispose()


async def build_app(
    settings: Settings,
    *,
    analyzer: TextAnalyzer | None = None,
    telegram: bool = True,
    matrix: bool = True,
    web_server: bool = True,
) -> App:
    """Build (not start) innobot from ``settings``."""
    url = settings.resolved_database_url()
    engine = create_engine(url)
    try:
        await ensure_migrated(engine)  # before the slower model loading: fail fast
    except BaseException:
        await engine.dispose()
        raise
    sessions = session_factory(engine)
    from handlers.features import ALL_FEATURES

    metrics = Metrics()
    router = Router(
        ALL_FEATURES,
        metrics.observe_analyzer(
            analyzer if analyzer is not None else await asyncio.to_thread(load_analyzer)
        ),
        limits=Limits(),
        default_language=settings.default_language,
    )
    from handlers.alerts import RENDERERS
    from handlers.community_posts import RENDERERS as POST_RENDERERS
    from storage.alerts import stop_alerts_for_unreachable

    worker = DeliveryWorker(
        sessions,
        {},
        claim_rows=not is_sqlite(url),
        renderers={**RENDERERS, **POST_RENDERERS},
        on_unreachable=stop_alerts_for_unreachable,
        engine=engine,
    )
    from handlers.engagement_moderation import on_group_action

    worker.set_action_hook(on_group_action)  # reports change when Telegram has acted
    dispatcher = Dispatcher(
        sessions,
        router,
        worker,
        flood_burst=settings.flood_burst,
        flood_rate=settings.flood_rate,
        attempts=settings.db_retry_attempts,
    )
    app = App(settings, engine, sessions, router, worker, dispatcher, metrics=metrics)
    app.scheduler = build_scheduler(
        sessions,
        engine,
        worker.wake,
        shared_database=not is_sqlite(url),
        outbox_retention=timedelta(days=settings.outbox_retention_days),
    )
    metrics.count_handler_errors(lambda: dispatcher.errors)
    if telegram and settings.telegram_token is not None:
        from bot.adapters.telegram import TelegramAdapter

        app.telegram = TelegramAdapter(
            settings, on_message=metrics.observe_handler(dispatcher.handle), sessions=sessions
        )
        app.add_adapter(app.telegram)
    if matrix and settings.matrix_homeserver:
        from bot.adapters.matrix import MatrixAdapter

        app.matrix = MatrixAdapter(
            settings,
            sessions,
            on_queued=worker.wake,
            on_message=metrics.observe_handler(dispatcher.handle),
        )
        app.add_adapter(app.matrix)
    if web_server:
        from bot.web import build_web_app

        app.web_app = build_web_app(
            settings, app.telegram, ready=app.ready, metrics=metrics, sessions=sessions
        )
    return app
