"""The router: active flow step, else command, else button, else free text by intent."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import (
    COMMAND_PREFIX,
    FLOW_PREFIX,
    Command,
    Context,
    Feature,
    GroupHandler,
    Handler,
    Limits,
    Step,
    TextAnalyzer,
)
from handlers.core import ContentKind, IncomingMessage, Platform, Reply
from handlers.i18n import pick_language
from storage.models import ConversationState, Identity, Person

log = logging.getLogger(__name__)

T = TypeVar("T")

CLARIFY = "clarify"
OUT_OF_SCOPE = "out_of_scope"

# Commands that work in the middle of a flow without leaving it (the buttons under an alert
# run /alerts and /remind, a vote in a Telegram poll arrives as /poll: they are one tap,
# whatever the person is doing).
FLOW_SAFE_COMMANDS = frozenset({"help", "alerts", "remind", "poll"})


@dataclass
class Outcome:
    """What handling one message produced."""

    replies: list[Reply]
    notifications: list[Reply]
    lang: str
    person_id: int | None


@dataclass
class Router:
    features: Sequence[Feature]
    analyzer: TextAnalyzer
    limits: Limits = field(default_factory=Limits)
    default_language: str = "en"

    def __post_init__(self) -> None:
        self.commands: dict[str, Command] = {}
        self.flows: dict[str, Mapping[str, Step]] = {}
        self.intents: dict[str, Handler] = {}
        self.group_handlers: list[GroupHandler] = []
        # Asking which of the likeliest intents a doubtful free text meant.
        self.flows[CLARIFY] = {"choose": Step(self._ask_intent, self._answer_intent)}
        for feature in self.features:
            if feature.group is not None:
                self.group_handlers.append(feature.group)
            _register(self.commands, feature.commands)
            _register(self.flows, feature.flows)
            _register(self.intents, feature.intents)

    async def handle(self, session: AsyncSession, msg: IncomingMessage) -> Outcome:
        """Handle ``msg`` inside the caller's transaction; the caller commits."""
        state = await load_state(session, msg)
        person = await find_person(session, msg)
        lang = pick_language(
            person.language if person else state.language, msg.language_hint, self.default_language
        )
        ctx = Context(
            session=session,
            msg=msg,
            state=state,
            person=person,
            lang=lang,
            analyzer=self.analyzer,
            limits=self.limits,
            flows=self.flows,
        )
        replies = await self._route(ctx)
        if not state.flow and not state.language:
            # Nothing worth keeping: do not store platform identifiers of a stranger.
            if inspect(state).pending:
                session.expunge(state)
            elif inspect(state).persistent and ctx.person is None:
                await session.delete(state)
        return Outcome(
            replies=replies,
            notifications=ctx.notifications,
            lang=ctx.lang,
            person_id=ctx.person.id if ctx.person else None,
        )

    async def _route(self, ctx: Context) -> list[Reply]:
        msg = ctx.msg
        command = msg.command if msg.kind == ContentKind.TEXT else None

        if not msg.is_private:
            # A group linked to a community is looked after by its feature; in any other group
            # innobot only points to the private chat, where a person's own business happens.
            for group_handler in self.group_handlers:
                replies = await group_handler(ctx)
                if replies is not None:
                    return replies
            return [ctx.reply("errors.private_only")] if command else []

        if command and command[0] == "cancel":
            return await self._run_command(ctx, "cancel")

        if msg.button is not None:
            return await self._route_button(ctx, msg.button)

        if ctx.state.flow and ctx.state.step:
            if command and command[0] in FLOW_SAFE_COMMANDS:
                return await self._run_command(ctx, command[0]) + await ctx.reprompt()
            if command:
                return [ctx.reply("flow.finish_first")] + await ctx.reprompt()
            return await self._answer_step(ctx)

        if command:
            return await self._run_command(ctx, command[0])

        if msg.kind != ContentKind.TEXT:
            return [ctx.reply("errors.text_only")]
        if not msg.text.strip():
            return [ctx.reply("errors.empty")]
        if msg.platform is not Platform.TELEGRAM:
            # Where options are shown numbered (Matrix), a number answers a consultation.
            from handlers.consultations import answer_by_number

            answered = await answer_by_number(ctx)
            if answered is not None:
                return answered
        return await self._route_free_text(ctx)

    async def _answer_step(self, ctx: Context) -> list[Reply]:
        step = self.flows.get(ctx.state.flow or "", {}).get(ctx.state.step or "")
        if step is None:
            log.warning("unknown flow step %s/%s; leaving it", ctx.state.flow, ctx.state.step)
            ctx.end_flow()
            return [ctx.reply("flow.lost")]
        if step.expects_text and ctx.msg.kind != ContentKind.TEXT and ctx.button_value is None:
            return [ctx.reply("errors.text_only")] + await ctx.reprompt()
        if step.expects_text and ctx.button_value is None and not ctx.msg.text.strip():
            return [ctx.reply("errors.empty")] + await ctx.reprompt()
        return await step.answer(ctx)

    async def _route_button(self, ctx: Context, payload: str) -> list[Reply]:
        if payload.startswith(COMMAND_PREFIX):
            # "c:alerts stop 12" runs the command as if "/alerts stop 12" had been typed.
            name, _, argument = payload[len(COMMAND_PREFIX) :].partition(" ")
            if ctx.state.flow and name not in FLOW_SAFE_COMMANDS and name != "cancel":
                return [ctx.reply("flow.finish_first")] + await ctx.reprompt()
            if argument:
                ctx.msg = replace(ctx.msg, text=f"/{name} {argument}")
            return await self._run_command(ctx, name)
        if payload.startswith(FLOW_PREFIX):
            version, _, value = payload[len(FLOW_PREFIX) :].partition(":")
            if ctx.state.flow and version == str(ctx.state.version):
                ctx.button_value = value
                return await self._answer_step(ctx)
        # A button from an old message, or one this version of innobot never made.
        stale = [ctx.reply("errors.stale_button")]
        return stale + (await ctx.reprompt() if ctx.state.flow else [])

    async def _run_command(self, ctx: Context, name: str) -> list[Reply]:
        command = self.commands.get(name)
        if command is None:
            return [ctx.reply("errors.unknown_command", command="/" + name[:32])]
        if command.needs_consent and ctx.person is None:
            return [ctx.reply("errors.needs_consent")]
        return await command.handler(ctx)

    async def _route_free_text(self, ctx: Context) -> list[Reply]:
        text = ctx.msg.text[: ctx.limits.text_max]
        analysis = await ctx.analyze(text)
        if not analysis.confident:
            options = [name for name, _ in analysis.candidates if name in self.intents]
            if options:
                return await ctx.enter(CLARIFY, "choose", {"text": text, "options": options})
        handler = self.intents.get(analysis.intent) or self.intents.get(OUT_OF_SCOPE)
        if handler is None:
            return [ctx.reply("errors.not_understood")]
        return await handler(ctx)

    def _intent_options(self, ctx: Context) -> list[tuple[str, str]]:
        names = [*ctx.data.get("options", []), OUT_OF_SCOPE]
        return [
            (ctx.t("clarify.none" if name == OUT_OF_SCOPE else f"clarify.{name}"), name)
            for name in names
        ]

    async def _ask_intent(self, ctx: Context) -> list[Reply]:
        buttons = ctx.choices(self._intent_options(ctx), per_row=1)
        return [ctx.reply("clarify.ask", buttons=buttons)]

    async def _answer_intent(self, ctx: Context) -> list[Reply]:
        chosen = ctx.chosen(self._intent_options(ctx))
        text = str(ctx.data.get("text", ""))
        ctx.end_flow()
        if chosen is None:
            # Something else was typed instead of a choice: it is a new message.
            ctx.button_value = None
            return await self._route_free_text(ctx)
        ctx.msg = replace(ctx.msg, text=text, button=None, kind=ContentKind.TEXT)
        ctx.button_value = None
        handler = self.intents.get(chosen) or self.intents.get(OUT_OF_SCOPE)
        if handler is None:
            return [ctx.reply("errors.not_understood")]
        return await handler(ctx)


def _register(table: dict[str, T], entries: Mapping[str, T]) -> None:
    clash = set(table) & set(entries)
    if clash:
        raise ValueError(f"registered twice: {sorted(clash)}")
    table.update(entries)


async def load_state(session: AsyncSession, msg: IncomingMessage) -> ConversationState:
    """The conversation state of the message's sender in its chat, created if new.

    On PostgreSQL the row is locked for the transaction, so that two processes handling
    messages of the same chat take turns instead of overwriting each other's step.
    """
    query = (
        select(ConversationState)
        .where(
            ConversationState.platform == msg.platform.value,
            ConversationState.chat_id == msg.chat_id,
            ConversationState.user_id == msg.user_id,
        )
        .with_for_update()
    )
    state = (await session.execute(query)).scalar_one_or_none()
    if state is None:
        state = ConversationState(
            platform=msg.platform.value,
            chat_id=msg.chat_id,
            user_id=msg.user_id,
            data={},
            version=0,
        )
        session.add(state)
    return state


async def find_person(session: AsyncSession, msg: IncomingMessage) -> Person | None:
    query = (
        select(Person)
        .join(Identity)
        .where(Identity.platform == msg.platform.value, Identity.external_id == msg.user_id)
    )
    return (await session.execute(query)).scalar_one_or_none()
