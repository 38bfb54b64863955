"""Topic communities: created and linked by moderators, joined in private, looked after in their
linked Telegram group (welcome, commands, /report) in the group's language."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.core import ContentKind, GroupAction, Platform, Quoted
from handlers.i18n import t
from handlers.markup import to_plain
from storage.models import CommunityMember, GroupReport, Identity, Person, Role
from tests.engagement.helpers import GROUP, GroupMember, desk, plain, queued
from tests.handlers.chat import ChatFactory, count, make_router, onboard


async def _community(sessions: async_sessionmaker[AsyncSession], lang: str = "it") -> None:
    said = await desk(
        sessions,
        f"!community create Energia Lombardia | topics=energy | region=Lombardy | lang={lang}",
    )
    assert "K-1" in said
    said = await desk(sessions, f"!community link 1 telegram {GROUP} https://t.me/+energia")
    assert GROUP in said


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_people_list_join_and_leave_communities(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory, lang: str
) -> None:
    await _community(sessions)
    person = chat(language_hint=lang)
    await onboard(person, lang)

    await person.send("/communities")
    assert "Energia Lombardia" in person.plain
    await person.press(t(lang, "communities.join_button", name="Energia Lombardia"))
    assert person.said(lang, "communities.joined", name="Energia Lombardia")
    assert person.said(lang, "communities.group_link", link="https://t.me/+energia")
    assert await count(sessions, CommunityMember) == 1

    await person.send("/join 1")
    assert person.said(lang, "communities.already_member", name="Energia Lombardia")
    await person.send("/communities")
    await person.press(t(lang, "communities.leave_button", name="Energia Lombardia"))
    assert person.said(lang, "communities.left", name="Energia Lombardia")
    assert await count(sessions, CommunityMember) == 0


async def test_bad_community_ids_get_a_polite_answer(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    person = chat()
    await onboard(person)
    await person.send("/join")
    assert person.said("en", "communities.usage", usage="/join ID")
    await person.send("/join 99")
    assert person.said("en", "communities.unknown", id=99)
    await person.send("/communities")
    assert person.said("en", "communities.none")


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_linked_group_is_welcomed_and_answered_in_its_language(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _community(sessions, lang)
    member = GroupMember(sessions, make_router(), user_id="2001", display_name="Bea")

    replies = await member.send(kind=ContentKind.MEMBER_JOINED)
    assert plain(replies) == to_plain(
        t(lang, "communities.welcome", name="Bea", community="Energia Lombardia")
    )
    assert "Energia Lombardia" in plain(await member.send("/communities@innobot"))
    assert plain(await member.send("/help")) == to_plain(
        t(lang, "communities.group_help", community="Energia Lombardia")
    )
    assert plain(await member.send("/idea")) == to_plain(t(lang, "communities.group_private_only"))
    assert await member.send("just chatting with the others") == []


async def test_unlinked_groups_keep_pointing_to_the_private_chat(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _community(sessions)
    stranger = GroupMember(sessions, make_router(), user_id="2002", chat_id="-999")
    assert plain(await stranger.send("/communities")) == to_plain(t("en", "errors.private_only"))
    assert await stranger.send(kind=ContentKind.MEMBER_JOINED) == []


async def test_a_report_reaches_the_moderators_who_decide_on_it(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    await _community(sessions, "en")
    reporter = GroupMember(sessions, make_router(), user_id="2003")

    assert plain(await reporter.send("/report")) == to_plain(t("en", "communities.report_how"))
    quoted = Quoted(message_id="77", user_id="2004", text="Buy cheap followers now!!!")
    assert plain(await reporter.send("/report", reply_to=quoted)) == to_plain(
        t("en", "communities.report_thanks")
    )
    [card] = reporter.notifications
    assert card.to is not None
    assert card.to.platform is Platform.MATRIX
    assert "R-1" in card.text
    assert "Buy cheap followers now" in to_plain(card.text)
    # The same message reported again does not make a second report.
    await reporter.send("/report", reply_to=quoted)
    assert await count(sessions, GroupReport) == 1

    # Removing goes to the group through the outbox; the report changes once Telegram did it.
    said = await desk(sessions, "!community remove R-1")
    assert said == to_plain(t("en", "engagement.report_removing", ref="R-1"))
    # (the first: innobot's rights checked when the group was linked)
    [(_, check), (_, action)] = await queued(sessions, chat_id=GROUP, status="pending")
    assert check.action == GroupAction("check_rights", ref="K-1")
    assert action.action == GroupAction("delete_message", ref="R-1", message_id="77")
    async with sessions() as session:
        report = await session.get(GroupReport, 1)
        assert report is not None
        assert report.status == "open"
    said = await desk(sessions, "!community dismiss R-1")
    assert said == to_plain(t("en", "engagement.report_dismissed", ref="R-1"))
    said = await desk(sessions, "!community mute R-1")
    assert said == to_plain(t("en", "engagement.report_done", ref="R-1", status="dismissed"))


async def test_reports_of_moderators_bots_and_oneself_are_refused(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    await _community(sessions, "en")
    moderator = chat(user_id="3001")
    await onboard(moderator)
    async with sessions() as session, session.begin():
        person = await session.get(Person, 1)
        assert person is not None
        person.role = Role.MODERATOR.value
    reporter = GroupMember(sessions, make_router(), user_id="2005")

    replies = await reporter.send("/report", reply_to=Quoted("5", "3001", "calm down"))
    assert plain(replies) == to_plain(t("en", "communities.report_moderator"))
    replies = await reporter.send("/report", reply_to=Quoted("6", "42", "hi", from_bot=True))
    assert plain(replies) == to_plain(t("en", "communities.report_bot"))
    replies = await reporter.send("/report", reply_to=Quoted("7", "2005", "mine"))
    assert plain(replies) == to_plain(t("en", "communities.report_self"))
    assert await count(sessions, GroupReport) == 0
    assert await count(sessions, Identity) == 1


async def test_moderators_get_clear_answers_to_bad_community_commands(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    assert "!community" in await desk(sessions, "!community")
    said = await desk(sessions, "!community create Robots | topics=robots")
    assert "robots" in said
    said = await desk(sessions, "!community create Robots | lang=de")
    assert said == to_plain(t("en", "engagement.bad_language", lang="de"))
    await desk(sessions, "!community create A")
    await desk(sessions, "!community create B")
    assert "https://t.me/" in await desk(sessions, "!community link 1 telegram -5 http://x")
    await desk(sessions, "!community link 1 telegram -5")
    said = await desk(sessions, "!community link 2 telegram -5")
    assert said == to_plain(t("en", "engagement.chat_taken", chat="-5", name="A"))
    assert "K-1" in await desk(sessions, "!community list")
