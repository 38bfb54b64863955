"""Whatever people send, they get a clear answer and the flow stays where it was."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.core import ContentKind
from handlers.i18n import t
from handlers.markup import to_html, to_plain
from storage.models import ConversationState, Idea, Identity, Person
from tests.handlers.chat import Chat, ChatFactory, count, onboard

DESCRIPTION = "A weekly market for local farmers in the main square."


async def step_of(sessions: async_sessionmaker[AsyncSession]) -> tuple[str | None, str | None]:
    async with sessions() as session:
        state = (await session.scalars(select(ConversationState))).one()
    return state.flow, state.step


async def at_title(chat: ChatFactory, lang: str = "en") -> Chat:
    ada = chat()
    await onboard(ada, lang)
    await ada.send("/idea")
    return ada


@pytest.mark.parametrize("text", ["", " ", "  \n\t  ", "\u00a0\u2003"])
async def test_empty_answers_are_refused(
    text: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send(text)
    assert ada.said("en", "errors.empty")
    assert ada.said("en", "idea.ask_title", max=120)
    assert await step_of(sessions) == ("idea", "title")


async def test_control_characters_alone_count_as_empty(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("\x00\x07")
    assert ada.said("en", "errors.empty")
    assert await step_of(sessions) == ("idea", "title")


async def test_empty_message_outside_a_flow(chat: ChatFactory) -> None:
    ada = chat()
    await ada.send("   ")
    assert ada.said("en", "errors.empty")


async def test_ten_thousand_characters_are_refused_with_the_limit(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat, "sv")
    await ada.send("x" * 10_000)
    assert ada.said("sv", "idea.title_too_long", max=120, length=10_000)
    assert await step_of(sessions) == ("idea", "title")
    await ada.send("y" * 121)
    assert ada.said("sv", "idea.title_too_long", max=120, length=121)
    await ada.send("  " + "y" * 120 + "  ")
    assert ada.said("sv", "idea.ask_description", min=20)

    await ada.send("z" * 10_000)
    assert ada.said("sv", "idea.description_too_long", max=2000, length=10_000)
    await ada.send("too short")
    assert ada.said("sv", "idea.description_too_short", min=20)
    assert await step_of(sessions) == ("idea", "description")
    await ada.send("z" * 2000)
    assert await step_of(sessions) == ("idea", "topic")


async def test_emoji_and_right_to_left_text_are_stored_as_sent(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    title = "🚲 دراجات للجميع 🌍"
    description = "שיתוף אופניים בשכונה 🚲 — mit Ümläuten, 中文 and 👩🏽‍🔬 too."
    ada = await at_title(chat)
    await ada.send(title)
    await ada.send(description)
    await ada.press(value="other")
    await ada.press(value="no")
    assert title in ada.plain
    assert description in ada.plain
    await ada.press(value="confirm")
    async with sessions() as session:
        idea = (await session.scalars(select(Idea))).one()
    assert (idea.title, idea.description) == (title, description)


async def test_markup_and_html_are_stored_raw_and_escaped_in_replies(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    title = "<b>Bold</b> & *stars* _x_ `y` [z](http://e.x) \\"
    description = "Use <script>alert(1)</script> & *emphasis*_[link] wisely, please."
    ada = await at_title(chat)
    await ada.send(title)
    await ada.send(description)
    await ada.press(value="other")
    await ada.press(value="yes")
    summary = ada.replies[-1].text
    html = to_html(summary)
    assert "&lt;b&gt;Bold&lt;/b&gt; &amp; *stars* _x_ `y` [z](http://e.x) \\" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; *emphasis*_[link]" in html
    assert "<script>" not in html
    assert "<i>" not in html
    assert "<code>" not in html
    assert html.count("<b>") == html.count("</b>") == 5  # the summary's own labels only
    assert title in to_plain(summary)

    await ada.press(value="confirm")
    async with sessions() as session:
        idea = (await session.scalars(select(Idea))).one()
    assert (idea.title, idea.description) == (title, description)
    await ada.send("/my")
    assert "&lt;b&gt;Bold&lt;/b&gt;" in to_html(ada.text)


async def test_nul_and_control_characters_are_removed(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("Zero\x00 byte\x1b title")
    await ada.send("Line one\x00\r\nLine two, long enough to count.")
    await ada.press(value="other")
    await ada.press(value="no")
    await ada.press(value="confirm")
    async with sessions() as session:
        idea = (await session.scalars(select(Idea))).one()
    assert idea.title == "Zero byte title"
    assert idea.description == "Line one\nLine two, long enough to count."


@pytest.mark.parametrize("kind", [ContentKind.STICKER, ContentKind.PHOTO, ContentKind.VOICE])
async def test_non_text_where_text_is_expected(
    kind: ContentKind, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat, "it")
    await ada.send(kind=kind)
    assert ada.said("it", "errors.text_only")
    assert ada.said("it", "idea.ask_title", max=120)
    assert await step_of(sessions) == ("idea", "title")


@pytest.mark.parametrize("kind", [ContentKind.STICKER, ContentKind.PHOTO, ContentKind.VOICE])
async def test_non_text_where_a_choice_is_expected(
    kind: ContentKind, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("Title")
    await ada.send(DESCRIPTION)
    await ada.send(kind=kind)
    assert ada.said("en", "flow.use_buttons")
    assert ada.said("en", "idea.ask_topic_suggested", topics=t("en", "topics.agrifood"))
    assert await step_of(sessions) == ("idea", "topic")


async def test_non_text_outside_a_flow(chat: ChatFactory) -> None:
    ada = chat()
    await ada.send(kind=ContentKind.STICKER)
    assert ada.said("en", "errors.text_only")


async def test_unknown_command(chat: ChatFactory) -> None:
    ada = chat(language_hint="sv")
    await ada.send("/frobnicate now")
    assert ada.said("sv", "errors.unknown_command", command="/frobnicate")
    await ada.send("/" + "x" * 500)
    assert ada.said("sv", "errors.unknown_command", command="/" + "x" * 32)


async def test_command_mid_flow_asks_to_finish_first(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("Title")
    for command in ("/my", "/start", "/idea", "/frobnicate"):
        await ada.send(command)
        assert ada.said("en", "flow.finish_first")
        assert ada.said("en", "idea.ask_description", min=20)
    await ada.send_payload("c:my")  # a menu button from an earlier message
    assert ada.said("en", "flow.finish_first")
    assert await step_of(sessions) == ("idea", "description")

    await ada.send("/help")
    assert ada.said("en", "help.text")
    assert ada.said("en", "idea.ask_description", min=20)
    assert await step_of(sessions) == ("idea", "description")


async def test_cancel_leaves_any_flow(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada, "it")
    await ada.send("/cancel")
    assert ada.said("it", "cancel.nothing")
    await ada.send("/idea")
    await ada.send("Title")
    await ada.send("/cancel")
    assert ada.said("it", "cancel.done")
    assert await step_of(sessions) == (None, None)
    await ada.send("/cancel")
    assert ada.said("it", "cancel.nothing")
    assert await count(sessions, Idea) == 0


async def test_stale_button_is_ignored_and_the_current_question_asked_again(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("Title")
    await ada.send(DESCRIPTION)
    old_topic = ada.button(value="energy")
    await ada.press(value="agrifood")
    assert ada.said("en", "idea.ask_show_name")

    await ada.send_payload(old_topic.payload)
    assert ada.said("en", "errors.stale_button")
    assert ada.said("en", "idea.ask_show_name")
    assert await step_of(sessions) == ("idea", "show_name")

    for forged in ("f:999:yes", "f:x", "garbage", "", "c:"):
        await ada.send_payload(forged)
        assert await step_of(sessions) == ("idea", "show_name")

    await ada.press(value="yes")
    assert "Title" in ada.plain


async def test_a_current_button_with_an_unknown_value_is_refused(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await at_title(chat)
    await ada.send("Title")
    await ada.send(DESCRIPTION)
    version = ada.button(value="energy").payload.split(":")[1]
    await ada.send_payload(f"f:{version}:not_a_topic")
    assert ada.said("en", "flow.use_buttons")
    assert await step_of(sessions) == ("idea", "topic")


async def test_stale_button_outside_a_flow(chat: ChatFactory) -> None:
    ada = chat()
    await ada.send("/start")
    english = ada.button(label="English")
    await ada.send("/cancel")
    await ada.send_payload(english.payload)
    assert ada.said("en", "errors.stale_button")


@pytest.mark.parametrize("command", ["/idea", "/my", "/mydata", "/forget", "/role"])
async def test_people_who_never_consented_are_asked_to_start(
    command: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat(language_hint="sv")
    await ada.send(command)
    assert ada.said("sv", "errors.needs_consent")
    assert ada.outcome is not None
    assert ada.outcome.person_id is None
    assert await count(sessions, Person) == 0
    assert await count(sessions, Identity) == 0
    assert await count(sessions, ConversationState) == 0


async def test_menu_buttons_before_consent_ask_to_start(chat: ChatFactory) -> None:
    ada = chat()
    await ada.send_payload("c:idea")
    assert ada.said("en", "errors.needs_consent")
    await ada.send("I have an idea about solar panels on the town hall roof and more")
    assert ada.said("en", "errors.needs_consent")
