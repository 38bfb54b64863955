"""The Matrix adapter's pure parts: events in, power levels, message content out, addresses."""

from __future__ import annotations

from typing import Any

import pytest

from bot.adapters.matrix_events import (
    CREATOR_POWER,
    RoomCreation,
    message_content,
    power_level,
    to_room_event,
)
from handlers.core import Button, Reply
from handlers.moderation import RoomAddress, parse_command, parse_ref
from storage.models import ItemKind

BOT = "@innobot:example.org"
ROOM = "!room:example.org"


def _message(body: str, **content: Any) -> dict[str, Any]:
    return {
        "type": "m.room.message",
        "event_id": "$e1",
        "sender": "@alice:example.org",
        "content": {"msgtype": "m.text", "body": body, **content},
    }


def test_a_text_message_becomes_a_room_event() -> None:
    event = to_room_event(ROOM, _message("!approve I-1"), BOT)
    assert event is not None
    assert (event.room_id, event.sender, event.event_id) == (ROOM, "@alice:example.org", "$e1")
    assert event.text == "!approve I-1"
    assert event.thread_root is None


def test_thread_replies_and_plain_replies_name_their_root() -> None:
    thread = _message("!approve", **{"m.relates_to": {"rel_type": "m.thread", "event_id": "$c"}})
    assert to_room_event(ROOM, thread, BOT).thread_root == "$c"  # type: ignore[union-attr]
    reply = _message(
        "> <@innobot:example.org> Idea I-1\n> more\n\n!approve",
        **{"m.relates_to": {"m.in_reply_to": {"event_id": "$card"}}},
    )
    event = to_room_event(ROOM, reply, BOT)
    assert event is not None
    assert event.thread_root == "$card"
    assert event.text == "!approve"


@pytest.mark.parametrize(
    "source",
    [
        _message("!approve I-2", **{"m.relates_to": {"rel_type": "m.replace", "event_id": "$x"}}),
        _message("!approve I-2", **{"m.new_content": {"body": "!approve I-2"}}),
        _message("!approve I-2", msgtype="m.notice"),
        {**_message("!approve I-2"), "sender": BOT},
        {**_message("x"), "content": {}},
        {
            **_message("!approve I-2"),
            "unsigned": {"redacted_because": {"type": "m.room.redaction"}},
        },
        {"type": "m.room.redaction", "event_id": "$r", "sender": "@a:x", "content": {}},
        {"type": "m.room.member", "event_id": "$m", "sender": "@a:x", "content": {"x": 1}},
        {**_message("x"), "content": {"msgtype": "m.text", "body": None}},
    ],
    ids=["edit", "new-content", "notice", "own", "empty", "redacted", "redaction", "state", "bad"],
)
def test_edits_notices_own_and_redacted_events_are_ignored(source: dict[str, Any]) -> None:
    assert to_room_event(ROOM, source, BOT) is None


def test_reactions_carry_their_key_and_target() -> None:
    source = {
        "type": "m.reaction",
        "event_id": "$r",
        "sender": "@alice:example.org",
        "content": {"m.relates_to": {"rel_type": "m.annotation", "event_id": "$card", "key": "✅"}},
    }
    event = to_room_event(ROOM, source, BOT)
    assert event is not None
    assert (event.reaction, event.reacts_to) == ("✅", "$card")


def test_power_levels_follow_the_homeservers_rules() -> None:
    levels = {"users": {"@mod:x": 50, "@admin:x": 100}, "users_default": 10}
    assert power_level(levels, "@mod:x") == 50
    assert power_level(levels, "@someone:x") == 10
    assert power_level({"users": {"@a:x": "high"}}, "@a:x") == 0
    v12 = RoomCreation(creator="@founder:x", version="12", additional_creators=frozenset({"@co:x"}))
    assert power_level(levels, "@founder:x", v12) == CREATOR_POWER
    assert power_level(levels, "@co:x", v12) == CREATOR_POWER
    v11 = RoomCreation(creator="@founder:x", version="11")
    assert power_level(levels, "@founder:x", v11) == 10
    assert power_level(None, "@founder:x", v11) == 100
    assert power_level(None, "@other:x", v11) == 0
    created = RoomCreation.from_event(
        {"sender": "@f:x", "content": {"room_version": "12", "additional_creators": ["@g:x", 3]}}
    )
    assert created.is_creator("@g:x")
    assert created.privileged_creators


def test_message_content_escapes_html_and_keeps_line_breaks() -> None:
    content = message_content(Reply("*Card* <b>x</b> & y\nsecond line"))
    assert content["body"] == "Card <b>x</b> & y\nsecond line"
    assert content["format"] == "org.matrix.custom.html"
    assert content["formatted_body"] == "<b>Card</b> &lt;b&gt;x&lt;/b&gt; &amp; y<br>\nsecond line"
    threaded = message_content(Reply("hi", ((Button("Yes", "y"),),)), thread_root="$root")
    assert threaded["m.relates_to"]["rel_type"] == "m.thread"
    assert threaded["m.relates_to"]["event_id"] == "$root"
    assert threaded["body"] == "hi\n1. Yes"
    long = message_content(Reply("x" * 50_000))
    assert len(long["body"]) < 21_000


def test_room_addresses_round_trip() -> None:
    for address in (
        RoomAddress(ROOM),
        RoomAddress("moderation", card="I-4"),
        RoomAddress(ROOM, thread_ref="C-2"),
        RoomAddress(ROOM, thread_event="$abc"),
    ):
        assert RoomAddress.parse(str(address)) == address


def test_references_and_commands_are_parsed_strictly() -> None:
    assert parse_ref("I-12") == (ItemKind.IDEA, 12)
    assert parse_ref("#c7") == (ItemKind.CHALLENGE, 7)
    assert parse_ref("l-3") == (ItemKind.INFRASTRUCTURE, 3)
    assert parse_ref("X-1") is None
    assert parse_ref("12") is None
    assert parse_command("!Approve  I-1   a  note ") == ("approve", "I-1   a  note")
    assert parse_command("!") is None
    assert parse_command("! approve") is None
    assert parse_command("approve I-1") is None
