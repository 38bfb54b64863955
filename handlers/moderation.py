"""Moderation: moderators' commands and reactions, decisions, audit, notifications.

Platform-neutral. The Matrix adapter turns what happens in a moderation room into a
:class:`RoomEvent` and calls :func:`handle_room_event` inside one transaction; everything it returns
is queued in the outbox in that same transaction, so a decision and the messages it causes are
committed together or not at all. Triage cards and room addresses are in :mod:`handlers.triage`,
the submitter's ``/answer`` in :mod:`handlers.answers`; both are re-exported here.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.answers import ANSWER_FLOW, ANSWER_MAX, answer_command, feature
from handlers.community_posts import post_challenge
from handlers.context import command_button
from handlers.core import Button, Platform, Recipient, Reply
from handlers.i18n import t
from handlers.matches import on_item_approved, record_outcome
from handlers.triage import (
    CARD_TEXT_MAX,
    DECIDABLE,
    MODERATION_ROOM,
    ROOM_LANGUAGE_KEY,
    RoomAddress,
    card_recipient,
    kind_label,
    one_line,
    parse_ref,
    pseudonym,
    queue_triage_card,
    ref_of,
    render_card,
    room_language,
    shorten,
    status_label,
    thread_recipient,
    when,
)
from nlp.labels import TOPICS
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

__all__ = [
    "ANSWER_FLOW",
    "ANSWER_MAX",
    "CARD_TEXT_MAX",
    "MODERATION_ROOM",
    "ROOM_LANGUAGE_KEY",
    "DeskConfig",
    "Outgoing",
    "PowerLookup",
    "RoomAddress",
    "RoomEvent",
    "answer_command",
    "card_recipient",
    "feature",
    "handle_room_event",
    "kind_label",
    "parse_command",
    "parse_ref",
    "pseudonym",
    "queue_triage_card",
    "ref_of",
    "render_card",
    "room_language",
    "status_label",
    "thread_recipient",
    "wants_attention",
    "when",
]

log = logging.getLogger(__name__)

COMMAND_MAX = 4000  # characters of a command message that are read at all
REASON_MAX = 1000
NOTE_MAX = 500
QUESTION_MAX = 1000
TAGS_MAX = 5
PAGE_SIZE = 10
HISTORY_MAX = 25

APPROVE_REACTIONS = frozenset({"✅", "✔", "☑"})
REJECT_REACTIONS = frozenset({"❌", "✖", "❎"})

REJECT_FLOW = "moderation_reject"

_REF_LIKE = re.compile(r"^#?[A-Z]?-?\d+$", re.IGNORECASE)

# Statuses an action may start from (DECIDABLE: approve, reject, ask).
MERGEABLE = (*DECIDABLE, Status.APPROVED.value)


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
    """How moderation is set up: its rooms (ids), the power level needed, the room language,
    and whether this innobot runs on Telegram (it can act in Telegram groups only then)."""

    rooms: frozenset[str]
    threshold: int = 50
    lang: str = "en"
    telegram: bool = True


PowerLookup = Callable[[], Awaitable[int | None]]


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
        text = t(lang, key, ref=item.ref, title=one_line(item.title), **values)
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
                title=shorten(one_line(item.title), 80)[0],
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
        await post_challenge(desk.session, item)  # and the linked groups and rooms it fits
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
            lines.append(desk.t("moderation.history_reason", reason=shorten(entry.reason, 300)[0]))
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
