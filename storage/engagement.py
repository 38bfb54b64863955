"""Queries of the engagement features: communities, group reports, consultations and events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    ChatPoll,
    Community,
    CommunityMember,
    Consultation,
    ConsultationAnswer,
    Event,
    EventRegistration,
    GroupReport,
    Identity,
    OutboxMessage,
    Person,
    Subscription,
    utcnow,
)

GOING = "going"
WAITING = "waiting"
CANCELLED = "cancelled"

SCHEDULED = "scheduled"
OPEN = "open"
CLOSED = "closed"

DAY_BEFORE = timedelta(hours=24)
HOUR_BEFORE = timedelta(hours=1)


# --- communities -----------------------------------------------------------------------------


async def communities(session: AsyncSession, *, active_only: bool = True) -> list[Community]:
    query = select(Community).order_by(Community.id)
    if active_only:
        query = query.where(Community.active.is_(True))
    return list(await session.scalars(query))


async def community_of_chat(session: AsyncSession, chat_id: str) -> Community | None:
    """The active community linked to the Telegram group ``chat_id``, if any."""
    query = select(Community).where(
        Community.telegram_chat_id == chat_id, Community.active.is_(True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def community_of_room(session: AsyncSession, room_id: str) -> Community | None:
    query = select(Community).where(Community.matrix_room_id == room_id, Community.active.is_(True))
    return (await session.execute(query)).scalars().first()


async def memberships(session: AsyncSession, person_id: int) -> set[int]:
    query = select(CommunityMember.community_id).where(CommunityMember.person_id == person_id)
    return set(await session.scalars(query))


async def join(session: AsyncSession, community_id: int, person_id: int) -> bool:
    """Make ``person_id`` a member; False if they were one already."""
    if community_id in await memberships(session, person_id):
        return False
    async with session.begin_nested():
        session.add(CommunityMember(community_id=community_id, person_id=person_id))
    return True


async def leave(session: AsyncSession, community_id: int, person_id: int) -> bool:
    result = await session.execute(
        delete(CommunityMember).where(
            CommunityMember.community_id == community_id,
            CommunityMember.person_id == person_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def is_member(session: AsyncSession, community_id: int, person_id: int) -> bool:
    return community_id in await memberships(session, person_id)


async def member_counts(session: AsyncSession) -> dict[int, int]:
    query = select(CommunityMember.community_id, func.count()).group_by(
        CommunityMember.community_id
    )
    return {int(cid): int(n) for cid, n in (await session.execute(query)).all()}


async def person_by_identity(
    session: AsyncSession, platform: str, external_id: str
) -> Person | None:
    query = (
        select(Person)
        .join(Identity)
        .where(Identity.platform == platform, Identity.external_id == external_id)
    )
    return (await session.execute(query)).scalar_one_or_none()


# --- audiences -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reachable:
    """A person and the chat innobot reaches them in."""

    person_id: int
    language: str
    platform: str
    chat_id: str


async def audience(session: AsyncSession, wanted: dict[str, Any]) -> list[Reachable]:
    """The people a consultation or an event is for: every filter given must hold.

    ``role``: their role; ``community``: members of that community; ``topic``: members of a
    community on that topic or subscribers to it; ``region``: members of a community of that
    region or subscribers in it. No filter: everyone.
    """
    query = select(Person.id, Person.language, Person.role)
    people = {int(pid): (str(lang), str(role)) for pid, lang, role in await session.execute(query)}
    chosen = set(people)
    if role := wanted.get("role"):
        chosen = {pid for pid in chosen if people[pid][1] == role}
    if (community_id := wanted.get("community")) is not None:
        members = select(CommunityMember.person_id).where(
            CommunityMember.community_id == int(community_id)
        )
        chosen &= set(await session.scalars(members))
    if topic := wanted.get("topic"):
        chosen &= await _people_on(session, "topic", str(topic))
    if region := wanted.get("region"):
        chosen &= await _people_on(session, "region", str(region))
    return await reachable(session, sorted(chosen), people)


async def _people_on(session: AsyncSession, what: str, value: str) -> set[int]:
    found: set[int] = set()
    rows = await session.execute(
        select(CommunityMember.person_id, Community.topics, Community.region).join(
            Community, Community.id == CommunityMember.community_id
        )
    )
    for pid, topics, region in rows:
        if (what == "topic" and value in (topics or [])) or (
            what == "region" and (region or "").casefold() == value.casefold()
        ):
            found.add(int(pid))
    subs = await session.execute(
        select(Subscription.person_id, Subscription.topics, Subscription.region).where(
            Subscription.active.is_(True)
        )
    )
    for pid, topics, region in subs:
        if (what == "topic" and value in (topics or [])) or (
            what == "region" and (region or "").casefold() == value.casefold()
        ):
            found.add(int(pid))
    return found


async def reachable(
    session: AsyncSession,
    person_ids: Sequence[int],
    languages: dict[int, tuple[str, str]] | None = None,
) -> list[Reachable]:
    """Where each of ``person_ids`` can be reached (their first identity), in id order."""
    if not person_ids:
        return []
    rows = await session.execute(
        select(Identity.person_id, Identity.platform, Identity.chat_id, Person.language)
        .join(Person, Person.id == Identity.person_id)
        .where(Identity.person_id.in_(person_ids))
        .order_by(Identity.person_id, Identity.id)
    )
    seen: dict[int, Reachable] = {}
    for pid, platform, chat_id, lang in rows:
        if int(pid) not in seen:
            seen[int(pid)] = Reachable(int(pid), str(lang), str(platform), str(chat_id))
    return [seen[pid] for pid in sorted(seen)]


async def unused_keys(session: AsyncSession, keys: Sequence[str]) -> set[str]:
    """Those of ``keys`` no queued message carries yet (so that each message is queued once)."""
    used: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = list(keys[start : start + 500])
        found = await session.scalars(
            select(OutboxMessage.dedupe_key).where(OutboxMessage.dedupe_key.in_(chunk))
        )
        used |= {key for key in found if key is not None}
    return set(keys) - used


# --- reports ---------------------------------------------------------------------------------


async def open_report_for(
    session: AsyncSession, chat_id: str, message_id: str
) -> GroupReport | None:
    query = select(GroupReport).where(
        GroupReport.chat_id == chat_id, GroupReport.message_id == message_id
    )
    return (await session.execute(query)).scalars().first()


# --- consultations ---------------------------------------------------------------------------


async def consultations(session: AsyncSession, limit: int = 20) -> list[Consultation]:
    query = select(Consultation).order_by(Consultation.id.desc()).limit(limit)
    return list(await session.scalars(query))


async def answer_of(
    session: AsyncSession, consultation_id: int, person_id: int
) -> ConsultationAnswer | None:
    query = select(ConsultationAnswer).where(
        ConsultationAnswer.consultation_id == consultation_id,
        ConsultationAnswer.person_id == person_id,
    )
    return (await session.execute(query)).scalar_one_or_none()


async def record_answer(
    session: AsyncSession,
    consultation: Consultation,
    person_id: int,
    *,
    choices: Sequence[int] = (),
    text: str | None = None,
) -> ConsultationAnswer:
    """Store ``person_id``'s answer, replacing any earlier one."""
    answer = await answer_of(session, consultation.id, person_id)
    if answer is None:
        answer = ConsultationAnswer(consultation_id=consultation.id, person_id=person_id)
        session.add(answer)
    answer.choices = sorted(set(choices))
    answer.text = text
    answer.updated_at = utcnow()
    await session.flush()
    return answer


async def remove_answer(session: AsyncSession, consultation_id: int, person_id: int) -> bool:
    """Withdraw ``person_id``'s answer (a vote taken back); False if there was none."""
    result = await session.execute(
        delete(ConsultationAnswer).where(
            ConsultationAnswer.consultation_id == consultation_id,
            ConsultationAnswer.person_id == person_id,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def record_poll(
    session: AsyncSession, platform: str, chat_id: str, message_id: str, poll_id: str, subject: str
) -> None:
    """Remember a native poll innobot sent (its answers name only the poll)."""
    if await session.get(ChatPoll, poll_id) is None:
        session.add(
            ChatPoll(
                poll_id=poll_id,
                platform=platform,
                chat_id=chat_id,
                message_id=message_id,
                subject=subject,
            )
        )
        await session.flush()


async def chat_poll(session: AsyncSession, poll_id: str) -> ChatPoll | None:
    return await session.get(ChatPoll, poll_id)


async def polls_of(session: AsyncSession, subject: str) -> list[ChatPoll]:
    """The polls sent for ``subject`` (e.g. ``consultation:12``), oldest first."""
    query = select(ChatPoll).where(ChatPoll.subject == subject).order_by(ChatPoll.created_at)
    return list(await session.scalars(query))


@dataclass(frozen=True, slots=True)
class Results:
    answers: int
    per_option: tuple[int, ...]
    texts: tuple[str, ...]


async def results(session: AsyncSession, consultation: Consultation, texts: int = 10) -> Results:
    rows = list(
        await session.scalars(
            select(ConsultationAnswer)
            .where(ConsultationAnswer.consultation_id == consultation.id)
            .order_by(ConsultationAnswer.id)
        )
    )
    counts: Counter[int] = Counter()
    for row in rows:
        counts.update(int(i) for i in row.choices or [])
    per_option = tuple(counts.get(i, 0) for i in range(len(consultation.options or [])))
    written = tuple(row.text for row in rows if row.text)[-texts:]
    return Results(len(rows), per_option, written)


async def participants(session: AsyncSession, consultation_id: int) -> list[int]:
    query = select(ConsultationAnswer.person_id).where(
        ConsultationAnswer.consultation_id == consultation_id,
        ConsultationAnswer.person_id.is_not(None),
    )
    return sorted(int(pid) for pid in await session.scalars(query) if pid is not None)


async def due_to_open(session: AsyncSession, now: datetime) -> list[Consultation]:
    query = select(Consultation).where(
        Consultation.status == SCHEDULED, Consultation.opens_at <= now
    )
    return list(await session.scalars(query.order_by(Consultation.id)))


async def due_to_close(session: AsyncSession, now: datetime) -> list[Consultation]:
    query = select(Consultation).where(
        Consultation.status.in_((SCHEDULED, OPEN)), Consultation.closes_at <= now
    )
    return list(await session.scalars(query.order_by(Consultation.id)))


# --- events ----------------------------------------------------------------------------------


async def events(session: AsyncSession, now: datetime, limit: int = 20) -> list[Event]:
    """Coming events (not cancelled, not over), soonest first."""
    query = (
        select(Event)
        .where(Event.status == SCHEDULED, Event.ends_at > now)
        .order_by(Event.starts_at, Event.id)
        .limit(limit)
    )
    return list(await session.scalars(query))


async def registration(
    session: AsyncSession, event_id: int, person_id: int
) -> EventRegistration | None:
    query = select(EventRegistration).where(
        EventRegistration.event_id == event_id, EventRegistration.person_id == person_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def registrations(
    session: AsyncSession, event_id: int, status: str | None = None
) -> list[EventRegistration]:
    query = select(EventRegistration).where(EventRegistration.event_id == event_id)
    if status is not None:
        query = query.where(EventRegistration.status == status)
    return list(await session.scalars(query.order_by(EventRegistration.id)))


async def going_count(session: AsyncSession, event_id: int) -> int:
    query = select(func.count()).where(
        EventRegistration.event_id == event_id, EventRegistration.status == GOING
    )
    return int(await session.scalar(query) or 0)


async def lock_event(session: AsyncSession, event_id: int) -> Event | None:
    """The event, locked for this transaction on PostgreSQL (places are counted under it)."""
    query = select(Event).where(Event.id == event_id).with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


async def register(session: AsyncSession, event: Event, person_id: int) -> tuple[str, bool]:
    """Give ``person_id`` a place, or one on the waiting list: (status, changed)."""
    existing = await registration(session, event.id, person_id)
    if existing is not None and existing.status in (GOING, WAITING):
        return existing.status, False
    full = event.capacity is not None and await going_count(session, event.id) >= event.capacity
    status = WAITING if full else GOING
    if existing is None:
        existing = EventRegistration(event_id=event.id, person_id=person_id, status=status)
        session.add(existing)
    else:
        existing.status = status
        existing.reminded_day = existing.reminded_hour = False
        existing.created_at = utcnow()  # a new place in the waiting list's order
    await session.flush()
    return status, True


async def cancel_registration(
    session: AsyncSession, event: Event, person_id: int
) -> tuple[bool, EventRegistration | None]:
    """Cancel ``person_id``'s place: (cancelled?, the registration moved up from the list)."""
    existing = await registration(session, event.id, person_id)
    if existing is None or existing.status == CANCELLED:
        return False, None
    was_going = existing.status == GOING
    existing.status = CANCELLED
    await session.flush()
    if not was_going:
        return True, None
    return True, await promote(session, event)


async def promote(session: AsyncSession, event: Event) -> EventRegistration | None:
    """Move the first of the waiting list up if a place is free."""
    if event.capacity is not None and await going_count(session, event.id) >= event.capacity:
        return None
    query = (
        select(EventRegistration)
        .where(EventRegistration.event_id == event.id, EventRegistration.status == WAITING)
        .order_by(EventRegistration.created_at, EventRegistration.id)
        .limit(1)
    )
    first = (await session.execute(query)).scalar_one_or_none()
    if first is not None:
        first.status = GOING
        await session.flush()
    return first


async def due_reminders(
    session: AsyncSession, now: datetime, which: str
) -> list[tuple[EventRegistration, Event]]:
    """Registrations owed the day-before (``"day"``) or hour-before (``"hour"``) reminder."""
    ahead, flag = (
        (DAY_BEFORE, EventRegistration.reminded_day)
        if which == "day"
        else (HOUR_BEFORE, EventRegistration.reminded_hour)
    )
    query = (
        select(EventRegistration, Event)
        .join(Event, Event.id == EventRegistration.event_id)
        .where(
            Event.status == SCHEDULED,
            Event.starts_at > now,
            Event.starts_at <= now + ahead,
            EventRegistration.status == GOING,
            flag.is_(False),
        )
        .order_by(EventRegistration.id)
    )
    return [(reg, event) for reg, event in (await session.execute(query)).all()]


# --- privacy ---------------------------------------------------------------------------------


async def export_engagement(session: AsyncSession, person_id: int) -> dict[str, Any]:
    """The person's memberships, reports, answers and registrations, JSON-ready."""

    def row(obj: Any, *names: str) -> dict[str, Any]:
        values = {name: getattr(obj, name) for name in names}
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in values.items()}

    members = await session.scalars(
        select(CommunityMember).where(CommunityMember.person_id == person_id)
    )
    reports = await session.scalars(select(GroupReport).where(GroupReport.reporter_id == person_id))
    answers = await session.scalars(
        select(ConsultationAnswer).where(ConsultationAnswer.person_id == person_id)
    )
    regs = await session.scalars(
        select(EventRegistration).where(EventRegistration.person_id == person_id)
    )
    return {
        "community_memberships": [row(m, "community_id", "joined_at") for m in members],
        "group_reports": [row(r, "community_id", "status", "created_at") for r in reports],
        "consultation_answers": [
            row(a, "consultation_id", "choices", "text", "updated_at") for a in answers
        ],
        "event_registrations": [
            row(r, "event_id", "status", "created_at", "updated_at") for r in regs
        ],
    }


async def forget_engagement(session: AsyncSession, person_id: int) -> None:
    """Erase the person's engagement: memberships and registrations go (a freed place moves the
    waiting list up); answers and reports stay, anonymous, so that results still add up."""
    regs = await session.scalars(
        select(EventRegistration).where(
            EventRegistration.person_id == person_id, EventRegistration.status == GOING
        )
    )
    freed = {reg.event_id for reg in regs}
    await session.execute(delete(EventRegistration).where(EventRegistration.person_id == person_id))
    await session.execute(delete(CommunityMember).where(CommunityMember.person_id == person_id))
    chats = select(Identity.chat_id).where(Identity.person_id == person_id)
    await session.execute(delete(ChatPoll).where(ChatPoll.chat_id.in_(chats)))
    await session.execute(
        update(ConsultationAnswer)
        .where(ConsultationAnswer.person_id == person_id)
        .values(person_id=None)
    )
    await session.execute(
        update(GroupReport).where(GroupReport.reporter_id == person_id).values(reporter_id=None)
    )
    for event_id in sorted(freed):
        event = await session.get(Event, event_id)
        if event is not None and event.status == SCHEDULED:
            await promote(session, event)
