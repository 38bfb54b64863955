"""Query functions for the brokerage: profiles, challenges, matches and endorsements.

Who may see what is decided here too, so that every path (browsing, searching, showing an item by
its id, suggestions) asks the same questions: an item is visible to others only once approved; a
restricted challenge's description only to owners of an approved solution profile; an anonymous
challenge's owner to nobody before a double opt-in introduction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    Challenge,
    Confidentiality,
    Endorsement,
    Idea,
    InfrastructureProfile,
    ItemKind,
    Match,
    MatchState,
    ModerationDecision,
    Organisation,
    SolutionProfile,
    Status,
    utcnow,
)

Profile = SolutionProfile | InfrastructureProfile
Owned = SolutionProfile | InfrastructureProfile | Challenge
OWNED_MODELS: dict[ItemKind, type[Owned]] = {
    ItemKind.SOLUTION: SolutionProfile,
    ItemKind.INFRASTRUCTURE: InfrastructureProfile,
    ItemKind.CHALLENGE: Challenge,
}
# Statuses an owner may still edit or close an item from.
EDITABLE = (
    Status.PENDING.value,
    Status.NEEDS_INFO.value,
    Status.APPROVED.value,
    Status.REJECTED.value,
)
OPEN = (Status.PENDING.value, Status.NEEDS_INFO.value, Status.APPROVED.value)
# Match states in which the two sides still have something to do.
LIVE_STATES = (MatchState.SUGGESTED.value, MatchState.INTERESTED.value)
OUTCOME_STATES = (MatchState.INTRODUCED.value, MatchState.PROPOSAL.value)

_WORD = re.compile(r"\w{3,}", re.UNICODE)


# --- organisations and items -----------------------------------------------------------------


async def organisation_named(
    session: AsyncSession,
    name: str,
    *,
    country: str | None = None,
    region: str | None = None,
    kind: str | None = None,
) -> Organisation:
    """A new organisation row for ``name`` (organisations are not merged by name: two SMEs may
    well share one)."""
    organisation = Organisation(name=name, country=country, region=region, kind=kind)
    session.add(organisation)
    await session.flush()
    return organisation


async def add_item(session: AsyncSession, model: type[Owned], values: Mapping[str, Any]) -> Owned:
    """Store a new profile or challenge, waiting for moderation; its id is set on return."""
    item = model(**{**values, "status": Status.PENDING.value})
    session.add(item)
    await session.flush()
    return item


async def own_item(
    session: AsyncSession, person_id: int, kind: ItemKind, item_id: int
) -> Owned | None:
    """The person's own profile or challenge (None if it is not theirs or does not exist)."""
    model = OWNED_MODELS.get(kind)
    if model is None:
        return None
    item = cast("Owned | None", await session.get(model, item_id, populate_existing=True))
    return item if item is not None and item.person_id == person_id else None


async def items_of(
    session: AsyncSession, person_id: int, kinds: Iterable[ItemKind], statuses: Sequence[str]
) -> list[Owned]:
    found: list[Owned] = []
    for kind in kinds:
        model = OWNED_MODELS[kind]
        query = select(model).where(model.person_id == person_id, model.status.in_(statuses))
        found.extend(
            cast("Sequence[Owned]", (await session.scalars(query.order_by(model.id))).all())
        )
    return found


def _words(text: str) -> set[str]:
    return {word.casefold() for word in _WORD.findall(text)}


def resemblance(a: str, b: str) -> float:
    """How much two texts share their words (Jaccard, 0 to 1)."""
    mine, theirs = _words(a), _words(b)
    union = mine | theirs
    return len(mine & theirs) / len(union) if union else 0.0


async def near_duplicate_of_own(
    session: AsyncSession,
    person_id: int,
    kind: ItemKind,
    text: str,
    *,
    threshold: float = 0.7,
    exclude_id: int | None = None,
) -> Owned | None:
    """The person's open item of ``kind`` that says nearly the same as ``text``, if any."""
    for item in await items_of(session, person_id, (kind,), OPEN):
        if (
            item.id != exclude_id
            and resemblance(text, f"{item.title} {item.description}") >= threshold
        ):
            return item
    return None


async def count_pending(session: AsyncSession, person_id: int, kind: ItemKind) -> int:
    model = OWNED_MODELS[kind]
    query = select(func.count()).where(
        model.person_id == person_id,
        model.status.in_((Status.PENDING.value, Status.NEEDS_INFO.value)),
    )
    return int(await session.scalar(query) or 0)


async def resubmit(session: AsyncSession, item: Owned, values: Mapping[str, Any]) -> str:
    """Apply an owner's edit and send the item back to moderation; the previous status."""
    previous = item.status
    for name, value in values.items():
        setattr(item, name, value)
    now = utcnow()
    item.status = Status.PENDING.value
    item.updated_at = now
    session.add(
        ModerationDecision(
            item_kind=item.KIND.value,
            item_id=item.id,
            moderator="submitter",
            action="edit",
            previous_status=previous,
            new_status=Status.PENDING.value,
            created_at=now,
        )
    )
    await session.flush()
    return previous


async def withdraw(session: AsyncSession, item: Owned | Idea, *, action: str = "close") -> bool:
    """Close an item at its owner's request (False if it was settled meanwhile)."""
    model = type(item)
    now = utcnow()
    result = await session.execute(
        update(model)
        .where(model.id == item.id, model.status.in_(EDITABLE))
        .values(status=Status.CLOSED.value, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    previous = item.status
    await session.refresh(item)
    if getattr(result, "rowcount", 0) != 1:
        return False
    session.add(
        ModerationDecision(
            item_kind=item.KIND.value,
            item_id=item.id,
            moderator="submitter",
            action=action,
            previous_status=previous,
            new_status=Status.CLOSED.value,
            created_at=now,
        )
    )
    await session.flush()
    return True


# --- who may see what ------------------------------------------------------------------------


async def has_approved_solution_profile(session: AsyncSession, person_id: int | None) -> bool:
    if person_id is None:
        return False
    query = select(SolutionProfile.id).where(
        SolutionProfile.person_id == person_id, SolutionProfile.status == Status.APPROVED.value
    )
    return await session.scalar(query.limit(1)) is not None


async def may_read_description(
    session: AsyncSession, challenge: Challenge, person_id: int | None
) -> bool:
    """Whether ``person_id`` may read the challenge's description (restricted ones: only the
    owner and owners of an approved solution profile)."""
    if challenge.confidentiality != Confidentiality.RESTRICTED.value:
        return True
    if person_id is not None and challenge.person_id == person_id:
        return True
    return await has_approved_solution_profile(session, person_id)


def is_open(challenge: Challenge, today: date) -> bool:
    return challenge.status == Status.APPROVED.value and (
        challenge.deadline is None or challenge.deadline >= today
    )


async def open_challenges(session: AsyncSession, today: date, limit: int = 2000) -> list[Challenge]:
    """Approved challenges whose deadline has not passed, newest first."""
    query = (
        select(Challenge)
        .where(
            Challenge.status == Status.APPROVED.value,
            or_(Challenge.deadline.is_(None), Challenge.deadline >= today),
        )
        .order_by(Challenge.created_at.desc(), Challenge.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def visible_item(
    session: AsyncSession, kind: ItemKind, item_id: int, person_id: int | None
) -> Owned | Idea | None:
    """The item if ``person_id`` may see it at all: approved, or their own. None otherwise,
    exactly as if it did not exist."""
    model: type[Owned | Idea] = Idea if kind is ItemKind.IDEA else OWNED_MODELS[kind]
    item = cast("Owned | Idea | None", await session.get(model, item_id, populate_existing=True))
    if item is None:
        return None
    if person_id is not None and item.person_id == person_id:
        return item
    return item if item.status == Status.APPROVED.value else None


async def approved_profiles(
    session: AsyncSession, kinds: Iterable[ItemKind], limit: int = 20_000
) -> list[Profile]:
    found: list[Profile] = []
    for kind in kinds:
        model = OWNED_MODELS[kind]
        query = select(model).where(model.status == Status.APPROVED.value).order_by(model.id.desc())
        found.extend(cast("Sequence[Profile]", (await session.scalars(query.limit(limit))).all()))
    return found


async def organisation_names(session: AsyncSession, ids: Iterable[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(wanted))
    )
    return {int(row[0]): str(row[1]) for row in rows}


async def approved_ideas(session: AsyncSession, limit: int = 5000) -> list[Idea]:
    query = select(Idea).where(Idea.status == Status.APPROVED.value).order_by(Idea.id.desc())
    return list((await session.scalars(query.limit(limit))).all())


# --- matches ---------------------------------------------------------------------------------


async def pairs_known(session: AsyncSession, challenge_id: int) -> set[tuple[str, int]]:
    """(kind, id) of every item ever matched with the challenge."""
    rows = await session.execute(
        select(Match.item_kind, Match.item_id).where(Match.challenge_id == challenge_id)
    )
    return {(str(kind), int(item_id)) for kind, item_id in rows}


async def challenges_known(session: AsyncSession, kind: ItemKind, item_id: int) -> set[int]:
    rows = await session.scalars(
        select(Match.challenge_id).where(Match.item_kind == kind.value, Match.item_id == item_id)
    )
    return {int(challenge_id) for challenge_id in rows}


def add_match(
    session: AsyncSession,
    challenge_id: int,
    kind: ItemKind,
    item_id: int,
    score: float,
    why: Mapping[str, Any],
    *,
    notified: bool,
) -> Match:
    now = utcnow()
    match = Match(
        challenge_id=challenge_id,
        item_kind=kind.value,
        item_id=item_id,
        score=round(score, 4),
        why=dict(why),
        state=MatchState.SUGGESTED.value,
        notified_at=now if notified else None,
        created_at=now,
        updated_at=now,
    )
    session.add(match)
    return match


async def get_match(session: AsyncSession, match_id: int, *, lock: bool = False) -> Match | None:
    query = select(Match).where(Match.id == match_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return (await session.execute(query)).scalar_one_or_none()


def _profile_owned_by(person_id: int) -> Any:
    return or_(
        and_(
            Match.item_kind == ItemKind.SOLUTION.value,
            Match.item_id.in_(
                select(SolutionProfile.id).where(SolutionProfile.person_id == person_id)
            ),
        ),
        and_(
            Match.item_kind == ItemKind.INFRASTRUCTURE.value,
            Match.item_id.in_(
                select(InfrastructureProfile.id).where(InfrastructureProfile.person_id == person_id)
            ),
        ),
    )


def _challenge_owned_by(person_id: int) -> Any:
    return Match.challenge_id.in_(select(Challenge.id).where(Challenge.person_id == person_id))


async def _matches(session: AsyncSession, *conditions: Any) -> list[Match]:
    query = select(Match).where(*conditions).order_by(Match.updated_at, Match.id)
    return list((await session.scalars(query.limit(200))).all())


async def suggestions_for_solver(session: AsyncSession, person_id: int) -> list[Match]:
    """Suggestions sent to the person as a profile owner, not answered yet."""
    return await _matches(
        session,
        _profile_owned_by(person_id),
        Match.state == MatchState.SUGGESTED.value,
        Match.notified_at.is_not(None),
    )


async def introductions_for_solver(session: AsyncSession, person_id: int) -> list[Match]:
    """Interested matches whose challenge owner asked for an introduction."""
    return await _matches(
        session,
        _profile_owned_by(person_id),
        Match.state == MatchState.INTERESTED.value,
        Match.owner_intro_at.is_not(None),
    )


async def interested_for_owner(session: AsyncSession, person_id: int) -> list[Match]:
    """Solvers interested in the person's challenges that the person has not answered yet."""
    return await _matches(
        session,
        _challenge_owned_by(person_id),
        Match.state == MatchState.INTERESTED.value,
        Match.owner_intro_at.is_(None),
    )


async def outcomes_asked(session: AsyncSession, person_id: int) -> list[Match]:
    """Introductions whose outcome the person was asked about and that are still open."""
    return await _matches(
        session,
        or_(_profile_owned_by(person_id), _challenge_owned_by(person_id)),
        Match.state.in_(OUTCOME_STATES),
        Match.outcome_asked_at.is_not(None),
    )


async def introductions_due(
    session: AsyncSession, before: datetime, limit: int = 500
) -> list[Match]:
    """Introductions made before ``before`` whose outcome nobody has been asked about yet."""
    query = (
        select(Match)
        .where(
            Match.state.in_(OUTCOME_STATES),
            Match.introduced_at.is_not(None),
            Match.introduced_at <= before,
            Match.outcome_asked_at.is_(None),
        )
        .order_by(Match.introduced_at, Match.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def matched_item(session: AsyncSession, match: Match) -> Profile | Idea | None:
    model: type[Profile | Idea]
    if match.item_kind == ItemKind.SOLUTION.value:
        model = SolutionProfile
    elif match.item_kind == ItemKind.INFRASTRUCTURE.value:
        model = InfrastructureProfile
    elif match.item_kind == ItemKind.IDEA.value:
        model = Idea
    else:
        return None
    return await session.get(model, match.item_id, populate_existing=True)


async def match_statistics(session: AsyncSession) -> dict[str, int]:
    """How many matches are in each state: the brokerage's outcome figures."""
    rows = await session.execute(
        select(Match.state, func.count())
        .where(Match.item_kind != ItemKind.IDEA.value)
        .group_by(Match.state)
    )
    counts = {state.value: 0 for state in MatchState}
    counts.update({str(state): int(n) for state, n in rows.tuples()})
    return counts


async def ideas_matched(
    session: AsyncSession, challenge_id: int, limit: int = 5
) -> list[tuple[Idea, Match]]:
    """Approved citizens' ideas matched with a challenge, best first."""
    query = (
        select(Idea, Match)
        .join(Match, and_(Match.item_kind == ItemKind.IDEA.value, Match.item_id == Idea.id))
        .where(Match.challenge_id == challenge_id, Idea.status == Status.APPROVED.value)
        .order_by(Match.score.desc(), Match.id)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in (await session.execute(query)).all()]


# --- endorsements ----------------------------------------------------------------------------


async def endorsement_of(session: AsyncSession, idea_id: int, person_id: int) -> Endorsement | None:
    query = select(Endorsement).where(
        Endorsement.idea_id == idea_id, Endorsement.person_id == person_id
    )
    return (await session.execute(query)).scalar_one_or_none()


async def endorse(session: AsyncSession, idea_id: int, person_id: int) -> bool:
    """Record the person's support (and that they follow the idea); False if already given."""
    if await endorsement_of(session, idea_id, person_id) is not None:
        return False
    session.add(Endorsement(idea_id=idea_id, person_id=person_id, follow=True, created_at=utcnow()))
    await session.flush()
    return True


async def endorsement_counts(session: AsyncSession, idea_ids: Iterable[int]) -> dict[int, int]:
    wanted = set(idea_ids)
    if not wanted:
        return {}
    rows = await session.execute(
        select(Endorsement.idea_id, func.count())
        .where(Endorsement.idea_id.in_(wanted))
        .group_by(Endorsement.idea_id)
    )
    return {int(idea_id): int(n) for idea_id, n in rows.tuples()}


async def supported_by(session: AsyncSession, person_id: int, limit: int = 20) -> list[Idea]:
    query = (
        select(Idea)
        .join(Endorsement, Endorsement.idea_id == Idea.id)
        .where(Endorsement.person_id == person_id)
        .order_by(Endorsement.created_at.desc(), Endorsement.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
