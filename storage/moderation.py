"""Query functions for moderation: items and their status, the audit log, the queue, triage
cards, and the small state a chat adapter keeps (sync token, events already acted on)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import (
    SUBMISSION_MODELS,
    AdapterState,
    HandledEvent,
    Identity,
    ItemKind,
    ModerationCard,
    ModerationDecision,
    OutboxMessage,
    OutboxStatus,
    Status,
    Submission,
    utcnow,
)

# Statuses a moderator still has to act on, in queue order.
OPEN_STATUSES = (Status.PENDING.value, Status.NEEDS_INFO.value)

_WORD = re.compile(r"\w{4,}", re.UNICODE)
SIMILAR_CANDIDATES = 300
SIMILAR_MIN_SCORE = 0.12


# --- items -----------------------------------------------------------------------------------


async def get_item(
    session: AsyncSession, kind: ItemKind, item_id: int, *, lock: bool = False
) -> Submission | None:
    """The submission as stored now (re-read; row-locked on PostgreSQL if ``lock``)."""
    model = SUBMISSION_MODELS[kind]
    query = select(model).where(model.id == item_id).execution_options(populate_existing=True)
    if lock:
        query = query.with_for_update()
    return cast("Submission | None", (await session.execute(query)).scalar_one_or_none())


async def change_status(session: AsyncSession, item: Submission, expected: str, new: str) -> bool:
    """Move ``item`` from ``expected`` to ``new`` unless someone else changed it first.

    The condition is checked by the database in the UPDATE itself, so of two moderators deciding
    at once exactly one succeeds. ``item`` is refreshed either way.
    """
    model = type(item)
    now = utcnow()
    values: dict[str, Any] = {"status": new, "updated_at": now}
    if new != expected:
        values["decided_at"] = now
    result = cast(
        "CursorResult[Any]",
        await session.execute(
            update(model)
            .where(model.id == item.id, model.status == expected)
            .values(**values)
            .execution_options(synchronize_session=False)
        ),
    )
    await session.refresh(item)
    return result.rowcount == 1


async def record_decision(
    session: AsyncSession,
    item: Submission,
    *,
    moderator: str,
    action: str,
    previous_status: str | None,
    new_status: str | None,
    reason: str | None = None,
) -> ModerationDecision:
    """Write one entry of the audit log."""
    decision = ModerationDecision(
        item_kind=item.KIND.value,
        item_id=item.id,
        moderator=moderator,
        action=action,
        reason=reason,
        previous_status=previous_status,
        new_status=new_status,
        created_at=utcnow(),
    )
    session.add(decision)
    await session.flush()
    return decision


async def decisions_of(
    session: AsyncSession, kind: ItemKind, item_id: int, *, limit: int | None = None
) -> list[ModerationDecision]:
    """The audit log of one item, oldest first (the newest ``limit`` entries if given)."""
    query = select(ModerationDecision).where(
        ModerationDecision.item_kind == kind.value, ModerationDecision.item_id == item_id
    )
    if limit is None:
        rows = await session.scalars(query.order_by(ModerationDecision.id))
        return list(rows)
    newest = await session.scalars(query.order_by(ModerationDecision.id.desc()).limit(limit))
    return list(reversed(list(newest)))


async def count_decisions(session: AsyncSession, kind: ItemKind, item_id: int) -> int:
    query = select(func.count()).where(
        ModerationDecision.item_kind == kind.value, ModerationDecision.item_id == item_id
    )
    return int(await session.scalar(query) or 0)


async def last_status_change(
    session: AsyncSession, kind: ItemKind, item_id: int
) -> ModerationDecision | None:
    """The newest audit entry that changed the item's status."""
    query = (
        select(ModerationDecision)
        .where(
            ModerationDecision.item_kind == kind.value,
            ModerationDecision.item_id == item_id,
            ModerationDecision.new_status.is_not(None),
            ModerationDecision.new_status != ModerationDecision.previous_status,
        )
        .order_by(ModerationDecision.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def open_queue(
    session: AsyncSession, offset: int, limit: int
) -> tuple[list[Submission], int]:
    """Items waiting for moderators (pending or waiting for an answer), oldest first, and their
    total count."""
    total = 0
    candidates: list[Submission] = []
    for model in SUBMISSION_MODELS.values():
        waiting = model.status.in_(OPEN_STATUSES)
        total += int(await session.scalar(select(func.count()).where(waiting)) or 0)
        query = select(model).where(waiting).order_by(model.created_at, model.id)
        rows = await session.scalars(query.limit(offset + limit))
        candidates.extend(cast("Sequence[Submission]", rows.all()))
    candidates.sort(key=lambda item: (item.created_at, item.KIND.prefix, item.id))
    return candidates[offset : offset + limit], total


async def status_counts(session: AsyncSession) -> dict[ItemKind, dict[str, int]]:
    """How many items of each kind are in each status."""
    counts: dict[ItemKind, dict[str, int]] = {}
    for kind, model in SUBMISSION_MODELS.items():
        rows = await session.execute(select(model.status, func.count()).group_by(model.status))
        counts[kind] = {status: int(n) for status, n in rows.tuples()}
    return counts


async def oldest_open(session: AsyncSession) -> Submission | None:
    """The item that has waited longest for a moderator."""
    oldest, _total = await open_queue(session, 0, 1)
    return oldest[0] if oldest else None


async def decisions_by_moderator(session: AsyncSession, since: datetime) -> Counter[str]:
    """Status-changing decisions per moderator since ``since``."""
    query = (
        select(ModerationDecision.moderator, func.count())
        .where(
            ModerationDecision.created_at >= since,
            ModerationDecision.action.in_(("approve", "reject", "merge")),
        )
        .group_by(ModerationDecision.moderator)
    )
    return Counter({who: int(n) for who, n in (await session.execute(query)).tuples()})


def _words(item: Submission) -> set[str]:
    return {word.casefold() for word in _WORD.findall(f"{item.title} {item.description}")}


async def similar_items(
    session: AsyncSession, item: Submission, limit: int = 3
) -> list[tuple[Submission, float]]:
    """Existing items of the same kind that say much the same (shared words and topics)."""
    model = type(item)
    query = (
        select(model)
        .where(
            model.id != item.id,
            model.status.in_((*OPEN_STATUSES, Status.APPROVED.value)),
        )
        .order_by(model.id.desc())
        .limit(SIMILAR_CANDIDATES)
    )
    mine = _words(item)
    topics = set(item.topics or [])
    scored: list[tuple[Submission, float]] = []
    for other in cast("Sequence[Submission]", (await session.scalars(query)).all()):
        theirs = _words(other)
        union = mine | theirs
        score = len(mine & theirs) / len(union) if union else 0.0
        if topics & set(other.topics or []):
            score += 0.1
        if score >= SIMILAR_MIN_SCORE:
            scored.append((other, round(min(score, 1.0), 2)))
    scored.sort(key=lambda pair: (-pair[1], pair[0].id))
    return scored[:limit]


async def set_topics(session: AsyncSession, item: Submission, topics: Sequence[str]) -> None:
    item.topics = list(topics)
    item.updated_at = utcnow()
    await session.flush()


async def open_questions(session: AsyncSession, person_id: int) -> list[Submission]:
    """A person's items on which a moderator waits for an answer, newest first."""
    found: list[Submission] = []
    for model in SUBMISSION_MODELS.values():
        query = select(model).where(
            model.person_id == person_id, model.status == Status.NEEDS_INFO.value
        )
        found.extend(cast("Sequence[Submission]", (await session.scalars(query)).all()))
    found.sort(key=lambda item: item.updated_at, reverse=True)
    return found


async def last_question(session: AsyncSession, kind: ItemKind, item_id: int) -> str | None:
    query = (
        select(ModerationDecision.reason)
        .where(
            ModerationDecision.item_kind == kind.value,
            ModerationDecision.item_id == item_id,
            ModerationDecision.action == "ask",
        )
        .order_by(ModerationDecision.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def reachable_identity(session: AsyncSession, person_id: int) -> Identity | None:
    """The account to notify a person on: the newest one that has not blocked innobot."""
    query = (
        select(Identity)
        .where(Identity.person_id == person_id, Identity.blocked_at.is_(None))
        .order_by(Identity.id.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


# --- triage cards ----------------------------------------------------------------------------


def queue_card_row(
    session: AsyncSession, platform: str, address: str, item: Submission, priority: int
) -> OutboxMessage:
    """Queue the triage card of ``item`` in the caller's transaction (once per item)."""
    row = OutboxMessage(
        platform=platform,
        chat_id=address,
        kind="card",
        dedupe_key=f"card:{item.ref}",
        priority=priority,
        payload={"text": item.ref},
        status=OutboxStatus.PENDING.value,
    )
    session.add(row)
    return row


async def save_card(
    session: AsyncSession, kind: ItemKind, item_id: int, room_id: str, event_id: str
) -> None:
    """Remember where the card of an item was posted (idempotent)."""
    known = await session.scalar(
        select(ModerationCard.id).where(
            ModerationCard.room_id == room_id, ModerationCard.event_id == event_id
        )
    )
    if known is None:
        session.add(
            ModerationCard(
                item_kind=kind.value, item_id=item_id, room_id=room_id, event_id=event_id
            )
        )
        await session.flush()


async def card_item(
    session: AsyncSession, room_id: str, event_id: str
) -> tuple[ItemKind, int] | None:
    """The item whose card is ``event_id`` in ``room_id``."""
    row = (
        await session.execute(
            select(ModerationCard.item_kind, ModerationCard.item_id).where(
                ModerationCard.room_id == room_id, ModerationCard.event_id == event_id
            )
        )
    ).first()
    return (ItemKind(row[0]), int(row[1])) if row else None


async def card_of(
    session: AsyncSession, kind: ItemKind, item_id: int, room_id: str | None = None
) -> ModerationCard | None:
    """The newest card of an item (in ``room_id`` if given)."""
    query = select(ModerationCard).where(
        ModerationCard.item_kind == kind.value, ModerationCard.item_id == item_id
    )
    if room_id is not None:
        query = query.where(ModerationCard.room_id == room_id)
    query = query.order_by(ModerationCard.id.desc()).limit(1)
    return (await session.execute(query)).scalar_one_or_none()


# --- adapter state ---------------------------------------------------------------------------


async def get_state(session: AsyncSession, key: str) -> str | None:
    value: str | None = await session.scalar(
        select(AdapterState.value).where(AdapterState.key == key)
    )
    return value


async def set_state(session: AsyncSession, key: str, value: str) -> None:
    row = await session.get(AdapterState, key)
    if row is None:
        session.add(AdapterState(key=key, value=value, updated_at=utcnow()))
    else:
        row.value = value
        row.updated_at = utcnow()
    await session.flush()


async def is_handled(session: AsyncSession, platform: str, event_id: str) -> bool:
    query = select(HandledEvent.id).where(
        HandledEvent.platform == platform, HandledEvent.event_id == event_id
    )
    return await session.scalar(query) is not None


def mark_handled(session: AsyncSession, platform: str, event_id: str) -> None:
    """Record, in the caller's transaction, that ``event_id`` has been acted on."""
    session.add(HandledEvent(platform=platform, event_id=event_id, created_at=utcnow()))


async def forget_handled(session: AsyncSession, before: datetime) -> int:
    """Drop records of events older than ``before`` (they can no longer come back)."""
    result = cast(
        "CursorResult[Any]",
        await session.execute(delete(HandledEvent).where(HandledEvent.created_at < before)),
    )
    return result.rowcount
