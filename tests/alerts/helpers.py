"""Building blocks for the alert tests: people with accounts, subscriptions, approved challenges."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import alerts as store
from storage.models import (
    Challenge,
    Confidentiality,
    Frequency,
    Identity,
    OutboxMessage,
    OutboxStatus,
    Person,
    Status,
    Subscription,
)

T0 = datetime(2026, 6, 10, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


async def add_person(
    session: AsyncSession, user: int, *, lang: str = "en", platform: str = "telegram"
) -> Person:
    person = Person(display_name=f"Person {user}", language=lang, created_at=T0, consent_at=T0)
    person.identities.append(
        Identity(platform=platform, external_id=str(user), chat_id=str(user), created_at=T0)
    )
    session.add(person)
    await session.flush()
    return person


async def subscribe(
    session: AsyncSession,
    person: Person,
    *,
    topics: Sequence[str] = ("energy",),
    keywords: Sequence[str] = (),
    region: str | None = None,
    frequency: Frequency = Frequency.INSTANT,
    weekday: int | None = None,
    at: str = "09:00",
    timezone: str = "Europe/Rome",
    quiet: tuple[str, str] | None = None,
    now: datetime = T0,
) -> Subscription:
    spec = store.SubscriptionSpec(
        topics=tuple(topics),
        keywords=tuple(keywords),
        region=region,
        frequency=frequency.value,
        weekday=weekday,
        delivery_time=at,
        timezone=timezone,
        quiet_start=quiet[0] if quiet else None,
        quiet_end=quiet[1] if quiet else None,
    )
    sub = await store.add_subscription(session, person.id, spec, now)
    assert sub is not None
    return sub


async def add_challenge(
    session: AsyncSession,
    *,
    title: str = "Green hydrogen for steel mills",
    description: str = "We look for electrolysers and storage to decarbonise a steel plant.",
    topics: Sequence[str] = ("energy",),
    region: str | None = None,
    deadline: date | None = None,
    approved_at: datetime | None = T0,
    status: Status = Status.APPROVED,
    confidentiality: Confidentiality = Confidentiality.PUBLIC,
    announce: bool = False,
) -> Challenge:
    challenge = Challenge(
        title=title,
        description=description,
        topics=list(topics),
        region=region,
        deadline=deadline,
        status=status.value,
        decided_at=approved_at,
        confidentiality=confidentiality.value,
        created_at=approved_at or T0,
    )
    session.add(challenge)
    await session.flush()
    if announce:
        await store.queue_instant_alerts(session, challenge)
    return challenge


async def add_subscribers(
    sessions: async_sessionmaker[AsyncSession], first_user: int, count: int, **values: Any
) -> list[int]:
    """``count`` people (user ids from ``first_user``), each with an instant subscription on
    energy; inserted in bulk. Returns the user ids."""
    users = list(range(first_user, first_user + count))
    async with sessions() as session, session.begin():
        people = [
            {"display_name": f"P{u}", "language": "en", "role": "sme", "consent_at": T0,
             "created_at": T0}
            for u in users
        ]  # fmt: skip
        result = await session.execute(
            insert(Person).returning(Person.id, sort_by_parameter_order=True), people
        )
        ids = list(result.scalars())
        await session.execute(
            insert(Identity),
            [
                {"person_id": pid, "platform": "telegram", "external_id": str(u),
                 "chat_id": str(u), "created_at": T0}
                for pid, u in zip(ids, users, strict=True)
            ],
        )  # fmt: skip
        await session.execute(
            insert(Subscription),
            [
                {"person_id": pid, "topics": ["energy"], "keywords": [], "frequency": "instant",
                 "delivery_time": "09:00", "timezone": "Europe/Rome", "active": True,
                 "created_at": T0, "source": "user", **values}
                for pid in ids
            ],
        )  # fmt: skip
    return users


async def outbox(
    sessions: async_sessionmaker[AsyncSession], *kinds: str, status: OutboxStatus | None = None
) -> list[OutboxMessage]:
    async with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kinds:
            query = query.where(OutboxMessage.kind.in_(kinds))
        if status is not None:
            query = query.where(OutboxMessage.status == status.value)
        return list((await session.scalars(query)).all())
