"""/mydata and /forget cover what the brokerage stores: profiles, organisations, contacts,
matches and support given to ideas."""

from __future__ import annotations

import json

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Challenge, Endorsement, Idea, Match, SolutionProfile, Status
from tests.brokerage.helpers import approve_latest, challenge, latest, person, profile
from tests.handlers.chat import ChatFactory


async def test_mydata_and_forget_cover_the_brokerage(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat(user_id="1"))
    await profile(ada)
    await approve_latest(sessions, SolutionProfile)
    owner = await person(chat(user_id="2"), "it", "challenge_owner")
    await challenge(owner)
    await approve_latest(sessions, Challenge)
    citizen = await person(chat(user_id="3"), "en", "citizen")
    await citizen.send("/idea")
    await citizen.send("Cameras that find scratches")
    await citizen.send("Cameras on the press lines that find scratches on parts automatically.")
    await citizen.press(value="other")
    await citizen.press(value="yes")
    await citizen.press(value="confirm")
    await approve_latest(sessions, Idea)
    await ada.send("/support I-1")
    await ada.send("/matches")
    await ada.press(value="interested")

    await ada.send("/mydata")
    document = ada.replies[0].document
    assert document is not None
    export = json.loads(document.content)
    assert [p["contact"] for p in export["solution_profiles"]] == ["sales@visionline.example"]
    assert [e["idea_id"] for e in export["endorsements"]] == [1]
    assert [m["state"] for m in export["matches"]] == ["interested"]
    assert export["organisation"]["name"] == "VisionLine"

    await ada.send("/forget")
    await ada.press(value="yes")
    item = await latest(sessions, SolutionProfile)
    assert (item.person_id, item.contact, item.share_contact, item.status) == (
        None,
        None,
        False,
        Status.CLOSED.value,
    )
    async with sessions() as session:
        endorsement = (await session.scalars(select(Endorsement))).one()
        match = (await session.scalars(select(Match))).one()
    assert endorsement.person_id is None  # the support still counts, anonymously
    assert match.state == "interested"
    # The owner is not offered an introduction to someone who left.
    await owner.send("/matches")
    assert owner.said("it", "matches.nothing")
    async with sessions() as session:
        match = (await session.scalars(select(Match))).one()
    assert (match.state, match.outcome_by) == ("declined", "gone")


async def test_a_forgotten_owners_contact_goes_too(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await person(chat(user_id="2"), "it", "challenge_owner")
    await challenge(owner)
    await owner.send("/forget")
    await owner.press(value="yes")
    item = await latest(sessions, Challenge)
    assert (item.person_id, item.contact, item.status) == (None, None, Status.CLOSED.value)
