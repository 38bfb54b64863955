"""Brokerage test helpers: people who publish profiles and challenges, and a moderator."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbox import decode_reply
from handlers.markup import to_plain
from handlers.moderation import DeskConfig, Outgoing, RoomEvent, handle_room_event
from storage.models import (
    Challenge,
    InfrastructureProfile,
    ItemKind,
    OutboxMessage,
    Person,
    SolutionProfile,
)
from tests.handlers.chat import Chat, onboard

ROOM = "!moderation:localhost"
_events = itertools.count(1)

VISION_EN = (
    "VisionLine",
    "Machine vision for surface defects",
    "We build camera-based inspection cells that find scratches, dents and other surface "
    "flaws on metal parts in real time, and reject faulty pieces automatically.",
)
STAMPING_IT = (
    "Acciaierie Lombarde",
    "Riconoscere i graffi sui pezzi stampati",
    "La nostra linea di presse produce ventimila pezzi in acciaio al giorno. Cerchiamo un "
    "controllo automatico dei difetti superficiali, graffi e ammaccature, prima dell'imballaggio.",
)


async def profile(
    chat: Chat,
    organisation: str = VISION_EN[0],
    title: str = VISION_EN[1],
    description: str = VISION_EN[2],
    *,
    contact: str | None = "sales@visionline.example",
    show_name: bool = True,
    location: str = "Lombardy, Italy",
) -> None:
    """Go through /profile and submit it."""
    await chat.send("/profile")
    await chat.send(organisation)
    await chat.send(title)
    await chat.send(description)
    await chat.press(value="done")  # topics: none picked
    await chat.press(value="7")  # TRL
    await chat.send(location)
    await chat.press(value="en")
    await chat.press(value="done")
    if contact is None:
        await chat.press(value="skip")
    else:
        await chat.send(contact)
    await chat.press(value="yes" if show_name else "no")
    await chat.press(value="confirm")


async def lab(chat: Chat, organisation: str, title: str, services: str) -> None:
    await chat.send("/lab")
    await chat.send(organisation)
    await chat.send(title)
    await chat.send(services)
    await chat.press(value="skip")  # equipment
    await chat.press(value="done")  # topics
    await chat.press(value="cost_based")
    await chat.press(value="skip")  # lead time
    await chat.send("Umeå, Sweden")
    await chat.send("lab@example.org")
    await chat.press(value="yes")
    await chat.press(value="confirm")


async def challenge(
    chat: Chat,
    organisation: str = STAMPING_IT[0],
    title: str = STAMPING_IT[1],
    description: str = STAMPING_IT[2],
    *,
    level: str = "public",
    contact: str | None = "innovazione@acciaierie.example",
    deadline: str | None = None,
) -> None:
    """Go through /challenge and submit it."""
    await chat.send("/challenge")
    await chat.send(organisation)
    await chat.send(title)
    await chat.send(description)
    await chat.press(value="done")  # topics
    if deadline is None:
        await chat.press(value="skip")
    else:
        await chat.send(deadline)
    await chat.press(value="contract")
    await chat.press(value="done")
    await chat.press(value=level)
    if contact is None:
        await chat.press(value="skip")
    else:
        await chat.send(contact)
    await chat.press(value="confirm")


async def person(chat: Chat, lang: str = "en", role: str = "sme") -> Chat:
    await onboard(chat, lang, role)
    return chat


async def moderate(sessions: async_sessionmaker[AsyncSession], text: str) -> list[Outgoing]:
    """A moderator's command in the moderation room, in one transaction (as the adapter does)."""

    async def power() -> int:
        return 100

    event = RoomEvent(ROOM, "@moderator:localhost", f"$event{next(_events)}", text)
    async with sessions() as session, session.begin():
        return await handle_room_event(session, event, DeskConfig(frozenset({ROOM})), power)


async def latest(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> Any:
    async with sessions() as session:
        return (await session.scalars(select(model).order_by(model.id.desc()).limit(1))).first()


async def approve_latest(sessions: async_sessionmaker[AsyncSession], model: type[Any]) -> str:
    item = await latest(sessions, model)
    await moderate(sessions, f"!approve {item.ref}")
    return str(item.ref)


@dataclass
class Sent:
    kind: str
    text: str
    dedupe_key: str | None
    buttons: list[str]


async def messages_to(
    sessions: async_sessionmaker[AsyncSession], chat: Chat, kind: str | None = "match"
) -> list[Sent]:
    """What innobot queued for ``chat``'s person outside of direct replies."""
    async with sessions() as session:
        query = select(OutboxMessage).where(OutboxMessage.chat_id == chat.user_id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        rows = (await session.scalars(query.order_by(OutboxMessage.id))).all()
    found = []
    for row in rows:
        reply = decode_reply(row.payload)
        labels = [button.payload for line in reply.buttons for button in line]
        found.append(Sent(row.kind, to_plain(reply.text), row.dedupe_key, labels))
    return found


async def room_messages(sessions: async_sessionmaker[AsyncSession]) -> list[str]:
    async with sessions() as session:
        rows = (
            await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.platform == "matrix")
                .order_by(OutboxMessage.id)
            )
        ).all()
    return [str(row.payload.get("text", "")) for row in rows]


async def person_of(sessions: async_sessionmaker[AsyncSession], chat: Chat) -> Person:
    from storage.models import Identity

    async with sessions() as session:
        return (
            await session.scalars(
                select(Person).join(Identity).where(Identity.external_id == chat.user_id)
            )
        ).one()


KINDS = {
    ItemKind.SOLUTION: SolutionProfile,
    ItemKind.INFRASTRUCTURE: InfrastructureProfile,
    ItemKind.CHALLENGE: Challenge,
}
