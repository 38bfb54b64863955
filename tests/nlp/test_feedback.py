"""Topic corrections in the store become training lines for the topic classifiers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from nlp.cli import main
from nlp.data import read_jsonl
from nlp.feedback import export, is_correction, topic_fields
from nlp.pipeline import Pipeline
from storage.models import Challenge, Idea, SolutionProfile


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


def test_topic_fields_keep_the_classifiers_order(pipeline: Pipeline) -> None:
    analysis = pipeline.analyze("Electric ferries for the archipelago, charged with solar power")
    topics, scores = topic_fields(analysis)
    assert topics == [label for label, _ in analysis.topics]
    assert list(scores) == topics
    assert not is_correction(topics, scores)
    assert is_correction(list(reversed(topics)) or ["social"], scores) == (len(topics) != 1)
    assert is_correction(["social"], scores) == (topics != ["social"])


async def test_export_corrections(
    sessions: async_sessionmaker[AsyncSession], db_url: str, tmp_path: Path
) -> None:
    async with sessions() as session, session.begin():
        session.add_all(
            [
                # Stored as the classifier said, never corrected.
                Idea(
                    title="Solar roofs",
                    description="Solar panels on every school",
                    lang="en",
                    topics=["energy"],
                    topic_scores={"energy": 0.93},
                ),
                # A moderator replaced the topic.
                Idea(
                    title="Orti in città",
                    description="Orti comunitari nei cortili",
                    lang="it",
                    topics=["agrifood", "social"],
                    topic_scores={"social": 0.71},
                ),
                # The primary topic was swapped.
                SolutionProfile(
                    title="Sensori per ponti",
                    description="Monitoraggio strutturale",
                    lang="it",
                    topics=["built_environment", "digital"],
                    topic_scores={"digital": 0.9, "built_environment": 0.8},
                ),
                # Topics set by hand, never classified.
                Challenge(
                    title="Minska buller",
                    description="Bullerskärmar längs vägen",
                    lang="sv",
                    topics=["environment"],
                    topic_scores={},
                ),
                # Nothing known.
                Challenge(title="Untitled", description="Nothing yet", topics=[], topic_scores={}),
            ]
        )

    corrected = await export(db_url)
    assert [(r["text"], r["topics"], r.get("lang")) for r in corrected] == [
        ("Orti in città\nOrti comunitari nei cortili", ["agrifood", "social"], "it"),
        ("Minska buller\nBullerskärmar längs vägen", ["environment"], "sv"),
        ("Sensori per ponti\nMonitoraggio strutturale", ["built_environment", "digital"], "it"),
    ]
    assert [r["source"].split(":")[0] for r in corrected] == ["idea", "challenge", "solution"]
    assert len(await export(db_url, everything=True)) == 4

    out = tmp_path / "feedback.jsonl"
    command = ["export-feedback", "--database-url", db_url, "--out", str(out)]
    assert await asyncio.to_thread(main, command) == 0
    lines = read_jsonl(out, require="topics")
    assert [ex.topics for ex in lines] == [
        ("agrifood", "social"),
        ("environment",),
        ("built_environment", "digital"),
    ]
    assert all(json.loads(line)["source"] for line in out.read_text().splitlines())
