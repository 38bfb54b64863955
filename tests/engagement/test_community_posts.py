"""Posts into linked groups and rooms: approved challenges and events reach every linked chat of
the communities they fit, once each, in the community's language; restricted challenges never,
anonymous ones without their owner; posts and personal news no longer wanted are dropped when
their turn comes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbox import DeliveryWorker
from handlers.community_posts import KIND_POST, RENDERERS
from handlers.core import Platform
from handlers.i18n import t
from handlers.markup import to_plain
from storage.models import (
    Challenge,
    Confidentiality,
    Organisation,
    OutboxMessage,
    OutboxStatus,
)
from tests.engagement.helpers import GROUP, desk, queued
from tests.fakes.recording_adapter import RecordingAdapter
from tests.handlers.chat import ChatFactory, onboard

ROOM = "!energia:example.org"
START = (datetime.now(UTC) + timedelta(days=10)).replace(second=0, microsecond=0)


async def _communities(sessions: async_sessionmaker[AsyncSession], lang: str) -> None:
    await desk(sessions, f"!community create Energia | topics=energy | lang={lang}")
    await desk(sessions, f"!community link 1 telegram {GROUP}")
    await desk(sessions, f"!community link 1 matrix {ROOM}")
    # Another topic, linked too: nothing of the above fits it.
    await desk(sessions, "!community create Salute | topics=health | lang=en")
    await desk(sessions, "!community link 2 telegram -100999")


async def _challenge(
    sessions: async_sessionmaker[AsyncSession], level: Confidentiality, title: str
) -> str:
    async with sessions() as session, session.begin():
        organisation = Organisation(name="Acme Energia")
        session.add(organisation)
        await session.flush()
        challenge = Challenge(
            title=title,
            description="We look for heat pumps that work in old buildings without new radiators.",
            lang="en",
            topics=["energy"],
            topic_scores={"energy": 0.9},
            organisation_id=organisation.id,
            confidentiality=level.value,
        )
        session.add(challenge)
        await session.flush()
        return challenge.ref


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_an_approved_challenge_is_posted_once_to_each_linked_chat_it_fits(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _communities(sessions, lang)
    public = await _challenge(sessions, Confidentiality.PUBLIC, "Heat pumps")
    anonymous = await _challenge(sessions, Confidentiality.ANONYMOUS, "Quiet fans")
    restricted = await _challenge(sessions, Confidentiality.RESTRICTED, "Secret cells")
    for ref in (public, anonymous, restricted):
        await desk(sessions, f"!approve {ref}")
    await desk(sessions, f"!approve {public}")  # already decided: nothing posted again

    posts = await queued(sessions, kind=KIND_POST)
    assert sorted((row.platform, row.chat_id) for row, _ in posts) == sorted(
        [("telegram", GROUP), ("matrix", ROOM)] * 2
    )
    texts = [to_plain(reply.text) for _, reply in posts]
    heat = [text for text in texts if "Heat pumps" in text]
    quiet = [text for text in texts if "Quiet fans" in text]
    assert len(heat) == len(quiet) == 2
    owner = to_plain(t(lang, "communities.post_owner", name="Acme Energia"))
    assert all(owner in text for text in heat)
    assert not any("Acme" in text for text in quiet)
    how = to_plain(t(lang, "communities.post_challenge_how", ref=public))
    assert all(how in text for text in heat)
    assert not any("Secret" in text for text in texts)


async def test_posts_and_personal_news_no_longer_wanted_are_dropped_at_delivery(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    await _communities(sessions, "en")
    member = chat(user_id="21")
    await onboard(member)
    await member.send("/join 1")
    when = START.strftime("%Y-%m-%d %H:%M")
    said = await desk(
        sessions, f"!event create Heat pump day | starts={when} | tz=UTC | audience=community:1"
    )
    assert "E-1" in said
    event_posts = await queued(sessions, kind=KIND_POST)
    assert sorted(row.chat_id for row, _ in event_posts) == sorted([GROUP, ROOM])
    matrix_post = next(reply for row, reply in event_posts if row.chat_id == ROOM)
    assert not matrix_post.buttons
    assert "/rsvp 1" in to_plain(matrix_post.text)
    [(announcement, _)] = await queued(sessions, kind="event")
    assert announcement.chat_id == "21"

    # The member leaves while everything is still queued: the community's posts go out, the
    # member's personal news does not.
    await member.send("/leave 1")
    telegram = RecordingAdapter(platform=Platform.TELEGRAM)
    matrix = RecordingAdapter(platform=Platform.MATRIX)
    worker = DeliveryWorker(
        sessions, {Platform.TELEGRAM: telegram, Platform.MATRIX: matrix}, renderers=RENDERERS
    )
    while await worker.deliver_due():
        pass
    # (Linking a group or a room also sent innobot's check of its rights there: no text.)
    assert [chat for chat, reply in telegram.sent if reply.text] == [GROUP]
    assert [chat for chat, reply in matrix.sent if reply.text] == [ROOM]
    assert await _statuses(sessions, "event") == [OutboxStatus.DROPPED.value]

    # The Matrix room is replaced by another one and then the community is closed: what was
    # queued for it before does not go out any more.
    later = (START + timedelta(days=1)).strftime("%Y-%m-%d %H:%M")
    await desk(sessions, f"!event create Open lab | starts={later} | tz=UTC | audience=community:1")
    await desk(sessions, "!community link 1 matrix !elsewhere:example.org")
    await desk(sessions, "!community close 1")
    while await worker.deliver_due():
        pass
    matrix_texts = [reply for _, reply in matrix.sent if reply.text]
    assert len([reply for _, reply in telegram.sent if reply.text]) == len(matrix_texts) == 1
    assert (
        await _statuses(sessions, KIND_POST)
        == [OutboxStatus.SENT.value] * 2 + [OutboxStatus.DROPPED.value] * 2
    )


async def _statuses(sessions: async_sessionmaker[AsyncSession], kind: str) -> list[str]:
    async with sessions() as session:
        query = select(OutboxMessage.status).where(OutboxMessage.kind == kind)
        return list(await session.scalars(query.order_by(OutboxMessage.id)))
