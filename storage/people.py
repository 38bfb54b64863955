"""People who consented: creating them, what they submitted, their data export, forgetting them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import and_, delete, false, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.engagement import export_engagement, forget_engagement
from storage.models import (
    SUBMISSION_MODELS,
    Base,
    Challenge,
    ChallengeAlert,
    ConversationState,
    Endorsement,
    Idea,
    Identity,
    InfrastructureProfile,
    ItemKind,
    Match,
    Organisation,
    OutboxMessage,
    Person,
    Role,
    SolutionProfile,
    Status,
    Subscription,
    utcnow,
)

Submission = Idea | SolutionProfile | InfrastructureProfile | Challenge

# A withdrawn profile or challenge is closed unless a moderator already settled it.
OPEN_STATUSES = (Status.PENDING.value, Status.NEEDS_INFO.value, Status.APPROVED.value)


async def add_person(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    chat_id: str,
    display_name: str | None,
    language_code: str | None,
    language: str,
    role: str = Role.CITIZEN.value,
) -> Person:
    """Record a person's consent with the platform account they gave it from."""
    person = Person(display_name=display_name, language=language, role=role, consent_at=utcnow())
    identity = Identity(
        person=person,
        platform=platform,
        external_id=external_id,
        chat_id=chat_id,
        display_name=display_name,
        language_code=language_code,
    )
    session.add_all([person, identity])
    await session.flush()
    return person


async def identities_of(session: AsyncSession, person_id: int) -> list[Identity]:
    query = select(Identity).where(Identity.person_id == person_id).order_by(Identity.id)
    return list((await session.scalars(query)).all())


async def recent_submissions(
    session: AsyncSession, person_id: int, limit: int
) -> tuple[list[Submission], int]:
    """A person's newest ``limit`` submissions of every kind, and how many they have in all."""
    items: list[Submission] = []
    total = 0
    for model in SUBMISSION_MODELS.values():
        mine = model.person_id == person_id
        total += await session.scalar(select(func.count()).select_from(model).where(mine)) or 0
        query = select(model).where(mine).order_by(model.created_at.desc(), model.id.desc())
        items.extend(cast("list[Submission]", (await session.scalars(query.limit(limit))).all()))
    items.sort(key=lambda item: item.created_at, reverse=True)
    return items[:limit], total


async def _states_of(session: AsyncSession, identities: list[Identity]) -> list[ConversationState]:
    if not identities:
        return []
    query = select(ConversationState).where(
        or_(
            *(
                and_(
                    ConversationState.platform == identity.platform,
                    ConversationState.user_id == identity.external_id,
                )
                for identity in identities
            )
        )
    )
    return list((await session.scalars(query)).all())


def _value(value: object) -> object:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row(obj: Base) -> dict[str, object]:
    """All columns of ``obj``, JSON-ready."""
    return {attr.key: _value(getattr(obj, attr.key)) for attr in inspect(obj).mapper.column_attrs}


async def export_person(session: AsyncSession, person: Person) -> dict[str, Any]:
    """Everything innobot stores about ``person``, as one JSON-ready document."""
    identities = await identities_of(session, person.id)
    export: dict[str, Any] = {
        "exported_at": utcnow().isoformat(),
        "person": _row(person),
        "organisation": None,
        "identities": [_row(identity) for identity in identities],
    }
    if person.organisation_id is not None:
        organisation = await session.get(Organisation, person.organisation_id)
        export["organisation"] = _row(organisation) if organisation else None

    # The person's items, and the matches that involve them.
    involved = []
    sections = {
        ItemKind.IDEA: "ideas",
        ItemKind.SOLUTION: "solution_profiles",
        ItemKind.INFRASTRUCTURE: "infrastructure_profiles",
        ItemKind.CHALLENGE: "challenges",
    }
    for kind, model in SUBMISSION_MODELS.items():
        query = select(model).where(model.person_id == person.id).order_by(model.id)
        items = cast("list[Submission]", (await session.scalars(query)).all())
        export[sections[kind]] = [_row(item) for item in items]
        ids = [item.id for item in items]
        if not ids:
            continue
        involved.append(and_(Match.item_kind == kind.value, Match.item_id.in_(ids)))
        if kind is ItemKind.CHALLENGE:
            involved.append(Match.challenge_id.in_(ids))
    matches = await session.scalars(select(Match).where(or_(false(), *involved)).order_by(Match.id))
    export["matches"] = [_row(match) for match in matches]
    # The organisations named in their profiles and challenges, and the ideas they support.
    named = {
        item["organisation_id"]
        for section in ("solution_profiles", "infrastructure_profiles", "challenges")
        for item in export[section]
        if item.get("organisation_id") is not None
    } - {person.organisation_id}
    organisations = await session.scalars(
        select(Organisation).where(Organisation.id.in_(named)).order_by(Organisation.id)
    )
    export["organisations"] = [_row(organisation) for organisation in organisations]
    endorsements = await session.scalars(
        select(Endorsement).where(Endorsement.person_id == person.id).order_by(Endorsement.id)
    )
    export["endorsements"] = [_row(endorsement) for endorsement in endorsements]

    subscriptions = await session.scalars(
        select(Subscription).where(Subscription.person_id == person.id).order_by(Subscription.id)
    )
    export["subscriptions"] = [_row(subscription) for subscription in subscriptions]
    alerts = await session.scalars(
        select(ChallengeAlert)
        .where(ChallengeAlert.person_id == person.id)
        .order_by(ChallengeAlert.id)
    )
    export["challenge_alerts"] = [_row(alert) for alert in alerts]
    export["conversation_states"] = [_row(state) for state in await _states_of(session, identities)]
    outbox = await session.scalars(
        select(OutboxMessage).where(OutboxMessage.person_id == person.id).order_by(OutboxMessage.id)
    )
    export["outbox_messages"] = [_row(message) for message in outbox]
    export.update(await export_engagement(session, person.id))
    return export


async def forget_person(session: AsyncSession, person: Person) -> None:
    """Erase ``person``: their account rows go, their submissions stay without them.

    Deleted: the person, their identities, subscriptions, what they were told about challenges,
    queued messages and conversation states. Ideas stay, anonymous. Profiles and challenges stay
    anonymous too, and are withdrawn (closed), since nobody could answer for them any more;
    their contact details go. Support given to ideas still counts, anonymously, and so do answers
    to consultations; community memberships and event registrations go.
    """
    person_id = person.id
    identities = await identities_of(session, person_id)
    for state in await _states_of(session, identities):
        await session.delete(state)

    await session.execute(
        update(Idea).where(Idea.person_id == person_id).values(person_id=None, show_name=False)
    )
    for model in (SolutionProfile, InfrastructureProfile):
        mine = model.person_id == person_id
        await session.execute(
            update(model)
            .where(mine, model.status.in_(OPEN_STATUSES))
            .values(status=Status.CLOSED.value)
        )
        await session.execute(
            update(model)
            .where(mine)
            .values(person_id=None, show_name=False, share_contact=False, contact=None)
        )
    await session.execute(
        update(Challenge)
        .where(Challenge.person_id == person_id, Challenge.status.in_(OPEN_STATUSES))
        .values(status=Status.CLOSED.value)
    )
    await session.execute(
        update(Challenge)
        .where(Challenge.person_id == person_id)
        .values(person_id=None, show_name=False, contact=None)
    )
    # Their support still counts, but no longer says who gave it.
    await session.execute(
        update(Endorsement).where(Endorsement.person_id == person_id).values(person_id=None)
    )

    await forget_engagement(session, person_id)
    await session.execute(delete(ChallengeAlert).where(ChallengeAlert.person_id == person_id))
    await session.execute(delete(Subscription).where(Subscription.person_id == person_id))
    await session.execute(delete(OutboxMessage).where(OutboxMessage.person_id == person_id))
    for identity in identities:
        await session.delete(identity)
    await session.delete(person)
    await session.flush()
