"""Suggestions on approval, interest, double opt-in introductions, outcomes, similar ideas."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import t
from storage.models import (
    Challenge,
    Endorsement,
    Idea,
    Match,
    MatchState,
    ModerationDecision,
    SolutionProfile,
    Status,
)
from tests.brokerage.helpers import (
    STAMPING_IT,
    approve_latest,
    challenge,
    latest,
    messages_to,
    moderate,
    person,
    profile,
    room_messages,
)
from tests.handlers.chat import Chat, ChatFactory, count


async def _match(sessions: async_sessionmaker[AsyncSession]) -> Match:
    async with sessions() as session:
        return (await session.scalars(select(Match).order_by(Match.id))).one()


async def _world(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession], level: str
) -> tuple[Chat, Chat, Chat]:
    """An SME whose profile fits an Italian challenge, one whose does not, and the owner."""
    ada = await person(chat(user_id="1", display_name="Ada Vision"), "en")
    await profile(ada)
    await approve_latest(sessions, SolutionProfile)
    carl = await person(chat(user_id="2", display_name="Carl Payroll"), "sv")
    await profile(
        carl,
        "Lönebyrån",
        "Lönehantering för småföretag",
        "Vi sköter löner, bokföring och deklarationer åt hantverkare och små företag.",
        location="Västerbotten, Sverige",
    )
    await approve_latest(sessions, SolutionProfile)
    owner = await person(chat(user_id="3", display_name="Olga Owner"), "it", "challenge_owner")
    await challenge(owner, level=level)
    return ada, carl, owner


@pytest.mark.parametrize("level", ["public", "anonymous"])
async def test_from_approval_to_a_double_opt_in_introduction(
    level: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, carl, owner = await _world(chat, sessions, level)
    assert await messages_to(sessions, ada) == []  # nothing before the challenge is approved
    ref = await approve_latest(sessions, Challenge)

    # The Italian challenge found the English profile that does the thing, and says why.
    [suggestion] = await messages_to(sessions, ada)
    assert f"{ref} {STAMPING_IT[1]}" in suggestion.text
    assert "surface defects" in suggestion.text  # the shared concept, in Ada's language
    assert "c:matches" in suggestion.buttons
    assert (STAMPING_IT[0] in suggestion.text) is (level == "public")
    assert "innovazione@acciaierie.example" not in suggestion.text
    assert await messages_to(sessions, carl) == []  # payroll does not match stamping
    [told] = await messages_to(sessions, owner)
    assert told.text == t("it", "matches.owner_suggested", ref=ref, count=1)
    match = await _match(sessions)
    assert (match.state, match.item_kind, match.notified_at is not None) == (
        "suggested",
        "solution",
        True,
    )

    # Ada is interested: the owner hears of it, without learning who Ada is.
    await ada.send("/matches")
    assert (
        t(
            "en",
            "matches.ask_suggestion",
            ref=ref,
            title=STAMPING_IT[1],
            profile="S-1",
            why="x",
            text="y",
            left=1,
        ).split("\n")[1][:20]
        in ada.text
    )
    await ada.press(value="interested")
    assert ada.said("en", "matches.interest_noted", ref=ref)
    assert ada.said("en", "matches.all_done")
    interest = (await messages_to(sessions, owner))[-1]
    assert interest.text.startswith("🙋")
    for secret in ("VisionLine", "Ada", "sales@visionline.example"):
        assert secret not in interest.text

    # The owner reviews: a pseudonym for an anonymous challenge, the profile for a public one.
    await owner.send("/matches")
    assert ("VisionLine" in owner.plain) is (level == "public")
    assert "Ada" not in owner.plain
    assert "sales@visionline.example" not in owner.plain
    if level == "anonymous":
        assert "S-1" not in owner.plain
    await owner.press(value="ask_intro")
    assert owner.said("it", "matches.intro_requested", ref=ref)
    request = (await messages_to(sessions, ada))[-1]
    assert "Olga" not in request.text
    assert "innovazione@acciaierie.example" not in request.text

    # Only when Ada accepts do both learn who the other is, and how to reach them.
    await ada.send("/matches")
    await ada.press(value="accept")
    assert ada.said("en", "matches.introduced_noted", ref=ref)
    to_ada = (await messages_to(sessions, ada))[-1].text
    to_owner = (await messages_to(sessions, owner))[-1].text
    assert "Olga Owner" in to_ada
    assert "innovazione@acciaierie.example" in to_ada
    assert "Ada Vision" in to_owner
    assert "VisionLine" in to_owner
    assert "sales@visionline.example" in to_owner
    match = await _match(sessions)
    assert match.state == MatchState.INTRODUCED.value
    assert match.owner_intro_at is not None
    assert match.introduced_at is not None
    assert any("M-1" in text and ref in text for text in await room_messages(sessions))

    # Moderators record the outcome.
    await moderate(sessions, "!outcome M-1 contract signed in March")
    assert (await _match(sessions)).state == MatchState.CONTRACT.value
    async with sessions() as session:
        decision = (
            await session.scalars(
                select(ModerationDecision).where(ModerationDecision.action == "outcome")
            )
        ).one()
    assert (decision.item_kind, decision.new_status, decision.reason) == (
        "match",
        "contract",
        "signed in March",
    )


async def test_nothing_is_suggested_twice_and_nobody_to_themselves(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, _carl, owner = await _world(chat, sessions, "public")
    # The owner's own profile, which fits their own challenge, is never suggested to them.
    await profile(
        owner,
        "Acciaierie Lombarde",
        "Controllo qualità interno",
        "Il nostro reparto qualità controlla graffi e difetti superficiali sui pezzi "
        "in acciaio con telecamere.",
    )
    await approve_latest(sessions, SolutionProfile)
    ref = await approve_latest(sessions, Challenge)
    assert await count(sessions, Match) == 1
    # The owner edits the challenge: it goes back to moderation and is approved again.
    await owner.send(f"/edit {ref}")
    await owner.press(value="confirm")
    assert (await latest(sessions, Challenge)).status == Status.PENDING.value
    await moderate(sessions, f"!approve {ref}")
    assert len(await messages_to(sessions, ada)) == 1
    assert await count(sessions, Match) == 1


async def test_a_new_profile_hears_of_open_challenges(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await person(chat(user_id="3"), "it", "challenge_owner")
    await challenge(owner)
    ref = await approve_latest(sessions, Challenge)
    dora = await person(chat(user_id="4"), "sv")
    await profile(
        dora,
        "Synsystem AB",
        "Maskinseende för kvalitetskontroll",
        "Kamerabaserade system som hittar repor, bucklor och andra ytdefekter på "
        "metalldetaljer direkt i produktionslinjen.",
        location="Sverige",
    )
    await approve_latest(sessions, SolutionProfile)
    [suggestion] = await messages_to(sessions, dora)
    assert ref in suggestion.text
    assert "ytdefekter" in suggestion.text  # the shared concept, named in Swedish


async def test_not_for_us_and_later(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, _carl, owner = await _world(chat, sessions, "public")
    await approve_latest(sessions, Challenge)
    await ada.send("/matches")
    await ada.press(value="later")
    assert ada.said("en", "matches.all_done")
    assert (await _match(sessions)).state == MatchState.SUGGESTED.value
    await ada.send("/matches")
    await ada.press(value="not_for_us")
    assert (await _match(sessions)).state == MatchState.DECLINED.value
    await owner.send("/matches")
    assert owner.said("it", "matches.nothing")


async def test_the_owner_declines_and_the_solver_refuses(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, _carl, owner = await _world(chat, sessions, "anonymous")
    ref = await approve_latest(sessions, Challenge)
    await ada.send("/matches")
    await ada.press(value="interested")
    await owner.send("/matches")
    await owner.press(value="not_for_us")
    told = (await messages_to(sessions, ada))[-1]
    assert told.text == t("en", "matches.owner_declined", ref=ref, title=STAMPING_IT[1])
    assert (await _match(sessions)).state == MatchState.DECLINED.value
    # A stale button from before changes nothing.
    await ada.send("/matches")
    assert ada.said("en", "matches.nothing")


async def test_the_solver_can_refuse_an_introduction(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, _carl, owner = await _world(chat, sessions, "anonymous")
    ref = await approve_latest(sessions, Challenge)
    await ada.send("/matches")
    await ada.press(value="interested")
    await owner.send("/matches")
    await owner.press(value="ask_intro")
    await ada.send("/matches")
    await ada.press(value="refuse")
    assert ada.said("en", "matches.intro_refusal_noted")
    refused = (await messages_to(sessions, owner))[-1].text
    assert refused == t("it", "matches.intro_refused", ref=ref)
    assert all("Olga" not in m.text for m in await messages_to(sessions, ada))
    assert all("VisionLine" not in m.text for m in await messages_to(sessions, owner))
    assert (await _match(sessions)).introduced_at is None


async def test_moderators_outcome_command_refuses_bad_input(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    await _world(chat, sessions, "public")
    await approve_latest(sessions, Challenge)
    [answer] = await moderate(sessions, "!outcome M-1 contract")
    assert answer.reply.text == t("en", "matches.mod_not_introduced", ref="M-1")
    [answer] = await moderate(sessions, "!outcome M-1 maybe")
    assert answer.reply.text.startswith("Usage: !outcome")
    [answer] = await moderate(sessions, "!outcome M-404 declined")
    assert answer.reply.text == t("en", "matches.mod_unknown", ref="M-404")
    [answer] = await moderate(sessions, "!outcome M-1 no-follow-up")
    assert (await _match(sessions)).state == MatchState.NO_FOLLOW_UP.value


IDEA = (
    "Shared bikes at bus stops",
    "Electric bikes to borrow at the rural bus stops, so that people can ride the last "
    "kilometres home from the bus.",
)


async def _idea(chat: Chat, title: str, description: str) -> None:
    await chat.send("/idea")
    await chat.send(title)
    await chat.send(description)
    await chat.press(value="other")
    await chat.press(value="yes")
    await chat.press(value="confirm")


async def test_a_citizen_supports_a_similar_idea_instead(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await person(chat(user_id="1"), "en", "citizen")
    await _idea(first, *IDEA)
    await approve_latest(sessions, Idea)
    bea = await person(chat(user_id="2"), "sv", "citizen")
    await _idea(
        bea,
        "Lånecyklar vid busshållplatser",
        "Ställ ut elcyklar att låna vid busshållplatserna på landsbygden så att man kan "
        "ta sig sista biten hem.",
    )
    own = await latest(sessions, Idea)
    assert bea.said("sv", "idea.submitted", ref=own.ref)
    assert t("sv", "matches.similar_head") in bea.text
    await bea.press(value="1")  # support I-1 instead
    assert bea.said("sv", "matches.supported_instead", ref="I-1", own=own.ref, count=1)
    assert (await latest(sessions, Idea)).status == Status.CLOSED.value
    async with sessions() as session:
        endorsement = (await session.scalars(select(Endorsement))).one()
    assert endorsement.follow
    await bea.send("/supported")
    assert "I-1" in bea.plain
    await bea.send("/support I-1")
    assert bea.said("sv", "matches.already_supported", ref="I-1", count=1)
    await first.send("/support I-1")
    assert first.said("en", "matches.support_own", ref="I-1")
    await first.send("/support I-99")
    assert first.said("en", "challenges.not_found", ref="I-99")
    await first.send("/support S-1")
    assert first.said("en", "challenges.bad_ref", token="S-1")


async def test_a_citizen_keeps_their_own_idea(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    first = await person(chat(user_id="1"), "en", "citizen")
    await _idea(first, *IDEA)
    await approve_latest(sessions, Idea)
    bea = await person(chat(user_id="2"), "en", "citizen")
    await _idea(
        bea,
        "Bikes to borrow at bus stops",
        "Electric bikes at rural bus stops that people can borrow for the last kilometres.",
    )
    await bea.press(value="keep")
    assert bea.said("en", "matches.kept_own")
    assert (await latest(sessions, Idea)).status == Status.PENDING.value
    assert await count(sessions, Endorsement) == 0
    # Something unrelated gets no offer at all.
    await _idea(
        bea,
        "Repair café in the library",
        "Volunteers help residents repair broken appliances in the library every month.",
    )
    assert t("en", "matches.similar_head") not in bea.text


async def test_the_owner_sees_citizens_ideas_on_the_same_subject(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    citizen = await person(chat(user_id="5"), "en", "citizen")
    await _idea(
        citizen,
        "Cameras that find scratches",
        "Cameras on the press lines that find scratches and dents on steel parts automatically.",
    )
    await approve_latest(sessions, Idea)
    owner = await person(chat(user_id="3"), "it", "challenge_owner")
    await challenge(owner)
    ref = await approve_latest(sessions, Challenge)
    await owner.send(f"/show {ref}")
    assert "I-1 «Cameras that find scratches»" in owner.plain
    other = await person(chat(user_id="6"))
    await other.send(f"/show {ref}")
    assert "I-1" not in other.plain
    assert await messages_to(sessions, citizen) == []  # citizens are not sent suggestions
