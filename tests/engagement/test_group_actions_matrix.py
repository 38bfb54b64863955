"""Moderators acting on a report from a Matrix community room: the redaction or the mute is
queued for the room, the report changes only with the homeserver's answer (heard in the room's
language), and a mute done queues the member's level back for when it ends. Without Telegram,
nothing is queued for Telegram groups."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.outbox import decode_reply, encode_reply
from handlers.core import GroupAction, Platform, Reply
from handlers.engagement_moderation import on_group_action
from handlers.i18n import t
from handlers.markup import to_plain
from handlers.moderation import (
    MODERATION_ROOM,
    ROOM_LANGUAGE_KEY,
    DeskConfig,
    RoomEvent,
    handle_room_event,
)
from storage import moderation as moderation_store
from storage import stats
from storage.models import GroupReport, OutboxMessage, OutboxStatus
from tests.engagement.helpers import DESK, GROUP, ROOM, desk, queued

COMMUNITY_ROOM = "!energia:example.org"
SPAMMER = "@spam:example.org"


async def _reported(sessions: async_sessionmaker[AsyncSession], lang: str = "en") -> None:
    async with sessions() as session, session.begin():
        await moderation_store.set_state(session, ROOM_LANGUAGE_KEY, lang)
    await desk(sessions, "!community create Energia | topics=energy | lang=it")
    await desk(sessions, f"!community link 1 matrix {COMMUNITY_ROOM}")
    async with sessions() as session, session.begin():
        # The link's power-level check (test_linking_a_room_checks_innobots_power_levels).
        await session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id == COMMUNITY_ROOM))
        session.add(
            GroupReport(
                community_id=1, chat_id=COMMUNITY_ROOM, message_id="$rude", reported_user=SPAMMER
            )
        )


async def _outcome(
    sessions: async_sessionmaker[AsyncSession],
    action: GroupAction,
    receipt: dict[str, object] | None,
    error: str | None = None,
) -> str:
    """The homeserver's answer to ``action`` heard; what the room is told, as plain text."""
    async with sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id == MODERATION_ROOM))
        row = OutboxMessage(platform="matrix", chat_id=COMMUNITY_ROOM, payload={"text": ""})
        await on_group_action(session, row, action, receipt, error)
    [(_, said)] = await queued(sessions, platform="matrix", chat_id=MODERATION_ROOM)
    return to_plain(said.text)


async def _status(sessions: async_sessionmaker[AsyncSession], report: int = 1) -> str:
    async with sessions() as session:
        found = await session.get(GroupReport, report)
        assert found is not None
        return found.status


async def _unmutes(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxMessage]:
    rows = await queued(
        sessions, platform="matrix", chat_id=COMMUNITY_ROOM, status=OutboxStatus.PENDING.value
    )
    return [row for row, reply in rows if reply.action and reply.action.kind == "unrestrict"]


def test_the_level_to_give_back_survives_the_round_trip() -> None:
    back = Reply("", action=GroupAction("unrestrict", ref="R-1", user_id=SPAMMER, level=-5))
    assert decode_reply(encode_reply(back)) == back
    default = Reply("", action=GroupAction("unrestrict", ref="R-1", user_id=SPAMMER))
    assert "level" not in encode_reply(default)["action"]
    assert decode_reply(encode_reply(default)) == default


async def test_remove_and_mute_are_asked_of_the_room_once(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _reported(sessions)
    assert await desk(sessions, "!community remove R-1") == to_plain(
        t("en", "engagement.matrix_removing", ref="R-1")
    )
    assert await desk(sessions, "!community mute R-1 2h") == to_plain(
        t("en", "engagement.matrix_pending", ref="R-1")
    )
    [(row, reply)] = await queued(sessions, chat_id=COMMUNITY_ROOM)
    assert row.platform == Platform.MATRIX.value
    assert reply.action == GroupAction("delete_message", ref="R-1", message_id="$rude")
    assert reply.text == t("it", "engagement.redact_reason")  # the community's language
    assert await _status(sessions) == "open"


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_mute_done_queues_the_level_back_for_when_it_ends(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    before = datetime.now(UTC)
    await desk(sessions, "!community mute R-1 2h")
    [(_, reply)] = await queued(sessions, chat_id=COMMUNITY_ROOM)
    mute = reply.action
    assert mute is not None
    assert (mute.kind, mute.user_id) == ("restrict", SPAMMER)
    assert mute.until is not None
    until = datetime.fromtimestamp(mute.until, UTC)
    assert before + timedelta(hours=2) - timedelta(seconds=1) <= until

    said = await _outcome(sessions, mute, {"ok": True, "previous": 10, "level": -1})
    shown = until.strftime("%Y-%m-%d %H:%M UTC")
    assert said == to_plain(t(lang, "engagement.matrix_muted_done", ref="R-1", until=shown))
    assert await _status(sessions) == "muted"
    [row] = await _unmutes(sessions)
    assert row.next_attempt_at.replace(tzinfo=UTC) == until
    assert row.created_at.replace(tzinfo=UTC) == until  # waiting from then, not late before
    assert decode_reply(row.payload).action == GroupAction(
        "unrestrict", ref="R-1", user_id=SPAMMER, until=mute.until, level=10
    )

    # The end of the mute: the room hears it.
    back = decode_reply(row.payload).action
    assert back is not None
    assert await _outcome(sessions, back, {"ok": True}) == to_plain(
        t(lang, "engagement.matrix_unmuted", ref="R-1")
    )
    refused = {"ok": False, "reason": "no_right", "right": "power_levels", "needed": 100, "have": 0}
    why = t(
        lang,
        "engagement.matrix_no_power",
        what=t(lang, "engagement.power_levels"),
        needed=100,
        have=0,
    )
    assert await _outcome(sessions, back, refused) == to_plain(
        t(lang, "engagement.matrix_unmute_failed", ref="R-1", why=why, level=10)
    )


async def test_a_second_mute_of_the_same_member_keeps_their_first_level_and_the_later_end(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _reported(sessions)
    async with sessions() as session, session.begin():
        session.add(
            GroupReport(
                community_id=1, chat_id=COMMUNITY_ROOM, message_id="$again", reported_user=SPAMMER
            )
        )
    first_end = int((datetime.now(UTC) + timedelta(days=7)).timestamp())
    first = GroupAction("restrict", ref="R-1", user_id=SPAMMER, until=first_end)
    await _outcome(sessions, first, {"ok": True, "previous": None, "level": -1})
    second_end = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    second = GroupAction("restrict", ref="R-2", user_id=SPAMMER, until=second_end)
    # Already muted: the level the homeserver saw is the mute's, not the one to give back.
    await _outcome(sessions, second, {"ok": True, "previous": -1, "level": -1, "already": True})
    [row] = await _unmutes(sessions)
    assert decode_reply(row.payload).action == GroupAction(
        "unrestrict", ref="R-2", user_id=SPAMMER, until=first_end, level=None
    )
    dropped = await queued(sessions, status=OutboxStatus.DROPPED.value)
    assert len(dropped) == 1
    assert await _status(sessions, 2) == "muted"


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_a_member_muted_by_a_room_admin_stays_as_the_admin_left_them(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    until = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    mute = GroupAction("restrict", ref="R-1", user_id=SPAMMER, until=until)
    receipt = {"ok": True, "previous": -20, "level": -20, "already": True}
    assert await _outcome(sessions, mute, receipt) == to_plain(
        t(lang, "engagement.matrix_already_muted", ref="R-1")
    )
    assert await _status(sessions) == "muted"
    assert await _unmutes(sessions) == []  # innobot will not end a mute it did not make


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
@pytest.mark.parametrize(
    ("receipt", "why_key", "values"),
    [
        (
            {"ok": False, "reason": "no_right", "right": "redact", "needed": 50, "have": 0},
            "engagement.matrix_no_power",
            {"what": "engagement.power_redact", "needed": 50, "have": 0},
        ),
        ({"ok": False, "reason": "gone"}, "engagement.matrix_gone", {}),
        ({"ok": False, "reason": "not_member"}, "engagement.matrix_not_member", {}),
        ({"ok": False, "reason": "is_admin", "level": 100}, "engagement.matrix_is_admin", {}),
        (None, "engagement.matrix_failed", {"detail": "gave up: 502"}),
    ],
)
async def test_a_refusal_leaves_the_report_open_and_says_why(
    sessions: async_sessionmaker[AsyncSession],
    lang: str,
    receipt: dict[str, object] | None,
    why_key: str,
    values: dict[str, object],
) -> None:
    await _reported(sessions, lang)
    remove = GroupAction("delete_message", ref="R-1", message_id="$rude")
    said = await _outcome(sessions, remove, receipt, None if receipt else "gave up: 502")
    shown = {
        k: t(lang, v) if isinstance(v, str) and v.startswith("engagement.") else v
        for k, v in values.items()
    }
    why = t(lang, why_key, **shown)
    assert said == to_plain(t(lang, "engagement.matrix_refused", ref="R-1", why=why))
    assert await _status(sessions) == "open"
    assert await _unmutes(sessions) == []


async def _desk_without_telegram(sessions: async_sessionmaker[AsyncSession], text: str) -> str:
    config = DeskConfig(rooms=DESK.rooms, threshold=DESK.threshold, lang="en", telegram=False)
    event = RoomEvent(room_id=ROOM, sender="@mod:example.org", event_id=f"$n{text}", text=text)

    async def power() -> int | None:
        return 100

    async with sessions() as session, session.begin():
        out = await handle_room_event(session, event, config, power)
    assert all(o.to.chat_id.startswith(ROOM) for o in out)  # nothing for anywhere else
    return "\n".join(to_plain(o.reply.text) for o in out)


async def test_without_telegram_nothing_waits_for_telegram_for_ever(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await desk(sessions, "!community create Energia | topics=energy")
    said = await _desk_without_telegram(sessions, f"!community link 1 telegram {GROUP}")
    assert said == "\n".join(
        [
            to_plain(t("en", "engagement.community_linked", name="Energia", chat=GROUP)),
            to_plain(t("en", "engagement.telegram_off_link")),
        ]
    )
    async with sessions() as session, session.begin():
        session.add(GroupReport(community_id=1, chat_id=GROUP, message_id="7", reported_user="9"))
    said = await _desk_without_telegram(sessions, "!community remove R-1")
    assert said == to_plain(t("en", "engagement.telegram_off_action", ref="R-1"))
    assert await queued(sessions, platform="telegram") == []
    assert await _status(sessions) == "open"


async def _muted(sessions: async_sessionmaker[AsyncSession]) -> OutboxMessage:
    """R-1's member muted by innobot (their level was 10); the row that ends the mute."""
    until = int((datetime.now(UTC) + timedelta(days=1)).timestamp())
    mute = GroupAction("restrict", ref="R-1", user_id=SPAMMER, until=until)
    await _outcome(sessions, mute, {"ok": True, "previous": 10, "level": -1})
    [end] = await _unmutes(sessions)
    return end


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_unmute_gives_the_level_back_now_and_drops_the_end_that_waited(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    end = await _muted(sessions)
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.matrix_unmuting", ref="R-1")
    )
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.matrix_pending", ref="R-1")
    )
    rows = await queued(sessions, chat_id=COMMUNITY_ROOM, status=OutboxStatus.PENDING.value)
    early = [reply.action for row, reply in rows if row.id != end.id]
    early_ids = [row.id for row, _ in rows if row.id != end.id]
    assert early == [GroupAction("unrestrict", ref="R-1", user_id=SPAMMER, level=10)]
    assert early[0] is not None
    assert await _status(sessions) == "muted"  # until the homeserver did it

    assert await _outcome(sessions, early[0], {"ok": True}) == to_plain(
        t(lang, "engagement.report_unmuted_done", ref="R-1")
    )
    assert await _status(sessions) == "unmuted"
    # Only the early end is left (the outbox settles it): the end at its time will not act.
    assert [row.id for row in await _unmutes(sessions)] == early_ids
    async with sessions() as session:
        dropped = await session.get(OutboxMessage, end.id)
        assert dropped is not None
        assert dropped.status == OutboxStatus.DROPPED.value
        assert dropped.payload == {}  # no member id kept
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.unmute_not_muted", ref="R-1", status="unmuted")
    )
    async with sessions() as session:
        [energia] = (await stats.engagement(session)).communities
    assert (energia.reports_open, energia.reports_acted_on) == (0, 1)  # acted on, still


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_an_unmute_refused_leaves_the_mute_to_end_at_its_time(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    await _reported(sessions, lang)
    end = await _muted(sessions)
    early = GroupAction("unrestrict", ref="R-1", user_id=SPAMMER, level=10)
    refused = {
        "ok": False,
        "reason": "no_right",
        "right": "power_levels",
        "needed": 100,
        "have": 50,
    }
    why = t(
        lang,
        "engagement.matrix_no_power",
        what=t(lang, "engagement.power_levels"),
        needed=100,
        have=50,
    )
    assert await _outcome(sessions, early, refused) == to_plain(
        t(lang, "engagement.matrix_unmute_refused", ref="R-1", why=why)
    )
    assert await _status(sessions) == "muted"
    assert [row.id for row in await _unmutes(sessions)] == [end.id]


async def test_unmute_needs_a_mute_innobot_made(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    await _reported(sessions)
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.unmute_not_muted", ref="R-1", status="open")
    )
    until = int((datetime.now(UTC) + timedelta(hours=1)).timestamp())
    mute = GroupAction("restrict", ref="R-1", user_id=SPAMMER, until=until)
    await _outcome(sessions, mute, {"ok": True, "previous": -20, "level": -20, "already": True})
    assert await desk(sessions, "!community unmute R-1") == to_plain(
        t("en", "engagement.matrix_unmute_nothing", ref="R-1")
    )
    assert await queued(sessions, chat_id=COMMUNITY_ROOM) == []
    assert await desk(sessions, "!community unmute R-99") == to_plain(
        t("en", "engagement.unknown", ref="R-99")
    )


async def _checked(
    sessions: async_sessionmaker[AsyncSession], receipt: dict[str, object] | None
) -> str:
    async with sessions() as session, session.begin():
        await session.execute(delete(OutboxMessage).where(OutboxMessage.chat_id == MODERATION_ROOM))
        row = OutboxMessage(platform="matrix", chat_id=COMMUNITY_ROOM, payload={"text": ""})
        check = GroupAction("check_rights", ref="K-1")
        await on_group_action(session, row, check, receipt, None if receipt else "gave up: 502")
    [(_, said)] = await queued(sessions, platform="matrix", chat_id=MODERATION_ROOM)
    return to_plain(said.text)


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_linking_a_room_checks_innobots_power_levels(
    sessions: async_sessionmaker[AsyncSession], lang: str
) -> None:
    async with sessions() as session, session.begin():
        await moderation_store.set_state(session, ROOM_LANGUAGE_KEY, lang)
    await desk(sessions, "!community create Energia | topics=energy")
    await desk(sessions, f"!community link 1 matrix {COMMUNITY_ROOM}")
    [(row, reply)] = await queued(sessions, chat_id=COMMUNITY_ROOM)
    assert row.platform == Platform.MATRIX.value
    assert reply.action == GroupAction("check_rights", ref="K-1")

    levels = {"redact": 50, "power_levels": 100}
    assert await _checked(sessions, {"ok": True, "have": 100, **levels}) == to_plain(
        t(lang, "engagement.matrix_rights_ok", name="Energia", have=100)
    )
    missing = ", ".join(
        [
            f"{t(lang, 'engagement.power_redact')} (50)",
            f"{t(lang, 'engagement.power_levels')} (100)",
        ]
    )
    assert await _checked(sessions, {"ok": True, "have": 0, **levels}) == to_plain(
        t(lang, "engagement.matrix_rights_low", name="Energia", have=0, missing=missing)
    )
    missing = f"{t(lang, 'engagement.power_levels')} (100)"
    assert await _checked(sessions, {"ok": True, "have": 50, **levels}) == to_plain(
        t(lang, "engagement.matrix_rights_low", name="Energia", have=50, missing=missing)
    )
    assert await _checked(sessions, {"ok": False, "reason": "not_member"}) == to_plain(
        t(lang, "engagement.matrix_rights_not_member", name="Energia")
    )
    assert await _checked(sessions, None) == to_plain(
        t(lang, "engagement.matrix_rights_unknown", name="Energia", detail="gave up: 502")
    )
