"""Consultations: created in the moderation room, sent when they open, one answer per person,
closed on time with results for the participants; bad input gets clear answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.consultations import open_and_close
from handlers.i18n import t
from handlers.markup import to_plain
from storage.models import ConsultationAnswer
from tests.engagement.helpers import desk, queued
from tests.handlers.chat import ChatFactory, count, onboard

CLOSES = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)


async def _tick(sessions: async_sessionmaker[AsyncSession], at: datetime) -> int:
    async with sessions() as session, session.begin():
        return await open_and_close(session, at)


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_one_answer_per_person_and_results_when_it_closes(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory, lang: str
) -> None:
    sme = chat(user_id="41", language_hint=lang)
    citizen = chat(user_id="42", language_hint=lang)
    await onboard(sme, lang, role="sme")
    await onboard(citizen, lang)
    closes = CLOSES.strftime("%Y-%m-%d %H:%M")
    said = await desk(
        sessions,
        "!consultation create Which training do you need? | options=AI;Hydrogen;Funding "
        f"| closes={closes} | tz=UTC | audience=role:sme | results",
    )
    assert "Q-1" in said
    assert await _tick(sessions, datetime.now(UTC)) == 1
    [(row, question)] = await queued(sessions, kind="consultation")
    assert row.chat_id == "41"  # only the audience: SMEs
    assert "Which training do you need?" in question.text
    assert [b.label for r in question.buttons for b in r] == ["AI", "Hydrogen", "Funding"]
    assert await _tick(sessions, datetime.now(UTC)) == 0  # sent once

    await sme.send_payload(question.buttons[1][0].payload)
    assert sme.said(lang, "consultations.thanks", ref="Q-1", answer="Hydrogen")
    await sme.send("/vote 1 3")
    assert sme.said(lang, "consultations.changed", ref="Q-1", answer="Funding")
    await sme.send("/vote 1 9")
    assert sme.said(lang, "consultations.pick", count=3)
    assert await count(sessions, ConsultationAnswer) == 1

    said = await desk(sessions, "!consultation results Q-1")
    assert "Funding: 1 (100%)" in said
    assert "Hydrogen: 0" in said

    assert await _tick(sessions, CLOSES + timedelta(minutes=1)) == 1
    rows = await queued(sessions, kind="consultation")
    assert to_plain(rows[-1][1].text).startswith(to_plain(t(lang, "consultations.final")))
    await sme.send("/vote 1 1")
    assert sme.said(lang, "consultations.closed", ref="Q-1")


async def test_multiple_choice_and_free_text(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    person = chat(user_id="51")
    await onboard(person)
    closes = CLOSES.strftime("%Y-%m-%d %H:%M")
    await desk(
        sessions, f"!consultation create Topics? | options=A;B;C | multiple | closes={closes}"
    )
    await desk(sessions, f"!consultation create Your idea for the region? | text | closes={closes}")
    assert await _tick(sessions, datetime.now(UTC)) == 2

    await person.send("/vote 1 1")
    await person.send("/vote 1 3")
    assert person.said("en", "consultations.changed", ref="Q-1", answer="A, C")
    await person.send("/vote 1 1")
    assert person.said("en", "consultations.changed", ref="Q-1", answer="C")

    await person.send("/vote 2")
    assert person.said("en", "consultations.ask_text", max=500)
    await person.send("x" * 501)
    assert person.said("en", "consultations.too_long", max=500, length=501)
    await person.send("More bike lanes to the science park")
    assert person.said(
        "en", "consultations.thanks", ref="Q-2", answer="More bike lanes to the science park"
    )
    assert "More bike lanes" in await desk(sessions, "!consultation results Q-2")


async def test_bad_consultations_are_refused_with_reasons(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    closes = CLOSES.strftime("%Y-%m-%d %H:%M")
    said = await desk(sessions, f"!consultation create Why? | closes={closes}")
    assert said == to_plain(t("en", "engagement.no_options"))
    said = await desk(
        sessions,
        f"!consultation create Why? | options=A;B | opens={closes} | closes=2026-01-01 10:00",
    )
    assert said == to_plain(t("en", "engagement.closes_before_opens"))
    said = await desk(sessions, "!consultation create Why? | options=A;B")
    assert said == to_plain(t("en", "engagement.missing", what="closes"))
    said = await desk(sessions, "!consultation create Why? | options=A;B | closes=2001-01-01 10:00")
    assert said == to_plain(t("en", "engagement.closes_before_opens"))
    person = chat(user_id="61")
    await onboard(person)
    await person.send("/vote 5 1")
    assert person.said("en", "consultations.unknown", ref="Q-5")
    await person.send("/vote abc")
    assert person.said("en", "consultations.usage")
    assert await desk(sessions, "!consultation list") == to_plain(
        t("en", "engagement.consultation_none")
    )
