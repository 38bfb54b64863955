"""Triage cards and the addresses of the moderation room (platform-neutral).

A card is queued, with the submission, as an outbox row addressed to the moderation room; the
Matrix adapter renders it when it sends it (:func:`render_card`), so it shows the item as stored
then. Messages to the moderation room are addressed with :class:`RoomAddress` strings: the room
itself, the triage card of an item, or the thread of a card. ``MODERATION_ROOM`` stands for the
room the adapter posts cards in, so that handlers never need to know its id.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core import Platform, Recipient, Reply
from handlers.i18n import t
from storage import moderation as store
from storage.models import ItemKind, Person, Status, Submission

MODERATION_ROOM = "moderation"
ROOM_LANGUAGE_KEY = "matrix.language"

CARD_TEXT_MAX = 600  # characters of the text shown on a card; !show gives all of it
FULL_TEXT_MAX = 20_000
SIMILAR_MAX = 3

# Statuses a moderator still decides on (approve, reject, ask).
DECIDABLE = (Status.PENDING.value, Status.NEEDS_INFO.value)

_REF = re.compile(r"^#?([ISLC])-?(\d{1,12})$", re.IGNORECASE)
_PREFIXES = {kind.prefix: kind for kind in ItemKind}


def parse_ref(token: str) -> tuple[ItemKind, int] | None:
    """``"I-12"`` (or ``i12``, ``#I-12``) → ``(ItemKind.IDEA, 12)``."""
    match = _REF.match(token.strip())
    if match is None:
        return None
    return _PREFIXES[match.group(1).upper()], int(match.group(2))


def ref_of(kind: ItemKind, item_id: int) -> str:
    return f"{kind.prefix}-{item_id}"


# --- addresses in the moderation room --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomAddress:
    """Where in a moderation room a message goes: the room, an item's card, or a thread."""

    room: str
    card: str | None = None  # post the triage card of this item reference
    thread_ref: str | None = None  # post in the thread of this item's card
    thread_event: str | None = None  # post in the thread rooted at this event

    def __str__(self) -> str:
        if self.card is not None:
            return f"{self.room}|card:{self.card}"
        if self.thread_ref is not None:
            return f"{self.room}|thread:{self.thread_ref}"
        if self.thread_event is not None:
            return f"{self.room}|in:{self.thread_event}"
        return self.room

    @classmethod
    def parse(cls, value: str) -> RoomAddress:
        room, sep, suffix = value.rpartition("|")
        if not sep:
            return cls(value)
        what, _, target = suffix.partition(":")
        if what == "card":
            return cls(room, card=target)
        if what == "thread":
            return cls(room, thread_ref=target)
        if what == "in":
            return cls(room, thread_event=target)
        return cls(value)


def card_recipient(item: Submission) -> Recipient:
    return Recipient(Platform.MATRIX, str(RoomAddress(MODERATION_ROOM, card=item.ref)))


def thread_recipient(ref: str) -> Recipient:
    return Recipient(Platform.MATRIX, str(RoomAddress(MODERATION_ROOM, thread_ref=ref)))


def queue_triage_card(session: AsyncSession, item: Submission, *, priority: int = 5) -> None:
    """Queue the triage card of a new submission for the moderation room.

    Call it in the transaction that stores the submission (after it has an id), so that the card
    is committed with it. The card itself is rendered when it is sent, from the stored item.
    """
    address = card_recipient(item).chat_id
    store.queue_card_row(session, Platform.MATRIX.value, address, item, priority)


async def room_language(session: AsyncSession) -> str:
    """The moderation room's language, as the Matrix adapter recorded it (English if unknown)."""
    return await store.get_state(session, ROOM_LANGUAGE_KEY) or "en"


# --- rendering -------------------------------------------------------------------------


def kind_label(lang: str, kind: ItemKind) -> str:
    return t(lang, f"moderation.kind_{kind.value}")


def status_label(lang: str, status: str) -> str:
    known = {s.value for s in Status}
    return t(lang, f"moderation.status_{status}") if status in known else status


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def pseudonym(person_id: int) -> str:
    """A stable tag for a submitter who did not allow their name to be shown."""
    return hashlib.sha256(f"innobot-submitter:{person_id}".encode()).hexdigest()[:6]


def shorten(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + "…", True


def one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


async def _submitter(session: AsyncSession, lang: str, item: Submission) -> str:
    if item.person_id is None:
        return t(lang, "moderation.card_forgotten")
    person = await session.get(Person, item.person_id)
    if item.show_name and person is not None and person.display_name:
        return t(lang, "moderation.card_named", name=one_line(person.display_name)[:100])
    return t(lang, "moderation.card_anonymous", tag=pseudonym(item.person_id))


def _topics_text(item: Submission) -> str:
    scores = {str(k): float(v) for k, v in (item.topic_scores or {}).items()}
    chosen = [str(name) for name in item.topics or []]
    parts = [
        f"{name} ✓" if name not in scores else f"{name} ✓ {scores[name]:.2f}" for name in chosen
    ]
    ranked = sorted(scores.items(), key=lambda pair: -pair[1])
    parts += [f"{name} {score:.2f}" for name, score in ranked if name not in chosen][:5]
    return ", ".join(parts)


async def render_card(
    session: AsyncSession, kind: ItemKind, item_id: int, lang: str, *, full: bool = False
) -> Reply | None:
    """The triage card of an item (None if it does not exist), in reply markup.

    User content goes in through catalog placeholders, so it is escaped for markup here and for
    HTML by the adapter. A long text is shortened unless ``full`` (``!show``).
    """
    item = await store.get_item(session, kind, item_id)
    if item is None:
        return None
    lines = [
        t(
            lang,
            "moderation.card_head",
            kind=kind_label(lang, kind),
            ref=item.ref,
            status=status_label(lang, item.status),
        ),
        t(lang, "moderation.card_submitter", who=await _submitter(session, lang, item)),
        t(lang, "moderation.card_language", language=item.lang or "?"),
    ]
    topics = _topics_text(item)
    lines.append(
        t(lang, "moderation.card_topics", topics=topics)
        if topics
        else t(lang, "moderation.card_no_topics")
    )
    lines.append("")
    lines.append(t(lang, "moderation.card_title", title=one_line(item.title)))
    text, shortened = shorten(item.description, FULL_TEXT_MAX if full else CARD_TEXT_MAX)
    lines.append(t(lang, "moderation.card_text", text=text))
    if shortened:
        lines.append(t(lang, "moderation.card_shortened", ref=item.ref))
    similar = await store.similar_items(session, item, SIMILAR_MAX)
    if similar:
        listed = "; ".join(
            f"{other.ref} «{shorten(one_line(other.title), 60)[0]}» ({score:.2f})"
            for other, score in similar
        )
        lines.append("")
        lines.append(t(lang, "moderation.card_similar", items=listed))
    if item.status in DECIDABLE:
        lines.append("")
        lines.append(t(lang, "moderation.card_actions", ref=item.ref))
    return Reply("\n".join(lines))
