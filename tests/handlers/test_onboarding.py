"""Onboarding: /start, language, consent (nothing stored before it), role, /language, /role."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import t
from storage.models import ConversationState, Identity, Person
from tests.handlers.chat import ChatFactory, count, onboard


async def test_start_welcomes_in_the_app_language_and_offers_three_languages(
    chat: ChatFactory,
) -> None:
    ada = chat(language_hint="it-IT")
    await ada.send("/start")
    assert ada.said("it", "onboarding.welcome")
    assert ada.said("it", "onboarding.ask_language")
    assert [b.label for b in ada.buttons] == ["English", "Italiano", "Svenska"]


async def test_nothing_personal_is_stored_before_consent(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await ada.send("/start")
    await ada.press("Svenska")
    assert ada.said("sv", "onboarding.privacy_notice")
    assert {b.label for b in ada.buttons} == {
        t("sv", "onboarding.agree"),
        t("sv", "onboarding.decline"),
    }
    assert await count(sessions, Person) == 0
    assert await count(sessions, Identity) == 0
    async with sessions() as session:
        state = (await session.scalars(select(ConversationState))).one()
    # Only the step and the chosen language, keyed by the platform's ids.
    assert (state.flow, state.step, state.language, state.data) == (
        "onboarding",
        "consent",
        "sv",
        {},
    )


async def test_a_stranger_chatting_leaves_no_trace(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await ada.send("hello")
    assert ada.said("en", "greeting.stranger")
    await ada.send("/help")
    await ada.send("/start")
    await ada.send("/cancel")
    assert await count(sessions, ConversationState) == 0
    assert await count(sessions, Person) == 0


async def test_consent_creates_the_person_and_identity(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    before = datetime.now(UTC)
    ada = chat(user_id="4242", display_name="Ada Lovelace", language_hint="en-GB")
    await ada.send("/start")
    await ada.press("Italiano")
    await ada.press(t("it", "onboarding.agree"))
    assert ada.said("it", "onboarding.thanks")
    assert ada.said("it", "onboarding.ask_role")
    assert [b.label for b in ada.buttons] == [
        t("it", "roles.citizen"),
        t("it", "roles.sme"),
        t("it", "roles.infrastructure"),
        t("it", "roles.challenge_owner"),
    ]
    await ada.press(t("it", "roles.sme"))
    assert ada.said("it", "onboarding.ready", role=t("it", "roles.sme"))
    assert {b.payload for b in ada.buttons} >= {"c:idea", "c:my", "c:help"}

    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
        identity = (await session.scalars(select(Identity))).one()
    assert (person.display_name, person.language, person.role) == ("Ada Lovelace", "it", "sme")
    assert person.consent_at >= before
    assert identity.person_id == person.id
    assert (identity.platform, identity.external_id, identity.chat_id) == (
        "telegram",
        "4242",
        "4242",
    )
    assert (identity.display_name, identity.language_code) == ("Ada Lovelace", "en-GB")
    assert ada.outcome is not None
    assert ada.outcome.person_id == person.id


async def test_declining_stores_nothing_and_explains_how_to_come_back(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await ada.send("/start")
    await ada.press("English")
    await ada.press(t("en", "onboarding.decline"))
    assert ada.said("en", "onboarding.declined")
    assert "/start" in ada.plain
    assert await count(sessions, ConversationState) == 0
    assert await count(sessions, Person) == 0
    assert await count(sessions, Identity) == 0
    # They can come back at any time.
    await ada.press(value="start")
    assert ada.said("en", "onboarding.ask_language")


async def test_typed_answers_work_where_buttons_are_offered(chat: ChatFactory) -> None:
    """Platforms without buttons show numbered options; a label or number typed back counts."""
    ada = chat()
    await ada.send("/start")
    await ada.send("svenska")
    assert ada.said("sv", "onboarding.privacy_notice")
    await ada.send("1")
    assert ada.said("sv", "onboarding.ask_role")
    await ada.send("maybe")
    assert ada.said("sv", "flow.use_buttons")
    assert ada.said("sv", "onboarding.ask_role")


async def test_start_again_shows_the_menu(chat: ChatFactory) -> None:
    ada = chat()
    await onboard(ada, "en")
    await ada.send("/start")
    assert ada.said("en", "onboarding.welcome_back")
    assert {"c:idea", "c:my", "c:language", "c:role"} <= {b.payload for b in ada.buttons}


async def test_language_and_role_can_be_changed(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada, "en", "citizen")
    await ada.press(value="language")
    assert ada.said("en", "onboarding.ask_language")
    await ada.press("Svenska")
    assert ada.said("sv", "settings.language_set", language="Svenska")
    await ada.send("/role")
    await ada.press(t("sv", "roles.challenge_owner"))
    assert ada.said("sv", "settings.role_set", role=t("sv", "roles.challenge_owner"))
    await ada.send("/help")
    assert ada.said("sv", "help.text")
    async with sessions() as session:
        person = (await session.scalars(select(Person))).one()
    assert (person.language, person.role) == ("sv", "challenge_owner")


async def test_language_before_consent_is_kept_for_the_conversation_only(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await ada.send("/language")
    await ada.press("Italiano")
    assert ada.said("it", "settings.language_set", language="Italiano")
    await ada.send("/start")
    assert ada.said("it", "onboarding.welcome")
    assert await count(sessions, Person) == 0
