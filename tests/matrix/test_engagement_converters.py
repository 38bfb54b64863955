"""The pure converters for direct chats and community rooms: messages, newcomers, replies,
direct-chat invitations and files (no homeserver needed)."""

from __future__ import annotations

from typing import Any

from nio.events.invite_events import InviteEvent

from bot.adapters.matrix_events import (
    file_content,
    is_direct_invite,
    quoted_from,
    reply_target,
    to_incoming,
)
from handlers.core import ContentKind, Platform

BOT = "@innobot:localhost"
ROOM = "!energia"


def message(body: str, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "sender": "@ada:localhost",
        "event_id": "$1",
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def test_text_in_a_direct_chat_and_commands_written_with_an_exclamation_mark() -> None:
    msg = to_incoming(ROOM, message("!rsvp 3"), BOT, private=True, display_name="Ada")
    assert msg is not None
    assert msg.platform is Platform.MATRIX
    assert (msg.chat_id, msg.user_id, msg.is_private) == (ROOM, "@ada:localhost", True)
    assert msg.command == ("rsvp", "3")
    assert msg.display_name == "Ada"
    plain = to_incoming(ROOM, message("!!! great"), BOT, private=True)
    assert plain is not None
    assert plain.command is None
    assert plain.text == "!!! great"


def test_edits_notices_own_and_redacted_events_are_not_messages() -> None:
    edit = message("/events", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$0"}})
    notice = message("hello")
    notice["content"]["msgtype"] = "m.notice"
    own = {**message("/events"), "sender": BOT}
    redacted = {**message("/events"), "unsigned": {"redacted_because": {}}}
    for source in (edit, notice, own, redacted):
        assert to_incoming(ROOM, source, BOT, private=False) is None


def test_a_newcomer_in_a_community_room_but_not_a_name_change() -> None:
    joined = {
        "type": "m.room.member",
        "sender": "@bo:localhost",
        "state_key": "@bo:localhost",
        "event_id": "$2",
        "content": {"membership": "join", "displayname": "Bo"},
    }
    msg = to_incoming(ROOM, joined, BOT, private=False)
    assert msg is not None
    assert msg.kind is ContentKind.MEMBER_JOINED
    assert msg.display_name == "Bo"
    assert not msg.is_private
    renamed = {**joined, "unsigned": {"prev_content": {"membership": "join"}}}
    assert to_incoming(ROOM, renamed, BOT, private=False) is None
    assert to_incoming(ROOM, joined, BOT, private=True) is None


def test_a_reply_names_its_target_and_loses_its_fallback() -> None:
    source = message(
        "> <@eve:localhost> Buy cheap panels\n\n!report",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": "$spam"}}},
    )
    assert reply_target(source) == "$spam"
    msg = to_incoming(ROOM, source, BOT, private=False)
    assert msg is not None
    assert msg.command == ("report", "")
    quoted = quoted_from(
        {"event_id": "$spam", "sender": "@eve:localhost", "content": {"body": "Buy"}}, BOT
    )
    assert quoted is not None
    assert (quoted.message_id, quoted.user_id, quoted.text, quoted.from_bot) == (
        "$spam",
        "@eve:localhost",
        "Buy",
        False,
    )
    mine = quoted_from({"event_id": "$p", "sender": BOT, "content": {"body": "Post"}}, BOT)
    assert mine is not None
    assert mine.from_bot


def test_only_invitations_marked_direct_are_direct_chats() -> None:
    def invite(is_direct: bool | None) -> list[Any]:
        content: dict[str, Any] = {"membership": "invite"}
        if is_direct is not None:
            content["is_direct"] = is_direct
        event = {
            "type": "m.room.member",
            "sender": "@ada:localhost",
            "state_key": BOT,
            "content": content,
        }
        return [InviteEvent.parse_event(event)]

    assert is_direct_invite(invite(True), BOT) == "@ada:localhost"
    assert is_direct_invite(invite(False), BOT) is None
    assert is_direct_invite(invite(None), BOT) is None
    assert is_direct_invite([], BOT) is None


def test_a_file_message() -> None:
    content = file_content("event-1.ics", "text/calendar", 120, "mxc://localhost/abc")
    assert content == {
        "msgtype": "m.file",
        "body": "event-1.ics",
        "filename": "event-1.ics",
        "url": "mxc://localhost/abc",
        "info": {"mimetype": "text/calendar", "size": 120},
    }
