"""What a handler gets besides the message: DB session, person, flow state, language."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core import Button, ContentKind, IncomingMessage, Reply
from handlers.i18n import t
from storage.models import ConversationState, Person

# Button payloads: "f:<version>:<value>" answers the current flow step (stale when the version
# moved on); "c:<command>" runs a command, whenever it is pressed.
FLOW_PREFIX = "f:"
COMMAND_PREFIX = "c:"
MAX_PAYLOAD = 64  # Telegram's callback_data limit, in bytes


# Texts up to this many characters are analysed on the event loop (see Context.analyze).
ANALYZE_INLINE_MAX = 1000


@dataclass(frozen=True, slots=True)
class Analysis:
    """What the NLP layer made of a text."""

    lang: str
    intent: str
    intent_score: float
    topics: tuple[tuple[str, float], ...] = ()
    # Whether the intent is sure enough to act on without asking.
    confident: bool = True
    # In-scope intents worth offering when not confident, likeliest first.
    candidates: tuple[tuple[str, float], ...] = ()


class TextAnalyzer(Protocol):
    """The NLP hook (``nlp.pipeline`` implements it; tests and the fallback may too)."""

    def analyze(self, text: str) -> Analysis: ...


@dataclass(frozen=True, slots=True)
class Limits:
    """Bounds on what users may submit."""

    title_max: int = 120
    description_min: int = 20
    description_max: int = 2000
    text_max: int = 4000


@dataclass
class Context:
    """Everything one handler invocation may use. One per incoming message; never shared."""

    session: AsyncSession
    msg: IncomingMessage
    state: ConversationState
    person: Person | None
    lang: str
    analyzer: TextAnalyzer
    limits: Limits = field(default_factory=Limits)
    # The value of a pressed flow button that answers the current step (None for typed text).
    button_value: str | None = None
    flows: Mapping[str, Mapping[str, Step]] = field(default_factory=dict)
    # Replies to other people (moderators, submitters), queued with this message's transaction.
    notifications: list[Reply] = field(default_factory=list)

    def t(self, key: str, /, **values: object) -> str:
        return t(self.lang, key, **values)

    async def analyze(self, text: str) -> Analysis:
        """The analyzer's reading of ``text``. A short text takes well under a millisecond and is
        read at once; a long one (several milliseconds) in a worker thread, off the event loop."""
        if len(text) <= ANALYZE_INLINE_MAX:
            return self.analyzer.analyze(text)
        return await asyncio.to_thread(self.analyzer.analyze, text)

    def reply(
        self, key: str, /, buttons: Sequence[Sequence[Button]] = (), **values: object
    ) -> Reply:
        return Reply(self.t(key, **values), tuple(tuple(row) for row in buttons))

    # --- flows -----------------------------------------------------------------------------

    @property
    def flow(self) -> str | None:
        return self.state.flow

    @property
    def data(self) -> dict[str, Any]:
        """The current flow's answers so far (persisted with the state)."""
        return self.state.data

    def goto(self, flow: str, step: str, data: Mapping[str, Any] | None = None) -> None:
        """Move to ``step`` of ``flow``; buttons of earlier steps become stale."""
        self.state.flow = flow
        self.state.step = step
        if data is not None:
            self.state.data = dict(data)
        else:
            # Reassign so the JSON column is seen as changed.
            self.state.data = dict(self.state.data)
        self.state.version = (self.state.version or 0) + 1

    def update(self, **values: Any) -> None:
        """Record answers in the current flow's data."""
        self.state.data = {**self.state.data, **values}

    async def enter(
        self, flow: str, step: str, data: Mapping[str, Any] | None = None
    ) -> list[Reply]:
        """Move to ``step`` of ``flow`` and ask its question."""
        self.goto(flow, step, data)
        return await self.flows[flow][step].prompt(self)

    async def reprompt(self) -> list[Reply]:
        """Ask the current step's question again."""
        if self.state.flow is None or self.state.step is None:
            return []
        return await self.flows[self.state.flow][self.state.step].prompt(self)

    def end_flow(self) -> None:
        self.state.flow = None
        self.state.step = None
        self.state.data = {}
        self.state.version = (self.state.version or 0) + 1

    def choice(self, label: str, value: str) -> Button:
        """A button answering the current step (call after :meth:`goto`)."""
        payload = f"{FLOW_PREFIX}{self.state.version}:{value}"
        if len(payload.encode()) > MAX_PAYLOAD:
            raise ValueError(f"button payload too long: {payload!r}")
        return Button(label, payload)

    def choices(self, options: Iterable[tuple[str, str]], per_row: int = 2) -> list[list[Button]]:
        buttons = [self.choice(label, value) for label, value in options]
        return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]

    def chosen(self, options: Iterable[tuple[str, str]]) -> str | None:
        """The option picked at a button step, or None.

        A pressed button counts only if its value is one of ``options``. Typed text counts when
        it is an option's label (any case) or its number, counting from 1 in the order given, as
        platforms without buttons show them.
        """
        pairs = list(options)
        if self.button_value is not None:
            return self.button_value if any(v == self.button_value for _, v in pairs) else None
        if self.msg.kind != ContentKind.TEXT:
            return None
        typed = " ".join(self.msg.text.split()).casefold()
        for number, (label, value) in enumerate(pairs, start=1):
            if typed in (label.casefold(), str(number)):
                return value
        return None


def command_button(label: str, command: str) -> Button:
    """A button that runs ``/command`` whenever it is pressed."""
    return Button(label, f"{COMMAND_PREFIX}{command}")


Handler = Callable[[Context], Awaitable[list[Reply]]]
# Handles a message in a group chat; None when the group is not one the feature looks after.
GroupHandler = Callable[[Context], Awaitable[list[Reply] | None]]


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a flow: the question it asks, and what it does with the answer."""

    prompt: Handler
    answer: Handler
    expects_text: bool = True


@dataclass(frozen=True, slots=True)
class Command:
    handler: Handler
    needs_consent: bool = True


@dataclass(frozen=True, slots=True)
class Feature:
    """What one handlers module contributes: commands, flows, free-text intents and, for group
    chats it looks after, a ``group`` handler."""

    commands: Mapping[str, Command] = field(default_factory=dict)
    flows: Mapping[str, Mapping[str, Step]] = field(default_factory=dict)
    intents: Mapping[str, Handler] = field(default_factory=dict)
    group: GroupHandler | None = None
