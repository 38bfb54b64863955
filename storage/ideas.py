"""Query functions for citizens' ideas."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Idea, Status


async def add_idea(
    session: AsyncSession,
    *,
    person_id: int,
    title: str,
    description: str,
    lang: str | None,
    topics: Sequence[str],
    topic_scores: Mapping[str, float],
    show_name: bool,
) -> Idea:
    """Store a new idea, waiting for moderation; its ``id`` (and so ``ref``) is set on return."""
    idea = Idea(
        person_id=person_id,
        title=title,
        description=description,
        lang=lang,
        topics=list(topics),
        topic_scores=dict(topic_scores),
        show_name=show_name,
        status=Status.PENDING.value,
    )
    session.add(idea)
    await session.flush()
    return idea


async def ideas_of(session: AsyncSession, person_id: int, limit: int | None = None) -> list[Idea]:
    """A person's ideas, newest first."""
    query = (
        select(Idea)
        .where(Idea.person_id == person_id)
        .order_by(Idea.created_at.desc(), Idea.id.desc())
        .limit(limit)
    )
    return list((await session.scalars(query)).all())
