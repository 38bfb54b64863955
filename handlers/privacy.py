"""Rights over one's data: what is kept (/privacy), a copy (/mydata), erasure (/forget)."""

from __future__ import annotations

import json
import logging

from sqlalchemy import inspect

from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Document, Reply
from handlers.help import menu, use_buttons
from storage.people import export_person, forget_person

log = logging.getLogger(__name__)

EXPORT_FILENAME = "innobot-my-data.json"


async def privacy_info(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        buttons = [[command_button(ctx.t("menu.start"), "start")]]
    else:
        buttons = [
            [
                command_button(ctx.t("privacy.button_mydata"), "mydata"),
                command_button(ctx.t("privacy.button_forget"), "forget"),
            ]
        ]
    return [ctx.reply("privacy.info", buttons)]


async def my_data(ctx: Context) -> list[Reply]:
    assert ctx.person is not None  # the command needs consent
    export = await export_person(ctx.session, ctx.person)
    content = json.dumps(export, ensure_ascii=False, indent=2, sort_keys=True).encode()
    document = Document(EXPORT_FILENAME, content, "application/json")
    return [Reply(ctx.t("privacy.export_ready"), document=document)]


async def forget(ctx: Context) -> list[Reply]:
    return await ctx.enter("forget", "confirm")


def _confirm_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t("privacy.forget_yes"), "yes"), (ctx.t("privacy.forget_no"), "no")]


async def ask_forget(ctx: Context) -> list[Reply]:
    return [ctx.reply("privacy.forget_confirm", ctx.choices(_confirm_options(ctx), per_row=1))]


async def answer_forget(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_confirm_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    ctx.end_flow()
    if answer == "no":
        return [menu(ctx, "privacy.forget_kept")]
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    if inspect(ctx.state).pending:
        ctx.session.expunge(ctx.state)
    await forget_person(ctx.session, ctx.person)
    # Replies from now on belong to nobody: the outbox must not link them to the erased person.
    ctx.person = None
    log.info("a person asked to be forgotten; their data was erased")
    return [ctx.reply("privacy.forgotten", [[command_button(ctx.t("menu.start"), "start")]])]


feature = Feature(
    commands={
        "privacy": Command(privacy_info, needs_consent=False),
        "mydata": Command(my_data),
        "forget": Command(forget),
    },
    flows={
        "forget": {"confirm": Step(ask_forget, answer_forget, expects_text=False)},
    },
    intents={"privacy": privacy_info},
)
