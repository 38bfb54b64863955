"""innobot's domain, as typed SQLAlchemy 2.0 models (SQLite and PostgreSQL alike)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# BIGINT on PostgreSQL, INTEGER (and so an alias of ROWID) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(AsyncAttrs, DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class Role(StrEnum):
    CITIZEN = "citizen"
    SME = "sme"
    INFRASTRUCTURE = "infrastructure"
    CHALLENGE_OWNER = "challenge_owner"
    MODERATOR = "moderator"


class Status(StrEnum):
    """Moderation status shared by every submission."""

    PENDING = "pending"
    NEEDS_INFO = "needs_info"
    APPROVED = "approved"
    REJECTED = "rejected"
    MERGED = "merged"
    CLOSED = "closed"


class ItemKind(StrEnum):
    """The kinds of submission, with the letter of their reference numbers."""

    IDEA = "idea"
    SOLUTION = "solution"
    INFRASTRUCTURE = "infrastructure"
    CHALLENGE = "challenge"

    @property
    def prefix(self) -> str:
        return {"idea": "I", "solution": "S", "infrastructure": "L", "challenge": "C"}[self.value]


class Confidentiality(StrEnum):
    PUBLIC = "public"
    ANONYMOUS = "anonymous"
    RESTRICTED = "restricted"


class Frequency(StrEnum):
    INSTANT = "instant"
    DAILY = "daily"
    WEEKLY = "weekly"


class MatchState(StrEnum):
    SUGGESTED = "suggested"
    INTERESTED = "interested"
    INTRODUCED = "introduced"
    PROPOSAL = "proposal"
    CONTRACT = "contract"
    DECLINED = "declined"
    NO_FOLLOW_UP = "no_follow_up"


class OutboxStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    DROPPED = "dropped"  # no longer wanted when its turn came (challenge withdrawn, ...)


class SubscriptionSource(StrEnum):
    USER = "user"  # made with /subscribe
    PROFILE = "profile"  # made for the owner of a solution profile, on its topics


class AlertKind(StrEnum):
    """What innobot told, or promised to tell, a person about a challenge (once each)."""

    NEW = "new"  # the challenge was announced (instantly or in a digest)
    INTEREST = "interest"  # the person asked to be reminded of its deadline
    DEADLINE = "deadline"  # the deadline reminder
    FOLLOWUP = "followup"  # the question about how an introduction went


class Person(Base):
    """Someone who consented to take part. Personal data lives here and in Identity."""

    __tablename__ = "person"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    display_name: Mapped[str | None] = mapped_column(String(200))
    language: Mapped[str] = mapped_column(String(8), default="en")
    role: Mapped[str] = mapped_column(String(32), default=Role.CITIZEN.value)
    consent_at: Mapped[datetime] = mapped_column(default=utcnow)
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    identities: Mapped[list[Identity]] = relationship(
        back_populates="person", cascade="all, delete-orphan", passive_deletes=True
    )
    organisation: Mapped[Organisation | None] = relationship()


class Identity(Base):
    """One platform account of a person (a Telegram user, a Matrix user, a console user)."""

    __tablename__ = "identity"
    __table_args__ = (UniqueConstraint("platform", "external_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    platform: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(255))
    chat_id: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(200))
    language_code: Mapped[str | None] = mapped_column(String(16))
    blocked_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    person: Mapped[Person] = relationship(back_populates="identities")


class Organisation(Base):
    __tablename__ = "organisation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str | None] = mapped_column(String(32))
    country: Mapped[str | None] = mapped_column(String(64))
    region: Mapped[str | None] = mapped_column(String(120))
    website: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubmissionMixin:
    """Columns every moderated submission shares."""

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    lang: Mapped[str | None] = mapped_column(String(8))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    topic_scores: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=Status.PENDING.value, index=True)
    show_name: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column()

    KIND: ItemKind

    @property
    def ref(self) -> str:
        return f"{self.KIND.prefix}-{self.id}"


class Idea(SubmissionMixin, Base):
    """A citizen's idea. ``person_id`` is NULL once its author has been forgotten."""

    __tablename__ = "idea"
    KIND = ItemKind.IDEA

    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("idea.id", ondelete="SET NULL"))


class SolutionProfile(SubmissionMixin, Base):
    """What an SME, start-up or lab offers: competences, solutions, services."""

    __tablename__ = "solution_profile"
    KIND = ItemKind.SOLUTION

    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )
    organisation: Mapped[Organisation | None] = relationship()
    trl: Mapped[int | None] = mapped_column(Integer)
    region: Mapped[str | None] = mapped_column(String(120))
    country: Mapped[str | None] = mapped_column(String(64))
    languages: Mapped[list[Any]] = mapped_column(default=list)
    share_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    # Passed on only at a double opt-in introduction, and only if ``share_contact``.
    contact: Mapped[str | None] = mapped_column(String(300))


class InfrastructureProfile(SubmissionMixin, Base):
    """A lab, pilot plant, test bed or piece of equipment SMEs can use."""

    __tablename__ = "infrastructure_profile"
    KIND = ItemKind.INFRASTRUCTURE

    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )
    organisation: Mapped[Organisation | None] = relationship()
    services: Mapped[str | None] = mapped_column(Text)
    equipment: Mapped[str | None] = mapped_column(Text)
    price_model: Mapped[str | None] = mapped_column(String(200))
    lead_time: Mapped[str | None] = mapped_column(String(120))
    location: Mapped[str | None] = mapped_column(String(200))
    share_contact: Mapped[bool] = mapped_column(Boolean, default=False)
    contact: Mapped[str | None] = mapped_column(String(300))


class Challenge(SubmissionMixin, Base):
    """An innovation need published by a company or public body."""

    __tablename__ = "challenge"
    KIND = ItemKind.CHALLENGE

    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    organisation_id: Mapped[int | None] = mapped_column(
        ForeignKey("organisation.id", ondelete="SET NULL")
    )
    organisation: Mapped[Organisation | None] = relationship()
    deadline: Mapped[date | None] = mapped_column(Date)
    offer: Mapped[str | None] = mapped_column(String(200))
    confidentiality: Mapped[str] = mapped_column(String(16), default=Confidentiality.PUBLIC.value)
    region: Mapped[str | None] = mapped_column(String(120))
    # The owner's contact details, passed on only at a double opt-in introduction.
    contact: Mapped[str | None] = mapped_column(String(300))


class Subscription(Base):
    """A person's standing request for challenge alerts."""

    __tablename__ = "subscription"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    topics: Mapped[list[Any]] = mapped_column(default=list)
    keywords: Mapped[list[Any]] = mapped_column(default=list)
    region: Mapped[str | None] = mapped_column(String(120))
    frequency: Mapped[str] = mapped_column(String(16), default=Frequency.INSTANT.value)
    weekday: Mapped[int | None] = mapped_column(Integer)
    delivery_time: Mapped[str] = mapped_column(String(5), default="09:00")
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    last_covered_until: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When the next digest is due (daily and weekly subscriptions), in UTC.
    next_run_at: Mapped[datetime | None] = mapped_column(index=True)
    source: Mapped[str] = mapped_column(
        String(16), default=SubscriptionSource.USER.value, server_default="user"
    )
    # Why an inactive subscription stopped: "user", "blocked" (innobot was blocked), ...
    stopped_reason: Mapped[str | None] = mapped_column(String(32))
    stopped_at: Mapped[datetime | None] = mapped_column()


class Match(Base):
    """A suggested pairing of a challenge with a profile or idea, and what came of it.

    One row per pair, ever: it is what makes a suggestion happen once. The introduction is double
    opt-in: the challenge owner asks (``owner_intro_at``), the solver accepts (``introduced_at``);
    only then does either side learn who the other is.
    """

    __tablename__ = "match"
    __table_args__ = (
        UniqueConstraint("challenge_id", "item_kind", "item_id"),
        Index("ix_match_item", "item_kind", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(BigId)
    score: Mapped[float] = mapped_column(Float)
    why: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(16), default=MatchState.SUGGESTED.value)
    notified_at: Mapped[datetime | None] = mapped_column()
    answered_at: Mapped[datetime | None] = mapped_column()
    owner_intro_at: Mapped[datetime | None] = mapped_column()
    introduced_at: Mapped[datetime | None] = mapped_column(index=True)
    outcome_asked_at: Mapped[datetime | None] = mapped_column()
    outcome_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Endorsement(Base):
    """A person's support for a citizen's idea; supporting also follows the idea.

    ``person_id`` is NULL once the supporter has been forgotten: the support still counts.
    """

    __tablename__ = "endorsement"
    __table_args__ = (UniqueConstraint("idea_id", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    idea_id: Mapped[int] = mapped_column(ForeignKey("idea.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    follow: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ModerationDecision(Base):
    """The audit log: every moderation action, who took it, and the state before it."""

    __tablename__ = "moderation_decision"
    __table_args__ = (Index("ix_moderation_decision_item", "item_kind", "item_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(BigId)
    moderator: Mapped[str] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str | None] = mapped_column(Text)
    previous_status: Mapped[str | None] = mapped_column(String(16))
    new_status: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConversationState(Base):
    """Where a person is in a multi-step flow, so that a restart resumes at the same step.

    Keyed by platform identifiers, not by person: it exists before consent (language choice) and
    holds nothing but the flow's own answers. ``version`` changes at every step; buttons carry it,
    so a press on an old message is recognised.
    """

    __tablename__ = "conversation_state"
    __table_args__ = (UniqueConstraint("platform", "chat_id", "user_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(255))
    user_id: Mapped[str] = mapped_column(String(255))
    flow: Mapped[str | None] = mapped_column(String(32))
    step: Mapped[str | None] = mapped_column(String(32))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    language: Mapped[str | None] = mapped_column(String(8))
    version: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class OutboxMessage(Base):
    """A message waiting to be (or already) delivered. Replies and alerts alike.

    ``dedupe_key`` makes queuing idempotent: the same (recipient, item, kind) is never queued
    twice. ``priority`` 0 is a reply to someone talking to the bot; larger numbers wait.
    """

    __tablename__ = "outbox_message"
    __table_args__ = (Index("ix_outbox_message_due", "status", "priority", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(255), index=True)
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32), default="reply")
    dedupe_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    priority: Mapped[int] = mapped_column(Integer, default=0)
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default=OutboxStatus.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column()
    # The delivery worker that claimed the row; a dead worker's rows are released at once.
    claimed_by: Mapped[str | None] = mapped_column(String(64))


class ChallengeAlert(Base):
    """What a person was told (or asked to be told) about a challenge: never the same twice.

    One row per (person, challenge, kind): an announcement is queued only if its row could be
    inserted, in the same transaction, so neither an instant alert and a digest nor two digests
    can announce the same challenge to the same person.
    """

    __tablename__ = "challenge_alert"
    __table_args__ = (UniqueConstraint("person_id", "challenge_id", "kind"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    challenge_id: Mapped[int] = mapped_column(
        ForeignKey("challenge.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))
    subscription_id: Mapped[int | None] = mapped_column(
        ForeignKey("subscription.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AlertTask(Base):
    """Work the scheduler owes: announcing an approved challenge to its subscribers.

    Queued in the transaction that approves the challenge; ``cursor`` is the last subscription
    handled, so a fan-out interrupted by a restart goes on where it stopped.
    """

    __tablename__ = "alert_task"
    __table_args__ = (UniqueConstraint("kind", "challenge_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    challenge_id: Mapped[int] = mapped_column(ForeignKey("challenge.id", ondelete="CASCADE"))
    cursor: Mapped[int] = mapped_column(BigId, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(index=True)


class SchedulerJob(Base):
    """A job of innobot's scheduler (APScheduler's own job state, pickled), kept across restarts."""

    __tablename__ = "scheduler_job"

    id: Mapped[str] = mapped_column(String(191), primary_key=True)
    next_run_time: Mapped[float | None] = mapped_column(Float, index=True)
    job_state: Mapped[bytes] = mapped_column(LargeBinary)


Submission = Idea | SolutionProfile | InfrastructureProfile | Challenge

SUBMISSION_MODELS: dict[ItemKind, type[Submission]] = {
    ItemKind.IDEA: Idea,
    ItemKind.SOLUTION: SolutionProfile,
    ItemKind.INFRASTRUCTURE: InfrastructureProfile,
    ItemKind.CHALLENGE: Challenge,
}


# --- Matrix moderation ---------------------------------------------------------------------------


class AdapterState(Base):
    """Small values a platform adapter keeps across restarts (the Matrix sync token, ...)."""

    __tablename__ = "adapter_state"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ModerationCard(Base):
    """The triage card of a submission in a moderation room: its event id, to find its thread."""

    __tablename__ = "moderation_card"
    __table_args__ = (
        UniqueConstraint("room_id", "event_id"),
        Index("ix_moderation_card_item", "item_kind", "item_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    item_kind: Mapped[str] = mapped_column(String(16))
    item_id: Mapped[int] = mapped_column(BigId)
    room_id: Mapped[str] = mapped_column(String(255))
    event_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HandledEvent(Base):
    """A platform event whose effects are committed, so that it is never acted on twice."""

    __tablename__ = "handled_event"
    __table_args__ = (UniqueConstraint("platform", "event_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# --- the dashboard -------------------------------------------------------------------------------


class DashboardAccount(Base):
    """A programme manager's login to the web dashboard (managed with ``innobot users``)."""

    __tablename__ = "dashboard_account"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # Consecutive failed logins; at the limit the account is locked for a while.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column()
    last_login_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DashboardSession(Base):
    """A signed-in browser. The cookie carries a random token; only its SHA-256 is stored."""

    __tablename__ = "dashboard_session"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("dashboard_account.id", ondelete="CASCADE"), index=True
    )
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


# --- engagement: communities, consultations, events ----------------------------------------------


class Community(Base):
    """A topic or regional community; optionally linked to a Telegram group and a Matrix room."""

    __tablename__ = "community"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    topics: Mapped[list[Any]] = mapped_column(default=list)
    region: Mapped[str | None] = mapped_column(String(120))
    language: Mapped[str] = mapped_column(String(8), default="en")
    # The linked Telegram group (its chat id) and the link people use to join it.
    telegram_chat_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    invite_link: Mapped[str | None] = mapped_column(String(255))
    matrix_room_id: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CommunityMember(Base):
    """A person who joined a community (and so hears its news)."""

    __tablename__ = "community_member"
    __table_args__ = (UniqueConstraint("community_id", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)


class GroupReport(Base):
    """A message a member flagged in a linked group, and what the moderators did about it."""

    __tablename__ = "group_report"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    community_id: Mapped[int] = mapped_column(
        ForeignKey("community.id", ondelete="CASCADE"), index=True
    )
    chat_id: Mapped[str] = mapped_column(String(64))
    message_id: Mapped[str] = mapped_column(String(64))
    reported_user: Mapped[str] = mapped_column(String(64))
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="open")
    handled_by: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Consultation(Base):
    """A question put to an audience, open between two times; answers are anonymous by default."""

    __tablename__ = "consultation"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    # "single", "multiple" (choices among ``options``) or "text" (a short free answer).
    kind: Mapped[str] = mapped_column(String(16), default="single")
    options: Mapped[list[Any]] = mapped_column(default=list)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    opens_at: Mapped[datetime] = mapped_column(index=True)
    closes_at: Mapped[datetime] = mapped_column(index=True)
    share_results: Mapped[bool] = mapped_column(Boolean, default=False)
    # "scheduled" → "open" (sent to its audience) → "closed".
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsultationAnswer(Base):
    """One person's answer to a consultation (a changed answer replaces it).

    ``person_id`` is NULL once the person has been forgotten: the answer still counts.
    """

    __tablename__ = "consultation_answer"
    __table_args__ = (UniqueConstraint("consultation_id", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    consultation_id: Mapped[int] = mapped_column(
        ForeignKey("consultation.id", ondelete="CASCADE"), index=True
    )
    person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL"), index=True
    )
    choices: Mapped[list[Any]] = mapped_column(default=list)
    text: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Event(Base):
    """A webinar, training, brokerage day or co-creation workshop people can register for."""

    __tablename__ = "event"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), default="webinar")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    timezone: Mapped[str] = mapped_column(String(64), default="Europe/Rome")
    place: Mapped[str] = mapped_column(String(300), default="")
    capacity: Mapped[int | None] = mapped_column(Integer)
    audience: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # "scheduled" or "cancelled".
    status: Mapped[str] = mapped_column(String(16), default="scheduled")
    created_by: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EventRegistration(Base):
    """A person's place at an event: "going", "waiting" (the waiting list) or "cancelled"."""

    __tablename__ = "event_registration"
    __table_args__ = (UniqueConstraint("event_id", "person_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="going")
    reminded_day: Mapped[bool] = mapped_column(Boolean, default=False)
    reminded_hour: Mapped[bool] = mapped_column(Boolean, default=False)
    attended: Mapped[bool | None] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ChatPoll(Base):
    """A native poll innobot sent (Telegram), so that an answer, which names only the poll, can
    be traced to what it answers (``subject``, e.g. ``consultation:12``) and the poll stopped."""

    __tablename__ = "chat_poll"

    poll_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64), index=True)
    message_id: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
