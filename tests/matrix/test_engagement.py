"""Engagement on Matrix, end to end: community rooms (welcome, commands, /report, posts of
approved challenges and events, also into the linked Telegram group), and a person's direct chat
with innobot (onboarding with numbered options, RSVP with the .ics file, a reminder, a
consultation answered with a number), in English, Italian and Swedish.

innobot runs complete (``bot.app``) against the real homeserver and the Bot API double.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from nio import DownloadResponse, RoomCreateResponse, RoomPreset
from nio.crypto.attachments import decrypt_attachment
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App
from handlers.consultations import open_and_close
from handlers.events import queue_reminders
from handlers.i18n import LANGUAGE_NAMES, t
from handlers.markup import to_plain
from handlers.moderation import queue_triage_card
from storage.models import (
    Challenge,
    Confidentiality,
    ConsultationAnswer,
    Organisation,
)
from tests.fakes.bot_api import FakeBotAPI
from tests.matrix.conftest import MakeMember
from tests.matrix.member import Member, Source, body
from tests.matrix.synapse import Synapse
from tests.matrix.test_telegram_journey import start_innobot

GROUP = -100777
START = (datetime.now(UTC) + timedelta(days=3)).replace(second=0, microsecond=0)


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    from tests.e2e.conftest import FAST_LIMITS

    async with FakeBotAPI(limits=FAST_LIMITS) as server:
        server.add_group(GROUP)
        yield server


def shown(lang: str, key: str, /, **values: object) -> str:
    return to_plain(t(lang, key, **values)).strip()


def says(lang: str, key: str, /, **values: object) -> Callable[[Source], bool]:
    """A predicate: the event's body contains the catalog text ``key``."""
    expected = shown(lang, key, **values)
    return lambda event: expected in body(event)


def option(event: Source, label: str) -> str:
    """The number under which a numbered option ``label`` is offered."""
    for line in body(event).splitlines():
        number, _, text = line.partition(". ")
        if text.strip() == label and number.isdigit():
            return number
    raise AssertionError(f"no option {label!r} in {body(event)!r}")


async def _moderator_desk(
    fake: FakeBotAPI,
    synapse: Synapse,
    make_member: MakeMember,
    db_url: str,
    data_dir: Path,
) -> tuple[Member, str, App]:
    moderator = await make_member()
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id])
    app = await start_innobot(fake, synapse, db_url, data_dir, room, bot_user.access_token)
    await moderator.wait_for_member(room, bot_user.user_id)
    return moderator, room, app


async def _command(moderator: Member, room: str, bot: str, text: str, answer: str) -> Source:
    """A moderator's command and the bot's answer containing ``answer``."""
    before = len(moderator.messages(room, bot))
    await moderator.say(room, text)
    try:
        return await moderator.wait_for(
            room, bot, lambda e: e in moderator.messages(room, bot)[before:] and answer in body(e)
        )
    except TimeoutError:
        said = [body(e) for e in moderator.messages(room, bot)[before:]]
        raise AssertionError(f"{text!r} was not answered with {answer!r}: {said}") from None


async def _approved_challenge(app: App, moderator: Member, room: str, bot: str) -> str:
    async with app.sessions() as session, session.begin():
        organisation = Organisation(name="Acme Energia")
        session.add(organisation)
        await session.flush()
        challenge = Challenge(
            title="Heat pumps for old buildings",
            description="Heat pumps that work in old buildings without replacing the radiators.",
            lang="en",
            topics=["energy"],
            topic_scores={"energy": 0.9},
            organisation_id=organisation.id,
            confidentiality=Confidentiality.ANONYMOUS.value,
        )
        session.add(challenge)
        await session.flush()
        queue_triage_card(session, challenge)
        ref = challenge.ref
    app.worker.wake()
    await _command(moderator, room, bot, f"!approve {ref}", f"{ref} approved")
    return ref


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_community_room_welcomes_answers_reports_and_gets_the_posts(
    fake: FakeBotAPI,
    synapse: Synapse,
    make_member: MakeMember,
    db_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    lang: str,
) -> None:
    moderator, desk, app = await _moderator_desk(fake, synapse, make_member, db_url, tmp_path)
    assert app.matrix is not None
    bot = app.matrix.user_id
    try:
        host = await make_member()
        newcomer = await make_member()
        community_room = await host.create_room([], name="Energia")
        await _command(
            moderator, desk, bot, f"!community create Energia | topics=energy | lang={lang}", "K-1"
        )
        await _command(
            moderator, desk, bot, f"!community link 1 matrix {community_room}", community_room
        )
        await _command(moderator, desk, bot, f"!community link 1 telegram {GROUP}", str(GROUP))

        # Invited once linked, innobot joins; a newcomer is welcomed in the community's language.
        await host.invite(community_room, bot)
        await host.wait_for_member(community_room, bot)
        await host.invite(community_room, newcomer.user_id)
        await newcomer.join(community_room)
        name = newcomer.user.localpart
        await host.wait_for(
            community_room, bot, says(lang, "communities.welcome", name=name, community="Energia")
        )
        welcomed = shown(lang, "communities.welcome", name=host.user.localpart, community="Energia")
        assert not [e for e in host.messages(community_room, bot) if welcomed in body(e)]

        # The group commands, with ! (Matrix clients keep / for themselves) or /.
        await newcomer.say(community_room, "!communities")
        await host.wait_for(community_room, bot, says(lang, "communities.join_privately"))
        await newcomer.say(community_room, "/help")
        await host.wait_for(
            community_room, bot, says(lang, "communities.group_help", community="Energia")
        )
        await newcomer.say(community_room, "!idea")
        await host.wait_for(community_room, bot, says(lang, "communities.group_private_only"))
        await newcomer.say(community_room, "!join 1")  # personal: needs a direct chat first
        await host.wait_for(community_room, bot, says(lang, "communities.start_privately"))

        # A reply with !report takes the message to the moderators, with context.
        rude = await host.say(community_room, "Buy cheap solar panels at spam.example")
        await newcomer.client.room_send(
            community_room,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": f"> <{host.user_id}> Buy cheap solar panels\n\n!report",
                "m.relates_to": {"m.in_reply_to": {"event_id": rude}},
            },
        )
        await host.wait_for(community_room, bot, says(lang, "communities.report_thanks"))
        card = await moderator.wait_for(desk, bot, lambda e: "R-1" in body(e))
        assert host.user_id in body(card)
        assert "spam.example" in body(card)
        assert "Matrix" in body(card)

        # An approved challenge and an event reach the room and the Telegram group.
        ref = await _approved_challenge(app, moderator, desk, bot)
        post = await host.wait_for(community_room, bot, lambda e: ref in body(e))
        assert "Heat pumps for old buildings" in body(post)
        assert "Acme" not in body(post)  # an anonymous challenge: the owner is not named
        assert shown(lang, "communities.post_challenge_how", ref=ref) in body(post)
        when = START.strftime("%Y-%m-%d %H:%M")
        await _command(
            moderator,
            desk,
            bot,
            f"!event create Heat pump day | starts={when} | tz=UTC | audience=community:1",
            "E-1",
        )
        event_post = await host.wait_for(community_room, bot, lambda e: "Heat pump day" in body(e))
        assert shown(lang, "events.announce") in body(event_post)
        hint = shown(lang, "communities.post_rsvp_how", id=1)
        assert hint in body(event_post)
        await newcomer.say(community_room, "!events")
        listed = await host.wait_for(
            community_room,
            bot,
            lambda e: "Heat pump day" in body(e) and shown(lang, "events.announce") not in body(e),
        )
        assert hint in body(listed)  # the command to send privately, not a number to press
        in_group = await fake.wait_for_messages(GROUP, 2)
        assert ref in in_group[0].text
        assert "Heat pump day" in in_group[1].text
        assert in_group[1].button_labels() == [t(lang, "events.rsvp_button")]
        assert len(moderator.messages(community_room, bot)) == 0  # the moderator is not there

        # A room that is neither linked nor a direct chat: the invitation is declined.
        other = await host.create_room([bot], name="Coffee corner")
        await newcomer.say(community_room, "/help")  # answered after the invitation was seen
        await host.wait_count(
            community_room, bot, 2, says(lang, "communities.group_help", community="Energia")
        )
        membership = await host.client.room_get_state_event(other, "m.room.member", bot)
        assert membership.content["membership"] == "leave"
    finally:
        await app.stop()


async def _direct_chat(member: Member, bot: str, *, encrypted: bool = False) -> str:
    encryption = {
        "type": "m.room.encryption",
        "state_key": "",
        "content": {"algorithm": "m.megolm.v1.aes-sha2"},
    }
    answer = await member.client.room_create(
        is_direct=True,
        invite=[bot],
        preset=RoomPreset.trusted_private_chat,
        initial_state=[encryption] if encrypted else [],
    )
    assert isinstance(answer, RoomCreateResponse)
    await member.wait_joined(answer.room_id)
    await member.wait_for_member(answer.room_id, bot)
    return str(answer.room_id)


async def _onboard(member: Member, chat: str, bot: str, lang: str) -> None:
    """/start → language → consent → role, answering the numbered options with numbers."""
    await member.say(chat, "/start")
    ask = await member.wait_for(chat, bot, lambda e: "English" in body(e))
    await member.say(chat, option(ask, LANGUAGE_NAMES[lang]))
    notice = await member.wait_for(chat, bot, says(lang, "onboarding.privacy_notice"))
    await member.say(chat, option(notice, t(lang, "onboarding.agree")))
    role = await member.wait_for(chat, bot, says(lang, "onboarding.ask_role"))
    await member.say(chat, option(role, t(lang, "roles.citizen")))
    await member.wait_for(chat, bot, says(lang, "onboarding.ready", role=t(lang, "roles.citizen")))


@pytest.mark.parametrize(("lang", "encrypted"), [("en", False), ("it", False), ("sv", True)])
async def test_a_direct_chat_gets_answers_files_reminders_and_consultations(
    fake: FakeBotAPI,
    synapse: Synapse,
    make_member: MakeMember,
    db_url: str,
    engine: AsyncEngine,
    tmp_path: Path,
    lang: str,
    encrypted: bool,
) -> None:
    moderator, desk, app = await _moderator_desk(fake, synapse, make_member, db_url, tmp_path)
    assert app.matrix is not None
    bot = app.matrix.user_id
    try:
        person = await make_member(encrypted=encrypted)
        chat = await _direct_chat(person, bot, encrypted=encrypted)
        await _onboard(person, chat, bot, lang)

        # The person is in a community room too; what is personal is answered in the direct chat.
        community_room = await person.create_room([], name="Energia")
        await _command(moderator, desk, bot, "!community create Energia | topics=energy", "K-1")
        await _command(
            moderator, desk, bot, f"!community link 1 matrix {community_room}", community_room
        )
        await person.invite(community_room, bot)
        await person.wait_for_member(community_room, bot)
        await person.say(community_room, "!join 1")
        await person.wait_for(chat, bot, says(lang, "communities.joined", name="Energia"))

        when = START.strftime("%Y-%m-%d %H:%M")
        await _command(
            moderator,
            desk,
            bot,
            f"!event create Heat pump day | starts={when} | tz=UTC | place=Umeå | capacity=5"
            " | audience=community:1",
            "E-1",
        )
        announced = await person.wait_for(chat, bot, lambda e: "Heat pump day" in body(e))
        assert shown(lang, "events.announce") in body(announced)
        assert option(announced, t(lang, "events.rsvp_button")) == "1"
        await person.wait_for(community_room, bot, lambda e: "Heat pump day" in body(e))

        # Registering from the room: the confirmation, then the calendar file as an m.file,
        # both in the direct chat.
        await person.say(community_room, "!rsvp 1")
        start = START.strftime("%Y-%m-%d %H:%M")
        await person.wait_for(
            chat,
            bot,
            says(lang, "events.registered", title="Heat pump day", start=start, timezone="UTC"),
        )
        ics = await person.wait_for(
            chat, bot, lambda e: e.get("content", {}).get("msgtype") == "m.file"
        )
        content = ics["content"]
        assert content["body"] == "event-1.ics"
        assert content["info"]["mimetype"] == "text/calendar"
        if encrypted:  # the file is uploaded encrypted, its key travels in the message
            assert ics.get("decrypted")
            assert "url" not in content
            secret = content["file"]
            download = await person.client.download(secret["url"])
            assert isinstance(download, DownloadResponse)
            data = decrypt_attachment(
                download.body, secret["key"]["k"], secret["hashes"]["sha256"], secret["iv"]
            )
        else:
            download = await person.client.download(content["url"])
            assert isinstance(download, DownloadResponse)
            data = download.body
        calendar = data.decode()
        assert "SUMMARY:Heat pump day" in calendar
        assert f"DTSTART:{START.strftime('%Y%m%dT%H%M00Z')}" in calendar

        # The hour-before reminder, as the scheduler's job queues it.
        async with app.sessions() as session, session.begin():
            assert await queue_reminders(session, START - timedelta(minutes=30)) == 1
        app.worker.wake()
        await person.wait_for(
            chat,
            bot,
            says(
                lang,
                "events.reminder_hour",
                title="Heat pump day",
                start=start,
                timezone="UTC",
                place="Umeå",
            ),
        )
        await person.say(chat, "/unrsvp 1")
        await person.wait_for(chat, bot, says(lang, "events.unregistered", title="Heat pump day"))
        # Nothing personal was said in the room, and its creator was not welcomed as a
        # newcomer when innobot joined: only the event's post.
        in_room = [body(e) for e in person.messages(community_room, bot)]
        assert len(in_room) == 1

        # A consultation arrives as numbered options; the person answers with a number.
        closes = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d %H:%M")
        await _command(
            moderator,
            desk,
            bot,
            f"!consultation create Which day suits you? | options=Monday;Tuesday | closes={closes}"
            " | tz=UTC",
            "Q-1",
        )
        async with app.sessions() as session, session.begin():
            await open_and_close(session, datetime.now(UTC))
        app.worker.wake()
        question = await person.wait_for(chat, bot, lambda e: "Which day suits you?" in body(e))
        assert re.search(r"^2\. Tuesday$", body(question), re.MULTILINE)
        before = len(person.messages(chat, bot))
        await person.say(chat, option(question, "Tuesday"))
        try:
            await person.wait_for(
                chat, bot, says(lang, "consultations.thanks", ref="Q-1", answer="Tuesday")
            )
        except TimeoutError:
            said = [body(e) for e in person.messages(chat, bot)[before:]]
            raise AssertionError(f"a number did not answer the consultation: {said}") from None
        await person.say(chat, "1")  # a new answer replaces the earlier one
        await person.wait_for(
            chat, bot, says(lang, "consultations.changed", ref="Q-1", answer="Monday")
        )
        async with app.sessions() as session:
            answers = list(await session.scalars(select(ConsultationAnswer)))
        assert [answer.choices for answer in answers] == [[0]]
    finally:
        await app.stop()
