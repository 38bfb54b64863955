"""Posts into the Telegram groups and Matrix rooms linked to communities: approved challenges
and announced events, in the community's language, once per (item, community, chat).

Posts go through the outbox (kind :data:`KIND_POST`), paced by the platform's group limit. When
a post's turn comes, :func:`render_posts` checks that it is still wanted: the community is still
active and still linked to that chat, the challenge still approved and not restricted, the event
not cancelled. Personal announcements of events (kind ``event``) are checked the same way by
:func:`render_event_news`: someone who left the community meanwhile no longer gets them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import PRIORITY_ALERT, Renderer, decode_reply, enqueue
from handlers.core import Platform, Reply
from handlers.i18n import t
from handlers.text import one_line
from storage import engagement as store
from storage.models import (
    Challenge,
    Community,
    Confidentiality,
    Event,
    Organisation,
    OutboxMessage,
    Status,
)

log = logging.getLogger(__name__)

KIND_POST = "community_post"
KIND_EVENT = "event"  # the kind of events' personal messages (announcements, reminders)
SUMMARY_MAX = 400


def linked_chats(community: Community) -> list[tuple[Platform, str]]:
    """The chats linked to ``community``: its Telegram group and its Matrix room."""
    chats: list[tuple[Platform, str]] = []
    if community.telegram_chat_id:
        chats.append((Platform.TELEGRAM, str(community.telegram_chat_id)))
    if community.matrix_room_id:
        chats.append((Platform.MATRIX, str(community.matrix_room_id)))
    return chats


def still_linked(community: Community | None, platform: str, chat_id: str) -> bool:
    """Whether posts for ``chat_id`` may still go out on behalf of ``community``."""
    if community is None or not community.active:
        return False
    return (Platform(platform), chat_id) in linked_chats(community)


def challenge_fits(community: Community, challenge: Challenge) -> bool:
    """A challenge fits a community sharing one of its topics and, for a regional community,
    being in its region. A community with neither topics nor a region gets no challenges."""
    topics = set(community.topics or [])
    region = (community.region or "").casefold()
    if not topics and not region:
        return False
    if topics and not topics & set(challenge.topics or []):
        return False
    return not region or (challenge.region or "").casefold() == region


def postable(challenge: Challenge) -> bool:
    """Approved challenges are posted, restricted ones never (their text is not for everyone)."""
    return (
        challenge.status == Status.APPROVED.value
        and challenge.confidentiality != Confidentiality.RESTRICTED.value
    )


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def challenge_post(lang: str, challenge: Challenge, owner: str | None) -> str:
    """A challenge as posted in a group: anonymous ones never name their owner."""
    lines = [
        t(lang, "communities.post_challenge", ref=challenge.ref, title=one_line(challenge.title))
    ]
    if challenge.confidentiality == Confidentiality.PUBLIC.value and owner:
        lines.append(t(lang, "communities.post_owner", name=one_line(owner)))
    lines.append(t(lang, "alerts.summary_text", text=_shorten(challenge.description, SUMMARY_MAX)))
    facts = []
    if challenge.topics:
        labels = ", ".join(t(lang, f"topics.{name}") for name in challenge.topics)
        facts.append(t(lang, "alerts.fact_topics", topics=labels))
    if challenge.region:
        facts.append(t(lang, "alerts.fact_region", region=challenge.region))
    if challenge.deadline:
        facts.append(t(lang, "alerts.fact_deadline", deadline=challenge.deadline.isoformat()))
    if facts:
        lines.append(" · ".join(facts))
    lines.append(t(lang, "communities.post_challenge_how", ref=challenge.ref))
    return "\n".join(lines)


def event_post(lang: str, event: Event, platform: Platform) -> Reply:
    """An event as posted in a group: a Register button on Telegram (answered in the private
    chat), on Matrix the command to send in the direct chat."""
    from handlers.events import describe, rsvp_button

    text = t(lang, "events.announce") + "\n" + describe(lang, event, 0)
    if platform is Platform.TELEGRAM:
        return Reply(text, ((rsvp_button(lang, event),),))
    return Reply(text + "\n" + t(lang, "communities.post_rsvp_how", id=event.id))


def _queue_post(
    session: AsyncSession,
    community: Community,
    platform: Platform,
    chat_id: str,
    reply: Reply,
    key: str,
    item: dict[str, Any],
) -> None:
    [row] = enqueue(
        session,
        platform,
        chat_id,
        [reply],
        kind=KIND_POST,
        priority=PRIORITY_ALERT,
        dedupe_key=key,
    )
    row.payload = {**row.payload, "community": community.id, **item}


async def post_challenge(session: AsyncSession, challenge: Challenge) -> int:
    """Queue an approved challenge's post for every linked chat of the communities it fits."""
    if not postable(challenge):
        return 0
    targets = [
        (community, platform, chat)
        for community in await store.communities(session)
        if challenge_fits(community, challenge)
        for platform, chat in linked_chats(community)
    ]
    keys = {
        f"post:challenge:{challenge.id}:k{c.id}:{p.value}": (c, p, chat) for c, p, chat in targets
    }
    fresh = await store.unused_keys(session, list(keys))
    owner = None
    if challenge.organisation_id is not None:
        organisation = await session.get(Organisation, challenge.organisation_id)
        owner = organisation.name if organisation is not None else None
    for key in sorted(fresh):
        community, platform, chat = keys[key]
        text = challenge_post(community.language, challenge, owner)
        _queue_post(
            session, community, platform, chat, Reply(text), key, {"challenge": challenge.id}
        )
    if fresh:
        log.info("challenge %s: posted to %d linked chats", challenge.id, len(fresh))
    return len(fresh)


async def post_event(session: AsyncSession, event: Event) -> int:
    """Queue an event's post for every linked chat of the communities its audience fits."""
    from handlers.events import fits

    audience = dict(event.audience or {})
    targets = [
        (community, platform, chat)
        for community in await store.communities(session)
        if fits(community, audience)
        for platform, chat in linked_chats(community)
    ]
    # Telegram groups keep the key they always had; Matrix rooms have their own.
    keys = {
        (
            f"event:{event.id}:g:{c.id}"
            if p is Platform.TELEGRAM
            else f"event:{event.id}:g:{c.id}:{p.value}"
        ): (c, p, chat)
        for c, p, chat in targets
    }
    fresh = await store.unused_keys(session, list(keys))
    for key in sorted(fresh):
        community, platform, chat = keys[key]
        reply = event_post(community.language, event, platform)
        _queue_post(session, community, platform, chat, reply, key, {"event": event.id})
    return len(fresh)


# --- at delivery -----------------------------------------------------------------------------


async def _by_id(session: AsyncSession, model: Any, ids: set[int]) -> dict[int, Any]:
    if not ids:
        return {}
    rows = await session.scalars(select(model).where(model.id.in_(sorted(ids))))
    return {int(row.id): row for row in rows}


def _ids(rows: Sequence[OutboxMessage], name: str) -> set[int]:
    return {int(v) for row in rows if isinstance(v := row.payload.get(name), int)}


async def render_posts(session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Reply | None]:
    """Posts whose turn has come, or None for those no longer wanted."""
    communities = await _by_id(session, Community, _ids(rows, "community"))
    challenges = await _by_id(session, Challenge, _ids(rows, "challenge"))
    events = await _by_id(session, Event, _ids(rows, "event"))
    replies: list[Reply | None] = []
    for row in rows:
        community = communities.get(row.payload.get("community"))  # type: ignore[arg-type]
        wanted = still_linked(community, row.platform, row.chat_id)
        if (challenge_id := row.payload.get("challenge")) is not None:
            challenge = challenges.get(challenge_id)
            wanted = wanted and challenge is not None and postable(challenge)
        if (event_id := row.payload.get("event")) is not None:
            event = events.get(event_id)
            wanted = wanted and event is not None and event.status == store.SCHEDULED
        if not wanted:
            log.info("outbox: a post to a community chat is no longer wanted; dropped")
        replies.append(decode_reply(row.payload) if wanted else None)
    return replies


async def render_event_news(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> list[Reply | None]:
    """Personal event messages whose turn has come: an announcement is dropped when its event
    was cancelled or the person is no longer in its audience (they left the community)."""
    events = await _by_id(session, Event, _ids(rows, "announce"))
    audiences: dict[int, set[int]] = {}
    replies: list[Reply | None] = []
    for row in rows:
        event_id = row.payload.get("announce")
        if not isinstance(event_id, int):
            replies.append(decode_reply(row.payload))
            continue
        event = events.get(event_id)
        if event is None or event.status != store.SCHEDULED:
            replies.append(None)
            continue
        wanted_by = dict(event.audience or {})
        if not any(wanted_by.get(k) is not None for k in ("community", "topic", "region")):
            replies.append(decode_reply(row.payload))  # not a matter of membership
            continue
        if event_id not in audiences:
            found = await store.audience(session, wanted_by)
            audiences[event_id] = {where.person_id for where in found}
        wanted = row.person_id is not None and row.person_id in audiences[event_id]
        replies.append(decode_reply(row.payload) if wanted else None)
    return replies


RENDERERS: dict[str, Renderer] = {
    KIND_POST: render_posts,
    KIND_EVENT: render_event_news,
}


def mark_announcement(rows: Sequence[OutboxMessage], event: Event) -> None:
    """Note on queued announcement rows which event they announce (checked at delivery)."""
    for row in rows:
        row.payload = {**row.payload, "announce": event.id}
