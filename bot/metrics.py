"""innobot's Prometheus metrics, served by every process at ``GET /metrics``.

- ``innobot_updates_total{platform,intent}``: messages handled; ``intent`` is what the text was
  classified as, or ``command``, ``button``, ``text`` (answered in a flow without classifying) or
  the kind of non-text content.
- ``innobot_handler_seconds{platform}``: time from a message's arrival to its replies being
  queued (a histogram).
- ``innobot_handler_errors_total``: messages whose handling failed (the user got an apology).
- ``innobot_outbox_pending{platform}`` and ``innobot_outbox_oldest_pending_seconds{platform}``:
  the outbox's depth, read from the store at each scrape (shared by all processes).
- ``innobot_outbox_sent_total{platform}``: messages delivered (its rate is the send rate).
- ``innobot_outbox_throttled_total{platform}``: rate-limit answers (Telegram's 429).
- ``innobot_outbox_send_failures_total{platform,reason}``: failed sends by reason.
- the process collector's ``process_*`` (CPU, memory, open files).

Counters are per process; Prometheus sums them over the processes it scrapes.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import (
    Adapter,
    Pacing,
    PermanentFailure,
    Receipt,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from handlers.context import Analysis, TextAnalyzer
from handlers.core import ContentKind, IncomingMessage, Platform, Reply
from storage.models import OutboxMessage, OutboxStatus, utcnow

LATENCY_BUCKETS: Final = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Intents are the analyzer's labels; anything longer or stranger is not one (bounded label values).
_INTENT_MAX: Final = 32

OnMessage = Callable[[IncomingMessage], Awaitable[None]]

# The intent the analyzer gave the message being handled (one slot per handling task).
_classified: ContextVar[list[str] | None] = ContextVar("innobot_classified", default=None)


class _ErrorCounts(Collector):
    """Counts kept by the dispatcher itself, read at scrape time."""

    def __init__(self) -> None:
        self.handler_errors: Callable[[], int] = lambda: 0

    def collect(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "innobot_handler_errors",
            "Messages whose handling failed (the sender got an apology)",
            value=self.handler_errors(),
        )


class Metrics:
    """One process's metrics (its own registry, so that several apps can share a test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        registry = self.registry
        self.updates = Counter(
            "innobot_updates",
            "Messages handled, by platform and intent",
            ["platform", "intent"],
            registry=registry,
        )
        self.handler_seconds = Histogram(
            "innobot_handler_seconds",
            "Seconds from a message's arrival to its replies being queued",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.sent = Counter(
            "innobot_outbox_sent", "Messages delivered", ["platform"], registry=registry
        )
        self.throttled = Counter(
            "innobot_outbox_throttled",
            "Rate-limit answers from the platform (Telegram 429)",
            ["platform"],
            registry=registry,
        )
        self.send_failures = Counter(
            "innobot_outbox_send_failures",
            "Failed sends, by reason (transient, unreachable, rejected, error)",
            ["platform", "reason"],
            registry=registry,
        )
        self.outbox_pending = Gauge(
            "innobot_outbox_pending",
            "Messages waiting in the outbox (all processes)",
            ["platform"],
            registry=registry,
        )
        self.outbox_oldest = Gauge(
            "innobot_outbox_oldest_pending_seconds",
            "Age of the oldest message waiting in the outbox",
            ["platform"],
            registry=registry,
        )
        self._errors = _ErrorCounts()
        registry.register(self._errors)
        ProcessCollector(registry=registry)

    # -- wiring --

    def count_handler_errors(self, read: Callable[[], int]) -> None:
        """Report the dispatcher's failure count (``lambda: dispatcher.errors``)."""
        self._errors.handler_errors = read

    def observe_analyzer(self, analyzer: TextAnalyzer) -> TextAnalyzer:
        return _ObservedAnalyzer(analyzer)

    def observe_handler(self, handle: OnMessage) -> OnMessage:
        """Wrap the dispatcher's ``handle``: count each message and time it."""

        async def observed(msg: IncomingMessage) -> None:
            slot: list[str] = []
            token = _classified.set(slot)
            started = time.perf_counter()
            try:
                await handle(msg)
            finally:
                elapsed = time.perf_counter() - started
                _classified.reset(token)
                platform = msg.platform.value
                self.handler_seconds.labels(platform).observe(elapsed)
                self.updates.labels(platform, _intent_label(msg, slot)).inc()

        return observed

    def meter_adapter(self, adapter: Adapter) -> Adapter:
        return MeteredAdapter(adapter, self)

    # -- scraping --

    async def refresh_outbox(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Read the outbox's depth from the store (shared by every process)."""
        now = utcnow()
        query = (
            select(OutboxMessage.platform, func.count(), func.min(OutboxMessage.created_at))
            .where(OutboxMessage.status == OutboxStatus.PENDING.value)
            .group_by(OutboxMessage.platform)
        )
        async with sessions() as session:
            rows = (await session.execute(query)).tuples().all()
        seen = {platform.value for platform in Platform}
        for platform in seen - {row[0] for row in rows}:
            self.outbox_pending.labels(platform).set(0)
            self.outbox_oldest.labels(platform).set(0)
        for platform, count, oldest in rows:
            self.outbox_pending.labels(platform).set(count)
            age = (now - oldest).total_seconds() if oldest is not None else 0.0
            self.outbox_oldest.labels(platform).set(max(0.0, age))

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition in the format the scraper asked for, and its content type."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


def _intent_label(msg: IncomingMessage, slot: list[str]) -> str:
    if msg.kind == ContentKind.BUTTON:
        return "button"
    if msg.kind != ContentKind.TEXT:
        return msg.kind.value
    if msg.command is not None:
        return "command"
    if slot:
        return slot[0]
    return "text"


class _ObservedAnalyzer:
    """The analyzer, noting the first intent it gives for the message being handled."""

    def __init__(self, inner: TextAnalyzer) -> None:
        self.inner = inner

    def analyze(self, text: str) -> Analysis:
        analysis = self.inner.analyze(text)
        slot = _classified.get()
        if slot is not None and not slot:
            intent = analysis.intent
            ok = 0 < len(intent) <= _INTENT_MAX and intent.replace("_", "").isalnum()
            slot.append(intent if ok else "other")
        return analysis


class MeteredAdapter:
    """An adapter whose sends are counted: delivered, throttled (429) or failed, by reason."""

    def __init__(self, inner: Adapter, metrics: Metrics) -> None:
        self.inner = inner
        self.platform: Platform = inner.platform
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:
        # Anything else the outbox asks of an adapter is the adapter's own business.
        return getattr(self.inner, name)

    @property
    def pacing(self) -> Pacing:
        return self.inner.pacing

    @pacing.setter
    def pacing(self, value: Pacing) -> None:
        self.inner.pacing = value

    async def send(self, chat_id: str, reply: Reply) -> Receipt | None:
        platform = self.platform.value
        metrics = self._metrics
        try:
            receipt = await self.inner.send(chat_id, reply)
        except RetryLater:
            metrics.throttled.labels(platform).inc()
            raise
        except TransientFailure:
            metrics.send_failures.labels(platform, "transient").inc()
            raise
        except PermanentFailure:
            metrics.send_failures.labels(platform, "unreachable").inc()
            raise
        except RejectedMessage:
            metrics.send_failures.labels(platform, "rejected").inc()
            raise
        except Exception:
            metrics.send_failures.labels(platform, "error").inc()
            raise
        metrics.sent.labels(platform).inc()
        return receipt
