"""Topic corrections from the store, as training data for the topic classifiers.

Every idea, challenge and profile keeps two things: ``topic_scores``, what the classifier
reported when it was submitted (:func:`topic_fields` writes it, primary topic first), and
``topics``, the topics people settled on (the classifier's at first; a user's or a
moderator's after a correction). An item whose ``topics`` differ from the classifier's is a
correction. ``innobot nlp export-feedback`` writes them as lines of the project's topic files.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Analysis
from nlp.labels import TOPICS
from storage.db import create_engine, session_factory
from storage.models import Challenge, Idea, InfrastructureProfile, SolutionProfile, Submission

SUBMISSIONS: tuple[type[Submission], ...] = (
    Idea,
    Challenge,
    SolutionProfile,
    InfrastructureProfile,
)


def topic_fields(analysis: Analysis) -> tuple[list[str], dict[str, float]]:
    """The ``topics`` and ``topic_scores`` to store with a new submission."""
    return [label for label, _ in analysis.topics], dict(analysis.topics)


def classifier_topics(topic_scores: Mapping[str, Any]) -> list[str]:
    """The topics the classifier reported, primary first, as :func:`topic_fields` stored them."""
    return [label for label in topic_scores if label in TOPICS]


def is_correction(topics: Sequence[Any], topic_scores: Mapping[str, Any]) -> bool:
    chosen = [t for t in topics if t in TOPICS]
    return bool(chosen) and chosen != classifier_topics(topic_scores)


def feedback_record(item: Any) -> dict[str, Any]:
    """One line of training data: the item's text, its topics and language, and where from."""
    text = "\n".join(part for part in (item.title, item.description) if part)
    record: dict[str, Any] = {
        "text": text,
        "topics": [t for t in item.topics if t in TOPICS],
        "source": f"{item.KIND.value}:{item.id}",
    }
    if item.lang:
        record["lang"] = item.lang
    return record


async def corrections(
    session: AsyncSession, *, everything: bool = False
) -> AsyncIterator[dict[str, Any]]:
    """Training lines for corrected items (or, with ``everything``, every item with topics)."""
    for model in SUBMISSIONS:
        result = await session.stream_scalars(select(model).order_by(model.id))
        async for found in result:
            item = cast(Submission, found)
            topics = item.topics or ()
            if everything:
                wanted = any(t in TOPICS for t in topics)
            else:
                wanted = is_correction(topics, item.topic_scores or {})
            if wanted:
                yield feedback_record(item)


async def export(database_url: str, *, everything: bool = False) -> list[dict[str, Any]]:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return [record async for record in corrections(session, everything=everything)]
    finally:
        await engine.dispose()
