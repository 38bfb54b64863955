"""Telegram updates become platform-neutral incoming messages (no network involved)."""

from __future__ import annotations

from typing import Any

import pytest
from telegram import Update

from bot.adapters.telegram import to_incoming
from handlers.core import ContentKind, IncomingMessage, Platform, Quoted

ADA = {"id": 42, "is_bot": False, "first_name": "Ada", "last_name": "Lovelace",
       "language_code": "it-IT"}  # fmt: skip
PRIVATE = {"id": 42, "type": "private", "first_name": "Ada"}
GROUP = {"id": -1001234, "type": "supergroup", "title": "Makers of Umeå"}
BOT = {"id": 99, "is_bot": True, "first_name": "innobot", "username": "innobot_bot"}


def message(**fields: Any) -> dict[str, Any]:
    return {"message_id": 7, "date": 1_700_000_000, "chat": PRIVATE, "from": ADA, **fields}


def convert(data: dict[str, Any]) -> IncomingMessage | None:
    return to_incoming(Update.de_json({"update_id": 1, **data}, None))


def test_text_message() -> None:
    msg = convert({"message": message(text="A bike-sharing app for Brescia")})
    assert msg == IncomingMessage(
        platform=Platform.TELEGRAM,
        chat_id="42",
        user_id="42",
        text="A bike-sharing app for Brescia",
        kind=ContentKind.TEXT,
        display_name="Ada Lovelace",
        language_hint="it-IT",
        is_private=True,
        message_id="7",
    )
    assert isinstance(msg.raw, Update)


def test_command_with_entity() -> None:
    entities = [{"type": "bot_command", "offset": 0, "length": 5}]
    msg = convert({"message": message(text="/idea solar benches", entities=entities)})
    assert msg is not None
    assert msg.command == ("idea", "solar benches")


def test_button_press() -> None:
    bot_message = {"message_id": 11, "date": 1_700_000_000, "chat": PRIVATE, "from": BOT,
                   "text": "Which language?"}  # fmt: skip
    query = {"id": "5551", "from": ADA, "chat_instance": "-1", "data": "f:0:sv",
             "message": bot_message}  # fmt: skip
    msg = convert({"callback_query": query})
    assert msg is not None
    assert (msg.kind, msg.button, msg.text) == (ContentKind.BUTTON, "f:0:sv", "")
    assert (msg.chat_id, msg.user_id, msg.message_id) == ("42", "42", "11")
    assert msg.language_hint == "it-IT"


def test_button_press_on_an_inaccessible_message_still_counts() -> None:
    old = {"message_id": 3, "date": 0, "chat": PRIVATE}  # date 0: too old for the bot to see
    query = {"id": "1", "from": ADA, "chat_instance": "-1", "data": "c:help", "message": old}
    msg = convert({"callback_query": query})
    assert msg is not None
    assert (msg.chat_id, msg.button) == ("42", "c:help")


def test_callback_without_data_or_message_is_ignored() -> None:
    base = {"id": "1", "from": ADA, "chat_instance": "-1"}
    assert convert({"callback_query": {**base, "game_short_name": "g"}}) is None
    assert convert({"callback_query": {**base, "inline_message_id": "x", "data": "c:h"}}) is None


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ({"sticker": {"file_id": "s", "file_unique_id": "s", "width": 1, "height": 1,
                      "is_animated": False, "is_video": False, "type": "regular"}},
         ContentKind.STICKER),
        ({"photo": [{"file_id": "p", "file_unique_id": "p", "width": 1, "height": 1}],
          "caption": "my prototype"}, ContentKind.PHOTO),
        ({"voice": {"file_id": "v", "file_unique_id": "v", "duration": 2}}, ContentKind.VOICE),
        ({"document": {"file_id": "d", "file_unique_id": "d", "file_name": "plan.pdf"}},
         ContentKind.DOCUMENT),
        ({"location": {"latitude": 45.5, "longitude": 9.2}}, ContentKind.OTHER),
        ({"animation": {"file_id": "a", "file_unique_id": "a", "width": 1, "height": 1,
                        "duration": 1},
          "document": {"file_id": "a", "file_unique_id": "a"}}, ContentKind.OTHER),
    ],
)  # fmt: skip
def test_other_content_kinds(fields: dict[str, Any], kind: ContentKind) -> None:
    msg = convert({"message": message(**fields)})
    assert msg is not None
    assert msg.kind == kind
    assert msg.text == ""  # captions are not read


def test_group_message() -> None:
    msg = convert({"message": message(chat=GROUP, text="/help")})
    assert msg is not None
    assert (msg.chat_id, msg.user_id, msg.is_private) == ("-1001234", "42", False)


def test_names_and_language_are_optional() -> None:
    user = {"id": 5, "is_bot": False, "first_name": "Björn"}
    msg = convert({"message": message(**{"from": user}, text="hej")})
    assert msg is not None
    assert (msg.display_name, msg.language_hint) == ("Björn", None)


@pytest.mark.parametrize(
    "data",
    [
        {"message": message(chat=GROUP, new_chat_members=[BOT])},  # only a bot joined
        {"message": message(**{"from": BOT}, text="bots talking")},
        {"edited_message": message(text="edited", edit_date=1_700_000_100)},
        {"channel_post": {"message_id": 1, "date": 0, "chat": {"id": -100, "type": "channel"},
                          "text": "news"}},
        {"my_chat_member": {"chat": PRIVATE, "from": ADA, "date": 0,
                            "old_chat_member": {"status": "member", "user": BOT},
                            "new_chat_member": {"status": "kicked", "user": BOT,
                                                "until_date": 0}}},
    ],
)  # fmt: skip
def test_updates_nobody_sent_to_innobot_are_ignored(data: dict[str, Any]) -> None:
    assert convert(data) is None


def test_a_person_joining_a_group_is_the_sender_of_a_member_joined_message() -> None:
    newcomer = {"id": 77, "is_bot": False, "first_name": "Sven", "language_code": "sv"}
    msg = convert({"message": message(chat=GROUP, new_chat_members=[BOT, newcomer])})
    assert msg is not None
    assert msg.kind is ContentKind.MEMBER_JOINED
    assert (msg.chat_id, msg.user_id, msg.display_name) == ("-1001234", "77", "Sven")
    assert (msg.language_hint, msg.is_private) == ("sv", False)


def test_a_reply_carries_the_message_it_replies_to() -> None:
    flagged = message(message_id=5, chat=GROUP, **{"from": BOT}, text="spam spam")
    msg = convert({"message": message(chat=GROUP, text="/report", reply_to_message=flagged)})
    assert msg is not None
    assert msg.reply_to == Quoted(message_id="5", user_id="99", text="spam spam", from_bot=True)
