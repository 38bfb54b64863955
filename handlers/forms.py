"""Declared forms: a flow that asks for each missing field, then shows a summary to confirm, edit
or cancel — the shape of the idea flow, for the brokerage's longer submissions.

A :class:`Form` lists its fields; :meth:`Form.steps` makes the flow's steps. Texts come from the
catalog: ``{section}.{flow}_ask_{field}`` asks for a field, ``{section}.{flow}_field_{field}``
names it in the summary and the edit menu; the ``profiles.form_*`` entries are shared.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from handlers.context import Context, Handler, Step
from handlers.core import Reply
from handlers.help import menu, use_buttons
from handlers.i18n import LANGUAGES
from handlers.text import one_line, paragraphs
from nlp.labels import TOPICS
from nlp.matching.text import guess_language, tokens

SKIP = "skip"
DONE = "done"
SUGGESTED_TOPICS = 3
MAX_TOPICS = 3
DEADLINE_YEARS = 5
# A description in another language than innobot's is refused only when it is long enough to tell.
LANGUAGE_WORDS = 8

Options = Callable[[Context], list[tuple[str, str]]]
Check = Callable[[Context, str], Awaitable[str | None]]


@dataclass(frozen=True, slots=True)
class Field:
    """One thing a form asks for.

    ``kind``: ``text`` (one line), ``paragraph`` (the description: line breaks kept, language
    and topics analysed), ``choice`` (one button), ``multi`` (several buttons, then Done),
    ``topics`` (multi, the analyser's suggestions first), ``date``.
    """

    name: str
    kind: str = "text"
    optional: bool = False
    min_length: int = 1
    max_length: int = 200
    options: Options | None = None
    max_selected: int = 3
    check: Check | None = None


@dataclass(frozen=True)
class Form:
    flow: str
    section: str
    fields: tuple[Field, ...]
    # The summary's (label, value) lines for the data collected.
    render: Callable[[Context], list[tuple[str, str]]]
    submit: Handler
    by_name: dict[str, Field] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    def key(self, what: str) -> str:
        return f"{self.section}.{self.flow}_{what}"

    def label(self, ctx: Context, name: str) -> str:
        return ctx.t(self.key(f"field_{name}"))

    # --- navigation ---

    async def start(self, ctx: Context, data: dict[str, Any] | None = None) -> list[Reply]:
        ctx.goto(self.flow, self.fields[0].name, data or {})
        return await self.next_question(ctx)

    async def next_question(self, ctx: Context) -> list[Reply]:
        for item in self.fields:
            if item.name not in ctx.data:
                return await ctx.enter(self.flow, item.name)
        return await ctx.enter(self.flow, "summary")

    def steps(self) -> dict[str, Step]:
        steps = {
            item.name: Step(
                self._asker(item),
                self._answerer(item),
                expects_text=item.kind in ("text", "paragraph", "date"),
            )
            for item in self.fields
        }
        steps["summary"] = Step(self._show_summary, self._answer_summary, expects_text=False)
        steps["edit"] = Step(self._ask_edit, self._answer_edit, expects_text=False)
        return steps

    # --- asking ---

    def _asker(self, item: Field) -> Handler:
        async def ask(ctx: Context) -> list[Reply]:
            return [self._question(ctx, item)]

        return ask

    def _question(self, ctx: Context, item: Field) -> Reply:
        key = self.key(f"ask_{item.name}")
        values = {"max": item.max_length, "min": item.min_length}
        if item.kind in ("text", "paragraph", "date"):
            options: list[tuple[str, str]] = []
            if item.optional:
                skip = "form_no_deadline" if item.kind == "date" else "form_skip"
                options.append((ctx.t(f"profiles.{skip}"), SKIP))
            return ctx.reply(key, ctx.choices(options, per_row=1), **values)
        if item.kind == "choice":
            options = self._options(ctx, item)
            if item.optional:
                options.append((ctx.t("profiles.form_skip"), SKIP))
            return ctx.reply(key, ctx.choices(options, per_row=3 if len(options) > 6 else 2))
        # multi / topics: the picks so far are marked, Done finishes.
        picked = set(ctx.data.get("_picking", []))
        shown = [
            (f"✓ {label}" if value in picked else label, value)
            for label, value in self._options(ctx, item)
        ]
        shown.append((ctx.t("profiles.form_done"), DONE))
        reply = ctx.reply(key, ctx.choices(shown, per_row=2), max=item.max_selected)
        if item.kind == "topics" and not picked:
            suggested = _suggested_topics(ctx)
            if suggested:
                names = ", ".join(ctx.t(f"topics.{name}") for name in suggested)
                note = ctx.t("profiles.form_topics_suggested", topics=names)
                reply = Reply(f"{reply.text}\n{note}", reply.buttons)
        return reply

    def _options(self, ctx: Context, item: Field) -> list[tuple[str, str]]:
        if item.kind == "topics":
            suggested = _suggested_topics(ctx)
            ordered = suggested + [name for name in TOPICS if name not in suggested]
            return [(ctx.t(f"topics.{name}"), name) for name in ordered]
        assert item.options is not None
        return list(item.options(ctx))

    # --- answering ---

    def _answerer(self, item: Field) -> Handler:
        async def answer(ctx: Context) -> list[Reply]:
            if item.kind in ("text", "paragraph", "date"):
                return await self._answer_text(ctx, item)
            if item.kind == "choice":
                return await self._answer_choice(ctx, item)
            return await self._answer_multi(ctx, item)

        return answer

    async def _answer_text(self, ctx: Context, item: Field) -> list[Reply]:
        if ctx.button_value is not None:
            if item.optional and ctx.button_value == SKIP:
                ctx.update(**{item.name: None})
                return await self.next_question(ctx)
            return await ctx.reprompt()
        text = paragraphs(ctx.msg.text) if item.kind == "paragraph" else one_line(ctx.msg.text)
        if item.optional and ctx.chosen([(ctx.t("profiles.form_skip"), SKIP)]) == SKIP:
            ctx.update(**{item.name: None})
            return await self.next_question(ctx)
        if not text:
            return [ctx.reply("errors.empty"), *await ctx.reprompt()]
        if len(text) > item.max_length:
            reply = ctx.reply("profiles.form_too_long", max=item.max_length, length=len(text))
            return [reply, *await ctx.reprompt()]
        if len(text) < item.min_length:
            reply = ctx.reply("profiles.form_too_short", min=item.min_length)
            return [reply, *await ctx.reprompt()]
        value: Any = text
        if item.kind == "date":
            parsed, problem = parse_deadline(text, date.today())
            if problem is not None:
                return [ctx.reply(problem, years=DEADLINE_YEARS), *await ctx.reprompt()]
            assert parsed is not None
            value = parsed.isoformat()
        if item.kind == "paragraph":
            analysis = await ctx.analyze(text)
            if _foreign(analysis.lang, text):
                return [ctx.reply("profiles.form_unknown_language"), *await ctx.reprompt()]
            ctx.update(
                _analysis={
                    "lang": (analysis.lang if analysis.lang in LANGUAGES else None)
                    or guess_language(tokens(text))
                    or ctx.lang,
                    "topics": [[name, score] for name, score in analysis.topics],
                }
            )
        if item.check is not None:
            problem = await item.check(ctx, text)
            if problem is not None:
                return [ctx.reply(problem), *await ctx.reprompt()]
        ctx.update(**{item.name: value})
        return await self.next_question(ctx)

    async def _answer_choice(self, ctx: Context, item: Field) -> list[Reply]:
        options = self._options(ctx, item)
        if item.optional:
            options.append((ctx.t("profiles.form_skip"), SKIP))
        value = ctx.chosen(options)
        if value is None:
            return await use_buttons(ctx)
        ctx.update(**{item.name: None if value == SKIP else value})
        return await self.next_question(ctx)

    async def _answer_multi(self, ctx: Context, item: Field) -> list[Reply]:
        options = self._options(ctx, item)
        picked: list[str] = list(ctx.data.get("_picking", []))
        marked = [(f"✓ {label}" if value in picked else label, value) for label, value in options]
        every = [*options, *marked, (ctx.t("profiles.form_done"), DONE)]
        value = ctx.chosen(every) if ctx.button_value is not None else self._typed(ctx, options)
        if value is None:
            return await use_buttons(ctx)
        if value == DONE:
            if not picked and not item.optional:
                return [ctx.reply("profiles.form_pick_one"), *await ctx.reprompt()]
            data = {k: v for k, v in ctx.data.items() if k != "_picking"}
            data[item.name] = picked
            ctx.goto(self.flow, item.name, data)
            return await self.next_question(ctx)
        if value in picked:
            picked.remove(value)
        elif len(picked) >= item.max_selected:
            reply = ctx.reply("profiles.form_too_many", max=item.max_selected)
            return [reply, *await ctx.reprompt()]
        else:
            picked.append(value)
        # A new version, so that the buttons of the previous question go stale.
        ctx.goto(self.flow, item.name, {**ctx.data, "_picking": picked})
        return await ctx.reprompt()

    def _typed(self, ctx: Context, options: list[tuple[str, str]]) -> str | None:
        """Typed answers at a multiple choice: a label or number, or "done"."""
        numbered = [*options, (ctx.t("profiles.form_done"), DONE)]
        return ctx.chosen(numbered)

    # --- summary and edits ---

    def _summary_options(self, ctx: Context) -> list[tuple[str, str]]:
        return [
            (ctx.t("profiles.form_confirm"), "confirm"),
            (ctx.t("profiles.form_edit"), "edit"),
            (ctx.t("profiles.form_cancel"), "cancel"),
        ]

    async def _show_summary(self, ctx: Context) -> list[Reply]:
        lines = [ctx.t(self.key("summary_head"))]
        for label, value in self.render(ctx):
            lines.append(ctx.t("profiles.form_summary_line", label=label, value=value))
        lines += ["", ctx.t(self.key("summary_question"))]
        options = self._summary_options(ctx)
        buttons = [[ctx.choice(*options[0])], [ctx.choice(*options[1]), ctx.choice(*options[2])]]
        return [Reply("\n".join(lines), tuple(tuple(row) for row in buttons))]

    async def _answer_summary(self, ctx: Context) -> list[Reply]:
        answer = ctx.chosen(self._summary_options(ctx))
        if answer == "edit":
            return await ctx.enter(self.flow, "edit")
        if answer == "cancel":
            editing = "_edit" in ctx.data
            ctx.end_flow()
            return [
                menu(ctx, "profiles.form_edit_dropped" if editing else "profiles.form_cancelled")
            ]
        if answer != "confirm":
            return await use_buttons(ctx)
        if ctx.person is None:
            ctx.end_flow()
            return [ctx.reply("errors.needs_consent")]
        return await self.submit(ctx)

    def _edit_options(self, ctx: Context) -> list[tuple[str, str]]:
        fields = [(self.label(ctx, item.name), item.name) for item in self.fields]
        return [*fields, (ctx.t("profiles.form_back"), "back")]

    async def _ask_edit(self, ctx: Context) -> list[Reply]:
        return [ctx.reply("profiles.form_ask_edit", ctx.choices(self._edit_options(ctx)))]

    async def _answer_edit(self, ctx: Context) -> list[Reply]:
        answer = ctx.chosen(self._edit_options(ctx))
        if answer is None:
            return await use_buttons(ctx)
        if answer == "back":
            return await ctx.enter(self.flow, "summary")
        data = {k: v for k, v in ctx.data.items() if k != answer}
        picked = ctx.data.get(answer)
        item = self.by_name[answer]
        if item.kind in ("multi", "topics") and isinstance(picked, list):
            data["_picking"] = picked
        return await ctx.enter(self.flow, answer, data)


# --- helpers shared by the forms -------------------------------------------------------------


def _suggested_topics(ctx: Context) -> list[str]:
    scores = ctx.data.get("_analysis", {}).get("topics", [])
    return [name for name, score in scores if name in TOPICS and score > 0][:SUGGESTED_TOPICS]


def _foreign(lang: str, text: str) -> bool:
    """Whether ``text`` is in a language innobot does not speak (as far as one can tell)."""
    if lang in LANGUAGES:
        return False
    if lang:
        return True  # the analyser named another language
    words = tokens(text)
    return len(words) >= LANGUAGE_WORDS and guess_language(words) is None


_DATE_FORMATS = (
    re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$"),
    re.compile(r"^(?P<d>\d{1,2})[./-](?P<m>\d{1,2})[./-](?P<y>\d{4})$"),
)


def parse_deadline(text: str, today: date) -> tuple[date | None, str | None]:
    """A deadline typed as 2027-03-31, 31/03/2027, 31.03.2027 or 31-03-2027.

    Returns the date, or a catalog key saying what is wrong with it.
    """
    cleaned = text.strip()
    for pattern in _DATE_FORMATS:
        found = pattern.match(cleaned)
        if found is None:
            continue
        try:
            value = date(int(found["y"]), int(found["m"]), int(found["d"]))
        except ValueError:
            return None, "challenges.deadline_invalid"
        if value < today:
            return None, "challenges.deadline_past"
        if value > today + timedelta(days=365 * DEADLINE_YEARS):
            return None, "challenges.deadline_too_far"
        return value, None
    return None, "challenges.deadline_invalid"


def yes_no(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t("common.yes"), "yes"), (ctx.t("common.no"), "no")]


def names(ctx: Context, section: str, values: Sequence[str] | None) -> str:
    """Option values named through the catalog (``section.value``), or "not given"."""
    if not values:
        return ctx.t("profiles.form_not_set")
    return ", ".join(ctx.t(f"{section}.{value}") for value in values)


def shown(ctx: Context, value: object) -> str:
    if value is None or value == "" or value == []:
        return ctx.t("profiles.form_not_set")
    return str(value)
