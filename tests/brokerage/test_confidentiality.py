"""Confidentiality, end to end: who may read a restricted challenge, who may learn an anonymous
owner's name, and what guessing ids or searching reveals (nothing it should not)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import t
from storage.models import Challenge, Idea, InfrastructureProfile, SolutionProfile
from tests.brokerage.helpers import (
    approve_latest,
    challenge,
    lab,
    latest,
    messages_to,
    moderate,
    person,
    profile,
)
from tests.handlers.chat import Chat, ChatFactory

SECRET = "cryogenic deburring"  # only in the restricted challenge's description
OWNER = "Nordic Steel Forming AB"
OWNER_CONTACT = "cto@nordicsteel.example"
RESTRICTED = (
    OWNER,
    "Scratch-free stamped parts",
    f"Our press line stamps steel brackets; we tried {SECRET} and it failed. We need automatic "
    "detection of scratches and dents on every part before packing, at line speed.",
)
ANONYMOUS = (
    OWNER,
    "Heat for our warehouses",
    "We want to heat two large warehouses without oil, using waste heat or heat pumps.",
)


async def _restricted_world(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> tuple[Chat, str]:
    owner = await person(chat(user_id="10", display_name="Olof Owner"), "en", "challenge_owner")
    await challenge(owner, *RESTRICTED, level="restricted", contact=OWNER_CONTACT)
    return owner, await approve_latest(sessions, Challenge)


async def test_a_restricted_description_is_read_only_by_approved_solution_profiles(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner, ref = await _restricted_world(chat, sessions)
    outsider = await person(chat(user_id="20"))
    waiting = await person(chat(user_id="21"))
    await profile(waiting)  # not approved yet
    labman = await person(chat(user_id="22"), "en", "infrastructure")
    await lab(
        labman,
        "Metal Lab",
        "Surface inspection lab",
        "Optical inspection of scratches "
        "and dents on stamped steel parts for SMEs, with cameras and profilometers.",
    )
    await approve_latest(sessions, InfrastructureProfile)
    member = await person(chat(user_id="23"))
    await profile(
        member,
        "Welders Ltd",
        "Robot welding cells",
        "Collaborative robots that weld steel frames and brackets in small batches.",
    )
    await approve_latest(sessions, SolutionProfile)

    for reader, may_read in (
        (outsider, False),
        (waiting, False),
        (labman, False),
        (member, True),
        (owner, True),
    ):
        await reader.send(f"/show {ref}")
        assert RESTRICTED[1] in reader.plain  # the title is public
        assert (SECRET in reader.plain) is may_read, reader.user_id
        assert (t("en", "challenges.show_restricted") in reader.text) is not may_read
        assert OWNER_CONTACT not in reader.plain
    # Nobody but the owner learns who the owner is.
    for reader in (outsider, member):
        await reader.send(f"/show {ref}")
        assert OWNER not in reader.plain
    await owner.send(f"/show {ref}")
    assert OWNER in owner.plain


async def test_searching_cannot_reveal_a_restricted_description(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    _owner, ref = await _restricted_world(chat, sessions)
    outsider = await person(chat(user_id="20"))
    await outsider.send(f"/challenges {SECRET}")
    assert outsider.said("en", "challenges.browse_none_for", words=SECRET)
    await outsider.send("/challenges scratch free stamped")  # its title is public: found
    assert outsider.buttons[0].label == ref
    await outsider.press(value="done")
    member = await person(chat(user_id="23"))
    await profile(member)
    await approve_latest(sessions, SolutionProfile)
    await member.send(f"/challenges {SECRET}")
    assert member.buttons[0].label == ref


async def test_a_suggestion_keeps_the_restricted_description_from_labs(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    labman = await person(chat(user_id="22"), "en", "infrastructure")
    await lab(
        labman,
        "Metal Lab",
        "Scratch and dent inspection lab",
        "Optical inspection of "
        "scratches and dents on stamped steel parts, with cameras and profilometers.",
    )
    await approve_latest(sessions, InfrastructureProfile)
    sme = await person(chat(user_id="23"))
    await profile(sme)
    await approve_latest(sessions, SolutionProfile)
    _owner, ref = await _restricted_world(chat, sessions)
    [to_lab] = await messages_to(sessions, labman)
    [to_sme] = await messages_to(sessions, sme)
    assert ref in to_lab.text
    assert ref in to_sme.text
    assert SECRET not in to_lab.text
    assert t("en", "matches.text_restricted").replace("🔒 ", "") in to_lab.text
    assert SECRET in to_sme.text
    for message in (to_lab, to_sme):
        assert OWNER not in message.text
        assert OWNER_CONTACT not in message.text


async def test_an_anonymous_owner_stays_hidden_everywhere(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await person(chat(user_id="10"), "en", "challenge_owner")
    await challenge(owner, *ANONYMOUS, level="anonymous", contact=OWNER_CONTACT)
    ref = await approve_latest(sessions, Challenge)
    # Another company's profile that mentions the same words, to tempt the search.
    other = await person(chat(user_id="11"))
    await profile(
        other,
        "Heatwise",
        "Heat pumps for warehouses",
        "We design heat pumps and waste heat recovery for warehouses and factories.",
    )
    await approve_latest(sessions, SolutionProfile)
    snoop = await person(chat(user_id="12"))
    for command in (
        f"/show {ref}",
        "/challenges",
        "/challenges warehouses heat",
        f"/partners {OWNER}",
        "/partners Nordic Steel Forming warehouses",
        f"/labs {OWNER}",
    ):
        await snoop.send(command)
        # What the snoop typed is echoed back; nothing else may name the owner.
        answer = snoop.plain.replace(command.split(" ", 1)[-1], "")
        assert OWNER not in answer, command
        assert OWNER_CONTACT not in answer, command
        if any(b.payload.endswith(":done") for b in snoop.buttons):
            await snoop.press(value="done")


async def test_guessing_ids_reveals_nothing(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await person(chat(user_id="10"), "en", "challenge_owner")
    await challenge(owner, *ANONYMOUS, level="public")  # pending: not approved
    sme = await person(chat(user_id="11"))
    await profile(sme)  # pending
    await profile(
        sme,
        "Other Co",
        "Payroll services",
        "Payroll and accounting services for craftsmen and small firms.",
    )
    rejected = await latest(sessions, SolutionProfile)
    await moderate(sessions, f"!reject {rejected.ref} not an innovation offer")
    citizen = await person(chat(user_id="12"), "en", "citizen")
    await citizen.send("/idea")
    await citizen.send("Library repair café")
    await citizen.send("Volunteers repair appliances in the library once a month.")
    await citizen.press(value="other")
    await citizen.press(value="yes")
    await citizen.press(value="confirm")
    idea = await latest(sessions, Idea)

    snoop = await person(chat(user_id="13"))
    answers = {}
    for ref in ("C-1", "S-1", rejected.ref, idea.ref, "C-999", "S-999", "L-1", "I-999"):
        await snoop.send(f"/show {ref}")
        answers[ref] = snoop.text
        assert snoop.said("en", "challenges.not_found", ref=ref), ref
    # The same words whether the item exists or not.
    assert answers["C-1"].replace("C-1", "") == answers["C-999"].replace("C-999", "")
    for command in ("/edit C-1", "/close S-1", "/edit S-999", "/close I-1"):
        await snoop.send(command)
        token = command.split()[1]
        assert snoop.said("en", "challenges.not_yours", ref=token), command
    # Their owners still see their own items.
    await sme.send("/show S-1")
    assert "VisionLine" in sme.plain
    assert t("en", "status.pending") in sme.plain


async def test_a_forged_browse_button_shows_nothing_hidden(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = await person(chat(user_id="10"), "en", "challenge_owner")
    await challenge(owner, *ANONYMOUS, level="public")
    await approve_latest(sessions, Challenge)
    await challenge(owner, *RESTRICTED, level="public")  # pending
    snoop = await person(chat(user_id="13"))
    await snoop.send("/challenges")
    button = snoop.button(value="show:1")
    forged = button.payload.replace("show:1", "show:2")
    await snoop.send_payload(forged)
    # Only the ids the page offered are answered; anything else is just not an option.
    assert snoop.said("en", "flow.use_buttons")
    assert SECRET not in snoop.plain
    assert RESTRICTED[1] not in snoop.plain
