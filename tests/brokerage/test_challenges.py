"""Challenges: the flow with its bad dates and empty descriptions, browsing, showing one."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.forms import parse_deadline
from handlers.i18n import t
from storage.models import Challenge, Confidentiality, Status
from tests.brokerage.helpers import STAMPING_IT, approve_latest, challenge, latest, person
from tests.handlers.chat import ChatFactory, count

NEEDS = {
    "en": (
        "Nordic Steel",
        "Detecting scratches on stamped parts",
        "Our press line stamps 20,000 steel parts a day. Scratches and dents are found by "
        "hand and some slip through; we want an automatic check before packing.",
    ),
    "it": STAMPING_IT,
    "sv": (
        "Skellefteå kommun",
        "Fossilfri uppvärmning av skolor",
        "Kommunen söker lösningar för att värma skolor och äldreboenden i små orter utan "
        "olja, med låg driftkostnad och gärna med lokal energi.",
    ),
}


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_challenge_from_start_to_moderation(
    lang: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organisation, title, description = NEEDS[lang]
    owner = await person(chat(), lang, "challenge_owner")
    await owner.send("/challenge")
    assert owner.said(lang, "challenges.challenge_ask_organisation")
    await owner.send(organisation)
    await owner.send(title)
    await owner.send(title)  # the title again is no description
    assert owner.said(lang, "profiles.form_too_short", min=40)
    await owner.send(f"{title}. {title}. {title}!")
    assert owner.said(lang, "challenges.description_only_title")
    await owner.send(description)
    await owner.press(value="done")
    await owner.send("31/02/2031")
    assert owner.said(lang, "challenges.deadline_invalid")
    await owner.send("next Tuesday")
    assert owner.said(lang, "challenges.deadline_invalid")
    await owner.send((date.today() - timedelta(days=1)).isoformat())
    assert owner.said(lang, "challenges.deadline_past")
    await owner.send("01.01.2099")
    assert owner.said(lang, "challenges.deadline_too_far", years=5)
    deadline = date.today() + timedelta(days=40)
    await owner.send(deadline.strftime("%d/%m/%Y"))
    assert owner.said(lang, "challenges.challenge_ask_offer")
    await owner.press(value="pilot")
    await owner.press(value="contract")
    await owner.press(value="done")
    await owner.press(value="anonymous")
    await owner.send("innovation@example.org")
    assert t(lang, "challenges.level_anonymous") in owner.plain
    await owner.press(value="confirm")

    item = await latest(sessions, Challenge)
    assert owner.said(lang, "challenges.submitted", ref=item.ref)
    assert (item.deadline, item.offer, item.confidentiality) == (
        deadline,
        "pilot,contract",
        "anonymous",
    )
    assert item.status == Status.PENDING.value
    assert item.lang == lang
    assert item.contact == "innovation@example.org"
    assert not item.show_name  # anonymous: the owner is not named


def test_deadlines_are_read_in_the_usual_ways() -> None:
    today = date(2026, 11, 22)
    assert parse_deadline("2027-03-31", today) == (date(2027, 3, 31), None)
    assert parse_deadline("31/03/2027", today) == (date(2027, 3, 31), None)
    assert parse_deadline(" 31.3.2027 ", today) == (date(2027, 3, 31), None)
    assert parse_deadline("31-03-2027", today) == (date(2027, 3, 31), None)
    assert parse_deadline("2026-11-22", today) == (today, None)
    assert parse_deadline("2026-11-21", today) == (None, "challenges.deadline_past")
    assert parse_deadline("2027-02-30", today) == (None, "challenges.deadline_invalid")
    assert parse_deadline("03/31/2027", today) == (None, "challenges.deadline_invalid")
    assert parse_deadline("tomorrow", today) == (None, "challenges.deadline_invalid")
    assert parse_deadline("9" * 40, today) == (None, "challenges.deadline_invalid")
    assert parse_deadline("2040-01-01", today) == (None, "challenges.deadline_too_far")


async def _publish(
    chat: ChatFactory,
    sessions: async_sessionmaker[AsyncSession],
    user: str,
    need: tuple[str, str, str],
    **values: str,
) -> str:
    await challenge(await person(chat(user_id=user), "en", "challenge_owner"), *need, **values)
    return await approve_latest(sessions, Challenge)


async def test_browsing_open_challenges_page_by_page(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    refs = []
    places = ("Alderby", "Birchwood", "Cedarton", "Dogwood", "Elmstead", "Firhill", "Gumtree")
    for number, place in enumerate(places):
        need = (
            f"Org {number}",
            f"Need number {number} about heat pumps",
            f"Schools in {place} want to replace oil boilers with heat pumps and insulation.",
        )
        refs.append(await _publish(chat, sessions, str(100 + number), need))
    # One waiting for moderation, one withdrawn, one past its deadline: none is listed.
    await challenge(
        await person(chat(user_id="200"), "en", "challenge_owner"),
        "X",
        "Pending need",
        "A pending need that nobody may see before it is approved, about heat.",
    )
    hidden = await _publish(
        chat,
        sessions,
        "201",
        ("Y", "Withdrawn need", "A need that its owner withdrew, about solar panels on roofs."),
    )
    expired = await _publish(
        chat,
        sessions,
        "202",
        ("Z", "Expired need", "A need whose deadline has passed, about cleaning rivers."),
    )
    async with sessions() as session, session.begin():
        await session.execute(
            update(Challenge)
            .where(Challenge.id == int(hidden[2:]))
            .values(status=Status.CLOSED.value)
        )
        await session.execute(
            update(Challenge)
            .where(Challenge.id == int(expired[2:]))
            .values(deadline=date.today() - timedelta(days=1))
        )

    ada = await person(chat(user_id="300"))
    await ada.send("/challenges")
    assert t("en", "challenges.browse_head", count=7, page=1, pages=2, words="") in ada.text
    assert [b.label for b in ada.buttons][:5] == list(reversed(refs))[:5]  # newest first
    assert "Pending need" not in ada.plain
    assert hidden not in ada.plain
    assert expired not in ada.plain
    await ada.press(value="next")
    assert t("en", "challenges.browse_head", count=7, page=2, pages=2, words="") in ada.text
    await ada.press(value=f"show:{refs[0][2:]}")
    assert "Need number 0 about heat pumps" in ada.plain
    assert "Org 0" in ada.plain  # public: the owner is named
    await ada.press(value="previous")
    assert refs[6] in [b.label for b in ada.buttons]
    await ada.send(refs[3])  # an id typed in the browser
    assert "Need number 3" in ada.plain
    await ada.send("oil boilers in Firhill")  # new words: a new search, best match first
    assert (
        t(
            "en",
            "challenges.browse_head_for",
            count=7,
            page=1,
            pages=2,
            words="oil boilers in Firhill",
        )
        in ada.text
    )
    assert ada.buttons[0].label == refs[5]
    await ada.press(value="done")
    assert ada.said("en", "menu.text")


async def test_searching_by_topic_or_words(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    heating = await _publish(chat, sessions, "1", NEEDS["sv"])
    scratches = await _publish(chat, sessions, "2", NEEDS["en"])
    async with sessions() as session, session.begin():
        await session.execute(
            update(Challenge).where(Challenge.id == int(heating[2:])).values(topics=["energy"])
        )
    ada = await person(chat(user_id="3"), "it")
    await ada.send("/challenges Energia")  # a topic, named in Italian
    assert [b.label for b in ada.buttons][:1] == [heating]
    assert scratches not in [b.label for b in ada.buttons]
    await ada.press(value="done")
    await ada.send("/challenges difetti superficiali dei pezzi")  # words, across languages
    assert ada.buttons[0].label == scratches
    await ada.press(value="done")
    await ada.send("/challenges zzzz")
    assert ada.said("it", "challenges.browse_none_for", words="zzzz")


async def test_show_follows_the_owners_choice_of_confidentiality(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    public = await _publish(chat, sessions, "1", NEEDS["en"])
    anonymous = await _publish(chat, sessions, "2", NEEDS["it"], level="anonymous")
    ada = await person(chat(user_id="3"))
    await ada.send(f"/show {public}")
    assert "Nordic Steel" in ada.plain
    await ada.send(f"/show {anonymous}")
    assert STAMPING_IT[1] in ada.plain
    assert STAMPING_IT[2][:40] in ada.plain
    assert STAMPING_IT[0] not in ada.plain
    assert t("en", "challenges.show_owner_hidden") in ada.text
    await ada.send("/show")
    assert ada.said("en", "challenges.show_usage")
    await ada.send("/show X-1")
    assert ada.said("en", "challenges.bad_ref", token="X-1")
    assert (
        await count(
            sessions, Challenge, Challenge.confidentiality == Confidentiality.ANONYMOUS.value
        )
        == 1
    )


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "show me the open challenges"), ("it", "ci sono sfide aperte?"),
     ("sv", "finns det några utmaningar?")],
)  # fmt: skip
async def test_asking_for_challenges_in_words(
    lang: str, text: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ref = await _publish(chat, sessions, "1", NEEDS["en"])
    ada = await person(chat(user_id="2"), lang)
    await ada.send(text)
    assert t(lang, "challenges.browse_head", count=1, page=1, pages=1, words="") in ada.text
    assert ada.buttons[0].label == ref
