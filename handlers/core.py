"""The platform-neutral vocabulary every handler speaks: incoming messages and replies."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Platform(StrEnum):
    TELEGRAM = "telegram"
    MATRIX = "matrix"
    CONSOLE = "console"


class ContentKind(StrEnum):
    """What a message carries. Anything but TEXT where text is expected gets a polite refusal."""

    TEXT = "text"
    BUTTON = "button"
    STICKER = "sticker"
    PHOTO = "photo"
    VOICE = "voice"
    DOCUMENT = "document"
    OTHER = "other"
    MEMBER_JOINED = "member_joined"  # someone joined a group chat (the sender is the newcomer)
    # innobot's own place in a group changed (added, promoted, demoted, removed): ``text`` is its
    # new status in words: ``admin`` followed by ``delete``/``restrict`` (the admin rights it
    # has), ``member`` or ``removed``; the sender is whoever made the change.
    BOT_STATUS = "bot_status"


@dataclass(frozen=True, slots=True)
class Quoted:
    """The message an incoming one replies to (for example a group message flagged with /report).

    ``from_bot`` is True when it was sent by a bot (innobot itself or another one).
    """

    message_id: str
    user_id: str | None = None
    text: str = ""
    from_bot: bool = False


@dataclass(frozen=True, slots=True)
class IncomingMessage:
    """One thing a person sent, whatever the platform.

    ``chat_id`` is where replies go; ``user_id`` is who sent it. ``button`` is the payload of a
    pressed button (``text`` is then empty). ``language_hint`` is the app's language code, if any.
    ``raw`` keeps the platform event only as an escape hatch for adapters; handlers never read it.
    ``event_id``, when the platform gives one, names the event it came in: a message whose event
    was handled already (a redelivered update) is not handled again.
    """

    platform: Platform
    chat_id: str
    user_id: str
    text: str = ""
    button: str | None = None
    kind: ContentKind = ContentKind.TEXT
    display_name: str | None = None
    language_hint: str | None = None
    is_private: bool = True
    message_id: str | None = None
    reply_to: Quoted | None = None
    event_id: str | None = None
    raw: object | None = field(default=None, repr=False, compare=False)

    @property
    def command(self) -> tuple[str, str] | None:
        """``("idea", "rest of text")`` for ``/idea rest of text``; None when not a command."""
        text = self.text.strip()
        if not text.startswith("/") or len(text) < 2:
            return None
        head, _, rest = text[1:].partition(" ")
        name = head.split("@", 1)[0].lower()
        if not name or not all(c.isalnum() or c == "_" for c in name):
            return None
        return name, rest.strip()


@dataclass(frozen=True, slots=True)
class Button:
    """A choice offered with a reply. ``payload`` comes back as ``IncomingMessage.button``."""

    label: str
    payload: str


@dataclass(frozen=True, slots=True)
class Document:
    """A file attached to a reply (for example a personal-data export)."""

    filename: str
    content: bytes
    mime_type: str = "application/json"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Where a reply goes when it is not the chat the message came from."""

    platform: Platform
    chat_id: str


@dataclass(frozen=True, slots=True)
class Poll:
    """A native poll offered with a reply, where the platform has them (Telegram).

    The reply's own text and buttons are what is sent where a poll cannot be (Matrix, options
    too long or too many); ``intro`` goes just before the poll. Answers come back as the
    command ``/poll POLL_ID N,N`` (the chosen option numbers, none when withdrawn), and
    ``subject`` (for example ``consultation:12``) says what the poll belongs to.
    """

    question: str
    options: tuple[str, ...]
    subject: str
    multiple: bool = False
    intro: str = ""


@dataclass(frozen=True, slots=True)
class GroupAction:
    """Something innobot does in a group chat instead of saying something.

    ``kind``: ``delete_message`` (``message_id``), ``restrict`` (``user_id`` may not send
    messages until ``until``, Unix seconds), ``unrestrict`` (``user_id`` may write again: on
    Telegram with every permission; in a Matrix room with the power ``level`` they had before
    ``restrict``, None: the room's default; with ``until`` it is a Matrix mute's end at its
    time, without it a moderator's early end), ``check_rights`` (innobot's own status and admin
    rights, or power levels, there) or ``stop_poll`` (``message_id``). ``ref`` names what it is
    done for (a report ``R-12``, a community ``K-3``), so that the outcome can be reported
    back. A reply's text, if any, is the reason shown where the platform shows one.
    """

    kind: str
    ref: str = ""
    message_id: str | None = None
    user_id: str | None = None
    until: int | None = None
    level: int | None = None


@dataclass(frozen=True, slots=True)
class Reply:
    """What innobot says back.

    ``text`` is Markdown-ish: ``*bold*``, ``_italic_`` and ``` `code` ``` only, produced by the
    catalog; user content inserted into it is escaped by the adapter, so handlers insert it raw
    through :func:`handlers.i18n.user_text`. ``buttons`` are rows of choices. A reply may carry
    a :class:`Poll` (text and buttons are then its fallback) or be a :class:`GroupAction`.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: Document | None = None
    to: Recipient | None = None
    poll: Poll | None = None
    action: GroupAction | None = None
