"""Poll answers and innobot's own membership changes become incoming messages; which polls
Telegram takes as native polls (no network involved)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.adapters.telegram import poll_fits, to_incoming
from handlers.core import ContentKind, IncomingMessage, Platform, Poll

ADA = {"id": 42, "is_bot": False, "first_name": "Ada", "language_code": "sv"}
BOT = {"id": 99, "is_bot": True, "first_name": "innobot", "username": "innobot_bot"}
GROUP = {"id": -1001234, "type": "supergroup", "title": "Makers of Umeå"}
PRIVATE = {"id": 42, "type": "private", "first_name": "Ada"}
NO_RIGHTS = {
    "can_be_edited": False,
    "is_anonymous": False,
    "can_manage_chat": True,
    "can_delete_messages": False,
    "can_manage_video_chats": False,
    "can_restrict_members": False,
    "can_promote_members": False,
    "can_change_info": False,
    "can_invite_users": False,
    "can_post_stories": False,
    "can_edit_stories": False,
    "can_delete_stories": False,
}


def convert(data: dict[str, Any]) -> IncomingMessage | None:
    return to_incoming(Update.de_json({"update_id": 1, **data}, None))


def answer(option_ids: list[int], **voter: Any) -> dict[str, Any]:
    return {
        "poll_answer": {
            "poll_id": "5000000000000000001",
            "option_ids": option_ids,
            "option_persistent_ids": [f"p{i}" for i in option_ids],
            **voter,
        }
    }


def test_a_vote_becomes_the_poll_command_from_the_private_chat() -> None:
    msg = convert(answer([0, 2], user=ADA))
    assert msg is not None
    assert msg.platform is Platform.TELEGRAM
    assert (msg.chat_id, msg.user_id, msg.is_private) == ("42", "42", True)
    assert msg.kind is ContentKind.BUTTON
    assert msg.button == "c:poll 5000000000000000001 1,3"
    assert msg.language_hint == "sv"


def test_a_withdrawn_vote_chooses_nothing() -> None:
    msg = convert(answer([], user=ADA))
    assert msg is not None
    assert msg.button == "c:poll 5000000000000000001 -"


def test_a_vote_cast_as_a_chat_is_nobodys() -> None:
    assert convert(answer([1], voter_chat=GROUP)) is None


def change(chat: dict[str, Any], old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    return {
        "my_chat_member": {
            "chat": chat,
            "from": ADA,
            "date": 1_700_000_000,
            "old_chat_member": {"user": BOT, **old},
            "new_chat_member": {"user": BOT, **new},
        }
    }


@pytest.mark.parametrize(
    ("new", "status"),
    [
        ({"status": "administrator", **NO_RIGHTS, "can_delete_messages": True}, "admin delete"),
        ({"status": "administrator", **NO_RIGHTS, "can_restrict_members": True}, "admin restrict"),
        ({"status": "administrator", **NO_RIGHTS}, "admin"),
        ({"status": "creator", "is_anonymous": False}, "admin delete restrict"),
        ({"status": "member"}, "member"),
        ({"status": "left"}, "removed"),
        ({"status": "kicked", "until_date": 0}, "removed"),
    ],
)
def test_innobots_place_in_a_group(new: dict[str, Any], status: str) -> None:
    msg = convert(change(GROUP, {"status": "member"}, new))
    assert msg is not None
    assert msg.kind is ContentKind.BOT_STATUS
    assert (msg.chat_id, msg.user_id, msg.is_private) == ("-1001234", "42", False)
    assert msg.text == status


def test_a_private_chat_blocking_innobot_is_no_group_news() -> None:
    blocked = change(PRIVATE, {"status": "member"}, {"status": "kicked", "until_date": 0})
    assert convert(blocked) is None


def poll(question: str = "Which energy?", options: tuple[str, ...] = ("Sun", "Wind")) -> Poll:
    return Poll(question=question, options=options, subject="consultation:1")


def test_which_polls_fit_telegram() -> None:
    assert poll_fits(poll())
    assert poll_fits(poll("q" * 300, tuple(str(n) for n in range(12))))
    assert not poll_fits(poll("q" * 301))
    assert not poll_fits(poll(options=tuple(str(n) for n in range(13))))
    assert not poll_fits(poll(options=("Sun", "w" * 101)))
    assert not poll_fits(poll(options=("Sun", " ")))
    assert not poll_fits(poll(options=("Sun",)))
