"""A year of a made-up regional programme, for the dashboard's tests, screenshots and demos.

Deterministic for a given ``now`` and ``seed``: the same people, items, matches, decisions,
subscriptions and alert messages every time, spread over the eleven months before ``now``; and
its communities, consultations and events.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.intents import TOPICS
from storage.models import (
    Challenge,
    Community,
    CommunityMember,
    Confidentiality,
    Consultation,
    ConsultationAnswer,
    Event,
    EventRegistration,
    Frequency,
    GroupReport,
    Idea,
    Identity,
    InfrastructureProfile,
    Match,
    MatchState,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    Person,
    Role,
    SolutionProfile,
    Status,
    Subscription,
)

FIRST = ("Giulia", "Marco", "Sara", "Luca", "Elin", "Johan", "Anna", "Erik", "Chiara", "Paolo")
LAST = ("Rossi", "Bianchi", "Lindqvist", "Berg", "Colombo", "Nyström", "Ferrari", "Holm")
ORGANISATIONS = (
    ("Officina Meccanica Brianza", "sme", "IT", "Lombardia"),
    ("Nordic Agritech AB", "sme", "SE", "Västerbotten"),
    ("Politecnico Pilot Lab", "infrastructure", "IT", "Lombardia"),
    ("Umeå Test Bed", "infrastructure", "SE", "Västerbotten"),
    ("Ospedale San Carlo", "challenge_owner", "IT", "Lombardia"),
    ("Region Västerbotten", "challenge_owner", "SE", "Västerbotten"),
    ("GreenGrid Start-up", "sme", "IT", "Piemonte"),
    ("Skellefteå Materials AB", "sme", "SE", "Västerbotten"),
    ("Comune di Bergamo", "challenge_owner", "IT", "Lombardia"),
    ("BioFood Innovations", "sme", "IT", "Emilia-Romagna"),
)
IDEA_TITLES = (
    "Solar benches",
    "Shared e-bikes",
    "Food waste app",
    "Senior tech help",
    "Smart bins",
)
MODERATORS = ("@anna:innobot.example", "@marco:innobot.example", "@elin:innobot.example")
ROLE_WEIGHTS = (
    (Role.CITIZEN, 60),
    (Role.SME, 20),
    (Role.INFRASTRUCTURE, 6),
    (Role.CHALLENGE_OWNER, 10),
    (Role.MODERATOR, 4),
)
IDEA_STATUSES = (
    (Status.APPROVED, 50),
    (Status.PENDING, 18),
    (Status.NEEDS_INFO, 5),
    (Status.REJECTED, 15),
    (Status.MERGED, 12),
)
MATCH_STATES = (
    (MatchState.SUGGESTED, 30),
    (MatchState.INTERESTED, 20),
    (MatchState.INTRODUCED, 15),
    (MatchState.PROPOSAL, 10),
    (MatchState.CONTRACT, 6),
    (MatchState.DECLINED, 12),
    (MatchState.NO_FOLLOW_UP, 7),
)


T = TypeVar("T")


def _pick(rng: random.Random, weighted: tuple[tuple[T, int], ...]) -> T:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


class _Clock:
    """Moments in the programme's year, more of them in recent months (it is growing)."""

    def __init__(self, rng: random.Random, now: datetime) -> None:
        self.rng = rng
        self.now = now

    def moment(self) -> datetime:
        days = 330 * (1 - self.rng.random() ** 0.6)
        return self.now - timedelta(days=days, minutes=self.rng.randrange(1, 600))

    def after(self, start: datetime, hours: float) -> datetime:
        return min(self.now - timedelta(minutes=1), start + timedelta(hours=hours))


async def seed_programme(
    session: AsyncSession, now: datetime, *, seed: int = 7, people: int = 140
) -> None:
    """Add the programme's data in the caller's transaction."""
    rng = random.Random(seed)
    clock = _Clock(rng, now)
    organisations = [
        Organisation(
            name=name, kind=kind, country=country, region=region, created_at=clock.moment()
        )
        for name, kind, country, region in ORGANISATIONS
    ]
    session.add_all(organisations)
    persons: list[Person] = []
    for n in range(people):
        created = clock.moment()
        role = _pick(rng, ROLE_WEIGHTS)
        person = Person(
            display_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            language=rng.choice(("en", "it", "it", "sv")),
            role=role.value,
            consent_at=created,
            created_at=created,
            organisation=rng.choice(organisations) if role != Role.CITIZEN else None,
        )
        person.identities.append(
            Identity(
                platform="telegram",
                external_id=str(500_000 + n),
                chat_id=str(500_000 + n),
                created_at=created,
            )
        )
        persons.append(person)
    session.add_all(persons)
    await session.flush()

    def topics() -> list[str]:
        return rng.sample(TOPICS[:9], k=rng.choice((0, 1, 1, 1, 2)))

    decided: list[tuple[str, int, datetime, str, str]] = []

    def decide(kind: str, item: Idea | SolutionProfile | InfrastructureProfile | Challenge) -> None:
        if item.status in (Status.PENDING.value, Status.NEEDS_INFO.value):
            # Moderators keep up: what waits came in over the last three weeks.
            item.created_at = clock.now - timedelta(hours=rng.uniform(1, 500))
            return
        item.decided_at = clock.after(item.created_at, rng.uniform(2, 120))
        decided.append((kind, item.id, item.decided_at, item.status, rng.choice(MODERATORS)))

    ideas = []
    for n in range(90):
        author = rng.choice(persons)
        ideas.append(
            Idea(
                title=f"Idea {n + 1}: {rng.choice(IDEA_TITLES)}",
                description="A citizen's idea for the programme, described in a few sentences.",
                lang=author.language,
                topics=topics(),
                status=_pick(rng, IDEA_STATUSES).value,
                show_name=rng.random() < 0.4,
                person_id=author.id,
                created_at=clock.moment(),
            )
        )
    solutions = [
        SolutionProfile(
            title=f"Solution {n + 1}",
            description="What this company offers, its competences and references.",
            lang="en",
            topics=topics(),
            status=_pick(
                rng, ((Status.APPROVED, 70), (Status.PENDING, 20), (Status.REJECTED, 10))
            ).value,
            person_id=rng.choice(persons).id,
            organisation=rng.choice(organisations[:2] + organisations[6:8] + organisations[9:]),
            trl=rng.randint(3, 9),
            region="Lombardia",
            country="IT",
            contact="sales@example.org",
            share_contact=True,
            created_at=clock.moment(),
        )
        for n in range(30)
    ]
    labs = [
        InfrastructureProfile(
            title=f"Pilot line {n + 1}",
            description="Equipment and services SMEs can book, with lead times.",
            lang="sv",
            topics=topics(),
            status=_pick(rng, ((Status.APPROVED, 75), (Status.PENDING, 25))).value,
            person_id=rng.choice(persons).id,
            organisation=rng.choice(organisations[2:4]),
            location="Umeå",
            contact="lab@example.org",
            created_at=clock.moment(),
        )
        for n in range(10)
    ]
    challenges = [
        Challenge(
            title=f"Challenge {n + 1}",
            description="An innovation need, what is offered and by when.",
            lang="it",
            topics=topics() or [rng.choice(TOPICS[:9])],
            status=_pick(rng, ((Status.APPROVED, 80), (Status.PENDING, 20))).value,
            person_id=rng.choice(persons).id,
            organisation=rng.choice(organisations[4:6] + organisations[8:9]),
            confidentiality=rng.choice(
                (Confidentiality.PUBLIC, Confidentiality.PUBLIC, Confidentiality.ANONYMOUS)
            ).value,
            contact="innovation@example.org",
            created_at=clock.moment(),
        )
        for n in range(16)
    ]
    session.add_all([*ideas, *solutions, *labs, *challenges])
    await session.flush()
    for kind, items in (
        ("idea", ideas),
        ("solution", solutions),
        ("infrastructure", labs),
        ("challenge", challenges),
    ):
        for item in items:
            decide(kind, item)
    session.add_all(
        ModerationDecision(
            item_kind=kind,
            item_id=item_id,
            moderator=moderator,
            action={"approved": "approve", "rejected": "reject", "merged": "merge"}.get(
                status, "close"
            ),
            previous_status="pending",
            new_status=status,
            created_at=at,
        )
        for kind, item_id, at, status, moderator in decided
    )

    approved = [c for c in challenges if c.status == Status.APPROVED.value]
    solvers = [("solution", s.id) for s in solutions] + [("idea", i.id) for i in ideas[:30]]
    pairs = rng.sample([(c, s) for c in approved for s in solvers], k=70)
    for challenge, (kind, item_id) in pairs:
        created = clock.after(challenge.created_at, rng.uniform(1, 400))
        state = _pick(rng, MATCH_STATES)
        introduced = state in (MatchState.INTRODUCED, MatchState.PROPOSAL, MatchState.CONTRACT)
        if state == MatchState.NO_FOLLOW_UP:
            introduced = True
        session.add(
            Match(
                challenge_id=challenge.id,
                item_kind=kind,
                item_id=item_id,
                score=round(rng.uniform(0.3, 0.95), 2),
                state=state.value,
                notified_at=created,
                owner_intro_at=clock.after(created, 30) if introduced else None,
                introduced_at=clock.after(created, 50) if introduced else None,
                outcome_by=rng.choice(("solver", "owner"))
                if state == MatchState.DECLINED
                else None,
                created_at=created,
            )
        )

    for person in rng.sample(persons, k=48):
        active = rng.random() < 0.85
        session.add(
            Subscription(
                person_id=person.id,
                topics=rng.sample(TOPICS[:9], k=rng.choice((0, 1, 1, 2))),
                frequency=rng.choice(
                    (Frequency.INSTANT, Frequency.INSTANT, Frequency.DAILY, Frequency.WEEKLY)
                ).value,
                active=active,
                stopped_reason=None if active else rng.choice(("user", "blocked")),
                created_at=clock.moment(),
            )
        )
    for n in range(160):
        created = clock.moment()
        status = rng.choices(("sent", "failed", "pending", "dropped"), (85, 6, 4, 5))[0]
        index = rng.randrange(len(persons))
        person = persons[index]
        session.add(
            OutboxMessage(
                platform="telegram",
                chat_id=str(500_000 + index),
                person_id=person.id,
                kind=rng.choice(("alert", "alert", "digest", "reminder")),
                priority=10,
                dedupe_key=f"seed-alert-{n}",
                payload={"text": "A new challenge matches your interests."},
                status=status,
                created_at=created,
                next_attempt_at=created,
                sent_at=clock.after(created, 0.1) if status == "sent" else None,
            )
        )
    await session.flush()
    await seed_engagement(session, rng, clock, persons)


COMMUNITIES = (
    ("Energia Lombardia", ["energy"], "Lombardia", "-100777001", None),
    ("Health innovation Västerbotten", ["health"], "Västerbotten", None, "!health:innobot.example"),
    ("Smart mobility", ["mobility"], None, "-100777003", None),
    ("Agrifood pilots", ["agrifood"], "Emilia-Romagna", None, None),
)


async def seed_engagement(
    session: AsyncSession, rng: random.Random, clock: _Clock, persons: list[Person]
) -> None:
    """Communities with members, reports and posts; consultations with their audience and
    answers; events with registrations, a waiting list and cancellations."""
    now = clock.now
    communities = [
        Community(name=name, topics=topics, region=region, telegram_chat_id=chat,
                  matrix_room_id=room, active=n != 3, created_by=MODERATORS[0],
                  created_at=now - timedelta(days=300))
        for n, (name, topics, region, chat, room) in enumerate(COMMUNITIES)
    ]  # fmt: skip
    session.add_all(communities)
    await session.flush()
    for community in communities:
        for person in rng.sample(persons, k=rng.randint(6, 30)):
            session.add(CommunityMember(community_id=community.id, person_id=person.id,
                                        joined_at=clock.moment()))  # fmt: skip
    for n in range(9):
        community = communities[n % 2 * 2]  # the two Telegram groups
        session.add(GroupReport(community_id=community.id, chat_id=community.telegram_chat_id or "",
                                message_id=str(100 + n), reported_user=str(880_000 + n),
                                reporter_id=rng.choice(persons).id,
                                status=rng.choice(("open", "removed", "muted", "dismissed")),
                                created_at=clock.moment()))  # fmt: skip
    for n in range(14):
        community = communities[rng.choice((0, 1, 2))]
        matrix = community.matrix_room_id is not None
        at = clock.moment()
        chat = community.matrix_room_id or community.telegram_chat_id or ""
        session.add(OutboxMessage(platform="matrix" if matrix else "telegram", chat_id=chat,
                                  kind=rng.choice(("community_post", "event")), priority=10,
                                  dedupe_key=f"seed-post-{n}", payload={"text": "News"},
                                  status="sent", created_at=at, next_attempt_at=at,
                                  sent_at=at))  # fmt: skip
    plans = (
        ("Which energy project should the region fund first?", "single", 75, "closed"),
        ("Which training days suit you?", "multiple", 30, "closed"),
        ("Should the hospital challenge be extended?", "single", 4, "open"),
        ("What would make the programme better?", "text", 50, "closed"),
    )
    for question, kind, days, status in plans:
        opens = now - timedelta(days=days)
        consultation = Consultation(
            question=question, kind=kind, status=status, opens_at=opens,
            closes_at=opens + timedelta(days=14 if status == "closed" else 30),
            options=[] if kind == "text" else ["Yes, soon", "Later", "Not at all"],
            created_by=MODERATORS[1], created_at=opens - timedelta(days=1),
        )  # fmt: skip
        session.add(consultation)
        await session.flush()
        audience = rng.sample(persons, k=rng.randint(30, 70))
        for person in audience:
            session.add(OutboxMessage(platform="telegram", chat_id=str(person.id),
                                      person_id=person.id, kind="consultation", priority=10,
                                      dedupe_key=f"consultation:{consultation.id}:p:{person.id}",
                                      payload={"text": question}, status="sent",
                                      created_at=opens, next_attempt_at=opens,
                                      sent_at=opens))  # fmt: skip
        answering = rng.sample(audience, k=len(audience) // 2) + rng.sample(persons, k=2)
        for person in dict.fromkeys(answering):  # two may come from outside the audience
            choices: list[int] = []
            text = None
            if kind == "text":
                text = "An answer in a few words."
            elif kind == "single":
                choices = [rng.choice((0, 0, 1, 2))]
            else:
                choices = sorted(rng.sample(range(3), k=rng.choice((1, 1, 2))))
            session.add(ConsultationAnswer(consultation_id=consultation.id, person_id=person.id,
                                           choices=choices, text=text,
                                           created_at=opens + timedelta(hours=rng.randint(1, 200))
                                           ))  # fmt: skip
    events = (
        ("Hydrogen for SMEs", "webinar", -40, None, "scheduled"),
        ("Regional brokerage day", "brokerage_day", -12, 25, "scheduled"),
        ("Co-creation workshop: elderly care", "workshop", -5, 20, "cancelled"),
        ("Training: writing a good challenge", "training", 9, 12, "scheduled"),
    )
    for title, kind, days, capacity, status in events:
        starts = now + timedelta(days=days)
        event = Event(title=title, kind=kind, starts_at=starts, ends_at=starts + timedelta(hours=3),
                      capacity=capacity, status=status, created_by=MODERATORS[2],
                      created_at=starts - timedelta(days=30))  # fmt: skip
        session.add(event)
        await session.flush()
        for person in rng.sample(persons, k=rng.randint(14, 30)):
            taken = starts - timedelta(days=rng.uniform(2, 25))
            state = rng.choices(("going", "cancelled", "late"), (80, 12, 8))[0]
            changed = taken if state != "late" else starts + timedelta(minutes=20)
            session.add(EventRegistration(event_id=event.id, person_id=person.id,
                                          status="cancelled" if state != "going" else "going",
                                          created_at=taken, updated_at=changed))  # fmt: skip
        await session.flush()
        if capacity is not None:  # the places beyond capacity are on the waiting list
            going = list(
                await session.scalars(
                    select(EventRegistration)
                    .where(EventRegistration.event_id == event.id,
                           EventRegistration.status == "going")
                    .order_by(EventRegistration.created_at, EventRegistration.id)
                )
            )  # fmt: skip
            for reg in going[capacity:]:
                reg.status = "waiting"
                reg.updated_at = reg.created_at
    await session.flush()
