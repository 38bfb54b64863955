"""Matrix events in, Matrix messages out: the pure part of innobot's Matrix adapter.

:func:`to_room_event` turns a Matrix event (its JSON ``source``) into the platform-neutral
:class:`~handlers.moderation.RoomEvent` (moderation rooms) and :func:`to_incoming` into an
:class:`~handlers.core.IncomingMessage` (direct chats, community rooms); :func:`power_level`
computes a member's power as the homeserver does for authorization; :func:`message_content`
renders a reply as an ``m.room.message`` with a plain ``body`` and an HTML ``formatted_body``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from handlers.core import ContentKind, IncomingMessage, Platform, Quoted, Reply
from handlers.markup import to_html, to_plain
from handlers.moderation import RoomEvent

HTML_FORMAT: Final = "org.matrix.custom.html"
TEXT_MAX: Final = 20_000  # characters of one message; Matrix events are at most 64 KiB


def _strip_reply_fallback(body: str) -> str:
    """Drop the quoted original that clients put before a reply (``> <@user> ...``)."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    return "\n".join(lines[index:]).lstrip("\n")


def to_room_event(room_id: str, source: Mapping[str, Any], own_user: str) -> RoomEvent | None:
    """A room event as moderation sees it, or None if it is nothing to act on.

    Edits are ignored (an edited command is not run again), as are redacted events, notices
    (what bots say), the bot's own events and anything that is neither text nor a reaction.
    """
    sender = source.get("sender")
    event_id = source.get("event_id")
    content = source.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == own_user:
        return None
    if not isinstance(content, Mapping) or not content:
        return None
    unsigned = source.get("unsigned")
    if isinstance(unsigned, Mapping) and "redacted_because" in unsigned:
        return None
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, Mapping) else {}
    kind = source.get("type")
    if kind == "m.reaction":
        if relates.get("rel_type") != "m.annotation":
            return None
        key, target = relates.get("key"), relates.get("event_id")
        if not isinstance(key, str) or not isinstance(target, str):
            return None
        return RoomEvent(room_id, sender, event_id, reaction=key[:16], reacts_to=target)
    if kind != "m.room.message" or content.get("msgtype") not in ("m.text", "m.emote"):
        return None
    if relates.get("rel_type") == "m.replace" or "m.new_content" in content:
        return None
    body = content.get("body")
    if not isinstance(body, str):
        return None
    root: str | None = None
    reply_to = relates.get("m.in_reply_to")
    if relates.get("rel_type") == "m.thread" and isinstance(relates.get("event_id"), str):
        root = relates["event_id"]
    elif isinstance(reply_to, Mapping) and isinstance(reply_to.get("event_id"), str):
        root = reply_to["event_id"]
        body = _strip_reply_fallback(body)
    return RoomEvent(room_id, sender, event_id, text=body, thread_root=root)


def to_incoming(
    room_id: str,
    source: Mapping[str, Any],
    own_user: str,
    *,
    private: bool,
    display_name: str | None = None,
    quoted: Quoted | None = None,
) -> IncomingMessage | None:
    """A message in a direct chat (``private``) or a community room, as handlers see it.

    Text messages become text (a leading ``!`` is read as ``/``: Matrix clients keep ``/`` for
    their own commands); a member joining a community room becomes ``MEMBER_JOINED``. Edits,
    redactions, notices, the bot's own events and everything else are None.
    """
    sender = source.get("sender")
    event_id = source.get("event_id")
    content = source.get("content")
    if not isinstance(sender, str) or not isinstance(event_id, str) or sender == own_user:
        return None
    if not isinstance(content, Mapping):
        return None
    unsigned = source.get("unsigned")
    unsigned = unsigned if isinstance(unsigned, Mapping) else {}
    if "redacted_because" in unsigned:
        return None
    kind = source.get("type")
    if kind == "m.room.member":
        previous = unsigned.get("prev_content")
        was = previous.get("membership") if isinstance(previous, Mapping) else None
        if private or content.get("membership") != "join" or was == "join":
            return None  # a display name or avatar change is not a newcomer
        name = content.get("displayname")
        return IncomingMessage(
            platform=Platform.MATRIX,
            chat_id=room_id,
            user_id=sender,
            kind=ContentKind.MEMBER_JOINED,
            display_name=name if isinstance(name, str) else display_name,
            is_private=False,
            message_id=event_id,
        )
    if kind != "m.room.message":
        return None
    relates = content.get("m.relates_to")
    relates = relates if isinstance(relates, Mapping) else {}
    if relates.get("rel_type") == "m.replace" or "m.new_content" in content:
        return None
    msgtype = content.get("msgtype")
    body = content.get("body")
    if msgtype in ("m.image", "m.file", "m.audio", "m.video"):
        kinds = {"m.image": ContentKind.PHOTO, "m.audio": ContentKind.VOICE}
        message_kind = kinds.get(str(msgtype), ContentKind.DOCUMENT)
        text = ""
    elif msgtype in ("m.text", "m.emote") and isinstance(body, str):
        message_kind = ContentKind.TEXT
        text = _strip_reply_fallback(body) if reply_target(source) else body
        text = text.strip()
        if text.startswith("!") and len(text) > 1 and text[1].isalpha():
            text = "/" + text[1:]
    else:
        return None
    return IncomingMessage(
        platform=Platform.MATRIX,
        chat_id=room_id,
        user_id=sender,
        text=text,
        kind=message_kind,
        display_name=display_name,
        is_private=private,
        message_id=event_id,
        reply_to=quoted,
    )


def reply_target(source: Mapping[str, Any]) -> str | None:
    """The event a message replies to (``m.in_reply_to``), if any."""
    content = source.get("content")
    relates = content.get("m.relates_to") if isinstance(content, Mapping) else None
    reply_to = relates.get("m.in_reply_to") if isinstance(relates, Mapping) else None
    target = reply_to.get("event_id") if isinstance(reply_to, Mapping) else None
    return target if isinstance(target, str) else None


def quoted_from(source: Mapping[str, Any], own_user: str) -> Quoted | None:
    """The replied-to event as :class:`Quoted` (its author and text) for ``/report``."""
    event_id, sender = source.get("event_id"), source.get("sender")
    if not isinstance(event_id, str) or not isinstance(sender, str):
        return None
    content = source.get("content")
    body = content.get("body") if isinstance(content, Mapping) else None
    text = _strip_reply_fallback(body) if isinstance(body, str) else ""
    notice = isinstance(content, Mapping) and content.get("msgtype") == "m.notice"
    return Quoted(event_id, sender, text, from_bot=sender == own_user or notice)


def file_content(filename: str, mime_type: str, size: int, url: str) -> dict[str, Any]:
    """An ``m.file`` message for an uploaded file (``url``: its ``mxc://`` address)."""
    return {
        "msgtype": "m.file",
        "body": filename,
        "filename": filename,
        "url": url,
        "info": {"mimetype": mime_type, "size": size},
    }


def is_direct_invite(invite_state: list[Any], own_user: str) -> str | None:
    """The inviter, when an invitation is to a direct chat (``is_direct`` on the bot's
    membership), else None."""
    for event in invite_state:
        # nio's parsed invite events keep the content beside, not inside, their ``source``.
        source = getattr(event, "source", event)
        if not isinstance(source, Mapping):
            continue
        if getattr(event, "membership", None) is None and source.get("type") != "m.room.member":
            continue
        if getattr(event, "state_key", source.get("state_key")) != own_user:
            continue
        content = getattr(event, "content", source.get("content"))
        sender = getattr(event, "sender", source.get("sender"))
        if (
            isinstance(content, Mapping)
            and content.get("membership") == "invite"
            and content.get("is_direct") is True
            and isinstance(sender, str)
        ):
            return sender
    return None


CREATOR_POWER: Final = 2**53 - 1  # "infinite", as room version 12 gives its creators


@dataclass(frozen=True, slots=True)
class RoomCreation:
    """Who created a room, and under which rules (from its immutable ``m.room.create`` event)."""

    creator: str
    version: str = "1"
    additional_creators: frozenset[str] = frozenset()

    @property
    def privileged_creators(self) -> bool:
        """Room versions 12 and later give creators unlimited power, outside the power levels."""
        if self.version == "org.matrix.hydra.11":
            return True
        return self.version.isdigit() and int(self.version) >= 12

    def is_creator(self, user_id: str) -> bool:
        return user_id == self.creator or user_id in self.additional_creators

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> RoomCreation:
        content = event.get("content")
        content = content if isinstance(content, Mapping) else {}
        extra = content.get("additional_creators")
        return cls(
            creator=str(event.get("sender", "")),
            version=str(content.get("room_version", "1")),
            additional_creators=frozenset(str(u) for u in extra if isinstance(u, str))
            if isinstance(extra, list)
            else frozenset(),
        )


def power_level(
    levels: Mapping[str, Any] | None, user_id: str, creation: RoomCreation | None = None
) -> int:
    """A user's power level, as the homeserver computes it for authorization."""
    if creation is not None and creation.privileged_creators and creation.is_creator(user_id):
        return CREATOR_POWER
    if levels is None:
        return 100 if creation is not None and user_id == creation.creator else 0
    users = levels.get("users")
    default = levels.get("users_default", 0)
    level = users.get(user_id, default) if isinstance(users, Mapping) else default
    try:
        return int(level)
    except (TypeError, ValueError):
        return 0


# What a member sends when they speak: a mute keeps them below the level of all of these.
SPEAKING_TYPES: Final = ("m.room.message", "m.room.encrypted", "m.sticker")


def _level(value: object, default: int) -> int:
    try:
        return int(value)  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return default


def event_level(levels: Mapping[str, Any] | None, event_type: str, *, state: bool) -> int:
    """The power level needed to send an event of ``event_type`` (a state event if ``state``)."""
    if levels is None:
        return 50 if state else 0
    events = levels.get("events")
    default = _level(levels.get("state_default" if state else "events_default"), 50 if state else 0)
    if isinstance(events, Mapping) and event_type in events:
        return _level(events[event_type], default)
    return default


def redact_level(levels: Mapping[str, Any] | None) -> int:
    """The power level needed to redact other members' events."""
    return _level(levels.get("redact"), 50) if levels is not None else 50


def mute_level(levels: Mapping[str, Any] | None) -> int:
    """A power level that cannot speak in the room: one below the lowest level that can."""
    return min(event_level(levels, kind, state=False) for kind in SPEAKING_TYPES) - 1


def with_user_level(
    levels: Mapping[str, Any] | None, user_id: str, level: int | None
) -> dict[str, Any]:
    """``m.room.power_levels`` content with ``user_id`` at ``level`` (None: the room's
    default, their entry removed); everything else as it was."""
    content = dict(levels or {})
    users = content.get("users")
    users = dict(users) if isinstance(users, Mapping) else {}
    if level is None:
        users.pop(user_id, None)
    else:
        users[user_id] = level
    content["users"] = users
    return content


def explicit_level(levels: Mapping[str, Any] | None, user_id: str) -> int | None:
    """The level ``levels`` give ``user_id`` by name (None: they have the room's default)."""
    users = levels.get("users") if levels is not None else None
    if not isinstance(users, Mapping) or user_id not in users:
        return None
    return _level(users[user_id], 0)


def message_content(reply: Reply, thread_root: str | None = None) -> dict[str, Any]:
    """An ``m.room.message`` content: plain ``body`` and HTML ``formatted_body``."""
    text = reply.text if len(reply.text) <= TEXT_MAX else reply.text[:TEXT_MAX] + "…"
    labels = [button.label for row in reply.buttons for button in row]
    if labels:
        text += "\n" + "\n".join(f"{n}. {label}" for n, label in enumerate(labels, 1))
    content: dict[str, Any] = {
        "msgtype": "m.text",
        "body": to_plain(text),
        "format": HTML_FORMAT,
        "formatted_body": to_html(text).replace("\n", "<br>\n"),
    }
    if thread_root is not None:
        content["m.relates_to"] = {
            "rel_type": "m.thread",
            "event_id": thread_root,
            "is_falling_back": True,
            "m.in_reply_to": {"event_id": thread_root},
        }
    return content


SYNC_FILTER: Final[dict[str, Any]] = {
    "presence": {"not_types": ["*"]},
    "account_data": {"not_types": ["*"]},
    "room": {
        "ephemeral": {"not_types": ["*"]},
        "account_data": {"not_types": ["*"]},
        "timeline": {"limit": 100},
    },
}
