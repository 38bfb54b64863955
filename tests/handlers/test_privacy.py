"""/privacy, /mydata and /forget: a person's data, shown, exported and erased."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import t
from storage.models import (
    Challenge,
    ConversationState,
    Idea,
    Identity,
    InfrastructureProfile,
    Match,
    OutboxMessage,
    Person,
    SolutionProfile,
    Status,
    Subscription,
)
from tests.handlers.chat import Chat, ChatFactory, count, onboard


async def submit_idea(ada: Chat, title: str) -> None:
    await ada.send("/idea")
    await ada.send(title)
    await ada.send("A description that is long enough for the moderators.")
    await ada.press(value="other")
    await ada.press(value="yes")
    await ada.press(value="confirm")


async def give_everything(sessions: async_sessionmaker[AsyncSession], person_id: int) -> None:
    """Rows of every kind that belong to ``person_id``, as other features would create them."""
    async with sessions() as session, session.begin():
        profile = SolutionProfile(
            person_id=person_id, title="Sensors", description="d" * 30, share_contact=True,
            show_name=True, status=Status.APPROVED.value,
        )  # fmt: skip
        lab = InfrastructureProfile(person_id=person_id, title="Pilot plant", description="d" * 30)
        challenge = Challenge(person_id=person_id, title="Cold chain", description="d" * 30)
        settled = Challenge(
            person_id=person_id, title="Old", description="d" * 30, status=Status.REJECTED.value
        )
        session.add_all([profile, lab, challenge, settled])
        await session.flush()
        session.add(Match(challenge_id=challenge.id, item_kind="solution", item_id=1, score=0.5))
        session.add(Subscription(person_id=person_id, topics=["energy"], keywords=["solar"]))
        session.add(
            OutboxMessage(
                platform="telegram", chat_id="1001", person_id=person_id,
                payload={"text": "An alert"}, kind="alert",
            )
        )  # fmt: skip


async def test_privacy_info_before_and_after_consent(chat: ChatFactory) -> None:
    ada = chat(language_hint="it")
    await ada.send("/privacy")
    assert ada.said("it", "privacy.info")
    assert [b.payload for b in ada.buttons] == ["c:start"]
    await onboard(ada, "it")
    await ada.press(t("it", "menu.privacy"))
    assert ada.said("it", "privacy.info")
    assert [b.payload for b in ada.buttons] == ["c:mydata", "c:forget"]


async def test_mydata_exports_everything_about_the_person(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat(display_name="Ada Lovelace")
    await onboard(ada, "sv")
    await submit_idea(ada, "Cykelbibliotek")
    assert ada.outcome is not None
    assert ada.outcome.person_id is not None
    await give_everything(sessions, ada.outcome.person_id)

    await ada.press(value="privacy")
    await ada.press(value="mydata")
    assert ada.said("sv", "privacy.export_ready")
    document = ada.replies[0].document
    assert document is not None
    assert document.mime_type == "application/json"
    assert document.filename.endswith(".json")
    export: dict[str, Any] = json.loads(document.content)

    assert export["person"]["display_name"] == "Ada Lovelace"
    assert export["person"]["language"] == "sv"
    assert [i["external_id"] for i in export["identities"]] == ["1001"]
    assert [i["title"] for i in export["ideas"]] == ["Cykelbibliotek"]
    assert [p["title"] for p in export["solution_profiles"]] == ["Sensors"]
    assert [p["title"] for p in export["infrastructure_profiles"]] == ["Pilot plant"]
    assert sorted(c["title"] for c in export["challenges"]) == ["Cold chain", "Old"]
    assert len(export["matches"]) == 1
    assert export["subscriptions"][0]["keywords"] == ["solar"]
    assert [m["kind"] for m in export["outbox_messages"]] == ["alert"]
    assert [s["user_id"] for s in export["conversation_states"]] == ["1001"]
    assert export["organisation"] is None


async def test_forget_asks_first_and_keeps_everything_on_no(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("/forget")
    assert ada.said("en", "privacy.forget_confirm")
    await ada.press(t("en", "privacy.forget_no"))
    assert ada.said("en", "privacy.forget_kept")
    assert await count(sessions, Person) == 1


async def test_forget_leaves_no_personal_row(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat(user_id="1001", language_hint="en")
    await onboard(ada, "it")
    await submit_idea(ada, "Orti condivisi")
    await submit_idea(ada, "Biblioteca degli attrezzi")
    assert ada.outcome is not None
    person_id = ada.outcome.person_id
    assert person_id is not None
    await give_everything(sessions, person_id)
    # Someone else's rows must survive.
    bob = chat(user_id="2002")
    await onboard(bob)
    await submit_idea(bob, "Bob's idea")

    await ada.send("/forget")
    await ada.press(t("it", "privacy.forget_yes"))
    assert ada.said("it", "privacy.forgotten")
    assert ada.outcome is not None
    assert ada.outcome.person_id is None  # the reply is not linked to the erased person

    assert await count(sessions, Person, Person.id == person_id) == 0
    assert await count(sessions, Identity, Identity.external_id == "1001") == 0
    assert await count(sessions, Identity, Identity.person_id == person_id) == 0
    assert await count(sessions, ConversationState, ConversationState.user_id == "1001") == 0
    assert await count(sessions, OutboxMessage, OutboxMessage.person_id == person_id) == 0
    assert await count(sessions, Subscription, Subscription.person_id == person_id) == 0
    for model in (Idea, SolutionProfile, InfrastructureProfile, Challenge):
        assert await count(sessions, model, model.person_id == person_id) == 0

    async with sessions() as session:
        ideas = (await session.scalars(select(Idea).order_by(Idea.id))).all()
        profile = (await session.scalars(select(SolutionProfile))).one()
        lab = (await session.scalars(select(InfrastructureProfile))).one()
        challenges = (await session.scalars(select(Challenge).order_by(Challenge.id))).all()
    # Ideas keep their text, anonymous; Bob's is untouched.
    assert [(i.title, i.person_id, i.show_name) for i in ideas[:2]] == [
        ("Orti condivisi", None, False),
        ("Biblioteca degli attrezzi", None, False),
    ]
    assert ideas[2].title == "Bob's idea"
    assert ideas[2].person_id is not None
    # Profiles and challenges are withdrawn and anonymous; a settled one keeps its status.
    assert (profile.person_id, profile.share_contact, profile.show_name) == (None, False, False)
    assert profile.status == Status.CLOSED.value
    assert lab.status == Status.CLOSED.value
    assert [(c.person_id, c.status) for c in challenges] == [
        (None, Status.CLOSED.value),
        (None, Status.REJECTED.value),
    ]
    assert await count(sessions, Person) == 1
    assert await count(sessions, Identity, Identity.external_id == "2002") == 1


async def test_after_forget_the_person_is_a_stranger_again(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = chat()
    await onboard(ada)
    await ada.send("/forget")
    await ada.press(value="yes")
    await ada.send("/my")
    assert ada.said("en", "errors.needs_consent")
    assert await count(sessions, ConversationState) == 0
    await onboard(ada, "sv")
    assert await count(sessions, Person) == 1
