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
class Reply:
    """What innobot says back.

    ``text`` is Markdown-ish: ``*bold*``, ``_italic_`` and ``` `code` ``` only, produced by the
    catalog; user content inserted into it is escaped by the adapter, so handlers insert it raw
    through :func:`handlers.i18n.user_text`. ``buttons`` are rows of choices.
    """

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()
    document: Document | None = None
    to: Recipient | None = None
