"""Solution and infrastructure profiles: the flows in three languages, edits, bad input, search."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from storage.models import (
    InfrastructureProfile,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    SolutionProfile,
    Status,
)
from tests.brokerage.helpers import (
    VISION_EN,
    approve_latest,
    lab,
    latest,
    person,
    profile,
)
from tests.handlers.chat import ChatFactory, count

JOURNEYS = {
    "en": (
        "VisionLine Ltd",
        "Machine vision for surface defects",
        "We build camera-based inspection cells that find surface flaws on metal and plastic "
        "parts in real time, with deep learning trained on a few hundred images.",
        "Lombardy, Italy",
    ),
    "it": (
        "VisionLine S.r.l.",
        "Visione artificiale per i difetti superficiali",
        "Progettiamo sistemi di visione artificiale con telecamere per il controllo in linea "
        "dei difetti superficiali, graffi e ammaccature, sui pezzi in metallo e plastica.",
        "Lombardia, Italia",
    ),
    "sv": (
        "Visionslinjen AB",
        "Maskinseende för ytdefekter",
        "Vi bygger kamerabaserade inspektionsceller som hittar repor och bucklor på "
        "metalldetaljer i realtid och sorterar bort felaktiga delar automatiskt.",
        "Västerbotten, Sverige",
    ),
}


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_solution_profile_from_start_to_moderation(
    lang: str, chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    organisation, title, description, location = JOURNEYS[lang]
    ada = await person(chat(), lang)
    await ada.send("/profile")
    assert ada.said(lang, "profiles.profile_ask_organisation")
    await ada.send(organisation)
    assert ada.said(lang, "profiles.profile_ask_title", max=120)
    await ada.send(title)
    await ada.send(description)
    # The analyser's topics come first and are named; several may be picked.
    suggested = KeywordAnalyzer().analyze(description).topics[:3]
    names = ", ".join(t(lang, f"topics.{name}") for name, _score in suggested)
    assert t(lang, "profiles.form_topics_suggested", topics=names) in ada.text
    assert next(b.label for b in ada.buttons) == t(lang, f"topics.{suggested[0][0]}")
    await ada.press(value="manufacturing")
    await ada.press(value="digital")
    assert f"✓ {t(lang, 'topics.manufacturing')}" in [b.label for b in ada.buttons]
    await ada.press(value="done")
    assert ada.said(lang, "profiles.profile_ask_trl")
    await ada.send("6")  # typed, as on platforms without buttons
    await ada.send(location)
    await ada.press(value="it")
    await ada.press(value="en")
    await ada.press(value="done")
    await ada.send("sales@visionline.example")
    await ada.press(value="yes")
    assert t(lang, "profiles.profile_summary_head") in ada.text
    assert organisation in ada.plain
    assert "sales@visionline.example" in ada.plain
    await ada.press(value="confirm")

    item = await latest(sessions, SolutionProfile)
    assert ada.said(lang, "profiles.submitted", ref=item.ref)
    assert (item.title, item.status, item.lang) == (title, Status.PENDING.value, lang)
    assert item.topics == ["manufacturing", "digital"]
    assert (item.trl, item.country, item.languages) == (6, location.split(", ")[1], ["it", "en"])
    assert item.contact == "sales@visionline.example"
    assert item.share_contact
    assert item.show_name
    assert (await latest(sessions, Organisation)).name == organisation
    # The moderators get its triage card; nobody else sees it yet.
    assert await count(sessions, OutboxMessage, OutboxMessage.dedupe_key == f"card:{item.ref}") == 1


async def test_an_infrastructure_profile(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat(), "en", "infrastructure")
    await ada.send("/lab")
    await ada.send("Umeå Pilot Plant")
    await ada.send("Biorefinery pilot plant")
    await ada.send("Companies can refine forest residues into chemicals and fuels at pilot scale.")
    await ada.send("Pretreatment reactors, fermenters of 10 m3, distillation")
    await ada.press(value="done")
    await ada.press(value="negotiable")
    await ada.send("2-4 weeks")
    await ada.send("Örnsköldsvik, Sweden")
    await ada.press(value="skip")
    await ada.press(value="no")
    await ada.press(value="confirm")
    item = await latest(sessions, InfrastructureProfile)
    assert ada.said("en", "profiles.submitted", ref=item.ref)
    assert item.services == item.description
    assert (item.equipment, item.price_model, item.lead_time, item.location) == (
        "Pretreatment reactors, fermenters of 10 m3, distillation",
        "negotiable",
        "2-4 weeks",
        "Örnsköldsvik, Sweden",
    )
    assert (item.contact, item.share_contact, item.show_name) == (None, False, False)


async def test_edit_from_the_summary_and_cancel(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat())
    await ada.send("/profile")
    for answer in VISION_EN:
        await ada.send(answer)
    await ada.press(value="done")
    await ada.press(value="skip")
    await ada.send("Italy")
    await ada.press(value="en")
    await ada.press(value="done")
    await ada.press(value="skip")
    await ada.press(value="yes")
    await ada.press(value="edit")
    await ada.press(value="title")
    await ada.send("Cameras that spot defects")
    assert "Cameras that spot defects" in ada.plain
    await ada.press(value="edit")
    await ada.press(value="languages")
    assert "✓ " + t("en", "profiles.spoken_en") in [b.label for b in ada.buttons]
    await ada.press(value="sv")
    await ada.press(value="done")
    assert "English, Swedish" in ada.plain
    await ada.press(value="cancel")
    assert ada.said("en", "profiles.form_cancelled")
    assert await count(sessions, SolutionProfile) == 0


async def test_bad_answers_are_refused_politely(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat())
    await ada.send("/profile")
    await ada.send("x" * 201)
    assert ada.said("en", "profiles.form_too_long", max=200, length=201)
    await ada.send("VisionLine")
    await ada.send("Vision")
    await ada.send("Too short.")
    assert ada.said("en", "profiles.form_too_short", min=40)
    # A profile in a language innobot does not speak.
    await ada.send(
        "Wir entwickeln kamerabasierte Prüfsysteme, die Kratzer und Dellen auf Blechteilen "
        "in Echtzeit erkennen und fehlerhafte Teile automatisch aussortieren."
    )
    assert ada.said("en", "profiles.form_unknown_language")
    await ada.send(VISION_EN[2])
    for topic in ("manufacturing", "digital", "materials"):
        await ada.press(value=topic)
    await ada.press(value="energy")
    assert ada.said("en", "profiles.form_too_many", max=3)
    await ada.send("I'd rather not")  # neither a button nor a label at a button step
    assert ada.said("en", "flow.use_buttons")
    await ada.press(value="done")
    await ada.send("12")  # not a readiness level
    assert ada.said("en", "flow.use_buttons")
    await ada.press(value="skip")
    await ada.send("Italy")
    await ada.press(value="done")  # no language picked
    assert ada.said("en", "profiles.form_pick_one")
    await ada.send("/idea")
    assert ada.said("en", "flow.finish_first")
    await ada.send("/cancel")
    assert await count(sessions, SolutionProfile) == 0


async def test_a_spammer_cannot_flood_the_moderators(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    spammer = await person(chat())
    await profile(spammer)
    first = await latest(sessions, SolutionProfile)
    # The same profile again, a word changed: refused, pointing to /edit.
    await profile(spammer, description=VISION_EN[2].replace("real time", "realtime"))
    assert spammer.said("en", "profiles.duplicate", ref=first.ref)
    # Different texts, but only so many may wait for the moderators at once.
    others = [
        ("Welding robots", "Collaborative robots that weld steel frames in small batches."),
        ("Payroll software", "Cloud accounting and payroll for craftsmen and small firms."),
        ("Cargo bikes", "Last-mile deliveries in old town centres with electric cargo bikes."),
    ]
    for title, description in others:
        await profile(spammer, title=title, description=description)
    assert spammer.said("en", "profiles.too_many_pending", max=3)
    assert await count(sessions, SolutionProfile) == 3


async def test_near_duplicates_from_different_accounts_are_flagged_on_the_card(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    from handlers.moderation import render_card
    from storage.models import ItemKind

    await profile(await person(chat(user_id="1")))
    await profile(await person(chat(user_id="2")))
    second = await latest(sessions, SolutionProfile)
    async with sessions() as session:
        card = await render_card(session, ItemKind.SOLUTION, second.id, "en")
    assert card is not None
    assert "Similar: S-1" in card.text


async def test_owners_edit_and_close_their_profiles(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat())
    await profile(ada)
    ref = await approve_latest(sessions, SolutionProfile)
    await ada.send(f"/edit {ref}")
    assert ada.said("en", "challenges.edit_intro", ref=ref)
    assert t("en", "profiles.profile_summary_head") in ada.text  # straight to the summary
    await ada.press(value="edit")
    await ada.press(value="description")
    await ada.send(VISION_EN[2] + " Also for glass and wood.")
    await ada.press(value="confirm")
    assert ada.said("en", "profiles.resubmitted", ref=ref)
    # The moderators hear of it in the card's thread.
    assert ada.outcome is not None
    [notice] = ada.outcome.notifications
    assert notice.to is not None
    assert notice.to.chat_id == f"moderation|thread:{ref}"
    assert f"{ref} «" in notice.text
    assert f"!show {ref}" in notice.text
    item = await latest(sessions, SolutionProfile)
    assert item.status == Status.PENDING.value
    assert item.description.endswith("glass and wood.")
    async with sessions() as session:
        actions = (await session.scalars(select(ModerationDecision.action))).all()
    assert actions == ["approve", "edit"]

    await ada.send(f"/close {ref}")
    await ada.press(value="yes")
    assert ada.said("en", "challenges.closed", ref=ref)
    assert (await latest(sessions, SolutionProfile)).status == Status.CLOSED.value
    await ada.send(f"/edit {ref}")
    assert ada.said("en", "challenges.not_editable", ref=ref, status=t("en", "status.closed"))


async def test_partners_and_labs_search_approved_profiles_across_languages(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada = await person(chat(user_id="1"))
    await profile(ada)
    await approve_latest(sessions, SolutionProfile)
    await profile(
        await person(chat(user_id="2")),
        "Hidden Co",
        "Welding robots for small batches",
        "Collaborative robots for arc welding of steel frames, programmed by hand "
        "guiding the torch.",
        show_name=False,
    )
    await approve_latest(sessions, SolutionProfile)
    await profile(
        await person(chat(user_id="3")),
        "Pending Vision",
        "Cameras for defects",
        "Camera inspection of scratches and surface defects on metal parts.",
    )
    await lab(
        await person(chat(user_id="4")),
        "Polo Compositi",
        "Linea pilota per compositi",
        "Taglio di preimpregnati, autoclave e riciclo delle fibre di carbonio per le PMI.",
    )
    await approve_latest(sessions, InfrastructureProfile)

    bea = await person(chat(user_id="5"), "it")
    await bea.send("/partners graffi sui pezzi in metallo")
    assert "S-1" in bea.plain
    assert "VisionLine" in bea.plain
    assert "S-3" not in bea.plain
    assert "Pending Vision" not in bea.plain
    assert "sales@visionline.example" not in bea.plain  # contacts only at an introduction
    await bea.send("/partners robot saldatura")
    assert "S-2" in bea.plain
    assert "Hidden Co" not in bea.plain
    await bea.send("/labs carbon fibre recycling")
    assert "L-1" in bea.plain
    assert "Polo Compositi" in bea.plain
    await bea.send("/partners")
    assert bea.said("it", "profiles.partners_usage")
    await bea.send("/partners zzzz qqqq")
    assert bea.said("it", "profiles.partners_none", words="zzzz qqqq")
    await bea.send("/labs " + "long " * 60)
    assert bea.said("it", "profiles.query_too_long", max=200)
