"""Programme statistics: participation, the brokerage funnel, moderation, alerts, engagement in
communities, consultations and events, and the approved public items of the open-data export.

Everything is read from the features' own tables; nothing here writes. Figures are aggregated in
Python from narrow column selections, which keeps months (UTC) and JSON topic lists identical on
SQLite and PostgreSQL; a regional programme's tens of thousands of rows take well under a second.
Functions take the caller's session and ``now`` (UTC), so that tests can fix the calendar.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Final, cast

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import engagement as store
from storage.models import (
    SUBMISSION_MODELS,
    Challenge,
    Community,
    CommunityMember,
    Confidentiality,
    Consultation,
    ConsultationAnswer,
    Event,
    EventRegistration,
    GroupReport,
    Idea,
    InfrastructureProfile,
    ItemKind,
    Match,
    MatchState,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    Person,
    Role,
    SolutionProfile,
    Status,
    Submission,
    Subscription,
    utcnow,
)

MONTHS: Final = 12  # months shown in the series, the current one last
NO_TOPIC: Final = "none"  # items filed under no topic
ALL_TOPICS: Final = "all"  # subscriptions that follow every topic
KINDS: Final = tuple(kind.value for kind in ItemKind)
ROLES: Final = tuple(role.value for role in Role)
# The brokerage funnel, in order; a match that got further also passed every earlier stage.
STAGES: Final = ("suggested", "interested", "introduced", "proposal", "contract")
_STAGE_RANK: Final = {stage: rank for rank, stage in enumerate(STAGES)}
DECLINED_BY_OWNER: Final = "owner"  # Match.outcome_by of a match the challenge owner declined
# Submissions waiting for a moderator.
WAITING: Final = (Status.PENDING.value, Status.NEEDS_INFO.value)
AGE_BUCKETS: Final = (
    ("lt_1d", timedelta(days=1)),
    ("d1_3", timedelta(days=3)),
    ("d3_7", timedelta(days=7)),
    ("gt_7d", timedelta.max),
)
# The moderation audit log's actions that decide a submission's fate; a submitter's answer to a
# moderator's question is logged too, but is nobody's moderation work.
DECISIONS: Final = frozenset({"approve", "reject", "merge"})
SUBMITTER_ANSWER: Final = "answer"
# Outbox kinds the alerts feature queues (storage.alerts: instant alerts, digests, reminders).
ALERT_KINDS: Final = ("alert", "digest", "reminder")
DELIVERY_STATES: Final = ("sent", "pending", "failed", "dropped")


def month_key(moment: datetime | date) -> str:
    return f"{moment.year:04d}-{moment.month:02d}"


def last_months(now: datetime, count: int = MONTHS) -> tuple[str, ...]:
    """The ``count`` months up to and including ``now``'s, oldest first."""
    year, month = now.year, now.month
    keys = []
    for _ in range(count):
        keys.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return tuple(reversed(keys))


def _series(counts: Counter[str], months: Sequence[str]) -> tuple[int, ...]:
    return tuple(counts.get(month, 0) for month in months)


def _topics(value: Any) -> list[str]:
    """The topic names of a JSON topic list (anything else counts as no topic)."""
    if not isinstance(value, list):
        return []
    return [str(name)[:64] for name in value if isinstance(name, str) and name]


def _median(values: Iterable[timedelta]) -> timedelta | None:
    seconds = [value.total_seconds() for value in values]
    return timedelta(seconds=statistics.median(seconds)) if seconds else None


# --- participation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Overview:
    participants: int
    by_role: dict[str, int]
    organisations: int
    submissions: dict[str, int]  # kind -> submitted, whatever became of them
    approved: dict[str, int]  # kind -> approved (published)
    months: tuple[str, ...]
    monthly: dict[str, tuple[int, ...]]  # "participants" and each kind -> new per month
    topics: dict[str, dict[str, int]]  # topic -> kind -> submissions filed under it


async def overview(session: AsyncSession, *, now: datetime | None = None) -> Overview:
    months = last_months(now or utcnow())
    by_role: Counter[str] = Counter()
    joined: Counter[str] = Counter()
    for role, created in await session.execute(select(Person.role, Person.created_at)):
        by_role[role] += 1
        joined[month_key(created)] += 1
    organisations = (await session.execute(select(func.count(Organisation.id)))).scalar_one()
    submissions: dict[str, int] = {}
    approved: dict[str, int] = {}
    monthly: dict[str, tuple[int, ...]] = {"participants": _series(joined, months)}
    topics: dict[str, Counter[str]] = defaultdict(Counter)
    for kind, model in SUBMISSION_MODELS.items():
        per_month: Counter[str] = Counter()
        total = published = 0
        query = select(model.created_at, model.topics, model.status)
        for created, item_topics, status in await session.execute(query):
            total += 1
            published += status == Status.APPROVED.value
            per_month[month_key(created)] += 1
            for topic in _topics(item_topics) or [NO_TOPIC]:
                topics[topic][kind.value] += 1
        submissions[kind.value] = total
        approved[kind.value] = published
        monthly[kind.value] = _series(per_month, months)
    return Overview(
        participants=sum(by_role.values()),
        by_role={role: by_role.get(role, 0) for role in ROLES}
        | {role: n for role, n in by_role.items() if role not in ROLES},
        organisations=organisations,
        submissions=submissions,
        approved=approved,
        months=months,
        monthly=monthly,
        topics=_by_total(topics),
    )


def _by_total(table: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """Rows with the largest totals first ("none" last), ties by name."""
    order = sorted(table, key=lambda k: (k == NO_TOPIC, -sum(table[k].values()), k))
    return {key: dict(table[key]) for key in order}


# --- the brokerage funnel ----------------------------------------------------------------------


def stage_reached(
    state: str,
    owner_intro_at: datetime | None,
    introduced_at: datetime | None,
    outcome_by: str | None = None,
) -> int:
    """How far along the funnel a match got (an index into STAGES).

    A declined match, or one without follow-up, keeps the stage its record proves: introduced
    when both sides accepted, interested when the challenge owner asked for the introduction or
    turned the solver down (an owner only sees solvers who said they were interested).
    """
    if state in _STAGE_RANK:
        return _STAGE_RANK[state]
    if introduced_at is not None:
        return _STAGE_RANK["introduced"]
    if owner_intro_at is not None or outcome_by == DECLINED_BY_OWNER:
        return _STAGE_RANK["interested"]
    return _STAGE_RANK["suggested"]


@dataclass(frozen=True)
class Funnel:
    stages: dict[str, int]  # stage -> matches that reached it
    declined: int
    no_follow_up: int
    topics: dict[str, dict[str, int]]  # challenge topic -> stage -> matches
    months: tuple[str, ...]
    monthly: dict[str, tuple[int, ...]]  # stage -> matches suggested that month that reached it


async def funnel(session: AsyncSession, *, now: datetime | None = None) -> Funnel:
    months = last_months(now or utcnow())
    stages: Counter[str] = Counter()
    ended: Counter[str] = Counter()
    topics: dict[str, Counter[str]] = defaultdict(Counter)
    cohorts: dict[str, Counter[str]] = defaultdict(Counter)
    query = select(
        Match.state,
        Match.owner_intro_at,
        Match.introduced_at,
        Match.outcome_by,
        Match.created_at,
        Challenge.topics,
    ).join(Challenge, Challenge.id == Match.challenge_id)
    for state, owner_intro_at, introduced_at, by, created, challenge_topics in (
        await session.execute(query)
    ).tuples():
        ended[state] += 1
        reached = STAGES[: stage_reached(state, owner_intro_at, introduced_at, by) + 1]
        for stage in reached:
            stages[stage] += 1
            cohorts[stage][month_key(created)] += 1
            for topic in _topics(challenge_topics) or [NO_TOPIC]:
                topics[topic][stage] += 1
    ordered = sorted(topics, key=lambda k: (k == NO_TOPIC, -topics[k]["suggested"], k))
    return Funnel(
        stages={stage: stages.get(stage, 0) for stage in STAGES},
        declined=ended.get(MatchState.DECLINED.value, 0),
        no_follow_up=ended.get(MatchState.NO_FOLLOW_UP.value, 0),
        topics={k: {stage: topics[k].get(stage, 0) for stage in STAGES} for k in ordered},
        months=months,
        monthly={stage: _series(cohorts[stage], months) for stage in STAGES},
    )


# --- moderation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModeratorActivity:
    moderator: str
    decisions: int  # approvals, rejections and merges
    actions: dict[str, int]  # every logged action (questions and tags too)


@dataclass(frozen=True)
class Moderation:
    waiting: dict[str, int]  # kind -> submissions waiting for a decision
    oldest: timedelta | None  # age of the longest-waiting submission
    median_wait: timedelta | None  # median age of the waiting submissions
    ages: dict[str, int]  # AGE_BUCKETS name -> waiting submissions
    decided: int  # submissions with a decision (approve, reject or merge) in the audit log
    median_to_decision: timedelta | None  # submission to its first decision, median
    moderators: list[ModeratorActivity]
    months: tuple[str, ...]
    monthly_decisions: tuple[int, ...]  # decisions taken each month

    @property
    def queue(self) -> int:
        return sum(self.waiting.values())


async def moderation(session: AsyncSession, *, now: datetime | None = None) -> Moderation:
    now = now or utcnow()
    months = last_months(now)
    waiting: dict[str, int] = {}
    ages: list[timedelta] = []
    submitted: dict[tuple[str, int], datetime] = {}
    for kind, model in SUBMISSION_MODELS.items():
        query = select(model.id, model.status, model.created_at)
        count = 0
        for item_id, status, created in await session.execute(query):
            submitted[(kind.value, item_id)] = created
            if status in WAITING:
                count += 1
                ages.append(max(timedelta(0), now - created))
        waiting[kind.value] = count
    buckets: Counter[str] = Counter()
    for age in ages:
        buckets[next(name for name, limit in AGE_BUCKETS if age < limit)] += 1
    by_moderator: dict[str, Counter[str]] = defaultdict(Counter)
    per_month: Counter[str] = Counter()
    first_decision: dict[tuple[str, int], datetime] = {}
    log = select(
        ModerationDecision.moderator,
        ModerationDecision.action,
        ModerationDecision.item_kind,
        ModerationDecision.item_id,
        ModerationDecision.created_at,
    ).where(ModerationDecision.action != SUBMITTER_ANSWER)
    for moderator, action, kind, item_id, created in await session.execute(log):
        by_moderator[moderator][action] += 1
        if action in DECISIONS:
            per_month[month_key(created)] += 1
            key = (kind, item_id)
            if key not in first_decision or created < first_decision[key]:
                first_decision[key] = created
    to_decision = [
        max(timedelta(0), decided - submitted[key])
        for key, decided in first_decision.items()
        if key in submitted
    ]
    moderators = [
        ModeratorActivity(
            name,
            sum(n for action, n in actions.items() if action in DECISIONS),
            dict(sorted(actions.items())),
        )
        for name, actions in by_moderator.items()
    ]
    moderators.sort(key=lambda m: (-m.decisions, -sum(m.actions.values()), m.moderator))
    return Moderation(
        waiting=waiting,
        oldest=max(ages) if ages else None,
        median_wait=_median(ages),
        ages={name: buckets.get(name, 0) for name, _ in AGE_BUCKETS},
        decided=len(to_decision),
        median_to_decision=_median(to_decision),
        moderators=moderators,
        months=months,
        monthly_decisions=_series(per_month, months),
    )


# --- alerts ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Alerts:
    active: int  # active subscriptions
    stopped: dict[str, int]  # reason -> inactive subscriptions
    topics: dict[str, int]  # topic -> active subscriptions following it
    frequencies: dict[str, int]  # instant / daily / weekly -> active subscriptions
    deliveries: dict[str, int]  # DELIVERY_STATES -> alert messages
    months: tuple[str, ...]
    monthly_sent: tuple[int, ...]
    monthly_failed: tuple[int, ...]

    @property
    def failure_rate(self) -> float | None:
        done = self.deliveries.get("sent", 0) + self.deliveries.get("failed", 0)
        return self.deliveries.get("failed", 0) / done if done else None


async def alerts(session: AsyncSession, *, now: datetime | None = None) -> Alerts:
    months = last_months(now or utcnow())
    active = 0
    stopped: Counter[str] = Counter()
    topics: Counter[str] = Counter()
    frequencies: Counter[str] = Counter()
    query = select(
        Subscription.active,
        Subscription.topics,
        Subscription.frequency,
        Subscription.stopped_reason,
    )
    for is_active, sub_topics, frequency, reason in await session.execute(query):
        if not is_active:
            stopped[reason or "unknown"] += 1
            continue
        active += 1
        frequencies[frequency] += 1
        for topic in _topics(sub_topics) or [ALL_TOPICS]:
            topics[topic] += 1
    deliveries: Counter[str] = Counter()
    sent: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    query = select(OutboxMessage.status, OutboxMessage.created_at, OutboxMessage.sent_at).where(
        OutboxMessage.kind.in_(ALERT_KINDS)
    )
    for status, created, sent_at in await session.execute(query):
        deliveries[status] += 1
        if status == "sent":
            sent[month_key(sent_at or created)] += 1
        elif status == "failed":
            failed[month_key(created)] += 1
    return Alerts(
        active=active,
        stopped=dict(stopped.most_common()),
        topics=dict(sorted(topics.items(), key=lambda kv: (kv[0] == ALL_TOPICS, -kv[1], kv[0]))),
        frequencies=dict(frequencies.most_common()),
        deliveries={state: deliveries.get(state, 0) for state in DELIVERY_STATES},
        months=months,
        monthly_sent=_series(sent, months),
        monthly_failed=_series(failed, months),
    )


# --- open data ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicItem:
    """An approved submission as the open-data export publishes it: no contact, no identifiers.

    ``author`` is the person's name only if they chose to show it; ``organisation`` is given for
    profiles and for public (not anonymous) challenges.
    """

    ref: str
    kind: str
    title: str
    description: str
    topics: tuple[str, ...]
    language: str | None
    published: str  # the day it was approved (or submitted), ISO format
    author: str | None = None
    organisation: str | None = None
    region: str | None = None
    country: str | None = None
    deadline: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


async def public_items(session: AsyncSession) -> list[PublicItem]:
    """Every approved item, oldest first within each kind; restricted challenges are left out."""
    items: list[PublicItem] = []
    names: dict[int, str | None] = {}
    for kind, model in SUBMISSION_MODELS.items():
        query = select(model).where(model.status == Status.APPROVED.value).order_by(model.id)
        if model is Challenge:
            query = query.where(Challenge.confidentiality != Confidentiality.RESTRICTED.value)
        rows = cast("list[Submission]", list((await session.execute(query)).scalars()))
        wanted = {row.person_id for row in rows if row.show_name and row.person_id is not None}
        missing = wanted - names.keys()
        if missing:
            found = await session.execute(
                select(Person.id, Person.display_name).where(Person.id.in_(missing))
            )
            names.update(dict(found.tuples().all()))
        organisations = await _organisation_names(session, rows)
        for row in rows:
            items.append(_public(kind, row, names, organisations))
    return items


async def _organisation_names(session: AsyncSession, rows: Sequence[Submission]) -> dict[int, str]:
    ids = {
        row.organisation_id
        for row in rows
        if not isinstance(row, Idea) and row.organisation_id is not None
    }
    if not ids:
        return {}
    found = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    )
    return dict(found.tuples().all())


def _public(
    kind: ItemKind, row: Submission, names: dict[int, str | None], organisations: dict[int, str]
) -> PublicItem:
    author = None
    if row.show_name and row.person_id is not None:
        author = names.get(row.person_id)
    anonymous = isinstance(row, Challenge) and row.confidentiality != Confidentiality.PUBLIC.value
    organisation = None
    region = country = deadline = None
    extra: dict[str, Any] = {}
    if not isinstance(row, Idea) and not anonymous:
        organisation = organisations.get(row.organisation_id) if row.organisation_id else None
    if anonymous:
        author = None
    if isinstance(row, SolutionProfile):
        region, country = row.region, row.country
        extra = {"trl": row.trl}
    elif isinstance(row, InfrastructureProfile):
        region = row.location
    elif isinstance(row, Challenge):
        region = row.region
        deadline = row.deadline.isoformat() if row.deadline else None
        extra = {"offer": row.offer}
    published = (row.decided_at or row.created_at).date().isoformat()
    return PublicItem(
        ref=row.ref,
        kind=kind.value,
        title=row.title,
        description=row.description,
        topics=tuple(_topics(row.topics)),
        language=row.lang,
        published=published,
        author=author,
        organisation=organisation,
        region=region,
        country=country,
        deadline=deadline,
        extra={k: v for k, v in extra.items() if v is not None},
    )


# --- engagement: communities, consultations, events --------------------------------------------

SUPPRESSED_BELOW: Final = 5  # the open data publishes per-unit counts from 1 to 4 as null
REPORT_OPEN: Final = "open"
REPORT_DISMISSED: Final = frozenset({"dismiss", "dismissed"})
# Outbox kinds of what innobot posts into a community's group or room: the community posts of
# approved challenges and events (handlers.community_posts) and event announcements.
POST_KINDS: Final = ("community_post", "event")
PERIODS: Final = {"30d": timedelta(days=30), "90d": timedelta(days=90), "12m": timedelta(days=365)}
PERIOD_MONTHS_MAX: Final = 24  # months drawn at most in a chart of a long period


@dataclass(frozen=True)
class Period:
    """A half-open span of time ``[start, end)`` in UTC; a missing end is open."""

    start: datetime | None = None
    end: datetime | None = None

    def __contains__(self, moment: datetime | None) -> bool:
        if moment is None:
            return False
        return (self.start is None or moment >= self.start) and (
            self.end is None or moment < self.end
        )

    @property
    def bounded(self) -> bool:
        return self.start is not None or self.end is not None


@dataclass(frozen=True)
class CommunityFigures:
    id: int
    name: str
    active: bool
    members: int  # memberships that began in the period (all current members without one)
    reports_open: int  # reports made in the period that still wait for a moderator
    reports_acted_on: int  # ... on which a moderator acted (removed the message, muted)
    reports_dismissed: int  # ... that a moderator dismissed
    posts: int  # announcements innobot delivered into the community's group or room

    @property
    def reports(self) -> int:
        return self.reports_open + self.reports_acted_on + self.reports_dismissed


@dataclass(frozen=True)
class ConsultationFigures:
    id: int
    question: str
    kind: str  # single, multiple, text
    status: str  # scheduled, open, closed
    opens_at: datetime
    closes_at: datetime
    options: tuple[str, ...]
    audience: int  # people it was sent to (and forgotten people who answered)
    answers: int  # people with an answer (a multiple choice with every option removed is none)
    answers_from_audience: int
    results: tuple[int, ...] | None  # answers per option, for a closed choice consultation only

    @property
    def participation(self) -> float | None:
        """The share of its audience that answered (None before it reached anyone)."""
        return self.answers_from_audience / self.audience if self.audience else None


@dataclass(frozen=True)
class EventFigures:
    id: int
    title: str
    kind: str
    status: str  # scheduled or cancelled
    starts_at: datetime
    capacity: int | None
    registrations: int  # places held now
    waiting: int
    cancellations: int
    attendance: int | None  # places held at the start; None before the start or if cancelled


@dataclass(frozen=True)
class Engagement:
    period: Period
    participants: int  # people who joined, answered or registered in the period
    communities: list[CommunityFigures]
    consultations: list[ConsultationFigures]
    events: list[EventFigures]
    months: tuple[str, ...]
    monthly: dict[str, tuple[int, ...]]  # "members", "answers", "registrations" -> per month

    @property
    def members(self) -> int:
        return sum(c.members for c in self.communities)

    @property
    def reports(self) -> dict[str, int]:
        return {
            "open": sum(c.reports_open for c in self.communities),
            "acted_on": sum(c.reports_acted_on for c in self.communities),
            "dismissed": sum(c.reports_dismissed for c in self.communities),
        }

    @property
    def posts(self) -> int:
        return sum(c.posts for c in self.communities)

    @property
    def answers(self) -> int:
        return sum(c.answers for c in self.consultations)

    @property
    def events_total(self) -> dict[str, int]:
        held = [e for e in self.events if e.attendance is not None]
        return {
            "registrations": sum(e.registrations for e in self.events),
            "waiting": sum(e.waiting for e in self.events),
            "cancellations": sum(e.cancellations for e in self.events),
            "attendance": sum(e.attendance or 0 for e in held),
            "held": len(held),
            "cancelled": sum(e.status == store.CANCELLED for e in self.events),
        }


def period_months(period: Period, now: datetime) -> tuple[str, ...]:
    """The months a chart of ``period`` shows: those it spans up to now, the last 24 at most;
    the last twelve for an unbounded period."""
    if period.start is None:
        return last_months(now)
    end = min(period.end, now) if period.end is not None else now
    end = max(end, period.start)
    count = (end.year - period.start.year) * 12 + end.month - period.start.month + 1
    return last_months(end, min(count, PERIOD_MONTHS_MAX))


def _answered(choices: Any, text: str | None) -> bool:
    return bool(choices) or bool(text and text.strip())


def _audience_person(key: str, consultation_ids: set[int]) -> tuple[int, int] | None:
    """(consultation, person) of a ``consultation:ID:p:PERSON`` outbox key, else None."""
    parts = key.split(":")
    if len(parts) != 4 or parts[0] != "consultation" or parts[2] != "p":
        return None
    consultation, person = parts[1], parts[3].partition("#")[0]
    if (
        not (consultation.isdigit() and person.isdigit())
        or int(consultation) not in consultation_ids
    ):
        return None
    return int(consultation), int(person)


def held_at_start(
    status: str, attended: bool | None, updated_at: datetime, starts_at: datetime
) -> bool:
    """Whether a registration counts as attendance of an event that has begun.

    A check-in, where one was recorded (``attended``), decides. Otherwise it is a place still
    held that was last changed at or before the start: a place given up after the start does not
    count, nor one moved up from the waiting list after the start.
    """
    if attended is not None:
        return attended
    return status == store.GOING and updated_at <= starts_at


async def engagement(
    session: AsyncSession, *, now: datetime | None = None, period: Period | None = None
) -> Engagement:
    """Communities, consultations and events, with what happened in ``period`` (default: ever).

    Communities are all listed, with the memberships, reports and posts of the period;
    consultations that opened in the period and events that start in it are listed whole.
    """
    now = now or utcnow()
    period = period or Period()
    months = period_months(period, now)
    monthly: dict[str, Counter[str]] = defaultdict(Counter)
    people: set[int] = set()

    members: Counter[int] = Counter()
    for community_id, person_id, joined in await session.execute(
        select(CommunityMember.community_id, CommunityMember.person_id, CommunityMember.joined_at)
    ):
        monthly["members"][month_key(joined)] += 1
        if joined in period:
            members[community_id] += 1
            people.add(person_id)
    reports: dict[int, Counter[str]] = defaultdict(Counter)
    for community_id, status, created in await session.execute(
        select(GroupReport.community_id, GroupReport.status, GroupReport.created_at)
    ):
        if created in period:
            state = (
                "open"
                if status == REPORT_OPEN
                else "dismissed"
                if status in REPORT_DISMISSED
                else "acted_on"
            )
            reports[community_id][state] += 1
    rows = (await session.execute(select(Community).order_by(Community.id))).scalars().all()
    chats = {("telegram", c.telegram_chat_id): c.id for c in rows if c.telegram_chat_id}
    chats |= {("matrix", c.matrix_room_id): c.id for c in rows if c.matrix_room_id}
    posts: Counter[int] = Counter()
    if chats:
        query = select(
            OutboxMessage.platform,
            OutboxMessage.chat_id,
            OutboxMessage.sent_at,
            OutboxMessage.created_at,
        ).where(
            OutboxMessage.chat_id.in_({chat for _, chat in chats}),
            OutboxMessage.kind.in_(POST_KINDS),
            OutboxMessage.status == "sent",
        )
        for platform, chat_id, sent_at, created in await session.execute(query):
            community_id = chats.get((platform, chat_id))
            if community_id is not None and (sent_at or created) in period:
                posts[community_id] += 1
    communities = [
        CommunityFigures(
            id=c.id,
            name=c.name,
            active=c.active,
            members=members.get(c.id, 0),
            reports_open=reports[c.id]["open"],
            reports_acted_on=reports[c.id]["acted_on"],
            reports_dismissed=reports[c.id]["dismissed"],
            posts=posts.get(c.id, 0),
        )
        for c in rows
    ]

    found = (
        (
            await session.execute(
                select(Consultation).order_by(Consultation.opens_at, Consultation.id)
            )
        )
        .scalars()
        .all()
    )
    chosen = [c for c in found if c.opens_at in period]
    answers: dict[int, list[tuple[int | None, Any]]] = defaultdict(list)
    for consultation_id, person_id, choices, text, created in await session.execute(
        select(
            ConsultationAnswer.consultation_id,
            ConsultationAnswer.person_id,
            ConsultationAnswer.choices,
            ConsultationAnswer.text,
            ConsultationAnswer.created_at,
        )
    ):
        if not _answered(choices, text):
            continue
        monthly["answers"][month_key(created)] += 1
        answers[consultation_id].append((person_id, choices))
        if person_id is not None and created in period:
            people.add(person_id)
    reached: dict[int, set[int]] = defaultdict(set)
    ids = {c.id for c in chosen}
    if ids:
        keys = select(OutboxMessage.dedupe_key).where(
            OutboxMessage.dedupe_key.like("consultation:%:p:%")
        )
        for key in (await session.execute(keys)).scalars():
            pair = _audience_person(key or "", ids)
            if pair is not None:
                reached[pair[0]].add(pair[1])
    consultations = []
    for c in chosen:
        given = answers.get(c.id, [])
        forgotten = sum(person_id is None for person_id, _ in given)
        audience = reached.get(c.id, set())
        results = None
        options = tuple(str(option) for option in (c.options or []))
        if c.status == store.CLOSED and c.kind != "text":
            per_option: Counter[int] = Counter()
            for _, choices in given:
                per_option.update({int(i) for i in choices or [] if isinstance(i, int)})
            results = tuple(per_option.get(i, 0) for i in range(len(options)))
        consultations.append(
            ConsultationFigures(
                id=c.id,
                question=c.question,
                kind=c.kind,
                status=c.status,
                opens_at=c.opens_at,
                closes_at=c.closes_at,
                options=options,
                audience=len(audience) + forgotten,
                answers=len(given),
                answers_from_audience=forgotten
                + sum(person_id in audience for person_id, _ in given),
                results=results,
            )
        )

    found_events = (
        (await session.execute(select(Event).order_by(Event.starts_at, Event.id))).scalars().all()
    )
    events_ = [e for e in found_events if e.starts_at in period]
    wanted = {e.id: e for e in events_}
    places: dict[int, Counter[str]] = defaultdict(Counter)
    for event_id, person_id, status, attended, created, updated, starts in await session.execute(
        select(
            EventRegistration.event_id,
            EventRegistration.person_id,
            EventRegistration.status,
            EventRegistration.attended,
            EventRegistration.created_at,
            EventRegistration.updated_at,
            Event.starts_at,
        ).join(Event, Event.id == EventRegistration.event_id)
    ):
        monthly["registrations"][month_key(created)] += 1
        if created in period:
            people.add(person_id)
        if event_id not in wanted:
            continue
        places[event_id][status] += 1
        if starts <= now and held_at_start(status, attended, updated, starts):
            places[event_id]["attended"] += 1
    events = [
        EventFigures(
            id=e.id,
            title=e.title,
            kind=e.kind,
            status=e.status,
            starts_at=e.starts_at,
            capacity=e.capacity,
            registrations=places[e.id][store.GOING],
            waiting=places[e.id][store.WAITING],
            cancellations=places[e.id][store.CANCELLED],
            attendance=(
                places[e.id]["attended"]
                if e.starts_at <= now and e.status != store.CANCELLED
                else None
            ),
        )
        for e in events_
    ]
    return Engagement(
        period=period,
        participants=len(people),
        communities=communities,
        consultations=consultations,
        events=events,
        months=months,
        monthly={
            name: _series(monthly[name], months) for name in ("members", "answers", "registrations")
        },
    )
