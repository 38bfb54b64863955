"""/subscribe, /alerts, /unsubscribe and /remind as a person uses them, bad input included."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.scheduler import AlertJobs
from handlers.alerts import render_followups
from handlers.context import COMMAND_PREFIX, Analysis
from handlers.features import ALL_FEATURES
from handlers.i18n import t
from handlers.router import Router
from storage import alerts as store
from storage.models import (
    ChallengeAlert,
    Frequency,
    Identity,
    Match,
    MatchState,
    OutboxMessage,
    Person,
    SolutionProfile,
    Subscription,
    SubscriptionSource,
)
from tests.alerts.helpers import add_challenge, utc
from tests.handlers.chat import Chat, ChatFactory, count, onboard


@dataclass(frozen=True)
class Heard:
    """An analyzer that hears one intent in every text."""

    intent: str

    def analyze(self, text: str) -> Analysis:
        return Analysis(lang="en", intent=self.intent, intent_score=0.9)


async def subscriptions(sessions: async_sessionmaker[AsyncSession]) -> list[Subscription]:
    async with sessions() as session:
        return list((await session.scalars(select(Subscription).order_by(Subscription.id))).all())


async def person_of(sessions: async_sessionmaker[AsyncSession], user: str) -> Person:
    async with sessions() as session:
        query = select(Person).join(Identity).where(Identity.external_id == user)
        return (await session.scalars(query)).one()


async def new_daily_alert(c: Chat, lang: str = "en") -> None:
    await c.send("/subscribe")
    assert c.said(lang, "alerts.ask_topics")
    await c.press(value="energy")
    assert f"✅ {t(lang, 'topics.energy')}" in [b.label for b in c.buttons]
    await c.press(value="mobility")
    await c.press(value="mobility")  # a second tap removes it again
    await c.press(value="done")
    assert c.said(lang, "alerts.ask_keywords", max=store.MAX_KEYWORDS)
    await c.send("Hydrogen, electrolyser")
    assert c.said(lang, "alerts.ask_frequency")
    await c.press(value="daily")
    await c.send("7.30")


async def test_a_daily_alert_is_set_up_in_a_few_taps(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c, "en", role="sme")
    await new_daily_alert(c)
    assert "Energy" in c.plain
    assert "hydrogen, electrolyser" in c.plain
    assert "daily at 07:30 (Europe/Brussels)" in c.plain
    await c.press(value="save")
    assert c.text.startswith(t("en", "alerts.saved", what="")[:10])

    [sub] = await subscriptions(sessions)
    assert (sub.topics, sub.keywords, sub.frequency) == (
        ["energy"],
        ["hydrogen", "electrolyser"],
        "daily",
    )
    assert (sub.delivery_time, sub.timezone, sub.active) == ("07:30", "Europe/Brussels", True)
    assert sub.next_run_at is not None
    assert sub.next_run_at > datetime.now(UTC)


@pytest.mark.parametrize("lang", ["it", "sv"])
async def test_the_flow_speaks_the_persons_language(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    c = chat(language_hint=lang)
    await onboard(c, lang, role="sme")
    await new_daily_alert(c, lang)
    assert t(lang, "alerts.save") in [b.label for b in c.buttons]
    await c.press(value="save")
    [sub] = await subscriptions(sessions)
    assert sub.timezone == {"it": "Europe/Rome", "sv": "Europe/Stockholm"}[lang]
    await c.send("/alerts")
    assert t(lang, "alerts.header", count=1, max=store.MAX_SUBSCRIPTIONS) in c.text


async def test_the_list_changes_stops_resumes_and_removes(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    await new_daily_alert(c)
    await c.press(value="save")
    await c.send("/alerts")
    labels = [b.label for b in c.buttons]
    assert labels == ["Change 1", "Stop 1", "Remove 1", "New alert"]

    await c.press("Stop 1")
    assert "Stopped:" in c.plain
    [sub] = await subscriptions(sessions)
    assert (sub.active, sub.stopped_reason, sub.next_run_at) == (False, "user", None)
    await c.press("Undo")
    assert "Resumed:" in c.plain
    assert "Stop 1" in [b.label for b in c.buttons]

    await c.press("Change 1")  # the summary, to change one thing
    await c.press(value="edit")
    await c.press(value="timezone")
    await c.send("america/new york")
    assert "America/New_York" in c.plain
    await c.press(value="edit")
    await c.press(value="quiet")
    await c.send("22:00-07:00")
    await c.press(value="save")
    [sub] = await subscriptions(sessions)
    assert (sub.timezone, sub.quiet_start, sub.quiet_end) == ("America/New_York", "22:00", "07:00")

    await c.send("/alerts")
    await c.press("Remove 1")
    assert "Removed:" in c.plain
    assert c.said("en", "alerts.none")
    assert await subscriptions(sessions) == []


async def test_asking_in_words_starts_with_the_topics_heard(chat: ChatFactory) -> None:
    c = chat()
    await onboard(c)
    await c.send("Please send me alerts about new energy challenges")
    assert c.said("en", "alerts.ask_topics_picked", topics=t("en", "topics.energy"))


async def test_bad_input_gets_a_clear_answer(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    await c.send("/subscribe")
    await c.send("quantum basket weaving")
    assert c.said("en", "alerts.unknown_topic", text="quantum basket weaving")
    await c.send("Energy")  # a topic's name typed instead of tapped
    assert c.said("en", "alerts.ask_topics_picked", topics="Energy")
    await c.press(value="done")
    await c.send(" , ;; ,")
    assert c.said("en", "alerts.keywords_empty")
    await c.send(", ".join(f"word{n}" for n in range(12)))
    assert c.said("en", "alerts.keywords_too_many", max=store.MAX_KEYWORDS)
    await c.send("x" * 41)
    assert c.said("en", "alerts.keyword_too_long", longest=store.KEYWORD_MAX)
    await c.press(value="skip")
    await c.press(value="weekly")
    await c.send("someday")
    assert c.said("en", "flow.use_buttons")
    await c.press(value="4")
    await c.send("25:99")
    assert c.said("en", "alerts.bad_time", text="25:99")
    await c.send("18:00")
    await c.press(value="edit")
    await c.press(value="timezone")
    for name in ("Mars/Olympus_Mons", "../../etc/passwd", "Europe/Milan"):
        await c.send(name)
        assert c.said("en", "alerts.bad_timezone", name=name)
    await c.send("Europe/Stockholm")
    await c.press(value="edit")
    await c.press(value="quiet")
    await c.send("whenever")
    assert c.said("en", "alerts.bad_quiet", text="whenever")
    await c.press(value="none")
    await c.press(value="edit")
    await c.press(value="region")
    await c.send("R" * 121)
    assert c.said("en", "alerts.region_too_long", max=store.REGION_MAX, length=121)
    await c.send("Västerbotten")
    await c.press(value="save")
    [sub] = await subscriptions(sessions)
    assert (sub.frequency, sub.weekday, sub.delivery_time) == ("weekly", 4, "18:00")
    assert (sub.region, sub.timezone, sub.keywords) == ("Västerbotten", "Europe/Stockholm", [])


async def test_nothing_to_look_for_is_refused(chat: ChatFactory) -> None:
    c = chat()
    await onboard(c)
    await c.send("/subscribe")
    await c.press(value="done")  # no topic
    await c.press(value="skip")  # no keyword
    assert c.said("en", "alerts.need_something")
    assert c.said("en", "alerts.ask_topics")


async def test_a_sane_cap_on_subscriptions(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    person = await person_of(sessions, c.user_id)
    async with sessions() as session, session.begin():
        for n in range(store.MAX_SUBSCRIPTIONS):
            spec = store.SubscriptionSpec(keywords=(f"word{n}",))
            assert await store.add_subscription(session, person.id, spec, datetime.now(UTC))
        refused = await store.add_subscription(
            session, person.id, store.SubscriptionSpec(keywords=("more",)), datetime.now(UTC)
        )
    assert refused is None
    await c.send("/subscribe")
    assert c.said("en", "alerts.too_many", max=store.MAX_SUBSCRIPTIONS)
    await c.send("alert me about energy challenges")
    assert c.said("en", "alerts.too_many", max=store.MAX_SUBSCRIPTIONS)
    assert await count(sessions, Subscription) == store.MAX_SUBSCRIPTIONS


async def test_someone_elses_or_unknown_subscription_is_not_found(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    ada, bob = chat(user_id="1001"), chat(user_id="1002", display_name="Bob")
    await onboard(ada)
    await onboard(bob)
    await new_daily_alert(ada)
    await ada.press(value="save")
    [sub] = await subscriptions(sessions)
    for command in (
        f"/alerts remove {sub.id}",
        f"/alerts stop {sub.id}",
        f"/subscribe {sub.id}",
        "/alerts stop 99999999999999999999",
        "/alerts stop abc",
    ):
        await bob.send(command)
        assert bob.said("en", "alerts.unknown"), command
    await bob.send("/alerts frobnicate 1")
    assert bob.said("en", "alerts.usage")
    [still] = await subscriptions(sessions)
    assert still.active


async def test_stop_these_works_in_one_tap_even_in_the_middle_of_another_flow(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    await new_daily_alert(c)
    await c.press(value="save")
    [sub] = await subscriptions(sessions)
    await c.send("/idea")  # now busy with an idea
    await c.send_payload(f"{COMMAND_PREFIX}alerts stop {sub.id}")  # the button under an alert
    assert "Stopped:" in c.plain
    [sub] = await subscriptions(sessions)
    assert not sub.active
    await c.send("A title for my idea")
    assert c.said("en", "idea.ask_description", min=20)  # the idea flow went on


async def test_unsubscribe_stops_everything_or_lets_one_choose(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    await c.send("/unsubscribe")
    assert c.said("en", "alerts.none_active")
    for _ in range(2):
        await new_daily_alert(c)
        await c.press(value="save")
    # What the NLP pipeline makes of "stop notifications please".
    c.router = Router(ALL_FEATURES, Heard("unsubscribe_alerts"))
    await c.send("stop notifications please")
    assert c.said("en", "alerts.ask_stop_all", count=2)
    await c.press(value="keep")
    assert all(s.active for s in await subscriptions(sessions))
    await c.send("/unsubscribe")
    await c.press(value="choose")
    assert "Stop 2" in [b.label for b in c.buttons]
    await c.send("/unsubscribe")
    await c.press(value="all")
    assert c.said("en", "alerts.stopped_all")
    assert [s.active for s in await subscriptions(sessions)] == [False, False]


async def test_remind_me_before_a_challenge_closes(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    async with sessions() as session, session.begin():
        open_ = await add_challenge(session, deadline=utc(2030, 1, 31).date())
        no_deadline = await add_challenge(session, title="Open-ended")
    await c.send(f"/remind {open_.ref}")
    assert c.said("en", "alerts.remind_set", ref=open_.ref, deadline="2030-01-31")
    await c.send(f"/remind {no_deadline.ref}")
    assert c.said("en", "alerts.remind_no_deadline", ref=no_deadline.ref)
    await c.send("/remind C-987654")
    assert c.said("en", "alerts.remind_unknown", ref="C-987654")
    for text in ("/remind", "/remind I-1", "/remind tomorrow"):
        await c.send(text)
        assert c.said("en", "alerts.remind_usage")
    assert await count(sessions, ChallengeAlert) == 1
    await c.send("/remind off")
    assert c.said("en", "alerts.reminders_off")
    assert await count(sessions, ChallengeAlert) == 0


async def test_writing_to_innobot_again_clears_a_block(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    async with sessions() as session, session.begin():
        identity = (await session.scalars(select(Identity))).one()
        identity.blocked_at = datetime.now(UTC)
    await c.send("/alerts")
    async with sessions() as session:
        assert (await session.scalars(select(Identity.blocked_at))).one() is None


async def test_a_solution_profile_subscribes_its_owner_who_can_opt_out(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat(language_hint="sv")
    await onboard(c, "sv", role="sme")
    person = await person_of(sessions, c.user_id)
    async with sessions() as session, session.begin():
        sub = await store.subscribe_to_profile_topics(session, person, ["digital", "energy"])
        assert sub is not None
        again = await store.subscribe_to_profile_topics(session, person, ["health"])
        assert again is None
    [sub] = await subscriptions(sessions)
    assert (sub.source, sub.frequency, sub.timezone) == ("profile", "daily", "Europe/Stockholm")
    assert sub.topics == ["digital", "energy", "health"]

    await c.send("/alerts")
    await c.press(t("sv", "alerts.button_remove", n=1))
    assert c.said("sv", "alerts.none")
    async with sessions() as session, session.begin():
        assert await store.subscribe_to_profile_topics(session, person, ["space"]) is None
    [kept] = await subscriptions(sessions)  # the choice to opt out is remembered, not shown
    assert (kept.source, kept.active, kept.stopped_reason) == (
        SubscriptionSource.PROFILE.value,
        False,
        store.STOP_OPTED_OUT,
    )


async def test_my_data_and_forget_cover_alerts(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c)
    await new_daily_alert(c)
    await c.press(value="save")
    person = await person_of(sessions, c.user_id)
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session, deadline=utc(2030, 1, 1).date())
        await store.record_interest(session, person.id, challenge.id)
        session.add(
            OutboxMessage(
                platform="telegram",
                chat_id=c.user_id,
                person_id=person.id,
                kind=store.KIND_REMINDER,
                priority=store.ALERT_PRIORITY,
                payload={"text": "", "challenge": challenge.id},
            )
        )
    await c.send("/mydata")
    [export_reply] = c.replies
    assert export_reply.document is not None
    export = json.loads(export_reply.document.content)
    assert [s["frequency"] for s in export["subscriptions"]] == [Frequency.DAILY.value]
    assert [a["kind"] for a in export["challenge_alerts"]] == ["interest"]

    await c.send("/forget")
    await c.press(value="yes")
    assert await count(sessions, Subscription) == 0
    assert await count(sessions, ChallengeAlert) == 0
    assert await count(sessions, OutboxMessage, OutboxMessage.kind == store.KIND_REMINDER) == 0


async def test_either_side_of_an_introduction_can_say_how_it_went(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner, solver, stranger = chat(user_id="1001"), chat(user_id="1002"), chat(user_id="1003")
    for c in (owner, solver, stranger):
        await onboard(c)
    owner_person = await person_of(sessions, "1001")
    solver_person = await person_of(sessions, "1002")
    introduced = datetime(2026, 5, 1, tzinfo=UTC)
    async with sessions() as session, session.begin():
        challenge = await add_challenge(session)
        challenge.person_id = owner_person.id
        profile = SolutionProfile(
            title="Vision AI", description="Surface inspection.", person_id=solver_person.id
        )
        session.add(profile)
        await session.flush()
        match = Match(
            challenge_id=challenge.id,
            item_kind="solution",
            item_id=profile.id,
            score=0.8,
            state=MatchState.INTRODUCED.value,
            introduced_at=introduced,
        )
        session.add(match)
        await session.flush()
        match_id = match.id
    jobs = AlertJobs(sessions, clock=lambda: introduced + store.FOLLOWUP_AFTER)
    assert await jobs.followups() == 2
    async with sessions() as session:
        rows = list((await session.scalars(select(OutboxMessage))).all())
        rows = [row for row in rows if row.kind == store.KIND_FOLLOWUP]
        replies = await render_followups(session, rows)
    assert all(reply is not None for reply in replies)
    assert replies[0] is not None
    assert [b.payload for row in replies[0].buttons for b in row] == [
        f"{COMMAND_PREFIX}outcome {match_id} {name}"
        for name in ("proposal", "contract", "declined", "no_follow_up")
    ]

    await owner.send_payload(f"{COMMAND_PREFIX}outcome {match_id} proposal")
    assert owner.said("en", "alerts.outcome_noted", outcome=t("en", "alerts.outcome_proposal"))
    await solver.send(f"/outcome {match_id} contract")
    async with sessions() as session:
        stored = await session.get_one(Match, match_id)
        assert (stored.state, stored.outcome_by) == ("contract", "solver")
    await owner.send(f"/outcome {match_id} declined")
    assert owner.said("en", "alerts.outcome_already", outcome=t("en", "alerts.outcome_contract"))
    await stranger.send(f"/outcome {match_id} declined")
    assert stranger.said("en", "alerts.outcome_unknown")
    for text in (
        "/outcome",
        f"/outcome {match_id}",
        f"/outcome {match_id} married",
        "/outcome x y",
    ):
        await stranger.send(text)
        assert stranger.said("en", "alerts.outcome_usage"), text


async def test_publishing_a_solution_profile_subscribes_its_owner_to_its_topics(
    chat: ChatFactory, sessions: async_sessionmaker[AsyncSession]
) -> None:
    c = chat()
    await onboard(c, "en", role="sme")
    await c.send("/profile")  # the brokerage's form (handlers.profiles)
    await c.send("VisionLine")
    await c.send("Machine vision for surface defects")
    await c.send(
        "We build camera-based inspection cells that find scratches and dents on metal parts."
    )
    await c.press(value="manufacturing")
    await c.press(value="digital")
    await c.press(value="done")
    await c.send("6")
    await c.send("Lombardy, Italy")
    await c.press(value="en")
    await c.press(value="done")
    await c.send("sales@visionline.example")
    await c.press(value="yes")
    await c.press(value="confirm")
    assert c.said("en", "alerts.profile_subscribed")
    [sub] = await subscriptions(sessions)
    assert (sub.source, sub.topics, sub.frequency) == (
        "profile",
        ["manufacturing", "digital"],
        "daily",
    )
