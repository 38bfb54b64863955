"""A community's Telegram group end to end: welcomes, group commands, /report, and moderators
removing the message or muting its author through innobot — with and without admin rights."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.app import App
from handlers.i18n import t
from storage.models import GroupReport
from tests.e2e.conftest import StartApp
from tests.e2e.engagement import ModerationRoom
from tests.e2e.journey import shown
from tests.fakes.bot_api import FakeBotAPI

GROUP = -1001234567
ADA = 501  # a member who reports
SPAMMER = 502
ADMIN = 503  # the group's owner
LANGUAGES = ["en", "it", "sv"]


async def _linked(start_app: StartApp, fake: FakeBotAPI, lang: str) -> tuple[App, ModerationRoom]:
    app = await start_app()
    room = await ModerationRoom(app, lang).open()
    await room.command(f"!community create Energia | topics=energy | lang={lang}")
    assert await room.read(1) == [shown(lang, "engagement.community_created", id=1, name="Energia")]
    await room.command(f"!community link 1 telegram {GROUP}")
    return app, room


def _spam_and_report(fake: FakeBotAPI, text: str) -> int:
    spam = fake.send_text(SPAMMER, text, chat_id=GROUP, first_name="Spam")
    spam_id = int(spam["message"]["message_id"])
    fake.send_text(ADA, "/report", chat_id=GROUP, reply_to=spam_id)
    return spam_id


async def _status(app: App, report_id: int) -> str:
    async with app.sessions() as session:
        report = await session.get(GroupReport, report_id)
        assert report is not None
        return report.status


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_linked_group_with_an_admin_innobot(
    start_app: StartApp, fake: FakeBotAPI, lang: str
) -> None:
    fake.add_user(ADMIN, first_name="Grace")
    fake.add_group(GROUP)
    fake.set_member(GROUP, ADMIN, "creator")
    fake.set_member(GROUP, fake.bot_user["id"], "administrator", can_delete_messages=True,
                    can_restrict_members=True)  # fmt: skip
    app, room = await _linked(start_app, fake, lang)
    assert set(await room.read(2)) == {
        shown(lang, "engagement.community_linked", name="Energia", chat=str(GROUP)),
        shown(lang, "engagement.rights_ok", name="Energia"),
    }

    # A newcomer is welcomed in the community's language; the group's commands are answered.
    fake.join_group(ADA, GROUP, language_code=lang, first_name="Ada")
    [welcome] = await fake.wait_for_messages(GROUP, 1)
    assert welcome.text == shown(lang, "communities.welcome", name="Ada", community="Energia")
    fake.send_text(ADA, "/help", chat_id=GROUP, language_code=lang)
    help_ = (await fake.wait_for_messages(GROUP, 2))[-1]
    assert help_.text == shown(lang, "communities.group_help", community="Energia")

    # A report reaches the room; removing deletes the message in the group.
    spam_id = _spam_and_report(fake, "Buy cheap followers now!!!")
    thanks = (await fake.wait_for_messages(GROUP, 3))[-1]
    assert thanks.text == shown(lang, "communities.report_thanks")
    [card] = await room.read(1)
    assert "R-1" in card
    assert "Buy cheap followers now!!!" in card
    await room.command("!community remove R-1")
    # (what the desk says at once and the outcome come through two queues: either may be first)
    assert set(await room.read(2)) == {
        shown(lang, "engagement.report_removing", ref="R-1"),
        shown(lang, "engagement.report_removed_done", ref="R-1"),
    }
    assert fake.deleted == [(GROUP, spam_id)]
    assert await _status(app, 1) == "removed"

    # Muting restricts the author until the time asked for.
    _spam_and_report(fake, "Still selling followers")
    [card] = await room.read(1)
    assert "R-2" in card
    await room.command("!community mute R-2 2h")
    said = set(await room.read(2))
    [(chat, user, rights, until)] = fake.restrictions
    assert (chat, user) == (GROUP, SPAMMER)
    assert rights["can_send_messages"] is False
    assert 7100 < until - datetime.now(UTC).timestamp() <= 7200
    shown_until = datetime.fromtimestamp(until, UTC).strftime("%Y-%m-%d %H:%M UTC")
    assert said == {
        shown(lang, "engagement.report_muting", ref="R-2", until=shown_until),
        shown(lang, "engagement.report_muted_done", ref="R-2", until=shown_until),
    }
    assert await _status(app, 2) == "muted"
    # A report acted on is not acted on twice.
    await room.command("!community remove R-2")
    assert await room.read(1) == [shown(lang, "engagement.report_done", ref="R-2", status="muted")]
    # Unmuting before the time gives every permission back.
    await room.command("!community unmute R-2")
    assert set(await room.read(2)) == {
        shown(lang, "engagement.report_unmuting", ref="R-2"),
        shown(lang, "engagement.report_unmuted_done", ref="R-2"),
    }
    (chat, user, rights, _) = fake.restrictions[-1]
    assert (chat, user) == (GROUP, SPAMMER)
    assert all(rights.values())
    assert await _status(app, 2) == "unmuted"

    # innobot demoted, then removed from the group: the room hears it.
    fake.set_member(GROUP, fake.bot_user["id"], "member", by=ADMIN)
    assert await room.read(1) == [shown(lang, "engagement.bot_now_not_admin", name="Energia")]
    fake.set_member(GROUP, fake.bot_user["id"], "kicked", by=ADMIN)
    assert await room.read(1) == [shown(lang, "engagement.bot_now_not_member", name="Energia")]


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_without_admin_rights_innobot_says_which_one_it_lacks(
    start_app: StartApp, fake: FakeBotAPI, lang: str
) -> None:
    fake.add_user(ADMIN, first_name="Grace")
    fake.add_group(GROUP)  # innobot is a plain member
    fake.set_member(GROUP, ADMIN, "creator")
    app, room = await _linked(start_app, fake, lang)
    assert set(await room.read(2)) == {
        shown(lang, "engagement.community_linked", name="Energia", chat=str(GROUP)),
        shown(lang, "engagement.rights_not_admin", name="Energia"),
    }
    spam_id = _spam_and_report(fake, "Click my link")
    await room.read(1)  # the card
    await room.command("!community remove R-1")
    no_delete = t(lang, "engagement.right_delete")
    assert set(await room.read(2)) == {
        shown(lang, "engagement.report_removing", ref="R-1"),
        shown(lang, "engagement.action_no_right", ref="R-1", right=no_delete),
    }
    await room.command("!community mute R-1")
    refused = shown(
        lang, "engagement.action_no_right", ref="R-1", right=t(lang, "engagement.right_restrict")
    )
    assert refused in await room.read(2)
    assert fake.deleted == []
    assert fake.restrictions == []
    assert await _status(app, 1) == "open"

    # Promoted with the right to restrict only: the room is told what is still missing.
    fake.set_member(GROUP, fake.bot_user["id"], "administrator", can_restrict_members=True,
                    by=ADMIN)  # fmt: skip
    assert await room.read(1) == [
        shown(lang, "engagement.bot_now_missing", name="Energia",
              rights=t(lang, "engagement.right_delete"))
    ]  # fmt: skip
    # An administrator cannot be muted; a message already gone cannot be removed.
    fake.set_member(GROUP, SPAMMER, "administrator")
    await room.command("!community mute R-1")
    assert shown(lang, "engagement.action_is_admin", ref="R-1") in await room.read(2)
    fake.set_member(GROUP, fake.bot_user["id"], "administrator", can_delete_messages=True,
                    can_restrict_members=True, by=ADMIN)  # fmt: skip
    assert await room.read(1) == [shown(lang, "engagement.bot_now_ok", name="Energia")]
    fake.deleted.clear()
    fake.set_member(GROUP, ADMIN, "creator")
    await room.command("!community remove R-1")
    assert shown(lang, "engagement.report_removed_done", ref="R-1") in await room.read(2)
    assert fake.deleted == [(GROUP, spam_id)]


async def test_linking_a_group_innobot_is_not_in_is_kept_with_a_warning(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    fake.add_group(GROUP)
    fake.set_member(GROUP, fake.bot_user["id"], "left")
    _, room = await _linked(start_app, fake, "en")
    assert set(await room.read(2)) == {
        shown("en", "engagement.community_linked", name="Energia", chat=str(GROUP)),
        shown("en", "engagement.rights_not_member", name="Energia"),
    }
    await room.command("!community list")
    [listing] = await room.read(1)
    assert str(GROUP) in listing


async def test_messages_gone_or_too_old_to_delete(start_app: StartApp, fake: FakeBotAPI) -> None:
    fake.add_group(GROUP)
    fake.set_member(GROUP, fake.bot_user["id"], "administrator", can_delete_messages=True,
                    can_restrict_members=True)  # fmt: skip
    app, room = await _linked(start_app, fake, "en")
    await room.read(2)
    gone = _spam_and_report(fake, "Deleted by its author")
    await room.read(1)
    fake.delete_by_author(GROUP, gone)
    await room.command("!community remove R-1")
    assert shown("en", "engagement.action_message_gone", ref="R-1") in await room.read(2)
    assert await _status(app, 1) == "open"

    old = fake.send_text(SPAMMER, "An old message", chat_id=GROUP)
    old["message"]["date"] -= 49 * 3600  # bots may delete messages for 48 hours
    fake.send_text(ADA, "/report", chat_id=GROUP, reply_to=old["message"]["message_id"])
    await room.read(1)
    await room.command("!community remove R-2")
    assert shown("en", "engagement.action_too_old", ref="R-2") in await room.read(2)
    assert fake.deleted == []
    assert await _status(app, 2) == "open"


async def test_a_removal_meeting_telegram_trouble_is_retried_and_done_once(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    fake.add_group(GROUP)
    fake.set_member(GROUP, fake.bot_user["id"], "administrator", can_delete_messages=True)
    app, room = await _linked(start_app, fake, "en")
    app.worker.retry_base = 0.05  # seconds before the next attempt (doubling)
    await room.read(2)
    spam_id = _spam_and_report(fake, "Spam again")
    await room.read(1)
    fake.fail_next(2, 502, methods=["deleteMessage"])
    await room.command("!community remove R-1")
    assert set(await room.read(2)) == {
        shown("en", "engagement.report_removing", ref="R-1"),
        shown("en", "engagement.report_removed_done", ref="R-1"),
    }
    assert fake.deleted == [(GROUP, spam_id)]
    assert [c.status for c in fake.calls if c.method == "deleteMessage"] == [502, 502, 200]
    assert await _status(app, 1) == "removed"
