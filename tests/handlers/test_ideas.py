"""Submitting an idea and following it: the whole journey in three languages, edits, /my."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from storage.db import create_engine, session_factory
from storage.models import (
    ConversationState,
    Idea,
    OutboxMessage,
    Person,
    SolutionProfile,
    Status,
)
from tests.handlers.chat import Chat, ChatFactory, count, make_router, onboard


def suggestion(lang: str, description: str) -> str:
    """The topics the idea flow suggests for ``description``, as it names them."""
    topics = KeywordAnalyzer().analyze(description).topics[:3]
    return ", ".join(t(lang, f"topics.{name}") for name, _score in topics)


JOURNEYS = {
    "en": (
        "Solar bus shelters",
        "Put solar panels on bus shelters so that they power the lights and the "
        "timetable screens, and feed the rest of the energy into the grid.",
        "energy",
        "Thank you",
    ),
    "it": (
        "Pensiline solari",
        "Mettiamo dei pannelli solari sulle pensiline degli autobus: alimentano le luci e "
        "gli schermi con gli orari, e il resto dell'energia va nella rete.",
        "energy",
        "Grazie",
    ),
    "sv": (
        "Busshållplatser med solceller",
        "Sätt solceller på taken till busshållplatserna så att de driver belysningen och "
        "skärmarna med tidtabellen, och mata ut resten av energin på elnätet.",
        "energy",
        "Tack",
    ),
}


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_full_journey(
    lang: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    title, description, topic, thanks = JOURNEYS[lang]
    ada = chat(language_hint="en")
    await onboard(ada, lang)

    await ada.press(t(lang, "menu.idea"))
    assert ada.said(lang, "idea.ask_title", max=120)
    await ada.send(title)
    assert ada.said(lang, "idea.ask_description", min=20)
    await ada.send(description)

    # The analyzer's topics come first, and are named in the question.
    assert ada.said(lang, "idea.ask_topic_suggested", topics=suggestion(lang, description))
    labels = [b.label for b in ada.buttons]
    assert labels[0] == t(lang, f"topics.{topic}")
    assert len(labels) == 13
    assert labels[-1] == t(lang, "idea.topic_other")
    await ada.press(labels[0])

    assert ada.said(lang, "idea.ask_show_name")
    await ada.press(t(lang, "common.yes"))
    assert ada.said(lang, "idea.summary", title=title, description=description,
                    topic=labels[0], show_name=t(lang, "common.yes"))  # fmt: skip
    assert [b.label for b in ada.buttons] == [
        t(lang, "idea.confirm"), t(lang, "idea.edit"), t(lang, "idea.cancel")
    ]  # fmt: skip
    await ada.press(t(lang, "idea.confirm"))

    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
        idea = (await session.scalars(select(Idea))).one()
    assert ada.said(lang, "idea.submitted", ref=idea.ref)
    assert thanks in ada.plain
    assert idea.ref == f"I-{idea.id}"
    assert (idea.title, idea.description) == (title, description)
    assert idea.person_id == person.id
    assert idea.status == Status.PENDING.value
    assert idea.lang == lang
    assert idea.topics == [topic]
    assert idea.topic_scores[topic] > 0
    assert idea.show_name is True
    # The moderators' triage card is queued with it.
    assert await count(sessions, OutboxMessage, OutboxMessage.dedupe_key == f"card:{idea.ref}") == 1

    await ada.send("/my")
    assert ada.text.split("\n") == [
        t(lang, "my.header", count=1),
        t(lang, "my.item", ref=idea.ref, title=title, status=t(lang, "status.pending")),
    ]


async def test_idea_language_falls_back_to_the_users_when_the_text_does_not_tell(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada, "sv")
    await submit(ada, "Qwerty", "Zxcvbnm qwertyuiop asdfghjkl zxcvbnm.", topic="other", name="no")
    async with sessions() as session:
        idea = (await session.scalars(select(Idea))).one()
    assert idea.lang == "sv"
    assert idea.topics == []
    assert idea.show_name is False


async def submit(ada: Chat, title: str, description: str, topic: str, name: str) -> None:
    await ada.send("/idea")
    await ada.send(title)
    await ada.send(description)
    await ada.press(value=topic)
    await ada.press(value=name)
    await ada.press(value="confirm")


async def test_edit_returns_to_the_summary(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("/idea")
    await ada.send("First title")
    await ada.send("A shared tool library for the neighbourhood, run by volunteers.")
    await ada.press(value="social")
    await ada.press(value="no")
    assert ada.said("en", "idea.summary", title="First title",
                    description="A shared tool library for the neighbourhood, run by volunteers.",
                    topic=t("en", "topics.social"), show_name=t("en", "common.no"))  # fmt: skip

    await ada.press(t("en", "idea.edit"))
    assert ada.said("en", "idea.ask_edit")
    await ada.press(t("en", "idea.field_title"))
    assert ada.said("en", "idea.ask_title", max=120)
    await ada.send("Neighbourhood tool library")
    assert "Neighbourhood tool library" in ada.plain
    assert "First title" not in ada.plain

    await ada.press(value="edit")
    await ada.press(value="topic")
    await ada.press(value="health")
    assert t("en", "topics.health") in ada.plain

    await ada.press(value="edit")
    await ada.press(value="back")
    assert ada.said("en", "idea.summary", title="Neighbourhood tool library",
                    description="A shared tool library for the neighbourhood, run by volunteers.",
                    topic=t("en", "topics.health"), show_name=t("en", "common.no"))  # fmt: skip
    await ada.press(value="confirm")
    async with sessions() as session:
        idea = (await session.scalars(select(Idea))).one()
    assert (idea.title, idea.topics) == ("Neighbourhood tool library", ["health"])


async def test_cancel_at_the_summary_discards_the_idea(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("/idea")
    await ada.send("Title")
    await ada.send("A description long enough to pass.")
    await ada.press(value="other")
    await ada.press(value="no")
    await ada.press(t("en", "idea.cancel"))
    assert ada.said("en", "idea.cancelled")
    async with sessions() as session:
        assert (await session.scalars(select(Idea))).all() == []


async def test_flow_resumes_after_a_restart(
    chat: ChatFactory, db_url: str, engine: AsyncEngine
) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("/idea")
    await ada.send("Community compost")
    assert ada.said("en", "idea.ask_description", min=20)

    # A new process: new engine, new sessions, new router; the same database.
    restarted = create_engine(db_url)
    try:
        again = Chat(session_factory(restarted), make_router(), user_id=ada.user_id)
        description = "Compost bins in every courtyard, collected by bike once a week."
        await again.send(description)
        assert again.said("en", "idea.ask_topic_suggested", topics=suggestion("en", description))
        await again.press(value="environment")
        await again.press(value="yes")
        assert "Community compost" in again.plain
    finally:
        await restarted.dispose()


async def test_my_lists_newest_first_bounded_with_a_count(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada, "it")
    await ada.send("/my")
    assert ada.said("it", "my.empty")
    person_id = ada.outcome.person_id if ada.outcome else None
    async with sessions() as session, session.begin():
        session.add_all(
            Idea(person_id=person_id, title=f"Idea {n}", description="d" * 30) for n in range(24)
        )
        session.add(
            SolutionProfile(
                person_id=person_id, title="Our lab", description="x" * 30, status="approved"
            )
        )
    await ada.send("/my")
    lines = ada.text.split("\n")
    assert lines[0] == t("it", "my.header", count=25)
    assert lines[1].startswith("`S-")
    assert t("it", "status.approved") in lines[1]
    assert "Idea 23" in lines[2]
    assert len(lines) == 1 + 20 + 1
    assert lines[-1] == t("it", "my.more", shown=20, count=25)


async def test_free_text_that_sounds_like_an_idea_starts_the_flow_with_it(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada)
    text = "I have an idea: a repair café in the library where volunteers fix bikes and phones."
    await ada.send(text)
    assert ada.said("en", "idea.from_text")
    assert ada.said("en", "idea.ask_title", max=120)
    await ada.send("Repair café")
    # The description is already there: next comes the topic.
    assert any(b.payload.endswith(":other") for b in ada.buttons)
    async with sessions() as session:
        state = (await session.scalars(select(ConversationState))).one()
    assert state.data["description"] == text


async def test_a_short_idea_message_asks_for_everything(chat: ChatFactory) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("new idea")
    assert not ada.said("en", "idea.from_text")
    assert ada.said("en", "idea.ask_title", max=120)
    await ada.send("Title")
    assert ada.said("en", "idea.ask_description", min=20)
