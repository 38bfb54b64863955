"""What the database itself guarantees, on SQLite and PostgreSQL alike: UTC timestamps, unique
keys, and what deleting a person takes with it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import (
    ConversationState,
    Idea,
    Identity,
    OutboxMessage,
    Person,
    Subscription,
)

Sessions = async_sessionmaker[AsyncSession]


async def _person(sessions: Sessions, external_id: str = "1001") -> int:
    async with sessions() as session, session.begin():
        person = Person(display_name="Ada", language="it")
        person.identities.append(
            Identity(platform="telegram", external_id=external_id, chat_id=external_id)
        )
        session.add(person)
    return person.id


async def _count(sessions: Sessions, model: type[object]) -> int:
    async with sessions() as session:
        return (await session.scalar(select(func.count()).select_from(model))) or 0


async def test_datetimes_come_back_as_the_same_instant_in_utc(sessions: Sessions) -> None:
    rome_summer = timezone(timedelta(hours=2))
    stored = datetime(2026, 6, 30, 23, 15, 7, 123456, tzinfo=rome_summer)
    async with sessions() as session, session.begin():
        person = Person(consent_at=stored)
        session.add(person)
    async with sessions() as session:
        loaded = await session.get_one(Person, person.id)
        assert loaded.consent_at == stored
        assert loaded.consent_at.tzinfo is UTC
        assert loaded.consent_at == datetime(2026, 6, 30, 21, 15, 7, 123456, tzinfo=UTC)
        assert loaded.created_at.tzinfo is UTC


async def test_datetimes_compare_in_utc_inside_the_database(sessions: Sessions) -> None:
    plus_five = timezone(timedelta(hours=5))
    async with sessions() as session, session.begin():
        session.add_all(
            [
                Person(display_name="early", consent_at=datetime(2026, 1, 1, 10, 0, tzinfo=UTC)),
                # 08:00 UTC: earlier than the first although its wall-clock time is later.
                Person(
                    display_name="later", consent_at=datetime(2026, 1, 1, 13, 0, tzinfo=plus_five)
                ),
            ]
        )
    async with sessions() as session:
        names = await session.scalars(select(Person.display_name).order_by(Person.consent_at))
        assert list(names) == ["later", "early"]
        cutoff = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)
        after = await session.scalars(select(Person.display_name).where(Person.consent_at > cutoff))
        assert list(after) == ["early"]


async def test_a_naive_datetime_is_refused(sessions: Sessions) -> None:
    async with sessions() as session:
        session.add(Person(consent_at=datetime(2026, 1, 1, 12, 0)))
        with pytest.raises(StatementError, match="naive datetime"):
            await session.flush()


async def test_an_identity_is_unique_per_platform(sessions: Sessions) -> None:
    person_id = await _person(sessions, external_id="42")
    async with sessions() as session, session.begin():
        # The same account number on another platform is another identity.
        session.add(
            Identity(person_id=person_id, platform="matrix", external_id="42", chat_id="!r")
        )
    async with sessions() as session:
        session.add(
            Identity(person_id=person_id, platform="telegram", external_id="42", chat_id="9")
        )
        with pytest.raises(IntegrityError):
            await session.commit()
    assert await _count(sessions, Identity) == 2


async def test_an_outbox_dedupe_key_is_queued_once(sessions: Sessions) -> None:
    def message(key: str | None) -> OutboxMessage:
        return OutboxMessage(platform="telegram", chat_id="7", dedupe_key=key, payload={"t": "hi"})

    async with sessions() as session, session.begin():
        # Messages without a key (ordinary replies) never collide.
        session.add_all([message("alert:7:C-1"), message(None), message(None)])
    async with sessions() as session:
        session.add(message("alert:7:C-1"))
        with pytest.raises(IntegrityError):
            await session.commit()
    assert await _count(sessions, OutboxMessage) == 3


async def test_one_conversation_state_per_platform_chat_and_user(sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            [
                ConversationState(platform="telegram", chat_id="5", user_id="5", flow="idea"),
                ConversationState(platform="telegram", chat_id="group", user_id="5"),
                ConversationState(platform="matrix", chat_id="5", user_id="5"),
            ]
        )
    async with sessions() as session:
        session.add(ConversationState(platform="telegram", chat_id="5", user_id="5"))
        with pytest.raises(IntegrityError):
            await session.commit()
    assert await _count(sessions, ConversationState) == 3


async def test_deleting_a_person_removes_identities_and_subscriptions_and_keeps_ideas(
    sessions: Sessions,
) -> None:
    person_id = await _person(sessions)
    other_id = await _person(sessions, external_id="2002")
    async with sessions() as session, session.begin():
        session.add_all(
            [
                Subscription(person_id=person_id, topics=["energy"]),
                Subscription(person_id=other_id, topics=["health"]),
                Idea(person_id=person_id, title="Bike lanes", description="Safer streets"),
                OutboxMessage(platform="telegram", chat_id="1001", person_id=person_id, payload={}),
            ]
        )
    async with sessions() as session, session.begin():
        await session.delete(await session.get_one(Person, person_id))

    async with sessions() as session:
        identities = await session.scalars(select(Identity.person_id))
        assert list(identities) == [other_id]
        subscriptions = await session.scalars(select(Subscription.person_id))
        assert list(subscriptions) == [other_id]
        idea = await session.scalar(select(Idea))
        assert idea is not None
        assert idea.title == "Bike lanes"
        assert idea.person_id is None
        assert await session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


async def test_the_database_cascades_without_the_orm(sessions: Sessions) -> None:
    person_id = await _person(sessions)
    async with sessions() as session, session.begin():
        session.add(Idea(person_id=person_id, title="Compost", description="Shared bins"))
        session.add(Subscription(person_id=person_id))
        await session.execute(delete(Person).where(Person.id == person_id))
    assert await _count(sessions, Identity) == 0
    assert await _count(sessions, Subscription) == 0
    async with sessions() as session:
        assert list(await session.scalars(select(Idea.person_id))) == [None]


async def test_foreign_keys_are_enforced(sessions: Sessions) -> None:
    async with sessions() as session:
        session.add(Identity(person_id=999_999, platform="telegram", external_id="1", chat_id="1"))
        with pytest.raises(IntegrityError):
            await session.commit()
