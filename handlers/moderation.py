"""Moderation: triage cards, moderators' commands and reactions, decisions, audit, notifications.

Platform-neutral. The Matrix adapter turns what happens in a moderation room into a
:class:`RoomEvent` and calls :func:`handle_room_event` inside one transaction; everything it returns
is queued in the outbox in that same transaction, so a decision and the messages it causes are
committed together or not at all. Submitters answer a moderator's question with ``/answer`` (the
:data:`feature` of this module), on whatever platform they use.

Messages to the moderation room are addressed with :class:`RoomAddress` strings: the room itself,
the triage card of an item, or the thread of a card. ``MODERATION_ROOM`` stands for the room the
adapter is configured to post cards in, so that handlers never need to know its id.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Button, Platform, Recipient, Reply
from handlers.i18n import t
from handlers.intents import TOPICS
from handlers.matches import on_item_approved, record_outcome
from storage import moderation as store
from storage.alerts import queue_instant_alerts
from storage.models import (
    Challenge,
    ConversationState,
    Idea,
    ItemKind,
    Person,
    Status,
    Submission,
    utcnow,
)

log = logging.getLogger(__name__)

MODERATION_ROOM = "moderation"
ROOM_LANGUAGE_KEY = "matrix.language"

COMMAND_MAX = 4000  # characters of a command message that are read at all
REASON_MAX = 1000
NOTE_MAX = 500
QUESTION_MAX = 1000
ANSWER_MAX = 2000
TAGS_MAX = 5
PAGE_SIZE = 10
CARD_TEXT_MAX = 600
HISTORY_MAX = 25
SIMILAR_MAX = 3

APPROVE_REACTIONS = frozenset({"✅", "✔", "☑"})
REJECT_REACTIONS = frozenset({"❌", "✖", "❎"})

REJECT_FLOW = "moderation_reject"
ANSWER_FLOW = "moderation_answer"

_REF = re.compile(r"^#?([ISLC])-?(\d{1,12})$", re.IGNORECASE)
_REF_LIKE = re.compile(r"^#?[A-Z]?-?\d+$", re.IGNORECASE)
_PREFIXES = {kind.prefix: kind for kind in ItemKind}

# Statuses an action may start from.
DECIDABLE = (Status.PENDING.value, Status.NEEDS_INFO.value)
MERGEABLE = (*DECIDABLE, Status.APPROVED.value)


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


# --- what the desk is given and what it returns ----------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomEvent:
    """Something a person did in a room the bot is in, as moderation needs it."""

    room_id: str
    sender: str
    event_id: str
    text: str = ""
    thread_root: str | None = None  # the event this one replies to or is in the thread of
    reaction: str | None = None  # the key of a reaction
    reacts_to: str | None = None  # the event reacted to


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the desk wants sent, with the person it concerns (for erasure)."""

    to: Recipient
    reply: Reply
    person_id: int | None = None


@dataclass(frozen=True, slots=True)
class DeskConfig:
    """How moderation is set up: its rooms (ids), the power level needed, the room language."""

    rooms: frozenset[str]
    threshold: int = 50
    lang: str = "en"


PowerLookup = Callable[[], Awaitable[int | None]]


# --- small renderers -------------------------------------------------------------------------


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


def _shorten(text: str, limit: int) -> tuple[str, bool]:
    if len(text) <= limit:
        return text, False
    return text[:limit].rstrip() + "…", True


def _one_line(text: str) -> str:
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


async def _submitter(session: AsyncSession, lang: str, item: Submission) -> str:
    if item.person_id is None:
        return t(lang, "moderation.card_forgotten")
    person = await session.get(Person, item.person_id)
    if item.show_name and person is not None and person.display_name:
        return t(lang, "moderation.card_named", name=_one_line(person.display_name)[:100])
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
    lines.append(t(lang, "moderation.card_title", title=_one_line(item.title)))
    text, shortened = _shorten(item.description, CARD_TEXT_MAX if not full else 10 * ANSWER_MAX)
    lines.append(t(lang, "moderation.card_text", text=text))
    if shortened:
        lines.append(t(lang, "moderation.card_shortened", ref=item.ref))
    similar = await store.similar_items(session, item, SIMILAR_MAX)
    if similar:
        listed = "; ".join(
            f"{other.ref} «{_shorten(_one_line(other.title), 60)[0]}» ({score:.2f})"
            for other, score in similar
        )
        lines.append("")
        lines.append(t(lang, "moderation.card_similar", items=listed))
    if item.status in DECIDABLE:
        lines.append("")
        lines.append(t(lang, "moderation.card_actions", ref=item.ref))
    return Reply("\n".join(lines))


# --- the desk --------------------------------------------------------------------------------


@dataclass
class _Desk:
    """One room event being handled: what it may touch and where its answers go."""

    session: AsyncSession
    event: RoomEvent
    config: DeskConfig
    power_of: PowerLookup
    implied: tuple[ItemKind, int] | None = None
    out: list[Outgoing] = field(default_factory=list)
    # A decision was taken: a reason the sender was asked for (after ❌) is no longer wanted.
    decided: bool = False

    @property
    def lang(self) -> str:
        return self.config.lang

    def t(self, key: str, /, **values: object) -> str:
        return t(self.lang, key, **values)

    @property
    def here(self) -> Recipient:
        """Where answers go: the thread of the event (or of the card reacted to), else the room."""
        event = self.event
        root = event.reacts_to if event.reaction is not None else event.thread_root
        if root is not None:
            return Recipient(Platform.MATRIX, str(RoomAddress(event.room_id, thread_event=root)))
        return Recipient(Platform.MATRIX, event.room_id)

    def say(self, key: str, /, **values: object) -> None:
        self.out.append(Outgoing(self.here, Reply(self.t(key, **values))))

    def say_text(self, text: str) -> None:
        self.out.append(Outgoing(self.here, Reply(text)))

    async def authorized(self) -> bool:
        """The sender's power level in the room, as it is now, reaches the threshold."""
        level = await self.power_of()
        if level is None or level < self.config.threshold:
            log.info(
                "moderation: refused a command from a member below power %d",
                self.config.threshold,
            )
            self.say("moderation.not_allowed", level=self.config.threshold)
            return False
        return True

    # --- targets ---

    def split_ref(self, rest: str) -> tuple[tuple[ItemKind, int] | None, str, bool]:
        """The item named first in ``rest`` (or implied by the thread), the rest, and whether a
        token that looks like an id was not one."""
        head, _, tail = rest.strip().partition(" ")
        ref = parse_ref(head) if head else None
        if ref is not None:
            return ref, tail.strip(), False
        if head and _REF_LIKE.match(head):
            return None, rest, True
        return self.implied, rest.strip(), False

    async def target(self, rest: str, usage: str) -> tuple[Submission, str] | None:
        ref, remainder, bad = self.split_ref(rest)
        if bad:
            self.say("moderation.bad_id", token=rest.strip().split(" ", 1)[0][:40])
            return None
        if ref is None:
            self.say("moderation.usage", usage=usage)
            return None
        item = await store.get_item(self.session, *ref, lock=True)
        if item is None:
            self.say("moderation.unknown_item", ref=ref_of(*ref))
            return None
        return item, remainder

    # --- notifications ---

    async def notify_submitter(
        self, item: Submission, key: str, *, answer_button: bool = False, **values: object
    ) -> None:
        if item.person_id is None:
            return
        person = await self.session.get(Person, item.person_id)
        identity = await store.reachable_identity(self.session, item.person_id)
        if person is None or identity is None:
            return
        lang = person.language
        text = t(lang, key, ref=item.ref, title=_one_line(item.title), **values)
        reply = Reply(text, _answer_buttons(lang) if answer_button else ())
        self.out.append(
            Outgoing(Recipient(Platform(identity.platform), identity.chat_id), reply, person.id)
        )

    async def already_decided(self, item: Submission) -> None:
        last = await store.last_status_change(self.session, item.KIND, item.id)
        status = status_label(self.lang, item.status)
        if last is None:
            self.say("moderation.already_status", ref=item.ref, status=status)
        else:
            self.say(
                "moderation.already_decided",
                ref=item.ref,
                status=status,
                moderator=last.moderator,
                when=when(last.created_at),
            )

    async def transition(
        self,
        item: Submission,
        action: str,
        allowed: Sequence[str],
        new_status: str,
        reason: str | None,
    ) -> bool:
        """Change the item's status and write the audit entry, unless it was decided already."""
        previous = item.status
        if previous not in allowed:
            await self.already_decided(item)
            return False
        if not await store.change_status(self.session, item, previous, new_status):
            # Someone else decided between our read and our write.
            await self.already_decided(item)
            return False
        await store.record_decision(
            self.session,
            item,
            moderator=self.event.sender,
            action=action,
            previous_status=previous,
            new_status=new_status,
            reason=reason,
        )
        self.decided = True
        return True


def _answer_buttons(lang: str) -> tuple[tuple[Button, ...], ...]:
    return ((command_button(t(lang, "moderation.answer_button"), "answer"),),)


# --- commands --------------------------------------------------------------------------------


async def _help(desk: _Desk, rest: str) -> None:
    desk.say("moderation.help", level=desk.config.threshold)


async def _queue(desk: _Desk, rest: str) -> None:
    arg = rest.strip()
    if arg and not arg.isdigit():
        desk.say("moderation.usage", usage="!queue [PAGE]")
        return
    page = max(1, int(arg)) if arg else 1
    if page > 100_000:
        page = 100_000
    items, total = await store.open_queue(desk.session, (page - 1) * PAGE_SIZE, PAGE_SIZE)
    if total == 0:
        desk.say("moderation.queue_empty")
        return
    pages = (total + PAGE_SIZE - 1) // PAGE_SIZE
    if not items:
        desk.say("moderation.queue_no_page", page=page, pages=pages)
        return
    lines = [desk.t("moderation.queue_head", count=total, page=page, pages=pages)]
    for item in items:
        lines.append(
            desk.t(
                "moderation.queue_item",
                ref=item.ref,
                kind=kind_label(desk.lang, item.KIND),
                title=_shorten(_one_line(item.title), 80)[0],
                status=status_label(desk.lang, item.status),
                when=when(item.created_at),
            )
        )
    if page < pages:
        lines.append(desk.t("moderation.queue_more", next=page + 1))
    desk.say_text("\n".join(lines))


async def _show(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!show ID")
    if found is None:
        return
    item, _ = found
    card = await render_card(desk.session, item.KIND, item.id, desk.lang, full=True)
    if card is not None:
        desk.say_text(card.text)


def _bounded(desk: _Desk, text: str, limit: int, what: str) -> str | None:
    text = text.strip()
    if len(text) > limit:
        desk.say("moderation.too_long", what=desk.t(f"moderation.what_{what}"), max=limit)
        return None
    return text


async def _approve(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!approve ID [NOTE]")
    if found is None:
        return
    item, note = found
    note_text = _bounded(desk, note, NOTE_MAX, "note")
    if note_text is None:
        return
    await approve(desk, item, note_text or None)


async def approve(desk: _Desk, item: Submission, note: str | None) -> None:
    if not await desk.transition(item, "approve", DECIDABLE, Status.APPROVED.value, note):
        return
    if isinstance(item, Challenge):
        await queue_instant_alerts(desk.session, item)  # subscribers hear of it shortly
    # Brokerage: the best matching profiles' owners get a suggestion (once per pair).
    await on_item_approved(desk.session, item)
    desk.say("moderation.approved", ref=item.ref, moderator=desk.event.sender)
    if note:
        await desk.notify_submitter(item, "moderation.notify_approved_note", note=note)
    else:
        await desk.notify_submitter(item, "moderation.notify_approved")


async def _reject(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!reject ID REASON")
    if found is None:
        return
    item, reason = found
    reason_text = _bounded(desk, reason, REASON_MAX, "reason")
    if reason_text is None:
        return
    if not reason_text:
        desk.say("moderation.reason_required", ref=item.ref)
        return
    await reject(desk, item, reason_text)


async def reject(desk: _Desk, item: Submission, reason: str) -> None:
    if not await desk.transition(item, "reject", DECIDABLE, Status.REJECTED.value, reason):
        return
    desk.say("moderation.rejected", ref=item.ref, moderator=desk.event.sender)
    await desk.notify_submitter(item, "moderation.notify_rejected", reason=reason)


async def _ask(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!ask ID QUESTION")
    if found is None:
        return
    item, question = found
    question_text = _bounded(desk, question, QUESTION_MAX, "question")
    if question_text is None:
        return
    if not question_text:
        desk.say("moderation.usage", usage="!ask ID QUESTION")
        return
    if not await desk.transition(item, "ask", DECIDABLE, Status.NEEDS_INFO.value, question_text):
        return
    if item.person_id is None:
        desk.say("moderation.asked_nobody", ref=item.ref)
        return
    desk.say("moderation.asked", ref=item.ref)
    await desk.notify_submitter(
        item, "moderation.notify_question", answer_button=True, question=question_text
    )


async def _tag(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!tag ID TOPIC...")
    if found is None:
        return
    item, words = found
    topics = [word.strip(",;").lower() for word in words.split()][: TAGS_MAX + 1]
    topics = [topic for topic in topics if topic]
    if not topics:
        desk.say("moderation.usage", usage="!tag ID TOPIC...")
        return
    if len(topics) > TAGS_MAX:
        desk.say("moderation.too_many_tags", max=TAGS_MAX)
        return
    unknown = [topic for topic in topics if topic not in TOPICS]
    if unknown:
        desk.say(
            "moderation.unknown_topics",
            topics=", ".join(name[:40] for name in unknown),
            known=", ".join(TOPICS),
        )
        return
    if item.status == Status.MERGED.value:
        await desk.already_decided(item)
        return
    topics = list(dict.fromkeys(topics))
    await store.set_topics(desk.session, item, topics)
    await store.record_decision(
        desk.session,
        item,
        moderator=desk.event.sender,
        action="tag",
        previous_status=item.status,
        new_status=item.status,
        reason=", ".join(topics),
    )
    desk.say("moderation.tagged", ref=item.ref, topics=", ".join(topics))


async def _merge(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!merge ID INTO_ID")
    if found is None:
        return
    item, remainder = found
    into_token = remainder.split(" ", 1)[0] if remainder else ""
    into = parse_ref(into_token)
    if into is None:
        desk.say("moderation.usage", usage="!merge ID INTO_ID")
        return
    if into == (item.KIND, item.id):
        desk.say("moderation.merge_self", ref=item.ref)
        return
    if into[0] is not item.KIND:
        desk.say("moderation.merge_kinds", ref=item.ref, into=ref_of(*into))
        return
    target = await store.get_item(desk.session, *into)
    if target is None:
        desk.say("moderation.unknown_item", ref=ref_of(*into))
        return
    if target.status not in MERGEABLE:
        desk.say(
            "moderation.merge_target_closed",
            into=target.ref,
            status=status_label(desk.lang, target.status),
        )
        return
    if not await desk.transition(item, "merge", MERGEABLE, Status.MERGED.value, target.ref):
        return
    if isinstance(item, Idea):
        item.merged_into_id = target.id
        await desk.session.flush()
    desk.say("moderation.merged", ref=item.ref, into=target.ref, moderator=desk.event.sender)
    await desk.notify_submitter(item, "moderation.notify_merged", into=target.ref)


async def _history(desk: _Desk, rest: str) -> None:
    found = await desk.target(rest, "!history ID")
    if found is None:
        return
    item, _ = found
    entries = await store.decisions_of(desk.session, item.KIND, item.id, limit=HISTORY_MAX)
    if not entries:
        desk.say(
            "moderation.history_empty",
            ref=item.ref,
            when=when(item.created_at),
            status=status_label(desk.lang, item.status),
        )
        return
    total = await store.count_decisions(desk.session, item.KIND, item.id)
    lines = [desk.t("moderation.history_head", ref=item.ref, when=when(item.created_at))]
    if total > len(entries):
        lines.append(desk.t("moderation.history_older", count=total - len(entries)))
    for entry in entries:
        change = ""
        if entry.previous_status and entry.new_status and entry.previous_status != entry.new_status:
            change = desk.t(
                "moderation.history_change",
                before=status_label(desk.lang, entry.previous_status),
                after=status_label(desk.lang, entry.new_status),
            )
        lines.append(
            desk.t(
                "moderation.history_item",
                when=when(entry.created_at),
                who=entry.moderator,
                action=desk.t(f"moderation.action_{entry.action}")
                if entry.action in ACTIONS
                else entry.action,
                change=change,
            )
        )
        if entry.reason:
            lines.append(desk.t("moderation.history_reason", reason=_shorten(entry.reason, 300)[0]))
    desk.say_text("\n".join(lines))


async def _stats(desk: _Desk, rest: str) -> None:
    counts = await store.status_counts(desk.session)
    lines = [desk.t("moderation.stats_head")]
    for kind in ItemKind:
        per_status = counts.get(kind, {})
        total = sum(per_status.values())
        detail = ", ".join(
            f"{per_status[s.value]} {status_label(desk.lang, s.value)}"
            for s in Status
            if per_status.get(s.value)
        )
        lines.append(
            desk.t(
                "moderation.stats_kind",
                kind=kind_label(desk.lang, kind),
                total=total,
                detail=detail or "–",
            )
        )
    oldest = await store.oldest_open(desk.session)
    if oldest is not None:
        lines.append(
            desk.t("moderation.stats_oldest", ref=oldest.ref, when=when(oldest.created_at))
        )
    week = await store.decisions_by_moderator(desk.session, utcnow() - timedelta(days=7))
    if week:
        who = ", ".join(f"{name} {count}" for name, count in week.most_common(10))
        lines.append(desk.t("moderation.stats_week", count=sum(week.values()), who=who))
    else:
        lines.append(desk.t("moderation.stats_week_none"))
    desk.say_text("\n".join(lines))


async def _outcome(desk: _Desk, rest: str) -> None:
    """``!outcome M-5 STATE [NOTE]``: record what came of an introduction (brokerage)."""
    key, values = await record_outcome(desk.session, rest, desk.event.sender)
    desk.say(key, **values)


CommandHandler = Callable[[_Desk, str], Awaitable[None]]

# name → (handler, needs the moderators' power level)
COMMANDS: dict[str, tuple[CommandHandler, bool]] = {
    "help": (_help, False),
    "queue": (_queue, True),
    "show": (_show, True),
    "approve": (_approve, True),
    "reject": (_reject, True),
    "ask": (_ask, True),
    "tag": (_tag, True),
    "merge": (_merge, True),
    "history": (_history, True),
    "stats": (_stats, True),
    "outcome": (_outcome, True),
}
ACTIONS = frozenset({"approve", "reject", "ask", "tag", "merge", "answer"})


def _engagement_command(name: str) -> tuple[CommandHandler, bool] | None:
    """``!community``, ``!consultation``, ``!event`` (handlers.engagement_moderation)."""
    from handlers.engagement_moderation import COMMANDS as ENGAGEMENT

    handler = ENGAGEMENT.get(name)
    return (handler, True) if handler is not None else None


def parse_command(text: str) -> tuple[str, str] | None:
    """``("approve", "I-12 well done")`` for ``!approve I-12 well done``; None if not a command."""
    stripped = text.strip()
    if not stripped.startswith("!") or len(stripped) < 2 or stripped[1].isspace():
        return None
    parts = stripped[1:].split(None, 1)
    return parts[0].lower(), (" ".join(parts[1].split(" ")) if len(parts) > 1 else "")


def wants_attention(event: RoomEvent) -> bool:
    """Whether the desk may act on ``event`` at all: a command, a decision reaction, or a
    message in a thread (the reason asked for after ❌). Chatter is left alone, unrecorded."""
    if event.reaction is not None:
        key = _normalize_reaction(event.reaction)
        return event.reacts_to is not None and key in APPROVE_REACTIONS | REJECT_REACTIONS
    if not event.text.strip():
        return False
    return event.thread_root is not None or parse_command(event.text) is not None


# --- reactions and pending reasons -----------------------------------------------------------


async def _pending_reject(
    session: AsyncSession, event: RoomEvent, *, create: bool = False
) -> ConversationState | None:
    query = select(ConversationState).where(
        ConversationState.platform == Platform.MATRIX.value,
        ConversationState.chat_id == event.room_id,
        ConversationState.user_id == event.sender,
    )
    state = (await session.execute(query)).scalar_one_or_none()
    if state is None and create:
        state = ConversationState(
            platform=Platform.MATRIX.value,
            chat_id=event.room_id,
            user_id=event.sender,
            data={},
            version=0,
        )
        session.add(state)
    return state


def _normalize_reaction(key: str) -> str:
    return key.replace("\ufe0f", "").replace("\ufe0e", "").strip()


async def _on_reaction(desk: _Desk) -> None:
    event = desk.event
    key = _normalize_reaction(event.reaction or "")
    if key not in APPROVE_REACTIONS | REJECT_REACTIONS or desk.implied is None:
        return
    if not await desk.authorized():
        return
    item = await store.get_item(desk.session, *desk.implied, lock=True)
    if item is None:
        desk.say("moderation.unknown_item", ref=ref_of(*desk.implied))
        return
    if key in APPROVE_REACTIONS:
        await approve(desk, item, None)
        return
    if item.status not in DECIDABLE:
        await desk.already_decided(item)
        return
    state = await _pending_reject(desk.session, event, create=True)
    assert state is not None
    state.flow = REJECT_FLOW
    state.step = "reason"
    state.data = {"ref": item.ref, "card": event.reacts_to}
    state.version = (state.version or 0) + 1
    desk.say("moderation.reject_reason_please", ref=item.ref, moderator=event.sender)


async def _on_thread_text(desk: _Desk) -> None:
    """A plain message in a card's thread: the reason for a ❌ given earlier, if one was asked."""
    event = desk.event
    if desk.implied is None:
        return
    state = await _pending_reject(desk.session, event)
    if state is None or state.flow != REJECT_FLOW or state.data.get("ref") != ref_of(*desk.implied):
        return
    if await desk.authorized():
        await _reject(desk, f"{ref_of(*desk.implied)} {event.text}")


async def _clear_pending(desk: _Desk) -> None:
    state = await _pending_reject(desk.session, desk.event)
    if state is not None and state.flow == REJECT_FLOW:
        await desk.session.delete(state)


# --- entry point -----------------------------------------------------------------------------


async def handle_room_event(
    session: AsyncSession, event: RoomEvent, config: DeskConfig, power_of: PowerLookup
) -> list[Outgoing]:
    """Act on one event of a room the bot is in; return what to send.

    ``power_of`` fetches the sender's current power level in the room (None if they are not a
    member); it is called for every command that needs it, never cached.
    """
    desk = _Desk(session, event, config, power_of)
    if wants_attention(event) is False:
        return []
    command = parse_command(event.text) if event.reaction is None else None
    if event.room_id not in config.rooms:
        if command is not None:
            desk.say("moderation.wrong_room")
        return desk.out
    root = event.reacts_to if event.reaction is not None else event.thread_root
    if root is not None:
        desk.implied = await store.card_item(session, event.room_id, root)

    if event.reaction is not None:
        await _on_reaction(desk)
    elif command is None:
        if event.thread_root is not None and len(event.text) <= COMMAND_MAX:
            await _on_thread_text(desk)
        if desk.decided:
            await _clear_pending(desk)
        return desk.out
    else:
        name, rest = command
        if len(event.text) > COMMAND_MAX:
            desk.say("moderation.command_too_long", max=COMMAND_MAX)
            return desk.out
        entry = (COMMANDS.get(name) or _engagement_command(name)) if name.isalnum() else None
        if entry is None:
            desk.say("moderation.unknown_command", command="!" + name[:32])
            return desk.out
        handler, needs_power = entry
        if needs_power and not await desk.authorized():
            return desk.out
        await handler(desk, rest)
    if desk.decided:
        await _clear_pending(desk)
    return desk.out


# --- the submitter's side: answering a moderator's question ----------------------------------


async def room_language(session: AsyncSession) -> str:
    """The moderation room's language, as the Matrix adapter recorded it (English if unknown)."""
    return await store.get_state(session, ROOM_LANGUAGE_KEY) or "en"


async def _open_question_items(ctx: Context) -> list[Submission]:
    assert ctx.person is not None
    return await store.open_questions(ctx.session, ctx.person.id)


async def answer_command(ctx: Context) -> list[Reply]:
    """``/answer [ID] [text]``: answer a moderator's question (or be asked for the answer)."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    waiting = await _open_question_items(ctx)
    if not waiting:
        return [ctx.reply("moderation.answer_nothing")]
    head, _, tail = rest.partition(" ")
    ref = parse_ref(head) if head else None
    item: Submission | None = None
    if ref is not None:
        item = next((i for i in waiting if (i.KIND, i.id) == ref), None)
        if item is None:
            return [ctx.reply("moderation.answer_unknown", ref=ref_of(*ref))]
        rest = tail
    elif len(waiting) == 1:
        item = waiting[0]
    else:
        listed = ", ".join(i.ref for i in waiting[:10])
        return [ctx.reply("moderation.answer_which", refs=listed)]
    if rest.strip():
        return await _take_answer(ctx, item, rest)
    return await ctx.enter(ANSWER_FLOW, "text", {"ref": item.ref})


async def _ask_answer(ctx: Context) -> list[Reply]:
    ref = parse_ref(str(ctx.data.get("ref", "")))
    question = await store.last_question(ctx.session, *ref) if ref else None
    return [
        ctx.reply("moderation.answer_prompt", ref=ctx.data.get("ref", ""), question=question or "")
    ]


async def _answer_step(ctx: Context) -> list[Reply]:
    ref = parse_ref(str(ctx.data.get("ref", "")))
    item = None
    if ref is not None and ctx.person is not None:
        item = next((i for i in await _open_question_items(ctx) if (i.KIND, i.id) == ref), None)
    if item is None:
        ctx.end_flow()
        return [ctx.reply("moderation.answer_nothing")]
    return await _take_answer(ctx, item, ctx.msg.text)


async def _take_answer(ctx: Context, item: Submission, text: str) -> list[Reply]:
    answer = text.strip()
    if len(answer) > ANSWER_MAX:
        return [ctx.reply("moderation.answer_too_long", max=ANSWER_MAX, length=len(answer))]
    if not answer:
        return [ctx.reply("errors.empty")]
    previous = item.status
    if not await store.change_status(ctx.session, item, previous, Status.PENDING.value):
        ctx.end_flow()
        return [ctx.reply("moderation.answer_nothing")]
    await store.record_decision(
        ctx.session,
        item,
        moderator="submitter",
        action="answer",
        previous_status=previous,
        new_status=Status.PENDING.value,
        reason=answer,
    )
    lang = await room_language(ctx.session)
    note = Reply(t(lang, "moderation.answer_received", ref=item.ref, answer=answer))
    ctx.notifications.append(
        Reply(note.text, to=thread_recipient(item.ref)),
    )
    if ctx.flow == ANSWER_FLOW:
        ctx.end_flow()
    return [ctx.reply("moderation.answer_thanks", ref=item.ref)]


feature = Feature(
    commands={"answer": Command(answer_command)},
    flows={ANSWER_FLOW: {"text": Step(_ask_answer, _answer_step)}},
)
