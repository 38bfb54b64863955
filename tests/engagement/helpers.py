"""Drivers for the engagement tests: the moderation desk, group chats and the outbox."""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import count
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbox import decode_reply, enqueue
from handlers.core import ContentKind, IncomingMessage, Platform, Quoted, Reply
from handlers.markup import to_plain
from handlers.moderation import DeskConfig, RoomEvent, handle_room_event
from handlers.router import Router
from storage.models import OutboxMessage

ROOM = "!moderation:example.org"
DESK = DeskConfig(rooms=frozenset({ROOM}), threshold=50, lang="en")
GROUP = "-100200300"
_ids = count(1)


async def _moderator_power() -> int | None:
    return 100


async def desk(sessions: async_sessionmaker[AsyncSession], text: str, *, lang: str = "en") -> str:
    """Run a moderator's ``!`` command; the room's answers as plain text."""
    config = DeskConfig(rooms=DESK.rooms, threshold=DESK.threshold, lang=lang)
    event = RoomEvent(
        room_id=ROOM, sender="@mod:example.org", event_id=f"$e{next(_ids)}", text=text
    )
    async with sessions() as session, session.begin():
        out = await handle_room_event(session, event, config, _moderator_power)
        for message in out:  # queued like the Matrix adapter does
            if not message.to.chat_id.startswith(ROOM):
                enqueue(
                    session,
                    message.to.platform,
                    message.to.chat_id,
                    [message.reply],
                    person_id=message.person_id,
                )
    return "\n".join(to_plain(o.reply.text) for o in out if o.to.chat_id.startswith(ROOM))


@dataclass
class GroupMember:
    """A person writing in a group chat."""

    sessions: async_sessionmaker[AsyncSession]
    router: Router
    user_id: str
    chat_id: str = GROUP
    display_name: str = "Ada"
    language_hint: str | None = "en"
    notifications: list[Reply] = field(default_factory=list)

    async def send(
        self,
        text: str = "",
        *,
        kind: ContentKind = ContentKind.TEXT,
        reply_to: Quoted | None = None,
        button: str | None = None,
    ) -> list[Reply]:
        msg = IncomingMessage(
            platform=Platform.TELEGRAM,
            chat_id=self.chat_id,
            user_id=self.user_id,
            text=text,
            kind=ContentKind.BUTTON if button else kind,
            button=button,
            display_name=self.display_name,
            language_hint=self.language_hint,
            is_private=False,
            message_id=str(next(_ids)),
            reply_to=reply_to,
        )
        async with self.sessions() as session, session.begin():
            outcome = await self.router.handle(session, msg)
        self.notifications = outcome.notifications
        return outcome.replies


def plain(replies: list[Reply]) -> str:
    return "\n".join(to_plain(r.text) for r in replies)


async def queued(
    sessions: async_sessionmaker[AsyncSession], **where: Any
) -> list[tuple[OutboxMessage, Reply]]:
    """Queued outbox rows (filtered by column values), with their replies."""
    async with sessions() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for name, value in where.items():
            query = query.where(getattr(OutboxMessage, name) == value)
        rows = list(await session.scalars(query))
    return [(row, decode_reply(row.payload)) for row in rows]
