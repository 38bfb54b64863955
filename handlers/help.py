"""What innobot can do: the menu, /help, /cancel, and answers to greetings and off-topic chat."""

from __future__ import annotations

from handlers.context import Command, Context, Feature, command_button
from handlers.core import Button, Reply


def menu_buttons(ctx: Context) -> list[list[Button]]:
    """Command buttons for what this person can do now."""
    if ctx.person is None:
        return [
            [
                command_button(ctx.t("menu.start"), "start"),
                command_button(ctx.t("menu.help"), "help"),
            ]
        ]
    return [
        [command_button(ctx.t("menu.idea"), "idea"), command_button(ctx.t("menu.my"), "my")],
        [
            command_button(ctx.t("menu.help"), "help"),
            command_button(ctx.t("menu.privacy"), "privacy"),
        ],
        [
            command_button(ctx.t("menu.language"), "language"),
            command_button(ctx.t("menu.role"), "role"),
        ],
    ]


def menu(ctx: Context, key: str = "menu.text", /, **values: object) -> Reply:
    """The text of ``key`` with the menu's buttons under it."""
    return ctx.reply(key, menu_buttons(ctx), **values)


async def use_buttons(ctx: Context) -> list[Reply]:
    """The answer to anything but a listed choice at a step that offers buttons."""
    return [ctx.reply("flow.use_buttons"), *await ctx.reprompt()]


async def show_help(ctx: Context) -> list[Reply]:
    if ctx.flow:
        # The router asks the current question again right after this.
        return [ctx.reply("help.text")]
    return [menu(ctx, "help.text")]


async def cancel(ctx: Context) -> list[Reply]:
    if not ctx.flow:
        return [menu(ctx, "cancel.nothing")]
    ctx.end_flow()
    return [menu(ctx, "cancel.done")]


async def greet(ctx: Context) -> list[Reply]:
    return [menu(ctx, "greeting.known" if ctx.person else "greeting.stranger")]


async def out_of_scope(ctx: Context) -> list[Reply]:
    return [menu(ctx, "help.out_of_scope")]


feature = Feature(
    commands={
        "help": Command(show_help, needs_consent=False),
        "cancel": Command(cancel, needs_consent=False),
    },
    intents={
        "greeting": greet,
        "help": show_help,
        "out_of_scope": out_of_scope,
    },
)
