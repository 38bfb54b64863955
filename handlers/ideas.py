"""Submitting an idea (/idea) and following one's submissions (/my).

The idea flow asks for what is still missing — title, description, topic, whether to show the
author's name — then shows a summary to confirm, edit or cancel. Editing a field asks for it
again and comes back to the summary.
"""

from __future__ import annotations

from typing import Any

from handlers.context import Analysis, Command, Context, Feature, Step, command_button
from handlers.core import Reply
from handlers.help import menu, menu_buttons, use_buttons
from handlers.matches import offer_similar_ideas
from handlers.moderation import queue_triage_card
from handlers.text import one_line, paragraphs
from nlp.labels import TOPICS
from storage.ideas import add_idea
from storage.models import Status
from storage.people import recent_submissions

FIELDS = ("title", "description", "topic", "show_name")
NO_TOPIC = "other"
SUGGESTED_TOPICS = 3
MY_LIMIT = 20
MY_TITLE_MAX = 80  # titles are shortened in /my so that the list fits in one message


def _analysis_data(analysis: Analysis) -> dict[str, Any]:
    return {"lang": analysis.lang, "topics": [[name, score] for name, score in analysis.topics]}


# --- entry points ----------------------------------------------------------------------------


async def next_question(ctx: Context) -> list[Reply]:
    """Ask for the first field still missing, else show the summary."""
    for name in FIELDS:
        if name not in ctx.data:
            return await ctx.enter("idea", name)
    return await ctx.enter("idea", "summary")


async def new_idea(ctx: Context) -> list[Reply]:
    return await ctx.enter("idea", FIELDS[0], {})


async def idea_from_text(ctx: Context) -> list[Reply]:
    """Free text that sounds like an idea: start the flow, keeping the text as its description."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    text = paragraphs(ctx.msg.text)
    if ctx.limits.description_min <= len(text) <= ctx.limits.description_max:
        data = {"description": text, "analysis": _analysis_data(await ctx.analyze(text))}
        return [ctx.reply("idea.from_text"), *await ctx.enter("idea", "title", data)]
    return await new_idea(ctx)


# --- steps -----------------------------------------------------------------------------------


async def ask_title(ctx: Context) -> list[Reply]:
    return [ctx.reply("idea.ask_title", max=ctx.limits.title_max)]


async def answer_title(ctx: Context) -> list[Reply]:
    if ctx.button_value is not None:
        return await ctx.reprompt()
    title = one_line(ctx.msg.text)
    if not title:
        return [ctx.reply("errors.empty"), *await ctx.reprompt()]
    if len(title) > ctx.limits.title_max:
        reply = ctx.reply("idea.title_too_long", max=ctx.limits.title_max, length=len(title))
        return [reply, *await ctx.reprompt()]
    ctx.update(title=title)
    return await next_question(ctx)


async def ask_description(ctx: Context) -> list[Reply]:
    limits = ctx.limits
    return [ctx.reply("idea.ask_description", min=limits.description_min)]


async def answer_description(ctx: Context) -> list[Reply]:
    if ctx.button_value is not None:
        return await ctx.reprompt()
    text = paragraphs(ctx.msg.text)
    limits = ctx.limits
    if len(text) < limits.description_min:
        reply = ctx.reply("idea.description_too_short", min=limits.description_min)
        return [reply, *await ctx.reprompt()]
    if len(text) > limits.description_max:
        reply = ctx.reply("idea.description_too_long", max=limits.description_max, length=len(text))
        return [reply, *await ctx.reprompt()]
    ctx.update(description=text, analysis=_analysis_data(await ctx.analyze(text)))
    return await next_question(ctx)


def _suggested_topics(ctx: Context) -> list[str]:
    scores = ctx.data.get("analysis", {}).get("topics", [])
    suggested = [name for name, score in scores if name in TOPICS and score > 0]
    return suggested[:SUGGESTED_TOPICS]


def _topic_options(ctx: Context) -> list[tuple[str, str]]:
    suggested = _suggested_topics(ctx)
    ordered = suggested + [name for name in TOPICS if name not in suggested]
    options = [(ctx.t(f"topics.{name}"), name) for name in ordered]
    return [*options, (ctx.t("idea.topic_other"), NO_TOPIC)]


async def ask_topic(ctx: Context) -> list[Reply]:
    buttons = ctx.choices(_topic_options(ctx))
    suggested = _suggested_topics(ctx)
    if not suggested:
        return [ctx.reply("idea.ask_topic", buttons)]
    labels = ", ".join(ctx.t(f"topics.{name}") for name in suggested)
    return [ctx.reply("idea.ask_topic_suggested", buttons, topics=labels)]


async def answer_topic(ctx: Context) -> list[Reply]:
    topic = ctx.chosen(_topic_options(ctx))
    if topic is None:
        return await use_buttons(ctx)
    ctx.update(topic=None if topic == NO_TOPIC else topic)
    return await next_question(ctx)


def _yes_no(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t("common.yes"), "yes"), (ctx.t("common.no"), "no")]


async def ask_show_name(ctx: Context) -> list[Reply]:
    return [ctx.reply("idea.ask_show_name", ctx.choices(_yes_no(ctx)))]


async def answer_show_name(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_yes_no(ctx))
    if answer is None:
        return await use_buttons(ctx)
    ctx.update(show_name=answer == "yes")
    return await next_question(ctx)


def _summary_options(ctx: Context) -> list[tuple[str, str]]:
    return [
        (ctx.t("idea.confirm"), "confirm"),
        (ctx.t("idea.edit"), "edit"),
        (ctx.t("idea.cancel"), "cancel"),
    ]


async def show_summary(ctx: Context) -> list[Reply]:
    data = ctx.data
    topic = data.get("topic")
    options = _summary_options(ctx)
    reply = ctx.reply(
        "idea.summary",
        [[ctx.choice(*options[0])], [ctx.choice(*options[1]), ctx.choice(*options[2])]],
        title=data["title"],
        description=data["description"],
        topic=ctx.t(f"topics.{topic}") if topic else ctx.t("idea.no_topic"),
        show_name=ctx.t("common.yes" if data["show_name"] else "common.no"),
    )
    return [reply]


async def answer_summary(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_summary_options(ctx))
    if answer == "edit":
        return await ctx.enter("idea", "edit")
    if answer == "cancel":
        ctx.end_flow()
        return [menu(ctx, "idea.cancelled")]
    if answer != "confirm":
        return await use_buttons(ctx)
    if ctx.person is None:
        ctx.end_flow()
        return [ctx.reply("errors.needs_consent")]
    data = ctx.data
    analysis = data.get("analysis", {})
    idea = await add_idea(
        ctx.session,
        person_id=ctx.person.id,
        title=data["title"],
        description=data["description"],
        lang=(analysis.get("lang") or ctx.lang)[:8],
        topics=[data["topic"]] if data.get("topic") else [],
        topic_scores={name: float(score) for name, score in analysis.get("topics", [])},
        show_name=bool(data["show_name"]),
    )
    queue_triage_card(ctx.session, idea)
    ctx.end_flow()
    # Similar approved ideas, with an offer to support one instead (handlers.matches).
    similar = await offer_similar_ideas(ctx, idea)
    if similar:
        return [ctx.reply("idea.submitted", ref=idea.ref), *similar]
    return [menu(ctx, "idea.submitted", ref=idea.ref)]


def _edit_options(ctx: Context) -> list[tuple[str, str]]:
    fields = [(ctx.t(f"idea.field_{name}"), name) for name in FIELDS]
    return [*fields, (ctx.t("idea.back"), "back")]


async def ask_edit(ctx: Context) -> list[Reply]:
    return [ctx.reply("idea.ask_edit", ctx.choices(_edit_options(ctx)))]


async def answer_edit(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_edit_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    if answer == "back":
        return await ctx.enter("idea", "summary")
    return await ctx.enter("idea", answer, {k: v for k, v in ctx.data.items() if k != answer})


# --- /my -------------------------------------------------------------------------------------


def _status(ctx: Context, status: str) -> str:
    known = {s.value for s in Status}
    return ctx.t(f"status.{status}") if status in known else status


def _short(title: str) -> str:
    return title if len(title) <= MY_TITLE_MAX else title[: MY_TITLE_MAX - 1].rstrip() + "…"


async def my_submissions(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    items, total = await recent_submissions(ctx.session, ctx.person.id, MY_LIMIT)
    if not items:
        return [ctx.reply("my.empty", [[command_button(ctx.t("menu.idea"), "idea")]])]
    lines = [ctx.t("my.header", count=total)]
    lines += [
        ctx.t("my.item", ref=item.ref, title=_short(item.title), status=_status(ctx, item.status))
        for item in items
    ]
    if total > len(items):
        lines.append(ctx.t("my.more", shown=len(items), count=total))
    return [Reply("\n".join(lines), tuple(tuple(row) for row in menu_buttons(ctx)))]


feature = Feature(
    commands={
        "idea": Command(new_idea),
        "my": Command(my_submissions),
    },
    flows={
        "idea": {
            "title": Step(ask_title, answer_title),
            "description": Step(ask_description, answer_description),
            "topic": Step(ask_topic, answer_topic, expects_text=False),
            "show_name": Step(ask_show_name, answer_show_name, expects_text=False),
            "summary": Step(show_summary, answer_summary, expects_text=False),
            "edit": Step(ask_edit, answer_edit, expects_text=False),
        },
    },
    intents={
        "submit_idea": idea_from_text,
        "my_status": my_submissions,
    },
)
