"""Challenge alerts in the store: subscriptions, their schedules, and who is told what, once.

Every function takes the caller's session (the caller commits) and, where time matters, ``now``
(UTC): the scheduler passes its clock, tests pass fixed instants. Alerts are outbox rows whose
text is written when they are sent (``handlers.alerts`` renders them), so a challenge withdrawn
or a person forgotten meanwhile is never announced. The ``challenge_alert`` table is the ledger
that makes every announcement happen once per (person, challenge, kind): a row is queued only
when its ledger entry could be inserted in the same transaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from sqlalchemy import Select, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    SUBMISSION_MODELS,
    AlertKind,
    AlertTask,
    Challenge,
    ChallengeAlert,
    Frequency,
    Identity,
    ItemKind,
    Match,
    MatchState,
    OutboxMessage,
    OutboxStatus,
    Person,
    Status,
    Subscription,
    SubscriptionSource,
)

# --- limits ------------------------------------------------------------------------------------

MAX_SUBSCRIPTIONS = 10  # per person: enough for every topic family, far from a spammer's 500
MAX_KEYWORDS = 10
KEYWORD_MIN = 2
KEYWORD_MAX = 40
REGION_MAX = 120

FANOUT_BATCH = 100  # subscriptions per fan-out transaction (short: replies wait for none)
DIGEST_ITEMS = 10  # challenges per digest message
DIGEST_MAX_ITEMS = 50  # challenges listed in one digest; more are counted, not listed
# A digest also looks this far behind the end of the last one, for approvals whose transaction
# committed after that digest was made (the ledger keeps them from being announced twice).
DIGEST_OVERLAP = timedelta(hours=1)
REMINDER_BEFORE = timedelta(days=3)
FOLLOWUP_AFTER = timedelta(days=21)  # "some weeks" after an introduction, both sides are asked
# Introductions whose outcome is still open (as storage.brokerage counts them).
OPEN_MATCH_STATES = (MatchState.INTRODUCED.value, MatchState.PROPOSAL.value)

# The outbox: alerts queue behind replies (bot.outbox.PRIORITY_ALERT).
ALERT_PRIORITY = 10
KIND_ALERT = "alert"  # one new challenge, as soon as it is approved
KIND_DIGEST = "digest"  # the new challenges of a day or a week
KIND_REMINDER = "reminder"  # a challenge the person is interested in closes soon
KIND_FOLLOWUP = "followup"  # how did the introduction go?
ALERT_OUTBOX_KINDS = frozenset({KIND_ALERT, KIND_DIGEST, KIND_REMINDER, KIND_FOLLOWUP})

TASK_INSTANT = "instant"

# The time zone a new subscription gets, by the person's language (they can change it).
DEFAULT_TIMEZONES: Mapping[str, str] = {
    "it": "Europe/Rome",
    "sv": "Europe/Stockholm",
    "en": "Europe/Brussels",
}
DEFAULT_DELIVERY_TIME = "09:00"

STOP_USER = "user"  # the person stopped it
STOP_BLOCKED = "blocked"  # the person blocked innobot: messages cannot reach them
STOP_OPTED_OUT = "opted_out"  # a profile's automatic subscription the person removed


# --- time --------------------------------------------------------------------------------------


@cache
def _zone_names() -> Mapping[str, str]:
    return {name.casefold(): name for name in available_timezones()}


def canonical_timezone(name: str) -> str | None:
    """The IANA name of the time zone ``name`` (any case), or None if there is none such."""
    cleaned = name.strip().replace(" ", "_")
    if not cleaned or len(cleaned) > 64:
        return None
    return _zone_names().get(cleaned.casefold())


def zone(name: str) -> ZoneInfo:
    """The time zone of a stored subscription (UTC if the name is not known here any more)."""
    canonical = canonical_timezone(name)
    return ZoneInfo(canonical) if canonical else ZoneInfo("UTC")


_CLOCK = re.compile(r"^(\d{1,2})(?:\s*[:.h]\s*(\d{2}))?\s*h?$", re.IGNORECASE)


def parse_clock(text: str) -> time | None:
    """``"9"``, ``"9:30"``, ``"09.30"``, ``"21h"`` → a time of day; None if it is not one."""
    match = _CLOCK.match(text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        return None
    return time(hour, minute)


def clock_text(at: time) -> str:
    return f"{at.hour:02d}:{at.minute:02d}"


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """``at`` o'clock on ``day`` in ``tz``, in UTC.

    A time a DST change skips (02:30 on the spring-forward night) is read on the old offset, so
    it comes out as the same moment moved forward by the gap (03:30); a time that happens twice
    (the autumn night) means its first occurrence. Either way each day has exactly one instant.
    """
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def next_delivery(after: datetime, at: time, tz: ZoneInfo, weekday: int | None = None) -> datetime:
    """The first delivery strictly after ``after``: every day (or on ``weekday``, 0 = Monday)
    at ``at`` local time."""
    day = after.astimezone(tz).date() - timedelta(days=1)
    for _ in range(10):
        if weekday is None or day.weekday() == weekday:
            when = local_instant(day, at, tz)
            if when > after:
                return when
        day += timedelta(days=1)
    raise AssertionError("no delivery within ten days")  # unreachable: weekday is 0..6


def outside_quiet_hours(
    at: datetime, start: time | None, end: time | None, tz: ZoneInfo
) -> datetime:
    """``at``, or the end of the quiet hours ``at`` falls in (they may span midnight)."""
    if start is None or end is None or start == end:
        return at
    local = at.astimezone(tz)
    now = local.time().replace(tzinfo=None)
    if start < end:
        quiet, day = start <= now < end, local.date()
    else:
        quiet = now >= start or now < end
        day = local.date() + timedelta(days=1) if now >= start else local.date()
    if not quiet:
        return at
    return max(at, local_instant(day, end, tz))


def _clock_or_none(text: str | None) -> time | None:
    return parse_clock(text) if text else None


def schedule_of(sub: Subscription) -> tuple[time, ZoneInfo, int | None]:
    """When a subscription's digests go out: local time, time zone, weekday (weekly only)."""
    at = parse_clock(sub.delivery_time) or time(9, 0)
    weekday = sub.weekday if sub.frequency == Frequency.WEEKLY.value else None
    return at, zone(sub.timezone), weekday


def first_free_moment(sub: Subscription | None, at: datetime) -> datetime:
    """``at``, moved past the subscription's quiet hours if it falls in them."""
    if sub is None:
        return at
    return outside_quiet_hours(
        at, _clock_or_none(sub.quiet_start), _clock_or_none(sub.quiet_end), zone(sub.timezone)
    )


def plan_next_digest(sub: Subscription, now: datetime) -> None:
    """Set when the subscription's next digest is due (nothing for instant alerts)."""
    if sub.frequency == Frequency.INSTANT.value or not sub.active:
        sub.next_run_at = None
        return
    at, tz, weekday = schedule_of(sub)
    sub.next_run_at = next_delivery(now, at, tz, weekday)


def _period(sub: Subscription) -> timedelta:
    return timedelta(days=7 if sub.frequency == Frequency.WEEKLY.value else 1)


# --- matching ----------------------------------------------------------------------------------


_JOINERS = re.compile(r"[\s\-‐‑–/_]+")


def normalize_keyword(text: str) -> str:
    """Case, spaces and joiners ("machine-vision", "machine vision") do not matter."""
    return _JOINERS.sub(" ", text).strip().casefold()


@dataclass(frozen=True, slots=True)
class Interest:
    """What a subscription asks for, ready to test challenges against."""

    topics: frozenset[str]
    keywords: tuple[re.Pattern[str], ...]
    region: str | None

    @classmethod
    def of(cls, sub: Subscription) -> Interest:
        keywords = tuple(
            re.compile(r"(?<!\w)" + re.escape(normalize_keyword(str(k))))
            for k in sub.keywords or ()
            if normalize_keyword(str(k))
        )
        region = normalize_keyword(sub.region) if sub.region else None
        return cls(frozenset(str(t) for t in sub.topics or ()), keywords, region or None)

    def matches(self, challenge: Challenge) -> bool:
        """Any of its topics (if it has some) and any of its keywords (if it has some), in the
        challenge's region or one open to every region."""
        if not self.topics and not self.keywords:
            return False
        if self.topics and not self.topics & {str(t) for t in challenge.topics or ()}:
            return False
        if self.keywords:
            text = normalize_keyword(f"{challenge.title}\n{challenge.description}")
            if not any(keyword.search(text) for keyword in self.keywords):
                return False
        if self.region and challenge.region:
            theirs = normalize_keyword(challenge.region)
            if self.region not in theirs and theirs not in self.region:
                return False
        return True


# --- subscriptions -----------------------------------------------------------------------------


def _visible() -> Any:
    return Subscription.stopped_reason.is_(None) | (Subscription.stopped_reason != STOP_OPTED_OUT)


async def subscriptions_of(session: AsyncSession, person_id: int) -> list[Subscription]:
    """A person's subscriptions as /alerts shows them (a removed automatic one is not shown)."""
    query = (
        select(Subscription)
        .where(Subscription.person_id == person_id, _visible())
        .order_by(Subscription.id)
    )
    return list((await session.scalars(query)).all())


async def count_subscriptions(session: AsyncSession, person_id: int) -> int:
    query = (
        select(func.count())
        .select_from(Subscription)
        .where(Subscription.person_id == person_id, _visible())
    )
    return int(await session.scalar(query) or 0)


async def subscription_of(
    session: AsyncSession, person_id: int, subscription_id: int
) -> Subscription | None:
    """The person's own subscription ``subscription_id`` (None for anyone else's)."""
    query = select(Subscription).where(
        Subscription.id == subscription_id, Subscription.person_id == person_id, _visible()
    )
    return (await session.execute(query)).scalar_one_or_none()


@dataclass(frozen=True, slots=True)
class SubscriptionSpec:
    """What a subscription asks for and when, as validated by the conversation."""

    topics: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    region: str | None = None
    frequency: str = Frequency.INSTANT.value
    weekday: int | None = None
    delivery_time: str = DEFAULT_DELIVERY_TIME
    timezone: str = DEFAULT_TIMEZONES["en"]
    quiet_start: str | None = None
    quiet_end: str | None = None

    def apply(self, sub: Subscription) -> None:
        sub.topics = list(self.topics)
        sub.keywords = list(self.keywords)
        sub.region = self.region
        sub.frequency = self.frequency
        weekly = self.frequency == Frequency.WEEKLY.value
        sub.weekday = (self.weekday if self.weekday in range(7) else 0) if weekly else None
        sub.delivery_time = self.delivery_time
        sub.timezone = self.timezone
        sub.quiet_start = self.quiet_start
        sub.quiet_end = self.quiet_end


async def add_subscription(
    session: AsyncSession,
    person_id: int,
    spec: SubscriptionSpec,
    now: datetime,
    *,
    source: str = SubscriptionSource.USER.value,
) -> Subscription | None:
    """Store a new subscription; None if the person already has :data:`MAX_SUBSCRIPTIONS`."""
    # Lock the person's row so that two requests at once cannot both pass the cap.
    await session.execute(select(Person.id).where(Person.id == person_id).with_for_update())
    if await count_subscriptions(session, person_id) >= MAX_SUBSCRIPTIONS:
        return None
    sub = Subscription(person_id=person_id, source=source, active=True, created_at=now)
    spec.apply(sub)
    plan_next_digest(sub, now)
    session.add(sub)
    await session.flush()
    return sub


def change_subscription(sub: Subscription, spec: SubscriptionSpec, now: datetime) -> None:
    spec.apply(sub)
    plan_next_digest(sub, now)


def stop_subscription(sub: Subscription, reason: str, now: datetime) -> None:
    sub.active = False
    sub.stopped_reason = reason
    sub.stopped_at = now
    sub.next_run_at = None


def resume_subscription(sub: Subscription, now: datetime) -> None:
    sub.active = True
    sub.stopped_reason = None
    sub.stopped_at = None
    # A digest after a pause covers the time since the pause, not the whole pause.
    sub.last_covered_until = max(sub.last_covered_until or now, now - _period(sub))
    plan_next_digest(sub, now)


async def remove_subscription(session: AsyncSession, sub: Subscription, now: datetime) -> None:
    """Delete a subscription. A profile's automatic one is kept, stopped and hidden, so that the
    person's choice to opt out is remembered when they publish another profile."""
    if sub.source == SubscriptionSource.PROFILE.value:
        stop_subscription(sub, STOP_OPTED_OUT, now)
        return
    await session.delete(sub)
    await session.flush()


async def subscribe_to_profile_topics(
    session: AsyncSession, person: Person, topics: Sequence[str], now: datetime | None = None
) -> Subscription | None:
    """Subscribe the owner of a solution profile to daily digests on the profile's topics.

    Called when a profile is saved, with its (validated) topics. Returns the new subscription,
    or None when there is nothing to do: no topics, the person already has an automatic
    subscription (kept up to date with the new topics) or removed it (their choice stands), or
    is at the cap.
    """
    now = now or datetime.now(UTC)
    wanted = [t for t in dict.fromkeys(str(t).strip() for t in topics) if 0 < len(t) <= 40]
    if not wanted:
        return None
    query = select(Subscription).where(
        Subscription.person_id == person.id,
        Subscription.source == SubscriptionSource.PROFILE.value,
    )
    existing = (await session.scalars(query)).first()
    if existing is not None:
        if existing.stopped_reason != STOP_OPTED_OUT:
            existing.topics = list(dict.fromkeys([*existing.topics, *wanted]))
        return None
    spec = SubscriptionSpec(
        topics=tuple(wanted),
        frequency=Frequency.DAILY.value,
        timezone=DEFAULT_TIMEZONES.get(person.language, DEFAULT_TIMEZONES["en"]),
    )
    return await add_subscription(
        session, person.id, spec, now, source=SubscriptionSource.PROFILE.value
    )


# --- recipients --------------------------------------------------------------------------------


async def reachable_identities(
    session: AsyncSession, person_ids: Iterable[int]
) -> dict[int, Identity]:
    """For each person, the newest account that has not blocked innobot."""
    ids = sorted(set(person_ids))
    found: dict[int, Identity] = {}
    for start in range(0, len(ids), 900):
        query = (
            select(Identity)
            .where(Identity.person_id.in_(ids[start : start + 900]), Identity.blocked_at.is_(None))
            .order_by(Identity.id)
        )
        for identity in await session.scalars(query):
            found[identity.person_id] = identity
    return found


def _insert_ignoring_duplicates(session: AsyncSession, rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING into the ledger, returning what was inserted."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return (
        module.insert(ChallengeAlert)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["person_id", "challenge_id", "kind"])
        .returning(ChallengeAlert.person_id, ChallengeAlert.challenge_id)
    )


async def record_alerts(
    session: AsyncSession,
    kind: AlertKind,
    entries: Sequence[tuple[int, int, int | None]],
    now: datetime,
) -> set[tuple[int, int]]:
    """Insert ledger entries (person, challenge, subscription); return the (person, challenge)
    pairs that were new — only those may be announced."""
    inserted: set[tuple[int, int]] = set()
    for start in range(0, len(entries), 500):
        rows = [
            {
                "person_id": person_id,
                "challenge_id": challenge_id,
                "kind": kind.value,
                "subscription_id": subscription_id,
                "created_at": now,
            }
            for person_id, challenge_id, subscription_id in entries[start : start + 500]
        ]
        result = await session.execute(_insert_ignoring_duplicates(session, rows))
        inserted.update((int(p), int(c)) for p, c in result.all())
    return inserted


def _row(
    identity: Identity, kind: str, dedupe_key: str, payload: dict[str, Any], due: datetime
) -> dict[str, Any]:
    """An outbox row for an alert to ``identity``'s chat (its text is written when sent)."""
    return {
        "platform": identity.platform,
        "chat_id": identity.chat_id,
        "person_id": identity.person_id,
        "kind": kind,
        "dedupe_key": dedupe_key[:255],
        "priority": ALERT_PRIORITY,
        "payload": {"text": "", **payload},
        "status": OutboxStatus.PENDING.value,
        "next_attempt_at": due,
    }


async def _queue(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert outbox rows in one statement (a fan-out's transaction stays short)."""
    if rows:
        await session.execute(insert(OutboxMessage), rows)


# --- instant alerts ----------------------------------------------------------------------------


async def queue_instant_alerts(session: AsyncSession, challenge: Challenge) -> None:
    """Announce a challenge that has just been approved to its instant subscribers.

    Call it in the transaction that approves the challenge: it records the work (once per
    challenge) and the scheduler does the fan-out, in batches, shortly after the commit.
    """
    known = await session.scalar(
        select(AlertTask.id).where(
            AlertTask.kind == TASK_INSTANT, AlertTask.challenge_id == challenge.id
        )
    )
    if known is None:
        session.add(AlertTask(kind=TASK_INSTANT, challenge_id=challenge.id, cursor=0))
        await session.flush()


def _lock_skipping(session: AsyncSession, query: Select[Any]) -> Select[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


async def fan_out_next(
    session: AsyncSession, now: datetime, batch: int = FANOUT_BATCH
) -> int | None:
    """Fan out one batch of the oldest unfinished announcement.

    Returns how many alerts were queued, or None when no announcement is waiting. A batch
    commits with the caller's transaction, cursor included: after a restart the fan-out goes on
    from the first subscription not yet handled.
    """
    query = select(AlertTask).where(AlertTask.done_at.is_(None)).order_by(AlertTask.id).limit(1)
    task = (await session.execute(_lock_skipping(session, query))).scalar_one_or_none()
    if task is None:
        return None
    challenge = await session.get(Challenge, task.challenge_id)
    if challenge is None or challenge.status != Status.APPROVED.value:
        task.done_at = now  # withdrawn before anyone was told
        return 0
    subs = list(
        (
            await session.scalars(
                select(Subscription)
                .where(
                    Subscription.active.is_(True),
                    Subscription.frequency == Frequency.INSTANT.value,
                    Subscription.id > task.cursor,
                )
                .order_by(Subscription.id)
                .limit(batch)
            )
        ).all()
    )
    first_match: dict[int, Subscription] = {}
    for sub in subs:
        if sub.person_id not in first_match and Interest.of(sub).matches(challenge):
            first_match[sub.person_id] = sub
    identities = await reachable_identities(session, first_match)
    entries = [(pid, challenge.id, sub.id) for pid, sub in first_match.items() if pid in identities]
    rows = [
        _row(
            identities[person_id],
            KIND_ALERT,
            f"alert:{challenge.id}:{person_id}",
            {"challenge": challenge.id, "subscription": first_match[person_id].id},
            first_free_moment(first_match[person_id], now),
        )
        for person_id, _ in sorted(await record_alerts(session, AlertKind.NEW, entries, now))
    ]
    await _queue(session, rows)
    queued = len(rows)
    if subs:
        task.cursor = subs[-1].id
    if len(subs) < batch:
        task.done_at = now
    await session.flush()
    return queued


# --- digests -----------------------------------------------------------------------------------


def latest_due(sub: Subscription, now: datetime) -> datetime:
    """The last scheduled digest time that has passed: after downtime the missed digests are
    caught up by one digest that covers them all."""
    assert sub.next_run_at is not None
    at, tz, weekday = schedule_of(sub)
    due = sub.next_run_at
    for _ in range(4000):  # about ten years of daily digests
        following = next_delivery(due, at, tz, weekday)
        if following > now:
            break
        due = following
    return due


async def due_digests(session: AsyncSession, now: datetime, limit: int) -> list[Subscription]:
    query = (
        select(Subscription)
        .where(
            Subscription.active.is_(True),
            Subscription.next_run_at.is_not(None),
            Subscription.next_run_at <= now,
        )
        .order_by(Subscription.next_run_at, Subscription.id)
        .limit(limit)
    )
    return list((await session.execute(_lock_skipping(session, query))).scalars())


async def make_digest(session: AsyncSession, sub: Subscription, now: datetime) -> int:
    """Queue the digest that is due for ``sub`` and plan the next one; returns its size.

    A digest covers every matching challenge approved up to its scheduled time that was never
    announced to the person, however late it runs: none is skipped, none is sent twice. An
    empty digest is not sent.
    """
    period_end = latest_due(sub, now)
    since = (sub.last_covered_until or sub.created_at - _period(sub)) - DIGEST_OVERLAP
    challenges = (
        await session.scalars(
            select(Challenge)
            .where(
                Challenge.status == Status.APPROVED.value,
                Challenge.decided_at > since,
                Challenge.decided_at <= period_end,
            )
            .order_by(Challenge.decided_at, Challenge.id)
        )
    ).all()
    interest = Interest.of(sub)
    _, tz, _ = schedule_of(sub)
    today = now.astimezone(tz).date()
    wanted = [
        c.id
        for c in challenges
        if interest.matches(c) and (c.deadline is None or c.deadline >= today)
    ]
    size = 0
    identity = (await reachable_identities(session, [sub.person_id])).get(sub.person_id)
    if wanted and identity is not None:
        entries = [(sub.person_id, cid, sub.id) for cid in wanted]
        new = {cid for _, cid in await record_alerts(session, AlertKind.NEW, entries, now)}
        included = [cid for cid in wanted if cid in new]
        size = len(included)
        listed = included[:DIGEST_MAX_ITEMS]
        parts = [listed[i : i + DIGEST_ITEMS] for i in range(0, len(listed), DIGEST_ITEMS)]
        stamp = period_end.strftime("%Y%m%dT%H%M")
        due = first_free_moment(sub, now)
        await _queue(
            session,
            [
                _row(
                    identity,
                    KIND_DIGEST,
                    f"digest:{sub.id}:{stamp}:{number}",
                    {
                        "challenges": part,
                        "subscription": sub.id,
                        "part": number,
                        "parts": len(parts),
                        "total": size,
                    },
                    due,
                )
                for number, part in enumerate(parts, start=1)
            ],
        )
    sub.last_covered_until = period_end
    at, tz, weekday = schedule_of(sub)
    sub.next_run_at = next_delivery(max(now, period_end), at, tz, weekday)
    await session.flush()
    return size


# --- interest and deadline reminders -----------------------------------------------------------


async def record_interest(session: AsyncSession, person_id: int, challenge_id: int) -> bool:
    """The person wants a reminder before the challenge closes. False if they asked already."""
    now = datetime.now(UTC)
    new = await record_alerts(session, AlertKind.INTEREST, [(person_id, challenge_id, None)], now)
    return bool(new)


async def forget_interest(session: AsyncSession, person_id: int) -> int:
    """No more deadline reminders for this person (until they ask again)."""
    result = await session.execute(
        delete(ChallengeAlert).where(
            ChallengeAlert.person_id == person_id,
            ChallengeAlert.kind == AlertKind.INTEREST.value,
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def queue_deadline_reminders(session: AsyncSession, now: datetime) -> int:
    """Remind everyone who showed interest in a challenge that closes within three days."""
    today = now.date()
    horizon = (now + REMINDER_BEFORE).date()
    interested = (
        await session.execute(
            select(ChallengeAlert.person_id, Challenge.id)
            .join(Challenge, Challenge.id == ChallengeAlert.challenge_id)
            .where(
                ChallengeAlert.kind == AlertKind.INTEREST.value,
                Challenge.status == Status.APPROVED.value,
                Challenge.deadline.is_not(None),
                Challenge.deadline >= today,
                Challenge.deadline <= horizon,
            )
        )
    ).all()
    if not interested:
        return 0
    identities = await reachable_identities(session, (pid for pid, _ in interested))
    entries = [(int(pid), int(cid), None) for pid, cid in interested if pid in identities]
    new = await record_alerts(session, AlertKind.DEADLINE, entries, now)
    quiet = await _quiet_hours_of(session, {pid for pid, _ in new})
    rows = [
        _row(
            identities[person_id],
            KIND_REMINDER,
            f"reminder:{challenge_id}:{person_id}",
            {"challenge": challenge_id},
            first_free_moment(quiet.get(person_id), now),
        )
        for person_id, challenge_id in sorted(new)
    ]
    await _queue(session, rows)
    return len(rows)


async def _quiet_hours_of(session: AsyncSession, person_ids: set[int]) -> dict[int, Subscription]:
    """Each person's first active subscription with quiet hours (they apply to reminders too)."""
    if not person_ids:
        return {}
    query = (
        select(Subscription)
        .where(
            Subscription.person_id.in_(sorted(person_ids)),
            Subscription.active.is_(True),
            Subscription.quiet_start.is_not(None),
        )
        .order_by(Subscription.id)
    )
    found: dict[int, Subscription] = {}
    for sub in await session.scalars(query):
        found.setdefault(sub.person_id, sub)
    return found


# --- outcome follow-ups ------------------------------------------------------------------------


async def match_parties(session: AsyncSession, match: Match) -> dict[int, str]:
    """The people on either side of a match: {person id: "owner" | "solver"}."""
    parties: dict[int, str] = {}
    challenge = await session.get(Challenge, match.challenge_id)
    kinds = {kind.value: kind for kind in ItemKind}
    kind = kinds.get(match.item_kind)
    if kind is not None:
        item = await session.get(SUBMISSION_MODELS[kind], match.item_id)
        owner = getattr(item, "person_id", None)
        if isinstance(owner, int):
            parties[owner] = "solver"
    if challenge is not None and challenge.person_id is not None:
        parties[challenge.person_id] = "owner"
    return parties


async def queue_outcome_followups(session: AsyncSession, now: datetime) -> int:
    """Ask both sides of every introduction made :data:`FOLLOWUP_AFTER` ago how it went (once:
    the match's ``outcome_asked_at`` is set in the same transaction)."""
    matches = (
        await session.scalars(
            select(Match)
            .where(
                Match.state.in_(OPEN_MATCH_STATES),
                Match.introduced_at.is_not(None),
                Match.introduced_at <= now - FOLLOWUP_AFTER,
                Match.outcome_asked_at.is_(None),
            )
            .order_by(Match.id)
            .limit(500)
        )
    ).all()
    rows = []
    for match in matches:
        match.outcome_asked_at = now
        parties = await match_parties(session, match)
        identities = await reachable_identities(session, parties)
        rows += [
            _row(
                identities[pid],
                KIND_FOLLOWUP,
                f"followup:{match.id}:{pid}",
                {"match": match.id},
                now,
            )
            for pid in sorted(parties)
            if pid in identities
        ]
    await _queue(session, rows)
    await session.flush()
    return len(rows)


# --- when a person cannot be reached -----------------------------------------------------------


async def stop_alerts_for_unreachable(
    session: AsyncSession, platform: str, chat_id: str, now: datetime | None = None
) -> int:
    """The account at (platform, chat) blocked innobot: if its person has no other account
    innobot can reach, stop their subscriptions (recorded as ``blocked``) and drop the alerts
    still queued for them. Returns how many subscriptions were stopped."""
    now = now or datetime.now(UTC)
    owners = await session.scalars(
        select(Identity.person_id).where(Identity.platform == platform, Identity.chat_id == chat_id)
    )
    stopped = 0
    for person_id in set(owners):
        if await reachable_identities(session, [person_id]):
            continue
        result = await session.execute(
            update(Subscription)
            .where(Subscription.person_id == person_id, Subscription.active.is_(True))
            .values(active=False, stopped_reason=STOP_BLOCKED, stopped_at=now, next_run_at=None)
        )
        stopped += int(getattr(result, "rowcount", 0) or 0)
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.person_id == person_id,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.kind.in_(ALERT_OUTBOX_KINDS),
            )
            .values(status=OutboxStatus.DROPPED.value, last_error="recipient blocked innobot")
        )
    return stopped


async def alerts_of(session: AsyncSession, person_id: int) -> list[ChallengeAlert]:
    """The person's ledger entries (for their data export)."""
    query = (
        select(ChallengeAlert)
        .where(ChallengeAlert.person_id == person_id)
        .order_by(ChallengeAlert.id)
    )
    return list((await session.scalars(query)).all())
