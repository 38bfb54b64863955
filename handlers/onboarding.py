"""Getting started (/start): language, consent to the privacy notice, role; /language and /role.

Nothing about a person is stored before they agree: until then only the conversation state (the
current step and the chosen language) is kept, and declining erases even that.
"""

from __future__ import annotations

from sqlalchemy import inspect

from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Reply
from handlers.help import menu, use_buttons
from handlers.i18n import LANGUAGE_NAMES
from handlers.text import one_line
from storage.models import Role
from storage.people import add_person

ROLES = (Role.CITIZEN, Role.SME, Role.INFRASTRUCTURE, Role.CHALLENGE_OWNER)


def _language_options() -> list[tuple[str, str]]:
    return [(name, code) for code, name in LANGUAGE_NAMES.items()]


def _consent_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t("onboarding.agree"), "agree"), (ctx.t("onboarding.decline"), "decline")]


def _role_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"roles.{role.value}"), role.value) for role in ROLES]


# --- commands --------------------------------------------------------------------------------


async def start(ctx: Context) -> list[Reply]:
    if ctx.person is not None:
        return [menu(ctx, "onboarding.welcome_back")]
    return [ctx.reply("onboarding.welcome"), *await ctx.enter("onboarding", "language")]


async def change_language(ctx: Context) -> list[Reply]:
    return await ctx.enter("settings", "language")


async def change_role(ctx: Context) -> list[Reply]:
    return await ctx.enter("settings", "role")


# --- steps -----------------------------------------------------------------------------------


async def ask_language(ctx: Context) -> list[Reply]:
    return [ctx.reply("onboarding.ask_language", ctx.choices(_language_options(), per_row=3))]


async def answer_language(ctx: Context) -> list[Reply]:
    lang = ctx.chosen(_language_options())
    if lang is None:
        return await use_buttons(ctx)
    ctx.state.language = lang
    ctx.lang = lang
    if ctx.person is not None:
        ctx.person.language = lang
    if ctx.flow == "onboarding" and ctx.person is None:
        return await ctx.enter("onboarding", "consent")
    ctx.end_flow()
    return [menu(ctx, "settings.language_set", language=LANGUAGE_NAMES[lang])]


async def ask_consent(ctx: Context) -> list[Reply]:
    return [ctx.reply("onboarding.privacy_notice", ctx.choices(_consent_options(ctx)))]


async def answer_consent(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_consent_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    if answer == "decline":
        # Forget even the chosen language and the step: nothing of theirs stays.
        if inspect(ctx.state).pending:
            ctx.session.expunge(ctx.state)
        else:
            await ctx.session.delete(ctx.state)
        return [ctx.reply("onboarding.declined", [[command_button(ctx.t("menu.start"), "start")]])]
    if ctx.person is None:
        msg = ctx.msg
        ctx.person = await add_person(
            ctx.session,
            platform=msg.platform.value,
            external_id=msg.user_id,
            chat_id=msg.chat_id,
            display_name=_clean_name(msg.display_name),
            language_code=(msg.language_hint or "")[:16] or None,
            language=ctx.lang,
        )
    return [ctx.reply("onboarding.thanks"), *await ctx.enter("onboarding", "role")]


async def ask_role(ctx: Context) -> list[Reply]:
    return [ctx.reply("onboarding.ask_role", ctx.choices(_role_options(ctx), per_row=1))]


async def answer_role(ctx: Context) -> list[Reply]:
    role = ctx.chosen(_role_options(ctx))
    if role is None:
        return await use_buttons(ctx)
    onboarding = ctx.flow == "onboarding"
    ctx.end_flow()
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    ctx.person.role = role
    label = ctx.t(f"roles.{role}")
    if onboarding:
        return [menu(ctx, "onboarding.ready", role=label)]
    return [menu(ctx, "settings.role_set", role=label)]


def _clean_name(name: str | None) -> str | None:
    """A display name fit to store: one line, bounded."""
    if not name:
        return None
    return one_line(name)[:200] or None


feature = Feature(
    commands={
        "start": Command(start, needs_consent=False),
        "language": Command(change_language, needs_consent=False),
        "role": Command(change_role),
    },
    flows={
        "onboarding": {
            "language": Step(ask_language, answer_language, expects_text=False),
            "consent": Step(ask_consent, answer_consent, expects_text=False),
            "role": Step(ask_role, answer_role, expects_text=False),
        },
        "settings": {
            "language": Step(ask_language, answer_language, expects_text=False),
            "role": Step(ask_role, answer_role, expects_text=False),
        },
    },
)
