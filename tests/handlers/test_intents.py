"""The keyword analyzer, and what innobot does with each intent of free text."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.context import TextAnalyzer
from handlers.features import ALL_FEATURES
from handlers.intents import INTENT_PATTERNS, TOPIC_PATTERNS, TOPICS, KeywordAnalyzer
from storage.models import ConversationState
from tests.handlers.chat import ChatFactory, count, onboard

analyzer = KeywordAnalyzer()


def test_it_is_a_text_analyzer() -> None:
    checked: TextAnalyzer = analyzer
    assert checked.analyze("hello").intent == "greeting"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("I would like to propose a new app for the city", "en"),
        ("Vorrei proporre una nuova app per la città", "it"),
        ("Jag vill föreslå en ny app för staden", "sv"),
        ("Ciao!", "it"),
        ("hej", "sv"),
        ("🚲🚲", ""),
        ("", ""),
        ("app", ""),
    ],
)
def test_language_guess(text: str, lang: str) -> None:
    assert analyzer.analyze(text).lang == lang


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("hi", "greeting"),
        ("Buongiorno", "greeting"),
        ("God morgon!", "greeting"),
        ("What can you do?", "help"),
        ("aiuto", "help"),
        ("Hej! Vad kan du göra?", "help"),
        ("I have an idea for my town", "submit_idea"),
        ("Ho un'idea per il mio quartiere", "submit_idea"),
        ("Jag har en idé om cykelvägar", "submit_idea"),
        ("my idea is a bike path along the river", "submit_idea"),
        ("what happened to my ideas?", "my_status"),
        ("a che punto sono le mie idee?", "my_status"),
        ("hur går det med mina förslag", "my_status"),
        ("please delete my data", "privacy"),
        ("dove sono i miei dati personali?", "privacy"),
        ("radera mina uppgifter", "privacy"),
        ("notify me about new calls", "subscribe_alerts"),
        ("avvisami sui nuovi bandi", "subscribe_alerts"),
        ("avisera mig om energi", "subscribe_alerts"),
        ("stop notifications", "unsubscribe_alerts"),
        ("basta notifiche per favore", "unsubscribe_alerts"),
        ("sluta skicka aviseringar", "unsubscribe_alerts"),
        ("Quali sfide ci sono?", "browse_challenges"),
        ("what's the weather like tomorrow?", "out_of_scope"),
        ("🙂", "out_of_scope"),
        (
            "Solar panels on every school roof in the valley would cut the energy bills and "
            "teach the children about renewable power",
            "submit_idea",
        ),
    ],
)
def test_intent(text: str, intent: str) -> None:
    assert analyzer.analyze(text).intent == intent


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Solar panels and batteries for the school", "energy"),
        ("pannelli fotovoltaici e batterie", "energy"),
        ("telemedicina per i pazienti anziani", "health"),
        ("bättre vård för äldre på sjukhuset", "health"),
        ("a recycling scheme for plastic waste", "environment"),
        ("cykelbanor och kollektivtrafik", "mobility"),
        ("satellite images of the crops from orbit", "space"),
        ("lithium mining and rare earths", "raw_materials"),
    ],
)
def test_top_topic(text: str, topic: str) -> None:
    topics = analyzer.analyze(text).topics
    assert topics[0][0] == topic
    assert abs(sum(score for _name, score in topics) - 1) < 0.01


def test_every_topic_has_keywords_and_nothing_else_does() -> None:
    assert tuple(TOPIC_PATTERNS) == TOPICS
    assert len(TOPICS) == 12


def test_long_texts_are_bounded_in_work() -> None:
    analysis = analyzer.analyze("energy " * 5000)
    assert analysis.topics == (("energy", 1.0),)


def test_the_journeys_intents_are_handled_and_the_analyzer_produces_them() -> None:
    journey = {"greeting", "help", "submit_idea", "my_status", "privacy", "out_of_scope"}
    handled = {name for feature in ALL_FEATURES for name in feature.intents}
    produced = {*INTENT_PATTERNS, "out_of_scope"}
    assert journey <= handled
    assert journey | {"subscribe_alerts", "browse_challenges"} <= produced


async def test_greeting_gets_a_greeting_and_the_menu(chat: ChatFactory) -> None:
    ada = chat()
    await onboard(ada, "it")
    await ada.send("ciao")
    assert ada.said("it", "greeting.known")
    assert "c:idea" in {b.payload for b in ada.buttons}


async def test_help_intent(chat: ChatFactory) -> None:
    ada = chat(language_hint="sv")
    await ada.send("vad kan du göra?")
    assert ada.said("sv", "help.text")


async def test_my_status_intent_lists_submissions(chat: ChatFactory) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("what happened to my ideas?")
    assert ada.said("en", "my.empty")


async def test_privacy_intent(chat: ChatFactory) -> None:
    ada = chat(language_hint="it")
    await ada.send("cosa fate con i miei dati personali?")
    assert ada.said("it", "privacy.info")


async def test_out_of_scope_explains_what_innobot_does(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await ada.send("what's the weather like tomorrow?")
    assert ada.said("en", "help.out_of_scope")
    assert {b.payload for b in ada.buttons} == {"c:start", "c:help"}
    assert await count(sessions, ConversationState) == 0
