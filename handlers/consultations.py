"""Consultations: a question put to an audience, answered with one tap (or a short text).

Moderators create them in the moderation room (:mod:`handlers.engagement_moderation`). When a
consultation opens, the scheduler sends it to its audience through the outbox, once per person:
on Telegram as a native poll (with one button per option as the fallback where a poll does not
fit), on Matrix as numbered options. ``/vote ID N`` (what the buttons send) records an answer:
one per person, a new one replaces the earlier one; with multiple choice a press adds or removes
that option. A poll's answer arrives as ``/poll POLL_ID N,N`` and replaces the earlier one; a
withdrawn vote removes it. Polls are sent non-anonymous, because only then does Telegram say who
answered (one answer per person); innobot keeps answers anonymous all the same: moderators only
ever see counts, and the poll's intro says so. Closing a consultation stops its polls.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import PRIORITY_ALERT, enqueue
from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Button, ContentKind, GroupAction, Platform, Poll, Reply
from handlers.i18n import t
from handlers.text import one_line, paragraphs
from storage import engagement as store
from storage.models import Consultation, OutboxMessage, utcnow

log = logging.getLogger(__name__)

FLOW = "consultation"
TEXT_ANSWER_MAX = 500
OPTIONS_MAX = 10
OPTION_MAX = 100
QUESTION_MAX = 500


def ref(consultation: Consultation) -> str:
    return f"Q-{consultation.id}"


def _buttons(lang: str, consultation: Consultation) -> tuple[tuple[Button, ...], ...]:
    if consultation.kind == "text":
        label = t(lang, "consultations.answer_button")
        return ((command_button(label, f"vote {consultation.id}"),),)
    return tuple(
        (command_button(one_line(str(option))[:60], f"vote {consultation.id} {index + 1}"),)
        for index, option in enumerate(consultation.options or [])
    )


def question_text(lang: str, consultation: Consultation) -> str:
    how = {
        "single": "consultations.how_single",
        "multiple": "consultations.how_multiple",
        "text": "consultations.how_text",
    }[consultation.kind]
    return t(
        lang,
        "consultations.question",
        ref=ref(consultation),
        question=consultation.question,
        how=t(lang, how),
        closes=_closes(consultation),
    )


def subject(consultation: Consultation) -> str:
    """What the polls of ``consultation`` are recorded under."""
    return f"consultation:{consultation.id}"


def _closes(consultation: Consultation) -> str:
    return consultation.closes_at.strftime("%Y-%m-%d %H:%M UTC")


def message_for(lang: str, platform: str, consultation: Consultation) -> Reply:
    """The consultation as ``platform`` shows it: on Telegram a native poll (the text and
    buttons are its fallback), elsewhere the text with numbered options and how to answer."""
    text = question_text(lang, consultation)
    buttons = _buttons(lang, consultation)
    if consultation.kind == "text":
        return Reply(text, buttons)
    if platform != Platform.TELEGRAM.value:
        how = t(lang, "consultations.how_number", id=consultation.id)
        return Reply(f"{text}\n{how}", buttons)
    poll = Poll(
        question=one_line(consultation.question),
        options=tuple(one_line(str(o)) for o in consultation.options or []),
        subject=subject(consultation),
        multiple=consultation.kind == "multiple",
        intro=t(
            lang, "consultations.poll_intro", ref=ref(consultation), closes=_closes(consultation)
        ),
    )
    return Reply(text, buttons, poll=poll)


def _chosen_text(consultation: Consultation, choices: list[int]) -> str:
    options = consultation.options or []
    return ", ".join(one_line(str(options[i])) for i in choices if 0 <= i < len(options))


def _open(consultation: Consultation, now: datetime) -> bool:
    return consultation.status == store.OPEN and consultation.closes_at > now


# --- answering -------------------------------------------------------------------------------


async def vote(ctx: Context) -> list[Reply]:
    """``/vote ID [N]``: choose option N (a text consultation asks for the answer)."""
    assert ctx.person is not None
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    head, _, tail = rest.strip().partition(" ")
    token = head.upper().removeprefix("Q-").removeprefix("Q")
    if not token.isdigit() or len(token) > 12:
        return [ctx.reply("consultations.usage")]
    consultation = await ctx.session.get(Consultation, int(token))
    if consultation is None or consultation.status == store.SCHEDULED:
        return [ctx.reply("consultations.unknown", ref=f"Q-{int(token)}")]
    if not _open(consultation, utcnow()):
        return [ctx.reply("consultations.closed", ref=ref(consultation))]
    if consultation.kind == "text":
        if tail.strip():
            return await _take_text(ctx, consultation, tail)
        return await ctx.enter(FLOW, "text", {"id": consultation.id})
    options = consultation.options or []
    number = tail.strip()
    if not number.isdigit() or not 1 <= int(number) <= len(options):
        return [
            ctx.reply("consultations.pick", count=len(options)),
            Reply(question_text(ctx.lang, consultation), _buttons(ctx.lang, consultation)),
        ]
    index = int(number) - 1
    earlier = await store.answer_of(ctx.session, consultation.id, ctx.person.id)
    if consultation.kind == "multiple":
        chosen = set(earlier.choices if earlier else [])
        chosen ^= {index}
        choices = sorted(chosen)
    else:
        choices = [index]
    await store.record_answer(ctx.session, consultation, ctx.person.id, choices=choices)
    if not choices:
        return [ctx.reply("consultations.none_chosen", ref=ref(consultation))]
    key = "consultations.changed" if earlier is not None else "consultations.thanks"
    return [ctx.reply(key, ref=ref(consultation), answer=_chosen_text(consultation, choices))]


async def poll_answer(ctx: Context) -> list[Reply]:
    """``/poll POLL_ID N,N`` (``-``: withdrawn), what a Telegram poll's answer becomes.

    A new answer replaces the earlier one and a withdrawn vote removes it; nothing is said back
    (the poll shows the vote), except when the vote cannot count.
    """
    assert ctx.person is not None
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    poll_id, _, chosen = rest.strip().partition(" ")
    found = await store.chat_poll(ctx.session, poll_id) if poll_id else None
    consultation = None
    if (
        found is not None
        and found.chat_id == ctx.msg.chat_id
        and found.subject.startswith("consultation:")
        and found.subject.removeprefix("consultation:").isdigit()
    ):
        consultation = await ctx.session.get(
            Consultation, int(found.subject.removeprefix("consultation:"))
        )
    if consultation is None:
        log.info("consultations: an answer to an unknown poll was not counted")
        return [ctx.reply("consultations.poll_unknown")]
    if not _open(consultation, utcnow()):
        return [ctx.reply("consultations.poll_closed", ref=ref(consultation))]
    options = consultation.options or []
    numbers = [] if chosen.strip() == "-" else chosen.strip().split(",")
    if not all(n.isdigit() and 1 <= int(n) <= len(options) for n in numbers) or (
        len(numbers) > 1 and consultation.kind != "multiple"
    ):
        log.warning("consultations: an unreadable poll answer for %s", ref(consultation))
        return [ctx.reply("consultations.poll_unknown")]
    if not numbers:
        await store.remove_answer(ctx.session, consultation.id, ctx.person.id)
    else:
        choices = sorted({int(n) - 1 for n in numbers})
        await store.record_answer(ctx.session, consultation, ctx.person.id, choices=choices)
    return []


async def answer_by_number(ctx: Context) -> list[Reply] | None:
    """A reply such as ``2`` or ``1, 3`` where options are shown numbered (Matrix): the answer
    to the latest open choice consultation sent to this person in this chat. None when the text
    is no such answer (or there is no such consultation), so that it is handled as usual.

    The Matrix side calls it before free text is classified.
    """
    if ctx.person is None or ctx.msg.kind is not ContentKind.TEXT:
        return None
    numbers = [n.strip() for n in ctx.msg.text.replace(" ", ",").split(",") if n.strip()]
    if not numbers or len(numbers) > OPTIONS_MAX or not all(n.isdigit() for n in numbers):
        return None
    keys = await ctx.session.scalars(
        select(OutboxMessage.dedupe_key)
        .where(
            OutboxMessage.chat_id == ctx.msg.chat_id,
            OutboxMessage.person_id == ctx.person.id,
            OutboxMessage.kind == "consultation",
            OutboxMessage.dedupe_key.like("consultation:%:p:%"),
        )
        .order_by(OutboxMessage.id.desc())
        .limit(20)
    )
    now = utcnow()
    for key in keys:
        token = (key or "").split(":")[1] if key else ""
        consultation = await ctx.session.get(Consultation, int(token)) if token.isdigit() else None
        if consultation is None or consultation.kind == "text" or not _open(consultation, now):
            continue
        options = consultation.options or []
        if not all(1 <= int(n) <= len(options) for n in numbers):
            return [ctx.reply("consultations.pick", count=len(options))]
        if len(numbers) > 1 and consultation.kind != "multiple":
            return [ctx.reply("consultations.pick", count=len(options))]
        choices = sorted({int(n) - 1 for n in numbers})
        earlier = await store.answer_of(ctx.session, consultation.id, ctx.person.id)
        await store.record_answer(ctx.session, consultation, ctx.person.id, choices=choices)
        key_name = "consultations.changed" if earlier is not None else "consultations.thanks"
        return [
            ctx.reply(key_name, ref=ref(consultation), answer=_chosen_text(consultation, choices))
        ]
    return None


async def _ask_text(ctx: Context) -> list[Reply]:
    return [ctx.reply("consultations.ask_text", max=TEXT_ANSWER_MAX)]


async def _answer_text(ctx: Context) -> list[Reply]:
    consultation = await ctx.session.get(Consultation, int(ctx.data.get("id", 0)))
    if consultation is None or not _open(consultation, utcnow()):
        ctx.end_flow()
        return [ctx.reply("consultations.closed", ref=f"Q-{ctx.data.get('id', '?')}")]
    return await _take_text(ctx, consultation, ctx.msg.text)


async def _take_text(ctx: Context, consultation: Consultation, text: str) -> list[Reply]:
    assert ctx.person is not None
    answer = paragraphs(text)
    if not answer:
        return [ctx.reply("errors.empty")]
    if len(answer) > TEXT_ANSWER_MAX:
        return [ctx.reply("consultations.too_long", max=TEXT_ANSWER_MAX, length=len(answer))]
    earlier = await store.answer_of(ctx.session, consultation.id, ctx.person.id)
    await store.record_answer(ctx.session, consultation, ctx.person.id, text=answer)
    if ctx.flow == FLOW:
        ctx.end_flow()
    key = "consultations.changed" if earlier is not None else "consultations.thanks"
    return [ctx.reply(key, ref=ref(consultation), answer=one_line(answer)[:80])]


# --- results ---------------------------------------------------------------------------------


async def results_text(session: AsyncSession, lang: str, consultation: Consultation) -> str:
    found = await store.results(session, consultation)
    lines = [
        t(
            lang,
            "consultations.results_head",
            ref=ref(consultation),
            question=consultation.question,
            count=found.answers,
        )
    ]
    for option, count in zip(consultation.options or [], found.per_option, strict=False):
        share = round(100 * count / found.answers) if found.answers else 0
        lines.append(
            t(lang, "consultations.results_item", option=str(option), count=count, share=share)
        )
    for text in found.texts:
        lines.append(t(lang, "consultations.results_text", text=one_line(text)[:200]))
    return "\n".join(lines)


# --- opening and closing (the scheduler) -----------------------------------------------------


async def send(session: AsyncSession, consultation: Consultation) -> int:
    """Queue the consultation for every person of its audience (once each)."""
    people = await store.audience(session, dict(consultation.audience or {}))
    keys = {f"consultation:{consultation.id}:p:{p.person_id}": p for p in people}
    fresh = await store.unused_keys(session, list(keys))
    for key, where in keys.items():
        if key not in fresh:
            continue
        reply = message_for(where.language, where.platform, consultation)
        enqueue(
            session,
            where.platform,
            where.chat_id,
            [reply],
            person_id=where.person_id,
            kind="consultation",
            priority=PRIORITY_ALERT,
            dedupe_key=key,
        )
    return len(fresh)


async def open_and_close(session: AsyncSession, now: datetime) -> int:
    """Open the consultations whose time has come and close those that are over; returns the
    number of messages queued."""
    queued = 0
    for consultation in await store.due_to_open(session, now):
        if consultation.closes_at <= now:
            consultation.status = store.OPEN  # closed just below, without being sent
            continue
        consultation.status = store.OPEN
        queued += await send(session, consultation)
    for consultation in await store.due_to_close(session, now):
        queued += await close(session, consultation)
    return queued


async def close(session: AsyncSession, consultation: Consultation) -> int:
    """Close it and stop its polls; if the moderator chose so, its participants get the results
    (once each)."""
    consultation.status = store.CLOSED
    polls = {
        f"consultation:{consultation.id}:stop:{poll.poll_id}": poll
        for poll in await store.polls_of(session, subject(consultation))
    }
    unstopped = await store.unused_keys(session, list(polls))
    for key, poll in polls.items():
        stop = GroupAction("stop_poll", ref=ref(consultation), message_id=poll.message_id)
        if key in unstopped:
            enqueue(
                session,
                poll.platform,
                poll.chat_id,
                [Reply("", action=stop)],
                kind="group_action",
                priority=PRIORITY_ALERT,
                dedupe_key=key,
            )
    if not consultation.share_results:
        return 0
    people = await store.reachable(session, await store.participants(session, consultation.id))
    keys = {f"consultation:{consultation.id}:r:{p.person_id}": p for p in people}
    fresh = await store.unused_keys(session, list(keys))
    for key, where in keys.items():
        if key not in fresh:
            continue
        text = (
            t(where.language, "consultations.final")
            + "\n"
            + await results_text(session, where.language, consultation)
        )
        enqueue(
            session,
            where.platform,
            where.chat_id,
            [Reply(text)],
            person_id=where.person_id,
            kind="consultation",
            priority=PRIORITY_ALERT,
            dedupe_key=key,
        )
    return len(fresh)


feature = Feature(
    commands={"vote": Command(vote), "poll": Command(poll_answer)},
    flows={FLOW: {"text": Step(_ask_text, _answer_text)}},
)
