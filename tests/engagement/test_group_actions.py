"""Moderators acting on a group report: the action is queued for Telegram, asked once, and the
report changes only with Telegram's answer, which the room hears in its language."""

from __future__ import annotations

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.core import ContentKind, GroupAction, Platform, Recipient
from handlers.engagement_moderation import on_group_action
from handlers.i18n import t
from handlers.markup import to_plain
from handlers.moderation import MODERATION_ROOM, ROOM_LANGUAGE_KEY
from storage import moderation as moderation_store
from storage.models import GroupReport, OutboxMessage
from tests.engagement.helpers import GROUP, GroupMember, desk, queued
from tests.handlers.chat import make_router

REMOVE = GroupAction("delete_message", ref="R-1", message_id="77")


async def _reported(sessions: async_sessionmaker[AsyncSession], lang: str = "en") -> None:
    async with sessions() as session, session.begin():
        await moderation_store.set_state(session, ROOM_LANGUAGE_KEY, lang)
    await desk(sessions, "!community create Energia | topics=energy")
    await desk(sessions, f"!community link 1 telegram {GROUP}")
    async with sessions() as session, session.begin():
        session.add(GroupReport(community_id=1, chat_id=GROUP, message_id="77", reported_user="9"))


async def _outcome(
    sessions: async_sessionmaker[AsyncSession], action: GroupAction, receipt: dict[str, object]
) -> str:
    """Telegram's answer to ``action`` heard; what the room is told, as plain text."""
    async with sessions() as session, session.begin():
        row = OutboxMessage(platform="telegram", chat_id=GROUP, payload={"text": ""})
        await on_group_action(session, row, action, receipt, None)
    [(_, said)] = await queued(sessions, platform="matrix", chat_id=MODERATION_ROOM)
    return to_plain(said.text)


async def _status(sessions: async_sessionmaker[AsyncSession]) -> str:
    async with sessions() as session:
        report = await session.get(GroupReport, 1)
        assert report is not None
        return report.status


async def test_an_action_is_asked_once_until_telegram_answers(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _reported(sessions)
    assert await desk(sessions, "!community remove R-1") == to_plain(
        t("en", "engagement.report_removing", ref="R-1")
    )
    assert await desk(sessions, "!community mute R-1") == to_plain(
        t("en", "engagement.report_pending", ref="R-1")
    )
    actions = [r.action for _, r in await queued(sessions, chat_id=GROUP) if r.action]
    assert actions == [GroupAction("check_rights", ref="K-1"), REMOVE]


@pytest.mark.parametrize("value", ["0h", "5x", "367d", "h", "-3h"])
async def test_a_mute_duration_must_be_readable(
    sessions: async_sessionmaker[AsyncSession], value: str
) -> None:
    await _reported(sessions)
    said = await desk(sessions, f"!community mute R-1 {value}")
    assert said == to_plain(t("en", "engagement.bad_duration", value=value))
    assert await _status(sessions) == "open"


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_the_report_changes_only_when_telegram_did_it(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    refusal = {"ok": False, "reason": "no_right", "status": "member"}
    right = t(lang, "engagement.right_delete")
    assert await _outcome(sessions, REMOVE, refusal) == to_plain(
        t(lang, "engagement.action_no_right", ref="R-1", right=right)
    )
    assert await _status(sessions) == "open"
    async with sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage))  # the room's first message read
    assert await _outcome(sessions, REMOVE, {"ok": True}) == to_plain(
        t(lang, "engagement.report_removed_done", ref="R-1")
    )
    assert await _status(sessions) == "removed"


@pytest.mark.parametrize(
    ("status", "key", "values"),
    [
        ("admin delete restrict", "engagement.bot_now_ok", {}),
        ("admin delete", "engagement.bot_now_missing", {"rights": "engagement.right_restrict"}),
        ("member", "engagement.bot_now_not_admin", {}),
        ("removed", "engagement.bot_now_not_member", {}),
    ],
)
async def test_innobots_place_in_a_linked_group_is_told_to_the_room(
    sessions: async_sessionmaker[AsyncSession], status: str, key: str, values: dict[str, str]
) -> None:
    await _reported(sessions, "sv")
    admin = GroupMember(sessions, make_router(), user_id="5")
    assert await admin.send(status, kind=ContentKind.BOT_STATUS) == []
    [note] = admin.notifications
    assert note.to == Recipient(Platform.MATRIX, MODERATION_ROOM)
    shown = {name: t("sv", value) for name, value in values.items()}
    assert note.text == t("sv", key, name="Energia", **shown)


async def test_innobots_place_in_an_unlinked_group_is_nobodys_business(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    stranger = GroupMember(sessions, make_router(), user_id="5", chat_id="-42")
    assert await stranger.send("removed", kind=ContentKind.BOT_STATUS) == []
    assert stranger.notifications == []


async def test_a_rights_check_that_could_not_be_made_is_said_so(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _reported(sessions, "it")
    async with sessions() as session, session.begin():
        row = OutboxMessage(platform="telegram", chat_id=GROUP, payload={"text": ""})
        check = GroupAction("check_rights", ref="K-1")
        await on_group_action(session, row, check, None, "gave up: telegram unavailable")
    [(_, said)] = await queued(sessions, platform="matrix", chat_id=MODERATION_ROOM)
    assert said.text == t(
        "it", "engagement.rights_unknown", name="Energia", detail="gave up: telegram unavailable"
    )


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_unmute_lifts_the_mute_when_telegram_did_it(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    mute = GroupAction("restrict", ref="R-1", user_id="9", until=2_000_000_000)
    await _outcome(sessions, mute, {"ok": True})
    assert await _status(sessions) == "muted"
    async with sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage))
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.report_unmuting", ref="R-1")
    )
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.report_pending", ref="R-1")
    )
    [(_, reply)] = await queued(sessions, chat_id=GROUP)
    assert reply.action == GroupAction("unrestrict", ref="R-1", user_id="9")
    unmute = reply.action

    refusal = {"ok": False, "reason": "no_right", "status": "admin delete"}
    right = t(lang, "engagement.right_restrict")
    assert await _outcome(sessions, unmute, refusal) == to_plain(
        t(lang, "engagement.action_no_right", ref="R-1", right=right)
    )
    assert await _status(sessions) == "muted"
    async with sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage))
    assert await _outcome(sessions, unmute, {"ok": True}) == to_plain(
        t(lang, "engagement.report_unmuted_done", ref="R-1")
    )
    assert await _status(sessions) == "unmuted"
