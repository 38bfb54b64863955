"""Events and trainings: /events, registering (/rsvp) with a calendar file, cancelling (/unrsvp),
the waiting list, and reminders the day before and an hour before.

Moderators announce events from the moderation room (:mod:`handlers.engagement_moderation`);
the announcement and the reminders go through the outbox, each once per person.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import PRIORITY_ALERT, PRIORITY_NOTIFICATION, enqueue
from handlers.community_posts import mark_announcement, post_event
from handlers.context import Command, Context, Feature, command_button
from handlers.core import Button, Document, Platform, Recipient, Reply
from handlers.i18n import t
from handlers.text import one_line
from storage import engagement as store
from storage.models import Community, Event, utcnow

log = logging.getLogger(__name__)

KINDS = ("webinar", "training", "brokerage_day", "workshop")
LIST_MAX = 10
ICS_PRODID = "-//innobot//events//EN"


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_time(event: Event, moment: datetime) -> str:
    return moment.astimezone(zone(event.timezone)).strftime("%Y-%m-%d %H:%M")


def describe(lang: str, event: Event, going: int) -> str:
    """The text of an event as people see it (announcement, list, confirmation)."""
    if event.capacity is None:
        places = t(lang, "events.places_unlimited")
    elif going >= event.capacity:
        places = t(lang, "events.places_full")
    else:
        places = t(lang, "events.places_left", count=event.capacity - going)
    return t(
        lang,
        "events.card",
        ref=f"E-{event.id}",
        kind=t(lang, f"events.kind_{event.kind}"),
        title=one_line(event.title),
        start=local_time(event, event.starts_at),
        end=local_time(event, event.ends_at),
        timezone=event.timezone,
        place=one_line(event.place) or "–",
        description=event.description or "",
        places=places,
    )


def rsvp_button(lang: str, event: Event) -> Button:
    return command_button(t(lang, "events.rsvp_button"), f"rsvp {event.id}")


def _ics_text(value: str) -> str:
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n")


def _ics_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """RFC 5545 folding: lines of at most 75 octets, continued with a leading space."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    current = ""
    for char in line:
        limit = 75 if not parts else 74
        if len((current + char).encode()) > limit:
            parts.append(current)
            current = char
        else:
            current += char
    parts.append(current)
    return "\r\n ".join(parts)


def ics(event: Event, *, now: datetime | None = None) -> Document:
    """The event as an iCalendar file (times in UTC, so every calendar shows them right)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{ICS_PRODID}",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:innobot-event-{event.id}@innobot",
        f"DTSTAMP:{_ics_time(now or utcnow())}",
        f"DTSTART:{_ics_time(event.starts_at)}",
        f"DTEND:{_ics_time(event.ends_at)}",
        f"SUMMARY:{_ics_text(one_line(event.title))}",
        f"DESCRIPTION:{_ics_text(event.description or '')}",
        f"LOCATION:{_ics_text(one_line(event.place))}",
        "STATUS:CANCELLED" if event.status == store.CANCELLED else "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    body = "\r\n".join(_fold(line) for line in lines) + "\r\n"
    return Document(f"event-{event.id}.ics", body.encode(), "text/calendar")


# --- /events ---------------------------------------------------------------------------------


async def list_events(ctx: Context) -> list[Reply]:
    found = await store.events(ctx.session, utcnow(), LIST_MAX)
    if not found:
        return [ctx.reply("events.none")]
    replies = [ctx.reply("events.head", count=len(found))]
    for event in found:
        going = await store.going_count(ctx.session, event.id)
        mine = (
            await store.registration(ctx.session, event.id, ctx.person.id) if ctx.person else None
        )
        if mine is not None and mine.status in (store.GOING, store.WAITING):
            label = ctx.t("events.unrsvp_button")
            button = command_button(label, f"unrsvp {event.id}")
        else:
            button = rsvp_button(ctx.lang, event)
        replies.append(Reply(describe(ctx.lang, event, going), ((button,),)))
    return replies


def _event_id(argument: str) -> int | None:
    token = argument.strip().lstrip("#").upper().removeprefix("E-").removeprefix("E")
    return int(token) if token.isdigit() and len(token) <= 12 else None


async def rsvp_command(ctx: Context) -> list[Reply]:
    return await rsvp_for(ctx, ctx.msg.command[1] if ctx.msg.command else "")


async def rsvp_for(ctx: Context, argument: str) -> list[Reply]:
    """Register the person for the event named in ``argument`` (or put them on its list)."""
    assert ctx.person is not None
    event_id = _event_id(argument)
    if event_id is None:
        return [ctx.reply("events.usage", usage="/rsvp ID")]
    event = await store.lock_event(ctx.session, event_id)
    if event is None:
        return [ctx.reply("events.unknown", ref=f"E-{event_id}")]
    if event.status == store.CANCELLED:
        return [ctx.reply("events.is_cancelled", title=one_line(event.title))]
    if event.starts_at <= utcnow():
        return [ctx.reply("events.is_past", title=one_line(event.title))]
    status, changed = await store.register(ctx.session, event, ctx.person.id)
    cancel = ((command_button(ctx.t("events.unrsvp_button"), f"unrsvp {event.id}"),),)
    title = one_line(event.title)
    if status == store.WAITING:
        key = "events.waiting" if changed else "events.already_waiting"
        return [Reply(ctx.t(key, title=title), cancel)]
    key = "events.registered" if changed else "events.already_registered"
    start = local_time(event, event.starts_at)
    return [
        Reply(
            ctx.t(key, title=title, start=start, timezone=event.timezone),
            cancel,
            ics(event),
        )
    ]


async def unrsvp_command(ctx: Context) -> list[Reply]:
    assert ctx.person is not None
    event_id = _event_id(ctx.msg.command[1] if ctx.msg.command else "")
    if event_id is None:
        return [ctx.reply("events.usage", usage="/unrsvp ID")]
    event = await store.lock_event(ctx.session, event_id)
    if event is None:
        return [ctx.reply("events.unknown", ref=f"E-{event_id}")]
    cancelled, promoted = await store.cancel_registration(ctx.session, event, ctx.person.id)
    if not cancelled:
        return [ctx.reply("events.not_registered", title=one_line(event.title))]
    if promoted is not None:
        ctx.notifications.extend(await promoted_notice(ctx.session, event, promoted.person_id))
    return [ctx.reply("events.unregistered", title=one_line(event.title))]


async def promoted_notice(session: AsyncSession, event: Event, person_id: int) -> list[Reply]:
    """The message to someone whose place on the waiting list became a real one."""
    notices = []
    for where in await store.reachable(session, [person_id]):
        text = t(
            where.language,
            "events.moved_up",
            title=one_line(event.title),
            start=local_time(event, event.starts_at),
            timezone=event.timezone,
        )
        notices.append(
            Reply(text, document=ics(event), to=Recipient(Platform(where.platform), where.chat_id))
        )
    return notices


# --- announcing, reminding -------------------------------------------------------------------


def fits(community: Community, audience: dict[str, object]) -> bool:
    """Whether posts for ``audience`` belong in ``community``'s group."""
    if (wanted := audience.get("community")) is not None:
        return str(wanted) == str(community.id)
    topic, region = audience.get("topic"), audience.get("region")
    if topic and topic not in (community.topics or []):
        return False
    if region and (community.region or "").casefold() != str(region).casefold():
        return False
    return bool(topic or region)


async def announce(session: AsyncSession, event: Event) -> int:
    """Queue the event's announcement for its audience and the groups it fits (once each)."""
    people = await store.audience(session, dict(event.audience or {}))
    keys = {f"event:{event.id}:p:{p.person_id}": p for p in people}
    fresh = await store.unused_keys(session, list(keys))
    queued = 0
    for key, where in keys.items():
        if key not in fresh:
            continue
        text = t(where.language, "events.announce") + "\n" + describe(where.language, event, 0)
        reply = Reply(text, ((rsvp_button(where.language, event),),))
        rows = enqueue(
            session,
            where.platform,
            where.chat_id,
            [reply],
            person_id=where.person_id,
            kind="event",
            priority=PRIORITY_ALERT,
            dedupe_key=key,
        )
        # Checked again when its turn comes: not sent to someone who left the audience.
        mark_announcement(rows, event)
        queued += 1
    queued += await post_event(session, event)
    return queued


async def queue_reminders(session: AsyncSession, now: datetime) -> int:
    """Queue the reminders that are due: the day before and an hour before (once each)."""
    queued = 0
    for which in ("day", "hour"):
        for reg, event in await store.due_reminders(session, now, which):
            if which == "day":
                reg.reminded_day = True
                if event.starts_at - now <= store.HOUR_BEFORE:
                    continue  # registered at the last minute: the hour's reminder says it all
            else:
                reg.reminded_day = reg.reminded_hour = True
            for where in await store.reachable(session, [reg.person_id]):
                key = f"event:{event.id}:r{which}:{reg.person_id}"
                if not await store.unused_keys(session, [key]):
                    continue
                text = t(
                    where.language,
                    f"events.reminder_{which}",
                    title=one_line(event.title),
                    start=local_time(event, event.starts_at),
                    timezone=event.timezone,
                    place=one_line(event.place) or "–",
                )
                button = command_button(
                    t(where.language, "events.unrsvp_button"), f"unrsvp {event.id}"
                )
                enqueue(
                    session,
                    where.platform,
                    where.chat_id,
                    [Reply(text, ((button,),))],
                    person_id=where.person_id,
                    kind="event",
                    priority=PRIORITY_NOTIFICATION,
                    dedupe_key=key,
                )
                queued += 1
    return queued


feature = Feature(
    commands={
        "events": Command(list_events, needs_consent=False),
        "rsvp": Command(rsvp_command),
        "unrsvp": Command(unrsvp_command),
    },
)
