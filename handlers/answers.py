"""The submitter's side of moderation: answering a moderator's question (``/answer``).

The question arrives with an *Answer* button (``/answer``); the answer is written to the audit log,
the item goes back to the moderators' queue, and the answer is posted in the card's thread.
"""

from __future__ import annotations

from handlers.context import Command, Context, Feature, Step
from handlers.core import Reply
from handlers.i18n import t
from handlers.triage import parse_ref, ref_of, room_language, thread_recipient
from storage import moderation as store
from storage.models import Status, Submission

ANSWER_FLOW = "moderation_answer"
ANSWER_MAX = 2000


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
    text = t(lang, "moderation.answer_received", ref=item.ref, answer=answer)
    ctx.notifications.append(Reply(text, to=thread_recipient(item.ref)))
    if ctx.flow == ANSWER_FLOW:
        ctx.end_flow()
    return [ctx.reply("moderation.answer_thanks", ref=item.ref)]


feature = Feature(
    commands={"answer": Command(answer_command)},
    flows={ANSWER_FLOW: {"text": Step(_ask_answer, _answer_step)}},
)
