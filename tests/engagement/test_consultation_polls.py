"""How a consultation reaches each platform (a poll on Telegram, numbered options on Matrix), and
the answers that come back: poll votes, and bare numbers where options are numbered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.consultations import answer_by_number, open_and_close
from handlers.context import Context
from handlers.core import IncomingMessage, Platform, Reply
from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from handlers.router import find_person, load_state
from storage import engagement as store
from storage.models import ConsultationAnswer
from tests.engagement.helpers import desk, queued
from tests.handlers.chat import ChatFactory, count, onboard

CLOSES = (datetime.now(UTC) + timedelta(days=3)).strftime("%Y-%m-%d %H:%M")
MATRIX_USER = "@eva:example.org"


async def _open(sessions: async_sessionmaker[AsyncSession], extra: str = "") -> None:
    await desk(
        sessions,
        f"!consultation create Which training? | options=AI;Hydrogen;Funding{extra} "
        f"| closes={CLOSES} | tz=UTC",
    )
    async with sessions() as session, session.begin():
        await open_and_close(session, datetime.now(UTC))


async def _number(
    sessions: async_sessionmaker[AsyncSession], text: str, lang: str = "en"
) -> list[Reply] | None:
    """``text`` typed by the Matrix person, offered to :func:`answer_by_number`."""
    msg = IncomingMessage(Platform.MATRIX, MATRIX_USER, MATRIX_USER, text=text)
    async with sessions() as session, session.begin():
        ctx = Context(
            session=session,
            msg=msg,
            state=await load_state(session, msg),
            person=await find_person(session, msg),
            lang=lang,
            analyzer=KeywordAnalyzer(),
        )
        return await answer_by_number(ctx)


async def test_telegram_gets_a_poll_with_buttons_as_its_fallback(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    await onboard(chat(user_id="71"), "it")
    await _open(sessions)
    [(_, message)] = await queued(sessions, kind="consultation")
    assert message.poll is not None
    assert message.poll.question == "Which training?"
    assert message.poll.options == ("AI", "Hydrogen", "Funding")
    assert message.poll.subject == "consultation:1"
    assert not message.poll.multiple
    assert message.poll.intro == t(
        "it", "consultations.poll_intro", ref="Q-1", closes=f"{CLOSES} UTC"
    )
    assert [b.label for row in message.buttons for b in row] == ["AI", "Hydrogen", "Funding"]


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_matrix_gets_numbered_options_and_a_number_answers(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory, lang: str
) -> None:
    await onboard(chat(user_id=MATRIX_USER, platform=Platform.MATRIX, language_hint=lang), lang)
    await _open(sessions)
    [(row, message)] = await queued(sessions, kind="consultation")
    assert row.platform == "matrix"
    assert message.poll is None
    assert message.text.endswith(t(lang, "consultations.how_number", id=1))
    assert [b.label for r in message.buttons for b in r] == ["AI", "Hydrogen", "Funding"]

    [thanks] = await _number(sessions, "2", lang) or []
    assert thanks.text == t(lang, "consultations.thanks", ref="Q-1", answer="Hydrogen")
    [changed] = await _number(sessions, " 3 ", lang) or []
    assert changed.text == t(lang, "consultations.changed", ref="Q-1", answer="Funding")
    [pick] = await _number(sessions, "7", lang) or []
    assert pick.text == t(lang, "consultations.pick", count=3)
    [pick] = await _number(sessions, "1, 2", lang) or []  # one answer only
    assert pick.text == t(lang, "consultations.pick", count=3)
    assert await _number(sessions, "hello", lang) is None  # not an answer: handled as usual
    assert await count(sessions, ConsultationAnswer) == 1


async def test_a_number_answers_nothing_once_the_consultation_is_closed(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    await onboard(chat(user_id=MATRIX_USER, platform=Platform.MATRIX))
    await _open(sessions, extra=" | multiple")
    [reply] = await _number(sessions, "1,3") or []
    assert reply.text == t("en", "consultations.thanks", ref="Q-1", answer="AI, Funding")
    await desk(sessions, "!consultation close Q-1")
    assert await _number(sessions, "2") is None


async def test_a_poll_vote_counts_only_from_the_chat_the_poll_went_to(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    ada, bo = chat(user_id="81"), chat(user_id="82")
    await onboard(ada)
    await onboard(bo)
    await _open(sessions)
    async with sessions() as session, session.begin():
        await store.record_poll(session, "telegram", "81", "5", "P81", "consultation:1")
    await bo.send("/poll P81 1")
    assert bo.said("en", "consultations.poll_unknown")
    await ada.send("/poll P81 1,2")  # two answers to a single-choice poll
    assert ada.said("en", "consultations.poll_unknown")
    assert await count(sessions, ConsultationAnswer) == 0
    assert await ada.send("/poll P81 2") == []
    assert await ada.send("/poll P81 -") == []
    assert await count(sessions, ConsultationAnswer) == 0
    assert await ada.send("/poll P81 3") == []
    assert await count(sessions, ConsultationAnswer) == 1
