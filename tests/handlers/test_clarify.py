"""A doubtful free text gets the likeliest intents as buttons; a confident one acts at once."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.context import Analysis
from handlers.features import ALL_FEATURES
from handlers.i18n import t
from handlers.router import Router
from tests.handlers.chat import Chat, onboard


@dataclass
class Doubtful:
    """An analyzer that is never sure: idea or challenge, it cannot tell."""

    confident: bool = False

    def analyze(self, text: str) -> Analysis:
        return Analysis(
            lang="en",
            intent="submit_idea",
            intent_score=0.41,
            confident=self.confident,
            candidates=(("submit_idea", 0.41), ("post_challenge", 0.38)),
        )


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


TEXT = "We could use drones to check the forests for bark beetles every spring"


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_the_two_likeliest_intents_are_offered_and_the_choice_acts_on_the_text(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    chat = Chat(sessions, Router(ALL_FEATURES, Doubtful()), language_hint=lang)
    await onboard(chat, lang)
    await chat.send(TEXT)
    assert chat.said(lang, "clarify.ask")
    labels = [button.label for button in chat.buttons]
    assert labels == [
        t(lang, "clarify.submit_idea"),
        t(lang, "clarify.post_challenge"),
        t(lang, "clarify.none"),
    ]
    await chat.press(t(lang, "clarify.submit_idea"))
    # The idea flow starts with the text kept as the description: it asks for a title.
    assert chat.said(lang, "idea.from_text")


async def test_none_of_these_explains_what_the_bot_does(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(sessions, Router(ALL_FEATURES, Doubtful()))
    await onboard(chat)
    await chat.send(TEXT)
    await chat.press(t("en", "clarify.none"))
    assert chat.said("en", "help.out_of_scope")


async def test_typing_instead_of_choosing_is_a_new_message(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(sessions, Router(ALL_FEATURES, Doubtful()))
    await onboard(chat)
    await chat.send(TEXT)
    await chat.send("/my")
    assert chat.said("en", "flow.finish_first")  # commands still wait for the choice
    await chat.send("2")  # the number of an option, as on platforms without buttons
    assert not chat.said("en", "clarify.ask")


async def test_a_confident_intent_acts_without_asking(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    chat = Chat(sessions, Router(ALL_FEATURES, Doubtful(confident=True)))
    await onboard(chat)
    await chat.send(TEXT)
    assert not chat.said("en", "clarify.ask")
    assert chat.said("en", "idea.from_text")
