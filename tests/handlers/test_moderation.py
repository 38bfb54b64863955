"""The moderation desk on both database backends: races, authorization, audit, notifications."""

from __future__ import annotations

import asyncio

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.matrix import act_on
from bot.outbox import decode_reply
from handlers.core import IncomingMessage, Platform
from handlers.moderation import (
    DeskConfig,
    PowerLookup,
    RoomAddress,
    RoomEvent,
    feature,
    queue_triage_card,
    render_card,
)
from handlers.router import Router
from storage.ideas import add_idea
from storage.models import Idea, Identity, ItemKind, ModerationDecision, OutboxMessage, Status
from storage.people import add_person, forget_person
from tests.handlers.chat import make_router

ROOM = "!moderation:example.org"
DESK = DeskConfig(rooms=frozenset({ROOM}), threshold=50, lang="en")
_events = iter(range(1, 1_000_000))


def power(level: int | None) -> PowerLookup:
    async def lookup() -> int | None:
        return level

    return lookup


def command(text: str, sender: str = "@alice:example.org", **values: object) -> RoomEvent:
    return RoomEvent(
        room_id=str(values.pop("room_id", ROOM)),
        sender=sender,
        event_id=f"$event{next(_events)}",
        text=text,
        **values,  # type: ignore[arg-type]
    )


async def new_idea(
    sessions: async_sessionmaker[AsyncSession], *, chat: str = "500", lang: str = "it"
) -> Idea:
    async with sessions() as session, session.begin():
        person = await add_person(
            session,
            platform=Platform.TELEGRAM.value,
            external_id=chat,
            chat_id=chat,
            display_name="Giulia",
            language_code=lang,
            language=lang,
        )
        idea = await add_idea(
            session,
            person_id=person.id,
            title="Orti condivisi sui tetti",
            description="Trasformare i tetti piani delle scuole in orti condivisi.",
            lang=lang,
            topics=["agrifood"],
            topic_scores={"agrifood": 0.7},
            show_name=True,
        )
        queue_triage_card(session, idea)
    return idea


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    async with sessions() as session:
        rows = await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
        return list(rows)


async def decisions(sessions: async_sessionmaker[AsyncSession]) -> list[ModerationDecision]:
    async with sessions() as session:
        rows = await session.scalars(select(ModerationDecision).order_by(ModerationDecision.id))
        return list(rows)


async def test_exactly_one_of_two_simultaneous_decisions_wins(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    for round_ in range(5):
        idea = await new_idea(sessions, chat=f"90{round_}")
        alice = command(f"!approve {idea.ref}", "@alice:example.org")
        bob = command(f"!reject {idea.ref} Already funded", "@bob:example.org")
        await asyncio.gather(
            act_on(sessions, alice, DESK, power(50)), act_on(sessions, bob, DESK, power(100))
        )
        mine = [d for d in await decisions(sessions) if d.item_id == idea.id]
        assert len(mine) == 1
        winner = mine[0].moderator
        room_texts = [
            decode_reply(row.payload).text
            for row in await outbox(sessions)
            if row.platform == Platform.MATRIX.value and row.kind == "reply"
        ]
        answers = [text for text in room_texts if idea.ref in text]
        assert len(answers) == 2
        [lost] = [text for text in answers if "already been decided" in text]
        assert f"by {winner}" in lost
        notified = [row for row in await outbox(sessions) if row.chat_id == f"90{round_}"]
        assert len(notified) == 1
        assert notified[0].person_id is not None


async def test_without_power_or_outside_the_rooms_nothing_changes(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    idea = await new_idea(sessions)
    for event, level in (
        (command(f"!approve {idea.ref}"), 49),
        (command(f"!approve {idea.ref}"), None),  # not a member
        (command(f"!approve {idea.ref}", room_id="!coffee:example.org"), 100),
    ):
        assert await act_on(sessions, event, DESK, power(level))
    texts = [decode_reply(r.payload).text for r in await outbox(sessions) if r.kind == "reply"]
    assert texts[0].startswith("Sorry, only members of this room with power level 50")
    assert texts[1].startswith("Sorry, only members")
    assert texts[2] == "I take moderation commands only in the moderation room."
    assert await decisions(sessions) == []
    async with sessions() as session:
        stored = await session.get(Idea, idea.id)
    assert stored is not None
    assert stored.status == Status.PENDING.value


async def test_an_event_is_acted_on_once(sessions: async_sessionmaker[AsyncSession]) -> None:
    idea = await new_idea(sessions)
    event = command(f"!reject {idea.ref} Out of scope")
    assert await act_on(sessions, event, DESK, power(50))
    assert not await act_on(sessions, event, DESK, power(50))
    assert len(await decisions(sessions)) == 1
    assert len([r for r in await outbox(sessions) if r.kind == "reply"]) == 2


async def test_the_submitter_is_told_in_their_language_on_their_newest_account(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    idea = await new_idea(sessions, chat="700", lang="sv")
    async with sessions() as session, session.begin():
        session.add(
            Identity(
                person_id=idea.person_id,
                platform=Platform.CONSOLE.value,
                external_id="console-user",
                chat_id="console",
            )
        )
    await act_on(sessions, command(f"!approve {idea.ref} Snyggt!"), DESK, power(50))
    [note] = [r for r in await outbox(sessions) if r.platform == Platform.CONSOLE.value]
    assert note.chat_id == "console"
    assert note.person_id == idea.person_id
    text = decode_reply(note.payload).text
    assert text.startswith("✅ Goda nyheter")
    assert "Snyggt!" in text


async def test_a_forgotten_submitters_item_is_decided_without_a_message(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    idea = await new_idea(sessions)
    async with sessions() as session, session.begin():
        from storage.models import Person

        person = await session.get(Person, idea.person_id)
        assert person is not None
        await forget_person(session, person)
    async with sessions() as session:
        card = await render_card(session, ItemKind.IDEA, idea.id, "en")
    assert card is not None
    assert "deleted their data" in card.text
    assert "Giulia" not in card.text
    await act_on(sessions, command(f"!ask {idea.ref} Which school?"), DESK, power(50))
    texts = [decode_reply(r.payload).text for r in await outbox(sessions) if r.kind == "reply"]
    assert "cannot be asked" in texts[-1]
    assert all(r.platform == Platform.MATRIX.value for r in await outbox(sessions))


async def test_a_named_submitter_is_shown_by_name_on_the_card(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    idea = await new_idea(sessions)
    async with sessions() as session:
        card = await render_card(session, ItemKind.IDEA, idea.id, "it")
    assert card is not None
    assert "Proposto da: Giulia" in card.text
    assert card.text.startswith("*Idea I-")
    [row] = await outbox(sessions)
    assert RoomAddress.parse(row.chat_id) == RoomAddress("moderation", card=idea.ref)
    assert row.dedupe_key == f"card:{idea.ref}"


async def test_answering_a_question_with_several_open(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    first = await new_idea(sessions, chat="800", lang="en")
    async with sessions() as session, session.begin():
        second = await add_idea(
            session,
            person_id=first.person_id or 0,
            title="Second idea",
            description="A second idea from the same person, long enough.",
            lang="en",
            topics=[],
            topic_scores={},
            show_name=False,
        )
    for item in (first, second):
        await act_on(sessions, command(f"!ask {item.ref} Budget?"), DESK, power(50))

    base = make_router()
    features = list(base.features)
    if feature not in features:
        features.append(feature)
    router = Router(features, base.analyzer)

    async def say(text: str) -> list[str]:
        async with sessions() as session, session.begin():
            outcome = await router.handle(
                session, IncomingMessage(Platform.TELEGRAM, "800", "800", text=text)
            )
        return [reply.text for reply in outcome.replies + outcome.notifications]

    listed = await say("/answer")
    assert first.ref in listed[0]
    assert second.ref in listed[0]
    assert (await say("/answer I-999 x"))[0] == "There is no open question about I-999."
    assert "too long" in (await say(f"/answer {second.ref} " + "y" * 2001))[0]
    prompt = await say(f"/answer {second.ref}")
    assert "Budget?" in prompt[0]
    answered = await say("About 2000 euros")
    assert (
        answered[0]
        == f"Thank you! Your answer about {second.ref} has been passed on to the moderators."
    )
    assert answered[1].startswith(f"💬 *Answer from the submitter of {second.ref}:*")
    assert (await say(f"/answer {first.ref} Ten volunteers"))[0].startswith("Thank you!")
    assert (await say("/answer"))[0].startswith("There is no question")
    actions = [(d.item_id, d.action) for d in await decisions(sessions)]
    assert actions.count((second.id, "answer")) == 1


async def test_profiles_and_challenges_get_cards_and_decisions_too(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    from storage.models import Challenge, SolutionProfile

    idea = await new_idea(sessions, chat="900", lang="en")
    async with sessions() as session, session.begin():
        challenge = Challenge(
            person_id=idea.person_id,
            title="Predictive maintenance for hospital beds",
            description="We look for sensors and software that predict when beds need service.",
            lang="en",
            topics=["health"],
            topic_scores={"health": 0.9, "digital": 0.5},
        )
        profile = SolutionProfile(
            person_id=idea.person_id,
            title="Vibration sensors",
            description="Low-cost vibration sensors with a maintenance-prediction service.",
            lang="en",
        )
        session.add_all([challenge, profile])
        await session.flush()
        queue_triage_card(session, challenge)
        queue_triage_card(session, profile)
    cards = [r.chat_id for r in await outbox(sessions) if r.kind == "card"]
    assert cards == [f"moderation|card:{ref}" for ref in (idea.ref, challenge.ref, profile.ref)]
    async with sessions() as session:
        card = await render_card(session, ItemKind.CHALLENGE, challenge.id, "sv")
    assert card is not None
    assert card.text.startswith(f"*Utmaning {challenge.ref}* · _väntar_")
    assert "health ✓ 0.90, digital 0.50" in card.text

    await act_on(sessions, command(f"!approve {challenge.ref}"), DESK, power(50))
    await act_on(sessions, command(f"!reject {profile.ref} Please add prices"), DESK, power(50))
    async with sessions() as session:
        assert (await session.get(Challenge, challenge.id)).status == Status.APPROVED.value  # type: ignore[union-attr]
        assert (await session.get(SolutionProfile, profile.id)).status == Status.REJECTED.value  # type: ignore[union-attr]
    await act_on(sessions, command(f"!merge {profile.ref} {idea.ref}"), DESK, power(50))
    texts = [decode_reply(r.payload).text for r in await outbox(sessions) if r.kind == "reply"]
    assert "different kinds" in texts[-1]
