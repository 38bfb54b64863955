"""Moderators' commands for communities, consultations and events (``!community``,
``!consultation``, ``!event`` in the moderation room), dispatched from :mod:`handlers.moderation`.

Options follow the first part after ``|`` as ``name=value``; times are ``YYYY-MM-DD HH:MM`` in
the time zone given with ``tz=`` (Europe/Rome by default), for example::

    !event create Hydrogen webinar | kind=webinar | starts=2027-03-04 10:00 | ends=2027-03-04 11:30
        | tz=Europe/Stockholm | place=https://meet.example/h2 | capacity=50 | audience=topic:energy

``!community remove R-ID`` and ``!community mute R-ID [12h]`` act in the Telegram group or the
Matrix room through the outbox (Telegram: deleteMessage, restrictChatMember; Matrix: a redaction,
the member's power level lowered and, when the mute ends, given back); ``!community unmute R-ID``
ends a mute before its time: the report becomes "removed", "muted" or "unmuted" only when the
platform accepted it, and :func:`on_group_action` tells the room the outcome, naming the admin
right or power level innobot lacks when that is why it failed. Linking a group or a room checks
innobot's rights there, and changes of innobot's own place in a linked group
(:func:`bot_status_changed`) are reported.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import PRIORITY_NOTIFICATION, enqueue
from handlers import consultations, events
from handlers.context import Context, Feature
from handlers.core import ContentKind, GroupAction, Platform, Recipient, Reply
from handlers.i18n import t
from handlers.moderation import MODERATION_ROOM, DeskConfig, Outgoing, RoomEvent, room_language
from handlers.text import one_line
from nlp.labels import TOPICS
from storage import engagement as store
from storage.models import (
    Community,
    Consultation,
    Event,
    GroupReport,
    OutboxMessage,
    OutboxStatus,
    Role,
    utcnow,
)

log = logging.getLogger(__name__)

NAME_MAX = 120
TITLE_MAX = 200
DESCRIPTION_MAX = 2000
PLACE_MAX = 300
MESSAGE_MAX = 1000
CAPACITY_MAX = 100_000
LIST_MAX = 20
TIME_FORMAT = "%Y-%m-%d %H:%M"
DEFAULT_ZONE = "Europe/Rome"
MUTE_DEFAULT = timedelta(hours=24)
MUTE_MAX = timedelta(days=366)
_UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


class Desk(Protocol):
    """What these commands use of the moderation desk."""

    session: AsyncSession
    event: RoomEvent
    config: DeskConfig
    out: list[Outgoing]

    @property
    def lang(self) -> str: ...

    def t(self, key: str, /, **values: object) -> str: ...

    def say(self, key: str, /, **values: object) -> None: ...

    def say_text(self, text: str) -> None: ...


class BadOption(ValueError):
    """An option a moderator gave that cannot be used; ``args`` are a catalog key and values."""

    def __init__(self, key: str, **values: object) -> None:
        super().__init__(key)
        self.key = key
        self.values = values


def split_options(rest: str) -> tuple[str, dict[str, str]]:
    """``"Title | a=1 | flag"`` → ``("Title", {"a": "1", "flag": ""})``."""
    head, *parts = rest.split("|")
    options: dict[str, str] = {}
    for part in parts:
        name, _, value = part.strip().partition("=")
        if name.strip():
            options[name.strip().lower()] = value.strip()
    return head.strip(), options


def parse_zone(options: dict[str, str]) -> str:
    name = options.get("tz") or DEFAULT_ZONE
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise BadOption("engagement.bad_timezone", zone=name[:64]) from exc
    return name


def parse_time(value: str | None, zone: str, what: str) -> datetime:
    if not value:
        raise BadOption("engagement.missing", what=what)
    try:
        local = datetime.strptime(" ".join(value.split()), TIME_FORMAT)
    except ValueError as exc:
        raise BadOption("engagement.bad_time", value=value[:40], format="YYYY-MM-DD HH:MM") from exc
    return local.replace(tzinfo=ZoneInfo(zone)).astimezone(ZoneInfo("UTC"))


def parse_audience(value: str | None) -> dict[str, Any]:
    """``role:sme,topic:energy,region:Lombardy,community:3`` → a filter for the audience."""
    audience: dict[str, Any] = {}
    if not value:
        return audience
    for part in value.split(","):
        name, _, wanted = part.strip().partition(":")
        name, wanted = name.strip().lower(), wanted.strip()
        if name == "role" and wanted in {r.value for r in Role}:
            audience["role"] = wanted
        elif name == "topic" and wanted in TOPICS:
            audience["topic"] = wanted
        elif name == "region" and 0 < len(wanted) <= 120:
            audience["region"] = wanted
        elif name == "community" and wanted.isdigit() and len(wanted) <= 12:
            audience["community"] = int(wanted)
        else:
            raise BadOption("engagement.bad_audience", part=part.strip()[:60])
    return audience


def _bounded(value: str, limit: int, what: str) -> str:
    if len(value) > limit:
        raise BadOption("engagement.too_long", what=what, max=limit)
    return value


def _id(token: str, prefix: str) -> int | None:
    token = token.strip().lstrip("#").upper().removeprefix(prefix + "-").removeprefix(prefix)
    return int(token) if token.isdigit() and len(token) <= 12 else None


SubHandler = Callable[[Desk, str], Awaitable[None]]


async def _dispatch(desk: Desk, rest: str, table: dict[str, SubHandler], usage: str) -> None:
    name, _, tail = rest.strip().partition(" ")
    handler = table.get(name.lower())
    if handler is None:
        desk.say("moderation.usage", usage=usage)
        return
    try:
        await handler(desk, tail.strip())
    except BadOption as bad:
        desk.say(bad.key, **bad.values)


# --- !community ------------------------------------------------------------------------------


async def _community_create(desk: Desk, rest: str) -> None:
    name, options = split_options(rest)
    if not name:
        raise BadOption("engagement.missing", what="name")
    topics = [n.strip() for n in options.get("topics", "").split(",") if n.strip()]
    unknown = [n for n in topics if n not in TOPICS]
    if unknown:
        raise BadOption("engagement.bad_topic", topic=unknown[0][:40], topics=", ".join(TOPICS))
    lang = options.get("lang", "en")
    if lang not in ("en", "it", "sv"):
        raise BadOption("engagement.bad_language", lang=lang[:8])
    community = Community(
        name=_bounded(one_line(name), NAME_MAX, "name"),
        topics=topics,
        region=_bounded(options["region"], 120, "region") if options.get("region") else None,
        language=lang,
        created_by=desk.event.sender,
    )
    desk.session.add(community)
    await desk.session.flush()
    desk.say("engagement.community_created", id=community.id, name=community.name)


async def _community_link(desk: Desk, rest: str) -> None:
    """``!community link ID telegram CHAT_ID [INVITE_LINK]`` or ``... matrix ROOM_ID``."""
    parts = rest.split()
    if len(parts) < 3 or _id(parts[0], "K") is None:
        desk.say("moderation.usage", usage="!community link ID telegram|matrix CHAT [LINK]")
        return
    community = await desk.session.get(Community, _id(parts[0], "K"))
    if community is None:
        desk.say("engagement.unknown", ref=parts[0][:20])
        return
    where, chat = parts[1].lower(), parts[2][:255]
    if where == "telegram":
        if not chat.lstrip("-").isdigit():
            raise BadOption("engagement.bad_chat", chat=chat[:40])
        other = await store.community_of_chat(desk.session, chat)
        if other is not None and other.id != community.id:
            raise BadOption("engagement.chat_taken", chat=chat, name=other.name)
        if len(parts) > 3:
            link = parts[3]
            if not link.startswith("https://t.me/") or len(link) > 255:
                raise BadOption("engagement.bad_link", link=link[:60])
            community.invite_link = link
        community.telegram_chat_id = chat
        if not desk.config.telegram:
            # Nothing could carry a rights check out: the link stands, and the room is told.
            desk.say("engagement.community_linked", name=community.name, chat=chat)
            desk.say("engagement.telegram_off_link")
            return
        # The link stands either way; innobot's rights there are checked and the room told
        # (on_group_action): without them it cannot act on reports.
        check = GroupAction("check_rights", ref=f"K-{community.id}")
        desk.out.append(Outgoing(Recipient(Platform.TELEGRAM, chat), Reply("", action=check)))
    elif where == "matrix":
        if not chat.startswith("!") or len(chat) < 2:  # room version 12 ids have no server
            raise BadOption("engagement.bad_chat", chat=chat[:40])
        community.matrix_room_id = chat
        desk.say("engagement.community_linked", name=community.name, chat=chat)
        # As for a group: the link stands, and innobot's power levels there are checked (it
        # joins first if it may) and the room told (on_group_action).
        check = GroupAction("check_rights", ref=f"K-{community.id}")
        desk.out.append(Outgoing(Recipient(Platform.MATRIX, chat), Reply("", action=check)))
        return
    else:
        desk.say("moderation.usage", usage="!community link ID telegram|matrix CHAT [LINK]")
        return
    desk.say("engagement.community_linked", name=community.name, chat=chat)


async def _community_list(desk: Desk, rest: str) -> None:
    found = await store.communities(desk.session, active_only=False)
    if not found:
        desk.say("engagement.community_none")
        return
    counts = await store.member_counts(desk.session)
    lines = [desk.t("engagement.community_head", count=len(found))]
    for c in found[:LIST_MAX]:
        lines.append(
            desk.t(
                "engagement.community_item",
                id=c.id,
                name=c.name,
                topics=", ".join(c.topics or []) or "–",
                region=c.region or "–",
                members=counts.get(c.id, 0),
                chat=c.telegram_chat_id or "–",
            )
        )
    desk.say_text("\n".join(lines))


async def _community_close(desk: Desk, rest: str) -> None:
    community_id = _id(rest, "K")
    community = await desk.session.get(Community, community_id) if community_id else None
    if community is None:
        desk.say("engagement.unknown", ref=rest[:20])
        return
    community.active = False
    desk.say("engagement.community_closed", name=community.name)


def parse_duration(value: str) -> timedelta:
    """``30m``, ``12h``, ``7d`` (at most 366 days); an empty value is a day."""
    value = value.strip().lower()
    if not value:
        return MUTE_DEFAULT
    number, unit = value[:-1], value[-1:]
    if unit not in _UNITS or not number.isdigit() or len(number) > 6 or int(number) < 1:
        raise BadOption("engagement.bad_duration", value=value[:20])
    duration = int(number) * _UNITS[unit]
    if duration > MUTE_MAX:
        raise BadOption("engagement.bad_duration", value=value[:20])
    return duration


async def _report_action(desk: Desk, rest: str, action: str) -> None:
    head, _, tail = rest.strip().partition(" ")
    report_id = _id(head, "R")
    report = await desk.session.get(GroupReport, report_id) if report_id else None
    if report is None:
        desk.say("engagement.unknown", ref=rest[:20])
        return
    if report.status != "open":
        desk.say("engagement.report_done", ref=f"R-{report.id}", status=report.status)
        return
    ref = f"R-{report.id}"
    report.handled_by = desk.event.sender
    if action == "dismissed":
        report.status = action
        desk.say("engagement.report_dismissed", ref=ref)
        return
    platform = _platform_of(report.chat_id)
    if platform is None:
        # Neither a Telegram group nor a Matrix room: innobot cannot act there; the decision
        # is recorded and the room told that the chat's own admins have to carry it out.
        report.status = action
        desk.say(f"engagement.report_{action}", ref=ref)
        return
    if platform is Platform.TELEGRAM and not desk.config.telegram:
        desk.say("engagement.telegram_off_action", ref=ref)
        return
    if await _action_pending(desk.session, platform, report.chat_id, ref):
        key = "engagement.report_pending"
        desk.say(key if platform is Platform.TELEGRAM else "engagement.matrix_pending", ref=ref)
        return
    # The report changes only when the platform has done it (on_group_action hears the outcome).
    matrix = platform is Platform.MATRIX
    reason = ""
    if action == "removed":
        act = GroupAction("delete_message", ref=ref, message_id=report.message_id)
        desk.say("engagement.matrix_removing" if matrix else "engagement.report_removing", ref=ref)
        if matrix:  # shown with the redaction, in the community's language
            community = await desk.session.get(Community, report.community_id)
            reason = t(community.language if community else desk.lang, "engagement.redact_reason")
    else:
        until = utcnow() + parse_duration(tail)
        act = GroupAction("restrict", ref=ref, user_id=report.reported_user, until=_stamp(until))
        key = "engagement.matrix_muting" if matrix else "engagement.report_muting"
        desk.say(key, ref=ref, until=until.strftime("%Y-%m-%d %H:%M UTC"))
    to = Recipient(platform, report.chat_id)
    desk.out.append(Outgoing(to, Reply(reason, action=act)))


def _platform_of(chat_id: str) -> Platform | None:
    """Where a reported message was: a Telegram group (a number) or a Matrix room (``!id``)."""
    if chat_id.lstrip("-").isdigit():
        return Platform.TELEGRAM
    if chat_id.startswith("!") and len(chat_id) > 1:
        return Platform.MATRIX
    return None


async def _action_pending(
    session: AsyncSession, platform: Platform, chat_id: str, ref: str
) -> bool:
    """Whether an action for ``ref`` still waits in the outbox (asked, not yet answered).

    The end of a Matrix mute, due at its time, is no such action: nobody waits for it now.
    """
    query = select(OutboxMessage.payload).where(
        OutboxMessage.platform == platform.value,
        OutboxMessage.chat_id == chat_id,
        OutboxMessage.status == OutboxStatus.PENDING.value,
        OutboxMessage.payload["action"]["ref"].as_string() == ref,
    )
    payloads = await session.scalars(query)
    return any(not _is_mute_end(payload.get("action")) for payload in payloads)


def _is_mute_end(action: object) -> bool:
    """A queued action that ends a Matrix mute at its time (an early end carries no time)."""
    return (
        isinstance(action, dict)
        and action.get("kind") == "unrestrict"
        and action.get("until") is not None
    )


async def _waiting_mute_ends(
    session: AsyncSession, chat_id: str, user_id: str | None
) -> list[OutboxMessage]:
    """The rows still waiting to end ``user_id``'s mute in the Matrix room ``chat_id``."""
    query = select(OutboxMessage).where(
        OutboxMessage.platform == Platform.MATRIX.value,
        OutboxMessage.chat_id == chat_id,
        OutboxMessage.status == OutboxStatus.PENDING.value,
        OutboxMessage.payload["action"]["kind"].as_string() == "unrestrict",
        OutboxMessage.payload["action"]["user_id"].as_string() == (user_id or ""),
    )
    return [row for row in await session.scalars(query) if _is_mute_end(row.payload["action"])]


async def _drop_rows(session: AsyncSession, rows: list[OutboxMessage], why: str) -> None:
    if rows:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in rows]))
            .values(status=OutboxStatus.DROPPED.value, last_error=why, payload={})
        )


def _stamp(moment: datetime) -> int:
    return int(moment.timestamp())


async def _community_remove(desk: Desk, rest: str) -> None:
    await _report_action(desk, rest, "removed")


async def _community_mute(desk: Desk, rest: str) -> None:
    await _report_action(desk, rest, "muted")


async def _community_dismiss(desk: Desk, rest: str) -> None:
    await _report_action(desk, rest, "dismissed")


async def _community_unmute(desk: Desk, rest: str) -> None:
    """``!community unmute R-ID``: end a mute innobot made before its time."""
    report_id = _id(rest.strip().partition(" ")[0], "R")
    report = await desk.session.get(GroupReport, report_id) if report_id else None
    if report is None:
        desk.say("engagement.unknown", ref=rest[:20])
        return
    ref = f"R-{report.id}"
    if report.status != "muted":
        desk.say("engagement.unmute_not_muted", ref=ref, status=report.status)
        return
    platform = _platform_of(report.chat_id)
    if platform is None:
        # innobot could not mute there either: the decision is recorded, the chat's admins act.
        report.status = "unmuted"
        report.handled_by = desk.event.sender
        desk.say("engagement.report_unmuted", ref=ref)
        return
    if platform is Platform.TELEGRAM and not desk.config.telegram:
        desk.say("engagement.telegram_off_unmute", ref=ref)
        return
    matrix = platform is Platform.MATRIX
    if await _action_pending(desk.session, platform, report.chat_id, ref):
        desk.say("engagement.matrix_pending" if matrix else "engagement.report_pending", ref=ref)
        return
    if matrix:
        ends = await _waiting_mute_ends(desk.session, report.chat_id, report.reported_user)
        if not ends:
            # Ended already, or a room admin's mute that innobot left as it was.
            desk.say("engagement.matrix_unmute_nothing", ref=ref)
            return
        level = ends[0].payload["action"].get("level")
        act = GroupAction(
            "unrestrict",
            ref=ref,
            user_id=report.reported_user,
            level=level if isinstance(level, int) else None,
        )
        desk.say("engagement.matrix_unmuting", ref=ref)
    else:
        act = GroupAction("unrestrict", ref=ref, user_id=report.reported_user)
        desk.say("engagement.report_unmuting", ref=ref)
    report.handled_by = desk.event.sender
    desk.out.append(Outgoing(Recipient(platform, report.chat_id), Reply("", action=act)))


COMMUNITY: dict[str, SubHandler] = {
    "create": _community_create,
    "link": _community_link,
    "list": _community_list,
    "close": _community_close,
    "remove": _community_remove,
    "mute": _community_mute,
    "dismiss": _community_dismiss,
    "unmute": _community_unmute,
}


async def community(desk: Desk, rest: str) -> None:
    await _dispatch(
        desk, rest, COMMUNITY, "!community create|link|list|close|remove|mute|unmute|dismiss"
    )


# --- !consultation ---------------------------------------------------------------------------


async def _consultation_create(desk: Desk, rest: str) -> None:
    question, options = split_options(rest)
    if not question:
        raise BadOption("engagement.missing", what="question")
    _bounded(question, consultations.QUESTION_MAX, "question")
    choices = [one_line(o) for o in options.get("options", "").split(";") if one_line(o)]
    kind = "text" if "text" in options else "multiple" if "multiple" in options else "single"
    if kind != "text" and len(choices) < 2:
        raise BadOption("engagement.no_options")
    if len(choices) > consultations.OPTIONS_MAX:
        raise BadOption("engagement.too_many_options", max=consultations.OPTIONS_MAX)
    for choice in choices:
        _bounded(choice, consultations.OPTION_MAX, "option")
    zone = parse_zone(options)
    now = utcnow()
    opens = parse_time(options["opens"], zone, "opens") if options.get("opens") else now
    closes = parse_time(options.get("closes"), zone, "closes")
    if closes <= opens:
        raise BadOption("engagement.closes_before_opens")
    if closes <= now:
        raise BadOption("engagement.closes_in_past")
    consultation = Consultation(
        question=question,
        kind=kind,
        options=choices if kind != "text" else [],
        audience=parse_audience(options.get("audience")),
        opens_at=opens,
        closes_at=closes,
        share_results="results" in options,
        created_by=desk.event.sender,
    )
    desk.session.add(consultation)
    await desk.session.flush()
    desk.say(
        "engagement.consultation_created",
        ref=consultations.ref(consultation),
        opens=opens.strftime("%Y-%m-%d %H:%M UTC"),
        closes=closes.strftime("%Y-%m-%d %H:%M UTC"),
    )


async def _consultation_get(desk: Desk, rest: str) -> Consultation | None:
    consultation_id = _id(rest.split(" ", 1)[0] if rest else "", "Q")
    found = await desk.session.get(Consultation, consultation_id) if consultation_id else None
    if found is None:
        desk.say("engagement.unknown", ref=rest[:20] or "?")
    return found


async def _consultation_results(desk: Desk, rest: str) -> None:
    found = await _consultation_get(desk, rest)
    if found is not None:
        desk.say_text(await consultations.results_text(desk.session, desk.lang, found))


async def _consultation_close(desk: Desk, rest: str) -> None:
    found = await _consultation_get(desk, rest)
    if found is None:
        return
    if found.status == store.CLOSED:
        desk.say("engagement.consultation_already_closed", ref=consultations.ref(found))
        return
    found.closes_at = min(found.closes_at, utcnow())
    await consultations.close(desk.session, found)
    desk.say("engagement.consultation_closed", ref=consultations.ref(found))


async def _consultation_list(desk: Desk, rest: str) -> None:
    found = await store.consultations(desk.session, LIST_MAX)
    if not found:
        desk.say("engagement.consultation_none")
        return
    lines = [desk.t("engagement.consultation_head")]
    for c in found:
        answers = (await store.results(desk.session, c, texts=0)).answers
        lines.append(
            desk.t(
                "engagement.consultation_item",
                ref=consultations.ref(c),
                question=one_line(c.question)[:80],
                status=c.status,
                answers=answers,
            )
        )
    desk.say_text("\n".join(lines))


CONSULTATION: dict[str, SubHandler] = {
    "create": _consultation_create,
    "results": _consultation_results,
    "close": _consultation_close,
    "list": _consultation_list,
}


async def consultation(desk: Desk, rest: str) -> None:
    await _dispatch(desk, rest, CONSULTATION, "!consultation create|results|close|list")


# --- !event ----------------------------------------------------------------------------------


async def _event_create(desk: Desk, rest: str) -> None:
    title, options = split_options(rest)
    if not title:
        raise BadOption("engagement.missing", what="title")
    kind = options.get("kind", "webinar")
    if kind not in events.KINDS:
        raise BadOption("engagement.bad_kind", kind=kind[:30], kinds=", ".join(events.KINDS))
    zone = parse_zone(options)
    starts = parse_time(options.get("starts"), zone, "starts")
    ends = (
        parse_time(options["ends"], zone, "ends")
        if options.get("ends")
        else starts + timedelta(hours=1)
    )
    if ends <= starts:
        raise BadOption("engagement.ends_before_starts")
    if starts <= utcnow():
        raise BadOption("engagement.starts_in_past")
    capacity: int | None = None
    if options.get("capacity"):
        value = options["capacity"]
        if not value.isdigit() or not 1 <= int(value) <= CAPACITY_MAX:
            raise BadOption("engagement.bad_capacity", value=value[:20], max=CAPACITY_MAX)
        capacity = int(value)
    event = Event(
        kind=kind,
        title=_bounded(one_line(title), TITLE_MAX, "title"),
        description=_bounded(options.get("description", ""), DESCRIPTION_MAX, "description"),
        starts_at=starts,
        ends_at=ends,
        timezone=zone,
        place=_bounded(options.get("place", ""), PLACE_MAX, "place"),
        capacity=capacity,
        audience=parse_audience(options.get("audience")),
        created_by=desk.event.sender,
    )
    desk.session.add(event)
    await desk.session.flush()
    queued = await events.announce(desk.session, event)
    desk.say("engagement.event_created", ref=f"E-{event.id}", title=event.title, count=queued)


async def _event_get(desk: Desk, rest: str) -> Event | None:
    event_id = _id(rest.split(" ", 1)[0] if rest else "", "E")
    found = await store.lock_event(desk.session, event_id) if event_id else None
    if found is None:
        desk.say("engagement.unknown", ref=rest.split(" ", 1)[0][:20] or "?")
    return found


async def _event_registrations(desk: Desk, rest: str) -> None:
    event = await _event_get(desk, rest)
    if event is None:
        return
    regs = await store.registrations(desk.session, event.id)
    going = sum(1 for r in regs if r.status == store.GOING)
    waiting = sum(1 for r in regs if r.status == store.WAITING)
    cancelled = sum(1 for r in regs if r.status == store.CANCELLED)
    desk.say(
        "engagement.event_registrations",
        ref=f"E-{event.id}",
        title=event.title,
        going=going,
        capacity=event.capacity if event.capacity is not None else "∞",
        waiting=waiting,
        cancelled=cancelled,
    )


async def _tell_registrants(desk: Desk, event: Event, key: str, **values: object) -> int:
    regs = await store.registrations(desk.session, event.id)
    ids = [r.person_id for r in regs if r.status in (store.GOING, store.WAITING)]
    for where in await store.reachable(desk.session, ids):
        text = t(where.language, key, title=one_line(event.title), **values)
        to = Recipient(Platform(where.platform), where.chat_id)
        desk.out.append(Outgoing(to, Reply(text), where.person_id))
    return len(ids)


async def _event_message(desk: Desk, rest: str) -> None:
    event = await _event_get(desk, rest)
    if event is None:
        return
    text = rest.partition(" ")[2].strip()
    if not text:
        desk.say("moderation.usage", usage="!event message ID TEXT")
        return
    _bounded(text, MESSAGE_MAX, "message")
    count = await _tell_registrants(desk, event, "events.message_from_organisers", text=text)
    desk.say("engagement.event_messaged", ref=f"E-{event.id}", count=count)


async def _event_cancel(desk: Desk, rest: str) -> None:
    event = await _event_get(desk, rest)
    if event is None:
        return
    if event.status == store.CANCELLED:
        desk.say("engagement.event_already_cancelled", ref=f"E-{event.id}")
        return
    event.status = store.CANCELLED
    count = await _tell_registrants(desk, event, "events.cancelled_notice")
    desk.say("engagement.event_cancelled", ref=f"E-{event.id}", count=count)


async def _event_list(desk: Desk, rest: str) -> None:
    found = await store.events(desk.session, utcnow(), LIST_MAX)
    if not found:
        desk.say("engagement.event_none")
        return
    lines = [desk.t("engagement.event_head")]
    for e in found:
        lines.append(
            desk.t(
                "engagement.event_item",
                ref=f"E-{e.id}",
                title=one_line(e.title)[:80],
                start=events.local_time(e, e.starts_at),
                timezone=e.timezone,
                going=await store.going_count(desk.session, e.id),
            )
        )
    desk.say_text("\n".join(lines))


EVENT: dict[str, SubHandler] = {
    "create": _event_create,
    "list": _event_list,
    "registrations": _event_registrations,
    "message": _event_message,
    "cancel": _event_cancel,
}


async def event(desk: Desk, rest: str) -> None:
    await _dispatch(desk, rest, EVENT, "!event create|list|registrations|message|cancel")


COMMANDS: dict[str, SubHandler] = {
    "community": community,
    "consultation": consultation,
    "event": event,
}


# --- what Telegram did with innobot's group actions ----------------------------------------------

# The admin right each action needs, as Telegram's apps name it (catalog keys).
_RIGHTS = {
    "delete_message": "engagement.right_delete",
    "restrict": "engagement.right_restrict",
    "unrestrict": "engagement.right_restrict",
}


async def _tell_room(session: AsyncSession, key: str, **values: object) -> None:
    lang = await room_language(session)
    text = t(lang, key, **values)
    enqueue(
        session, Platform.MATRIX, MODERATION_ROOM, [Reply(text)], priority=PRIORITY_NOTIFICATION
    )


def _missing_rights(lang: str, status: str) -> str:
    have = status.split()
    return ", ".join(
        t(lang, key)
        for right, key in (("delete", _RIGHTS["delete_message"]), ("restrict", _RIGHTS["restrict"]))
        if right not in have
    )


async def on_group_action(
    session: AsyncSession,
    row: object,
    action: GroupAction,
    receipt: dict[str, Any] | None,
    error: str | None,
) -> None:
    """The outcome of a group action, in the transaction that records it (outbox hook).

    A report becomes "removed" or "muted" only here, when Telegram accepted the action; the
    room hears the outcome in its language, including which admin right innobot lacks.
    """
    if action.kind == "check_rights":
        if getattr(row, "platform", None) == Platform.MATRIX.value:
            await _powers_checked(session, action, receipt, error)
        else:
            await _rights_checked(session, action, receipt, error)
        return
    if action.kind not in _RIGHTS:
        return  # stopping a poll: nobody is waiting to hear
    report_id = _id(action.ref, "R")
    report = await session.get(GroupReport, report_id) if report_id else None
    if report is None:
        return
    if _platform_of(report.chat_id) is Platform.MATRIX:
        await _matrix_outcome(session, report, action, receipt, error)
        row_id = getattr(row, "id", None)
        if action.kind == "unrestrict" and isinstance(row_id, int):
            # The mute's end is settled: its row need not keep the member's id.
            await session.execute(
                update(OutboxMessage).where(OutboxMessage.id == row_id).values(payload={})
            )
        return
    ref = f"R-{report.id}"
    if receipt is not None and receipt.get("ok") and action.kind == "unrestrict":
        await _mark_unmuted(session, report)
        await _tell_room(session, "engagement.report_unmuted_done", ref=ref)
        log.info("report %s: the mute was ended early in the group", ref)
        return
    if receipt is not None and receipt.get("ok"):
        report.status = "removed" if action.kind == "delete_message" else "muted"
        if action.kind == "delete_message":
            await _tell_room(session, "engagement.report_removed_done", ref=ref)
        else:
            await _tell_room(
                session, "engagement.report_muted_done", ref=ref, until=_until_text(action)
            )
        log.info("report %s: %s carried out in the group", ref, action.kind)
        return
    reason = str((receipt or {}).get("reason") or "error")
    log.info("report %s: %s not carried out (%s)", ref, action.kind, reason)
    lang = await room_language(session)
    if reason == "no_right":
        await _tell_room(
            session, "engagement.action_no_right", ref=ref, right=t(lang, _RIGHTS[action.kind])
        )
    elif reason == "not_member":
        await _tell_room(session, "engagement.action_not_member", ref=ref)
    elif reason == "gone" and action.kind == "delete_message":
        await _tell_room(session, "engagement.action_message_gone", ref=ref)
    elif reason == "gone":
        await _tell_room(session, "engagement.action_member_gone", ref=ref)
    elif reason == "too_old":
        await _tell_room(session, "engagement.action_too_old", ref=ref)
    elif reason == "is_admin":
        await _tell_room(session, "engagement.action_is_admin", ref=ref)
    else:
        detail = str((receipt or {}).get("detail") or error or "")[:200]
        unmute = action.kind == "unrestrict"
        key = "engagement.unmute_failed" if unmute else "engagement.action_failed"
        await _tell_room(session, key, ref=ref, detail=detail or "–")


async def _mark_unmuted(session: AsyncSession, report: GroupReport) -> None:
    """The member can write again: their muted reports in that chat (one mute may stand for
    several) become "unmuted" (acted on, in the statistics)."""
    await session.execute(
        update(GroupReport)
        .where(
            GroupReport.chat_id == report.chat_id,
            GroupReport.reported_user == report.reported_user,
            GroupReport.status == "muted",
        )
        .values(status="unmuted")
    )
    report.status = "unmuted"


def _until_text(action: GroupAction) -> str:
    return datetime.fromtimestamp(action.until or 0, ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M UTC")


# What innobot needs a power level for in a Matrix room (catalog keys).
_POWERS = {"redact": "engagement.power_redact", "power_levels": "engagement.power_levels"}


async def _matrix_outcome(
    session: AsyncSession,
    report: GroupReport,
    action: GroupAction,
    receipt: dict[str, Any] | None,
    error: str | None,
) -> None:
    """What the homeserver did with an action in a community room (see :func:`on_group_action`).

    A mute done queues the member's level back for when it ends: an outbox row due then (so it
    survives restarts), which replaces one still waiting for the same member (its earlier level
    is the one to give back, and the later end wins).
    """
    ref = f"R-{report.id}"
    ok = receipt is not None and bool(receipt.get("ok"))
    if action.kind == "unrestrict" and action.until is None:
        # A moderator's early end: the end still waiting must not act again.
        if ok:
            ends = await _waiting_mute_ends(session, report.chat_id, report.reported_user)
            await _drop_rows(session, ends, "the mute was ended early by the moderators")
            await _mark_unmuted(session, report)
            await _tell_room(session, "engagement.report_unmuted_done", ref=ref)
        else:
            why = await _matrix_why(session, receipt, error)
            await _tell_room(session, "engagement.matrix_unmute_refused", ref=ref, why=why)
        log.info("report %s: early end of the mute %s", ref, "done" if ok else "refused")
        return
    if action.kind == "unrestrict":
        if ok:
            await _tell_room(session, "engagement.matrix_unmuted", ref=ref)
        else:
            lang = await room_language(session)
            level = action.level
            await _tell_room(
                session,
                "engagement.matrix_unmute_failed",
                ref=ref,
                level=level if level is not None else t(lang, "engagement.matrix_default_level"),
                why=await _matrix_why(session, receipt, error),
            )
        log.info("report %s: the mute ended (%s)", ref, "level given back" if ok else "refused")
        return
    if not ok:
        why = await _matrix_why(session, receipt, error)
        reason = str((receipt or {}).get("reason") or "error")
        log.info("report %s: %s not carried out in the room (%s)", ref, action.kind, reason)
        await _tell_room(session, "engagement.matrix_refused", ref=ref, why=why)
        return
    assert receipt is not None
    if action.kind == "delete_message":
        report.status = "removed"
        await _tell_room(session, "engagement.matrix_removed_done", ref=ref)
    else:
        report.status = "muted"
        previous = receipt.get("previous")
        level = int(previous) if isinstance(previous, int) else None
        until = datetime.fromtimestamp(action.until or 0, ZoneInfo("UTC"))
        level, until, replaced = await _replace_waiting_unmute(session, report, level, until)
        if receipt.get("already") and not replaced:
            # Already unable to write, and not by innobot's doing: that mute is not innobot's
            # to end.
            await _tell_room(session, "engagement.matrix_already_muted", ref=ref)
            log.info("report %s: the member was muted in the room already", ref)
            return
        back = GroupAction(
            "unrestrict", ref=ref, user_id=action.user_id, until=_stamp(until), level=level
        )
        [row] = enqueue(
            session,
            Platform.MATRIX,
            report.chat_id,
            [Reply("", action=back)],
            priority=PRIORITY_NOTIFICATION,
        )
        # Due when the mute ends, and counted as waiting from then (the outbox's age metric,
        # retention): until then it is not late, only early.
        row.next_attempt_at = row.created_at = until
        await _tell_room(
            session,
            "engagement.matrix_muted_done",
            ref=ref,
            until=until.strftime("%Y-%m-%d %H:%M UTC"),
        )
    log.info("report %s: %s carried out in the room", ref, action.kind)


async def _replace_waiting_unmute(
    session: AsyncSession, report: GroupReport, level: int | None, until: datetime
) -> tuple[int | None, datetime, bool]:
    """Drop the unmute still waiting for this member in this room, if any (True); the level it
    would have given back and the later of the two ends are the ones to keep."""
    waiting = await _waiting_mute_ends(session, report.chat_id, report.reported_user)
    for row in waiting:
        earlier = row.payload["action"]
        level = earlier.get("level")
        stamp = earlier.get("until")
        if isinstance(stamp, int):
            until = max(until, datetime.fromtimestamp(stamp, ZoneInfo("UTC")))
    if waiting:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_([row.id for row in waiting]))
            .values(status=OutboxStatus.DROPPED.value, last_error="replaced by a later mute")
        )
    return level, until, bool(waiting)


async def _matrix_why(
    session: AsyncSession, receipt: dict[str, Any] | None, error: str | None
) -> str:
    """Why the homeserver did not do it, in the room's language."""
    lang = await room_language(session)
    found = receipt or {}
    reason = str(found.get("reason") or "error")
    if reason == "no_right":
        what = t(lang, _POWERS.get(str(found.get("right")), "engagement.power_levels"))
        return t(
            lang,
            "engagement.matrix_no_power",
            what=what,
            needed=found.get("needed", "?"),
            have=found.get("have", "?"),
        )
    if reason == "not_member":
        return t(lang, "engagement.matrix_not_member")
    if reason == "gone":
        return t(lang, "engagement.matrix_gone")
    if reason == "is_admin":
        return t(lang, "engagement.matrix_is_admin")
    detail = str(found.get("detail") or error or "")[:200]
    return t(lang, "engagement.matrix_failed", detail=detail or "–")


async def _rights_checked(
    session: AsyncSession, action: GroupAction, receipt: dict[str, Any] | None, error: str | None
) -> None:
    community_id = _id(action.ref, "K")
    community = await session.get(Community, community_id) if community_id else None
    if community is None:
        return
    if receipt is None:  # Telegram could not be asked (unreachable for long, refused the call)
        detail = (error or "–")[:200]
        await _tell_room(session, "engagement.rights_unknown", name=community.name, detail=detail)
        return
    status = str((receipt or {}).get("status") or "")
    key, values = _status_message(await room_language(session), status)
    await _tell_room(session, key, name=community.name, **values)


async def _powers_checked(
    session: AsyncSession, action: GroupAction, receipt: dict[str, Any] | None, error: str | None
) -> None:
    """innobot's power levels in a Matrix room just linked: the room hears whether it can act
    on reports there, or which level it lacks (its own and the one needed)."""
    community_id = _id(action.ref, "K")
    community = await session.get(Community, community_id) if community_id else None
    if community is None:
        return
    found = receipt or {}
    if not found.get("ok"):
        if found.get("reason") == "not_member":
            await _tell_room(session, "engagement.matrix_rights_not_member", name=community.name)
        else:
            detail = str(found.get("detail") or error or "–")[:200]
            await _tell_room(
                session, "engagement.matrix_rights_unknown", name=community.name, detail=detail
            )
        return
    lang = await room_language(session)
    have = found.get("have")
    missing = [
        f"{t(lang, key)} ({found[right]})"
        for right, key in _POWERS.items()
        if isinstance(found.get(right), int) and isinstance(have, int) and have < found[right]
    ]
    if missing:
        await _tell_room(
            session,
            "engagement.matrix_rights_low",
            name=community.name,
            have=have,
            missing=", ".join(missing),
        )
    else:
        await _tell_room(session, "engagement.matrix_rights_ok", name=community.name, have=have)
    log.info("community %s: innobot's power levels in its room checked", community.id)


def _status_message(lang: str, status: str) -> tuple[str, dict[str, object]]:
    """The room's message about innobot's ``status`` in a group (``admin delete restrict``,
    ``member``, ``removed``: :data:`handlers.core.ContentKind.BOT_STATUS`)."""
    words = status.split()
    if not words or words[0] == "removed":
        return "engagement.rights_not_member", {}
    if words[0] != "admin":
        return "engagement.rights_not_admin", {}
    missing = _missing_rights(lang, status)
    if missing:
        return "engagement.rights_missing", {"rights": missing}
    return "engagement.rights_ok", {}


async def bot_status_changed(ctx: Context) -> list[Reply] | None:
    """innobot was added to, promoted or demoted in, or removed from a group (a group handler):
    the moderation room hears it when the group is linked to a community."""
    if ctx.msg.kind is not ContentKind.BOT_STATUS:
        return None
    community = await store.community_of_chat(ctx.session, ctx.msg.chat_id)
    if community is None:
        return []
    lang = await room_language(ctx.session)
    key, values = _status_message(lang, ctx.msg.text)
    key = key.replace("engagement.rights_", "engagement.bot_now_")
    text = t(lang, key, name=community.name, **values)
    ctx.notifications.append(Reply(text, to=Recipient(Platform.MATRIX, MODERATION_ROOM)))
    log.info("community %s: innobot's status in its group is now %s", community.id, ctx.msg.text)
    return []


feature = Feature(group=bot_status_changed)
