"""Engagement statistics (communities, consultations, events) from a small store whose every figure
is known, on SQLite and PostgreSQL: periods, a forgotten person, cancellations, empty consultations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import stats
from storage.engagement import cancel_registration
from storage.models import (
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
    utcnow,
)
from storage.people import forget_person

Sessions = async_sessionmaker[AsyncSession]
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Ids:
    people: list[int]
    communities: list[int]  # energy (Telegram group), health (Matrix room), closed
    consultations: list[int]  # closed single choice, open multiple, scheduled, closed text
    events: list[int]  # held, cancelled, coming


def person(n: int, joined: datetime) -> Person:
    someone = Person(display_name=f"Person {n}", role="citizen", created_at=joined)
    someone.identities.append(
        Identity(platform="telegram", external_id=str(9100 + n), chat_id=str(9100 + n))
    )
    return someone


def outbox(
    chat: str, kind: str, status: str, at: datetime, *, key: str | None = None,
    platform: str = "telegram", person_id: int | None = None,
) -> OutboxMessage:  # fmt: skip
    return OutboxMessage(
        platform=platform,
        chat_id=chat,
        person_id=person_id,
        kind=kind,
        dedupe_key=key,
        payload={"text": "x"},
        status=status,
        created_at=at,
        sent_at=at if status == "sent" else None,
    )


async def engagement_programme(sessions: Sessions, now: datetime) -> Ids:
    """Six people (p1…p6), three communities, four consultations and three events."""
    async with sessions() as session, session.begin():
        people = [person(n, now - 300 * DAY) for n in range(1, 7)]
        energy = Community(
            name="Energy Lombardy",
            topics=["energy"],
            telegram_chat_id="-1001",
            created_by="@mod:example.org",
        )
        health = Community(
            name="Health Västerbotten",
            matrix_room_id="!health:example.org",
            created_by="@mod:example.org",
        )
        closed = Community(name="Old community", active=False, created_by="@mod:example.org")
        session.add_all([*people, energy, health, closed])
        await session.flush()
        p1, p2, p3, p4, p5, p6 = (p.id for p in people)
        session.add_all(
            [
                CommunityMember(community_id=energy.id, person_id=p1, joined_at=now - 100 * DAY),
                CommunityMember(community_id=energy.id, person_id=p2, joined_at=now - 10 * DAY),
                CommunityMember(community_id=energy.id, person_id=p3, joined_at=now - 5 * DAY),
                CommunityMember(community_id=health.id, person_id=p1, joined_at=now - 3 * DAY),
                CommunityMember(community_id=closed.id, person_id=p4, joined_at=now - 200 * DAY),
            ]
        )
        for status, age in (("open", 2), ("removed", 45), ("muted", 1), ("dismissed", 1)):
            session.add(GroupReport(community_id=energy.id, chat_id="-1001", message_id=str(age),
                                    reported_user="77", reporter_id=p2, status=status,
                                    created_at=now - age * DAY))  # fmt: skip
        session.add_all(
            [
                outbox("-1001", "event", "sent", now - 4 * DAY, key="event:1:g:1"),  # a post
                outbox("-1001", "event", "pending", now - DAY, key="event:2:g:1"),  # not yet
                outbox("-1001", "reply", "sent", now - DAY),  # a welcome, not a post
                outbox("-1001", "consultation", "sent", now - DAY),  # a poll, not a post
                outbox("!health:example.org", "community_post", "sent", now - 50 * DAY,
                       platform="matrix"),
                outbox("!health:example.org", "event", "sent", now - DAY),  # not the room
            ]
        )  # fmt: skip
        q1 = Consultation(question="Which energy source?", kind="single", options=["Sun", "Wind",
                          "Water"], opens_at=now - 40 * DAY, closes_at=now - 30 * DAY,
                          status="closed", created_by="@mod:example.org")  # fmt: skip
        q2 = Consultation(question="Which days suit you?", kind="multiple", options=["Mon", "Tue"],
                          opens_at=now - DAY, closes_at=now + 5 * DAY, status="open",
                          created_by="@mod:example.org")  # fmt: skip
        q3 = Consultation(question="Coming soon", options=["Yes", "No"], opens_at=now + 2 * DAY,
                          closes_at=now + 9 * DAY, created_by="@mod:example.org")  # fmt: skip
        q4 = Consultation(question="What should we change?", kind="text", opens_at=now - 60 * DAY,
                          closes_at=now - 50 * DAY, status="closed",
                          created_by="@mod:example.org")  # fmt: skip
        session.add_all([q1, q2, q3, q4])
        await session.flush()
        for pid in (p1, p2, p3, p4):  # q1 reached p1…p4; q2 reached p1 and p2
            session.add(outbox(str(pid), "consultation", "sent", now - 40 * DAY,
                               key=f"consultation:{q1.id}:p:{pid}", person_id=pid))  # fmt: skip
        for pid in (p1, p2):
            session.add(outbox(str(pid), "consultation", "sent", now - DAY,
                               key=f"consultation:{q2.id}:p:{pid}", person_id=pid))  # fmt: skip
        session.add(
            outbox(
                str(p1),
                "consultation",
                "sent",
                now - 30 * DAY,
                key=f"consultation:{q1.id}:r:{p1}",
                person_id=p1,
            )
        )  # results, not audience
        for pid, choices in ((p1, [0]), (p2, [1]), (p3, [0]), (p5, [2]), (p4, [])):
            session.add(ConsultationAnswer(consultation_id=q1.id, person_id=pid, choices=choices,
                                           created_at=now - 35 * DAY))  # fmt: skip
        for pid, text in ((p1, "More trains"), (p2, "Cheaper buses"), (p6, "  ")):
            session.add(ConsultationAnswer(consultation_id=q4.id, person_id=pid, text=text,
                                           created_at=now - 55 * DAY))  # fmt: skip

        held = Event(title="Hydrogen webinar", kind="webinar", starts_at=now - 7 * DAY,
                     ends_at=now - 7 * DAY + timedelta(hours=2), capacity=4,
                     created_by="@mod:example.org")  # fmt: skip
        called_off = Event(title="Brokerage day", kind="brokerage_day", starts_at=now - 3 * DAY,
                           ends_at=now - 2 * DAY, status="cancelled",
                           created_by="@mod:example.org")  # fmt: skip
        coming = Event(title="Co-creation workshop", kind="workshop", starts_at=now + 10 * DAY,
                       ends_at=now + 10 * DAY + timedelta(hours=3), capacity=1,
                       created_by="@mod:example.org")  # fmt: skip
        session.add_all([held, called_off, coming])
        await session.flush()
        start = held.starts_at
        before, after = start - DAY, start + timedelta(hours=1)
        for pid, status, attended, changed in (
            (p1, "going", None, before),  # kept the place: attended
            (p2, "cancelled", None, after),  # gave it up after the start
            (p3, "going", None, after),  # moved up from the waiting list after the start
            (p4, "cancelled", None, before),
            (p5, "going", False, before),  # checked in as absent
            (p6, "going", True, after),  # checked in
        ):
            session.add(EventRegistration(event_id=held.id, person_id=pid, status=status,
                                          attended=attended, created_at=start - 30 * DAY,
                                          updated_at=changed))  # fmt: skip
        session.add_all(
            [
                EventRegistration(event_id=called_off.id, person_id=p1, status="going",
                                  created_at=now - 9 * DAY, updated_at=now - 9 * DAY),
                EventRegistration(event_id=coming.id, person_id=p1, status="going",
                                  created_at=now - 2 * DAY, updated_at=now - 2 * DAY),
                EventRegistration(event_id=coming.id, person_id=p2, status="waiting",
                                  created_at=now - 2 * DAY, updated_at=now - 2 * DAY),
            ]
        )  # fmt: skip
        return Ids(
            [p1, p2, p3, p4, p5, p6],
            [energy.id, health.id, closed.id],
            [q1.id, q2.id, q3.id, q4.id],
            [held.id, called_off.id, coming.id],
        )


async def figures(
    sessions: Sessions, now: datetime, period: stats.Period | None = None
) -> stats.Engagement:
    async with sessions() as session:
        return await stats.engagement(session, now=now, period=period)


async def test_an_empty_store_has_no_engagement(sessions: Sessions) -> None:
    now = utcnow()
    found = await figures(sessions, now)
    assert (found.participants, found.communities, found.consultations, found.events) == (
        0,
        [],
        [],
        [],
    )
    assert (found.members, found.posts, found.answers) == (0, 0, 0)
    assert found.reports == {"open": 0, "acted_on": 0, "dismissed": 0}
    assert found.events_total == {"registrations": 0, "waiting": 0, "cancellations": 0,
                                  "attendance": 0, "held": 0, "cancelled": 0}  # fmt: skip
    assert len(found.months) == stats.MONTHS
    assert all(sum(series) == 0 for series in found.monthly.values())


async def test_communities_consultations_and_events(sessions: Sessions) -> None:
    now = utcnow()
    ids = await engagement_programme(sessions, now)
    found = await figures(sessions, now)

    energy, health, closed = found.communities
    assert (energy.id, energy.name, energy.active, energy.members) == (
        ids.communities[0], "Energy Lombardy", True, 3)  # fmt: skip
    assert (energy.reports_open, energy.reports_acted_on, energy.reports_dismissed) == (1, 2, 1)
    assert energy.reports == 4
    assert energy.posts == 1  # delivered announcements only: not the queued one, not the welcome
    assert (health.members, health.reports, health.posts) == (1, 0, 1)
    assert (closed.active, closed.members, closed.posts) == (False, 1, 0)
    assert found.members == 5
    assert found.reports == {"open": 1, "acted_on": 2, "dismissed": 1}

    q4, q1, q2, q3 = found.consultations  # in the order they open
    assert [q.id for q in (q1, q2, q3, q4)] == ids.consultations
    # q1 reached p1…p4; p1, p2, p3 and p5 (outside the audience) answered; p4 removed her choice.
    assert (q1.audience, q1.answers, q1.answers_from_audience) == (4, 4, 3)
    assert q1.participation == 0.75
    assert q1.results == (2, 1, 1)
    assert q1.options == ("Sun", "Wind", "Water")
    assert (q2.audience, q2.answers, q2.participation, q2.results) == (2, 0, 0.0, None)
    assert (q3.status, q3.audience, q3.participation, q3.results) == ("scheduled", 0, None, None)
    assert (q4.kind, q4.answers, q4.results) == ("text", 2, None)  # a blank text is no answer
    assert found.answers == 6

    held, called_off, coming = found.events
    assert (held.registrations, held.waiting, held.cancellations) == (4, 0, 2)
    assert held.attendance == 2  # p1 kept her place, p6 checked in
    assert (called_off.status, called_off.registrations, called_off.attendance) == (
        "cancelled", 1, None)  # fmt: skip
    assert (coming.registrations, coming.waiting, coming.attendance) == (1, 1, None)
    assert found.events_total == {"registrations": 6, "waiting": 1, "cancellations": 2,
                                  "attendance": 2, "held": 1, "cancelled": 1}  # fmt: skip
    assert found.participants == 6  # members, answerers and registrants
    # Within the last twelve months: every membership, answer and registration.
    assert [sum(found.monthly[name]) for name in ("members", "answers", "registrations")] == [
        5, 6, 9]  # fmt: skip


async def test_a_period_keeps_what_happened_in_it(sessions: Sessions) -> None:
    now = utcnow()
    ids = await engagement_programme(sessions, now)
    found = await figures(sessions, now, stats.Period(start=now - 30 * DAY))
    energy, health, closed = found.communities
    assert (energy.members, health.members, closed.members) == (2, 1, 0)
    assert (energy.reports_open, energy.reports_acted_on, energy.reports_dismissed) == (1, 1, 1)
    assert (energy.posts, health.posts) == (1, 0)
    assert [q.id for q in found.consultations] == ids.consultations[1:3]
    assert [e.id for e in found.events] == ids.events
    # joined: p1, p2, p3; registered: p1, p2 (the held event's registrations are older)
    assert found.participants == 3

    old = await figures(sessions, now, stats.Period(start=now - 90 * DAY, end=now - 30 * DAY))
    assert [c.members for c in old.communities] == [0, 0, 0]
    assert [c.reports for c in old.communities] == [1, 0, 0]
    assert [q.id for q in old.consultations] == [ids.consultations[3], ids.consultations[0]]
    assert old.events == []
    assert old.participants == 6  # registered for the held event (p1…p6), answered (p5 too)
    assert old.months[-1] == stats.month_key(now - 30 * DAY)


async def test_a_forgotten_person_still_counts_where_anonymous(sessions: Sessions) -> None:
    now = utcnow()
    ids = await engagement_programme(sessions, now)
    async with sessions() as session, session.begin():
        p3 = await session.get(Person, ids.people[2])
        assert p3 is not None
        await forget_person(session, p3)
    found = await figures(sessions, now)
    energy = found.communities[0]
    assert energy.members == 2  # her membership went
    q1 = next(q for q in found.consultations if q.id == ids.consultations[0])
    # Her answer stays, anonymous; her copy of the question went, yet she is still counted in
    # the audience, so that the rate stays a share of it.
    assert (q1.audience, q1.answers, q1.answers_from_audience, q1.results) == (4, 4, 3, (2, 1, 1))
    held = found.events[0]
    assert (held.registrations, held.attendance) == (3, 2)  # she had moved up after the start
    assert found.participants == 5
    async with sessions() as session:
        left = await session.scalars(
            select(ConsultationAnswer.person_id).where(
                ConsultationAnswer.consultation_id == ids.consultations[0]
            )
        )
        assert None in set(left)


async def test_a_cancellation_before_the_start_moves_the_waiting_list_up(
    sessions: Sessions,
) -> None:
    now = utcnow()
    ids = await engagement_programme(sessions, now)
    async with sessions() as session, session.begin():
        coming = await session.get(Event, ids.events[2])
        assert coming is not None
        cancelled, promoted = await cancel_registration(session, coming, ids.people[0])
        assert cancelled
        assert promoted is not None
    coming_figures = (await figures(sessions, now)).events[2]
    assert (coming_figures.registrations, coming_figures.waiting) == (1, 0)
    assert coming_figures.cancellations == 1
    assert coming_figures.attendance is None
    # Once it has begun, the place moved up before the start counts as attendance.
    later = (await figures(sessions, now + 11 * DAY)).events[2]
    assert later.attendance == 1


def test_periods_and_their_months() -> None:
    now = datetime.fromisoformat("2026-06-15T12:00:00+00:00")
    assert now in stats.Period()
    assert now in stats.Period(start=now)
    assert now not in stats.Period(end=now)
    assert None not in stats.Period()
    assert stats.period_months(stats.Period(), now) == stats.last_months(now)
    span = stats.Period(start=now - 30 * DAY, end=now + 100 * DAY)
    assert stats.period_months(span, now) == ("2026-05", "2026-06")
    long = stats.Period(start=now - 3000 * DAY)
    assert len(stats.period_months(long, now)) == stats.PERIOD_MONTHS_MAX
    future = stats.Period(start=now + 40 * DAY)
    assert stats.period_months(future, now) == ("2026-07",)
