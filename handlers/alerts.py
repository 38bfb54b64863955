"""Challenge alerts: /alerts, /subscribe, /unsubscribe, /remind, and the alerts themselves.

``/subscribe`` asks for topics and/or keywords and how often (instantly, daily, weekly), then shows
a summary where the region, the time zone and quiet hours can be changed too. ``/alerts`` lists a
person's subscriptions with buttons to change, stop, resume or remove each. Every alert carries a
one-tap "stop these" button. The texts of alerts are written when they are sent
(:data:`RENDERERS`, used by the outbox), so what is sent is always the challenge as it is then.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Button, Reply
from handlers.help import menu, use_buttons
from handlers.i18n import catalog, normalize_language, t
from handlers.moderation import parse_ref
from handlers.text import one_line
from nlp.labels import TOPICS
from storage import alerts as store
from storage.models import (
    Challenge,
    Confidentiality,
    Frequency,
    Identity,
    ItemKind,
    Match,
    MatchState,
    OutboxMessage,
    Person,
    SolutionProfile,
    Status,
    Subscription,
)

log = logging.getLogger(__name__)

FLOW = "subscribe"
STOP_FLOW = "unsubscribe"
MAIN_FIELDS = ("topics", "keywords", "frequency", "weekday", "time")
EDITABLE = ("topics", "keywords", "region", "frequency", "time", "timezone", "quiet")
TIME_CHOICES = ("08:00", "09:00", "12:00", "18:00")
TIMEZONE_CHOICES = (
    "Europe/Rome",
    "Europe/Stockholm",
    "Europe/Brussels",
    "Europe/London",
    "UTC",
)
SUMMARY_MAX = 300  # characters of a challenge's description in an alert
TITLE_MAX = 100
TOPIC_MARK = "✅ "
_SEPARATORS = re.compile(r"[,;\n]+")
_QUIET = re.compile(r"^\s*(\S+?)\s*(?:-|–|—|to|a|till|until|fino alle|alle)\s*(\S+)\s*$", re.I)


def _now() -> datetime:
    return datetime.now(UTC)


# --- describing a subscription --------------------------------------------------------------
# These build plain text from catalog fragments (no markup in them): the result is inserted into
# a message through a placeholder, which escapes it exactly once.


def _plain(lang: str, key: str, /, **values: object) -> str:
    template = catalog(normalize_language(lang) or "en").get(key) or catalog("en")[key]
    return template.format(**values)


def _topic_labels(lang: str, topics: Sequence[str]) -> str:
    return ", ".join(_plain(lang, f"topics.{name}") for name in topics if name in TOPICS)


def _what(lang: str, topics: Sequence[str], keywords: Sequence[str], region: str | None) -> str:
    """What a subscription looks for."""
    parts = []
    if topics:
        parts.append(_topic_labels(lang, topics))
    if keywords:
        parts.append(_plain(lang, "alerts.keywords_list", keywords=", ".join(keywords)))
    text = " + ".join(parts) if parts else _plain(lang, "alerts.nothing_chosen")
    if region:
        text += _plain(lang, "alerts.in_region", region=region)
    return text


def _when(
    lang: str,
    frequency: str,
    weekday: int | None,
    delivery_time: str,
    timezone: str,
    quiet: tuple[str | None, str | None] = (None, None),
) -> str:
    """When a subscription's alerts come."""
    if frequency == Frequency.DAILY.value:
        text = _plain(lang, "alerts.when_daily", time=delivery_time, timezone=timezone)
    elif frequency == Frequency.WEEKLY.value:
        day = _plain(lang, f"alerts.weekday_{weekday if weekday in range(7) else 0}")
        text = _plain(lang, "alerts.when_weekly", day=day, time=delivery_time, timezone=timezone)
    else:
        text = _plain(lang, "alerts.when_instant")
    start, end = quiet
    if start and end:
        text += _plain(lang, "alerts.quiet_suffix", start=start, end=end)
    return text


def describe(lang: str, sub: Subscription) -> str:
    """One line: what the subscription looks for and when it is delivered."""
    what = _what(lang, sub.topics, sub.keywords, sub.region)
    quiet = (sub.quiet_start, sub.quiet_end)
    when = _when(lang, sub.frequency, sub.weekday, sub.delivery_time, sub.timezone, quiet)
    return f"{what} – {when}"


# --- /alerts ---------------------------------------------------------------------------------


def _status(lang: str, sub: Subscription) -> str:
    if sub.active:
        return ""
    reason = sub.stopped_reason or store.STOP_USER
    key = "alerts.stopped_blocked" if reason == store.STOP_BLOCKED else "alerts.stopped_user"
    return " " + _plain(lang, key)


def _list_buttons(ctx: Context, subs: Sequence[Subscription]) -> list[list[Button]]:
    rows = []
    for number, sub in enumerate(subs, start=1):
        toggle = (
            command_button(ctx.t("alerts.button_stop", n=number), f"alerts stop {sub.id}")
            if sub.active
            else command_button(ctx.t("alerts.button_resume", n=number), f"alerts resume {sub.id}")
        )
        rows.append(
            [
                command_button(ctx.t("alerts.button_change", n=number), f"subscribe {sub.id}"),
                toggle,
                command_button(ctx.t("alerts.button_remove", n=number), f"alerts remove {sub.id}"),
            ]
        )
    rows.append([command_button(ctx.t("alerts.button_new"), "subscribe")])
    return rows


async def _listing(ctx: Context, notice: str | None = None) -> list[Reply]:
    assert ctx.person is not None
    subs = await store.subscriptions_of(ctx.session, ctx.person.id)
    replies = [Reply(notice)] if notice else []
    if not subs:
        new = [[command_button(ctx.t("alerts.button_new"), "subscribe")]]
        return [*replies, ctx.reply("alerts.none", new)]
    lines = [ctx.t("alerts.header", count=len(subs), max=store.MAX_SUBSCRIPTIONS)]
    for number, sub in enumerate(subs, start=1):
        what, status = describe(ctx.lang, sub), _status(ctx.lang, sub)
        lines.append(ctx.t("alerts.item", n=number, what=what, status=status))
    buttons = tuple(tuple(row) for row in _list_buttons(ctx, subs))
    return [*replies, Reply("\n".join(lines), buttons)]


async def _clear_block(ctx: Context) -> None:
    """Someone writing to innobot has not blocked it (any more)."""
    await ctx.session.execute(
        update(Identity)
        .where(
            Identity.platform == ctx.msg.platform.value,
            Identity.external_id == ctx.msg.user_id,
            Identity.blocked_at.is_not(None),
        )
        .values(blocked_at=None)
    )


async def _own(ctx: Context, token: str) -> Subscription | None:
    assert ctx.person is not None
    if not token.isdigit() or len(token) > 12:
        return None
    return await store.subscription_of(ctx.session, ctx.person.id, int(token))


async def show_alerts(ctx: Context) -> list[Reply]:
    """``/alerts`` lists; ``/alerts stop|resume|remove ID`` (from the buttons) acts first."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    await _clear_block(ctx)
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    action, _, target = rest.strip().partition(" ")
    if not action:
        return await _listing(ctx)
    if action not in ("stop", "resume", "remove"):
        return [ctx.reply("alerts.usage")]
    sub = await _own(ctx, target.strip())
    if sub is None:
        return [ctx.reply("alerts.unknown"), *await _listing(ctx)]
    now = _now()
    if action == "stop":
        if sub.active:
            store.stop_subscription(sub, store.STOP_USER, now)
        undo = [
            [
                command_button(ctx.t("alerts.button_undo"), f"alerts resume {sub.id}"),
                command_button(ctx.t("alerts.button_list"), "alerts"),
            ]
        ]
        return [ctx.reply("alerts.stopped", undo, what=describe(ctx.lang, sub))]
    if action == "resume":
        if not sub.active:
            store.resume_subscription(sub, now)
        return await _listing(ctx, ctx.t("alerts.resumed", what=describe(ctx.lang, sub)))
    what = describe(ctx.lang, sub)
    await store.remove_subscription(ctx.session, sub, now)
    return await _listing(ctx, ctx.t("alerts.removed", what=what))


# --- /subscribe: entry points ----------------------------------------------------------------


def _defaults(ctx: Context) -> dict[str, object]:
    return {
        "timezone": store.DEFAULT_TIMEZONES.get(ctx.lang, store.DEFAULT_TIMEZONES["en"]),
        "region": None,
        "quiet_start": None,
        "quiet_end": None,
        "picked": [],
    }


async def _full(ctx: Context) -> list[Reply] | None:
    assert ctx.person is not None
    if await store.count_subscriptions(ctx.session, ctx.person.id) >= store.MAX_SUBSCRIPTIONS:
        manage = [[command_button(ctx.t("alerts.button_list"), "alerts")]]
        return [ctx.reply("alerts.too_many", manage, max=store.MAX_SUBSCRIPTIONS)]
    return None


async def subscribe(ctx: Context) -> list[Reply]:
    """``/subscribe`` starts a new subscription; ``/subscribe ID`` changes one."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    await _clear_block(ctx)
    rest = ctx.msg.command[1].strip() if ctx.msg.command else ""
    if rest:
        sub = await _own(ctx, rest)
        if sub is None:
            return [ctx.reply("alerts.unknown"), *await _listing(ctx)]
        data = {
            "id": sub.id,
            "picked": list(sub.topics),
            "topics": list(sub.topics),
            "keywords": list(sub.keywords),
            "region": sub.region,
            "frequency": sub.frequency,
            "weekday": sub.weekday,
            "time": sub.delivery_time,
            "timezone": sub.timezone,
            "quiet_start": sub.quiet_start,
            "quiet_end": sub.quiet_end,
        }
        return await ctx.enter(FLOW, "summary", data)
    full = await _full(ctx)
    if full is not None:
        return full
    return await ctx.enter(FLOW, "topics", _defaults(ctx))


async def subscribe_from_text(ctx: Context) -> list[Reply]:
    """Free text asking for alerts: start /subscribe with the topics it mentions selected."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    full = await _full(ctx)
    if full is not None:
        return full
    analysis = await ctx.analyze(ctx.msg.text[: ctx.limits.text_max])
    found = [name for name, score in analysis.topics if name in TOPICS and score > 0]
    data = {**_defaults(ctx), "picked": found}
    return await ctx.enter(FLOW, "topics", data)


async def next_question(ctx: Context) -> list[Reply]:
    data = ctx.data
    for name in MAIN_FIELDS:
        if name == "weekday" and data.get("frequency") != Frequency.WEEKLY.value:
            continue
        if name == "time" and data.get("frequency") == Frequency.INSTANT.value:
            continue
        if name not in data:
            return await ctx.enter(FLOW, name)
    return await ctx.enter(FLOW, "summary")


# --- steps -----------------------------------------------------------------------------------


def _topic_options(ctx: Context) -> list[tuple[str, str]]:
    picked = set(ctx.data.get("picked", []))
    options = [
        ((TOPIC_MARK if name in picked else "") + ctx.t(f"topics.{name}"), name) for name in TOPICS
    ]
    return [*options, (ctx.t("alerts.topics_done"), "done")]


async def ask_topics(ctx: Context) -> list[Reply]:
    picked = [name for name in ctx.data.get("picked", []) if name in TOPICS]
    buttons = ctx.choices(_topic_options(ctx))
    if picked:
        return [
            ctx.reply("alerts.ask_topics_picked", buttons, topics=_topic_labels(ctx.lang, picked))
        ]
    return [ctx.reply("alerts.ask_topics", buttons)]


async def _typed_topics(ctx: Context, text: str) -> list[str]:
    """Topics named in typed text: by their label in the person's language, or as the analyzer
    hears them."""
    wanted = {one_line(part).casefold() for part in _SEPARATORS.split(text) if part.strip()}
    found = [name for name in TOPICS if ctx.t(f"topics.{name}").casefold() in wanted]
    if found:
        return found
    analysis = await ctx.analyze(text[: ctx.limits.text_max])
    return [name for name, score in analysis.topics if name in TOPICS and score > 0]


async def answer_topics(ctx: Context) -> list[Reply]:
    picked = [name for name in ctx.data.get("picked", []) if name in TOPICS]
    value = ctx.chosen(_topic_options(ctx))
    if value is None and ctx.button_value is not None:
        return await use_buttons(ctx)
    if value is None:
        # Typed text that is no option: read it for topic names.
        found = await _typed_topics(ctx, ctx.msg.text)
        if not found:
            shown = one_line(ctx.msg.text)[:60]
            return [ctx.reply("alerts.unknown_topic", text=shown), *await ctx.reprompt()]
        ctx.update(picked=list(dict.fromkeys([*picked, *found])))
        return await ctx.reprompt()
    if value == "done":
        ctx.update(topics=picked)
        return await next_question(ctx)
    picked = [p for p in picked if p != value] if value in picked else [*picked, value]
    ctx.update(picked=picked)
    return await ctx.reprompt()


async def ask_keywords(ctx: Context) -> list[Reply]:
    skip = ctx.choices([(ctx.t("alerts.keywords_skip"), "skip")])
    return [ctx.reply("alerts.ask_keywords", skip, max=store.MAX_KEYWORDS)]


def parse_keywords(text: str) -> tuple[list[str], str | None]:
    """Keywords from text separated by commas; the catalog key of the problem, if any."""
    keywords = list(
        dict.fromkeys(store.normalize_keyword(one_line(part)) for part in _SEPARATORS.split(text))
    )
    keywords = [k for k in keywords if k]
    if not keywords:
        return [], "alerts.keywords_empty"
    if len(keywords) > store.MAX_KEYWORDS:
        return [], "alerts.keywords_too_many"
    if any(len(k) > store.KEYWORD_MAX for k in keywords):
        return [], "alerts.keyword_too_long"
    if any(len(k) < store.KEYWORD_MIN for k in keywords):
        return [], "alerts.keyword_too_short"
    return keywords, None


async def answer_keywords(ctx: Context) -> list[Reply]:
    if ctx.button_value is not None:
        if ctx.chosen([(ctx.t("alerts.keywords_skip"), "skip")]) != "skip":
            return await use_buttons(ctx)
        keywords: list[str] = []
    elif ctx.chosen([(ctx.t("alerts.keywords_skip"), "skip")]) == "skip":
        keywords = []
    else:
        keywords, problem = parse_keywords(ctx.msg.text[: ctx.limits.text_max])
        if problem is not None:
            reply = ctx.reply(
                problem, max=store.MAX_KEYWORDS, longest=store.KEYWORD_MAX, shortest=2
            )
            return [reply, *await ctx.reprompt()]
    if not keywords and not ctx.data.get("topics"):
        # Nothing to look for: back to the topics.
        data = {k: v for k, v in ctx.data.items() if k not in ("topics", "keywords")}
        return [ctx.reply("alerts.need_something"), *await ctx.enter(FLOW, "topics", data)]
    ctx.update(keywords=keywords)
    return await next_question(ctx)


def _frequency_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"alerts.frequency_{f.value}"), f.value) for f in Frequency]


async def ask_frequency(ctx: Context) -> list[Reply]:
    return [ctx.reply("alerts.ask_frequency", ctx.choices(_frequency_options(ctx), per_row=3))]


async def answer_frequency(ctx: Context) -> list[Reply]:
    value = ctx.chosen(_frequency_options(ctx))
    if value is None:
        return await use_buttons(ctx)
    ctx.update(frequency=value)
    return await next_question(ctx)


def _weekday_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"alerts.weekday_{n}"), str(n)) for n in range(7)]


async def ask_weekday(ctx: Context) -> list[Reply]:
    return [ctx.reply("alerts.ask_weekday", ctx.choices(_weekday_options(ctx), per_row=4))]


async def answer_weekday(ctx: Context) -> list[Reply]:
    value = ctx.chosen(_weekday_options(ctx))
    if value is None:
        return await use_buttons(ctx)
    ctx.update(weekday=int(value))
    return await next_question(ctx)


async def ask_time(ctx: Context) -> list[Reply]:
    buttons = ctx.choices([(choice, choice) for choice in TIME_CHOICES], per_row=4)
    return [ctx.reply("alerts.ask_time", buttons, timezone=ctx.data.get("timezone", "UTC"))]


async def answer_time(ctx: Context) -> list[Reply]:
    text = ctx.button_value if ctx.button_value is not None else ctx.msg.text
    at = store.parse_clock(text or "")
    if at is None:
        return [ctx.reply("alerts.bad_time", text=one_line(text or "")[:20]), *await ctx.reprompt()]
    ctx.update(time=store.clock_text(at))
    return await _after_edit(ctx)


async def ask_region(ctx: Context) -> list[Reply]:
    anywhere = ctx.choices([(ctx.t("alerts.region_anywhere"), "anywhere")])
    return [ctx.reply("alerts.ask_region", anywhere, max=store.REGION_MAX)]


async def answer_region(ctx: Context) -> list[Reply]:
    if ctx.chosen([(ctx.t("alerts.region_anywhere"), "anywhere")]) == "anywhere":
        region = None
    elif ctx.button_value is not None:
        return await use_buttons(ctx)
    else:
        region = one_line(ctx.msg.text)
        if len(region) > store.REGION_MAX:
            reply = ctx.reply("alerts.region_too_long", max=store.REGION_MAX, length=len(region))
            return [reply, *await ctx.reprompt()]
    ctx.update(region=region or None)
    return await _after_edit(ctx)


async def ask_timezone(ctx: Context) -> list[Reply]:
    buttons = ctx.choices([(name, name) for name in TIMEZONE_CHOICES], per_row=2)
    return [ctx.reply("alerts.ask_timezone", buttons, timezone=ctx.data.get("timezone", "UTC"))]


async def answer_timezone(ctx: Context) -> list[Reply]:
    text = ctx.button_value if ctx.button_value is not None else ctx.msg.text
    name = store.canonical_timezone(text or "")
    if name is None:
        shown = one_line(text or "")[:64]
        return [ctx.reply("alerts.bad_timezone", name=shown), *await ctx.reprompt()]
    ctx.update(timezone=name)
    return await _after_edit(ctx)


async def ask_quiet(ctx: Context) -> list[Reply]:
    none = ctx.choices([(ctx.t("alerts.quiet_none"), "none")])
    return [ctx.reply("alerts.ask_quiet", none, timezone=ctx.data.get("timezone", "UTC"))]


def parse_quiet(text: str) -> tuple[time, time] | None:
    """``"22:00-07:00"`` (or ``22-7``, ``22.00 – 7.00``) → (start, end); None if not that."""
    match = _QUIET.match(text)
    if match is None:
        return None
    start, end = store.parse_clock(match.group(1)), store.parse_clock(match.group(2))
    if start is None or end is None or start == end:
        return None
    return start, end


async def answer_quiet(ctx: Context) -> list[Reply]:
    if ctx.chosen([(ctx.t("alerts.quiet_none"), "none")]) == "none":
        ctx.update(quiet_start=None, quiet_end=None)
        return await _after_edit(ctx)
    if ctx.button_value is not None:
        return await use_buttons(ctx)
    parsed = parse_quiet(ctx.msg.text[:40])
    if parsed is None:
        shown = one_line(ctx.msg.text)[:40]
        return [ctx.reply("alerts.bad_quiet", text=shown), *await ctx.reprompt()]
    ctx.update(quiet_start=store.clock_text(parsed[0]), quiet_end=store.clock_text(parsed[1]))
    return await _after_edit(ctx)


async def _after_edit(ctx: Context) -> list[Reply]:
    return await next_question(ctx)


def _strings(value: object) -> tuple[str, ...]:
    return tuple(str(x) for x in value) if isinstance(value, list | tuple) else ()


def _optional(value: object) -> str | None:
    return str(value) if value else None


def _spec(data: dict[str, object]) -> store.SubscriptionSpec:
    weekday = data.get("weekday")
    return store.SubscriptionSpec(
        topics=tuple(x for x in _strings(data.get("topics")) if x in TOPICS),
        keywords=_strings(data.get("keywords")),
        region=_optional(data.get("region")),
        frequency=str(data.get("frequency") or Frequency.INSTANT.value),
        weekday=weekday if isinstance(weekday, int) else None,
        delivery_time=str(data.get("time") or store.DEFAULT_DELIVERY_TIME),
        timezone=store.canonical_timezone(str(data.get("timezone") or "")) or "UTC",
        quiet_start=_optional(data.get("quiet_start")),
        quiet_end=_optional(data.get("quiet_end")),
    )


def _summary_options(ctx: Context) -> list[tuple[str, str]]:
    return [
        (ctx.t("alerts.save"), "save"),
        (ctx.t("alerts.change"), "edit"),
        (ctx.t("alerts.cancel"), "cancel"),
    ]


async def show_summary(ctx: Context) -> list[Reply]:
    spec = _spec(ctx.data)
    options = _summary_options(ctx)
    quiet = _plain(ctx.lang, "alerts.quiet_summary", start=spec.quiet_start, end=spec.quiet_end)
    reply = ctx.reply(
        "alerts.summary",
        [[ctx.choice(*options[0])], [ctx.choice(*options[1]), ctx.choice(*options[2])]],
        topics=_topic_labels(ctx.lang, spec.topics) or _plain(ctx.lang, "alerts.none_topics"),
        keywords=", ".join(spec.keywords) or _plain(ctx.lang, "alerts.none_keywords"),
        region=spec.region or _plain(ctx.lang, "alerts.region_anywhere"),
        when=_when(ctx.lang, spec.frequency, spec.weekday, spec.delivery_time, spec.timezone),
        timezone=spec.timezone,
        quiet=quiet if spec.quiet_start else _plain(ctx.lang, "alerts.quiet_none"),
    )
    return [reply]


async def answer_summary(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_summary_options(ctx))
    if answer == "edit":
        return await ctx.enter(FLOW, "edit")
    if answer == "cancel":
        ctx.end_flow()
        return [menu(ctx, "alerts.cancelled")]
    if answer != "save":
        return await use_buttons(ctx)
    if ctx.person is None:
        ctx.end_flow()
        return [ctx.reply("errors.needs_consent")]
    spec = _spec(ctx.data)
    if not spec.topics and not spec.keywords:
        data = {k: v for k, v in ctx.data.items() if k not in ("topics", "keywords")}
        return [ctx.reply("alerts.need_something"), *await ctx.enter(FLOW, "topics", data)]
    now = _now()
    sub_id = ctx.data.get("id")
    if isinstance(sub_id, int):
        sub = await store.subscription_of(ctx.session, ctx.person.id, sub_id)
        if sub is None:
            ctx.end_flow()
            return [ctx.reply("alerts.unknown")]
        store.change_subscription(sub, spec, now)
        key = "alerts.changed"
    else:
        added = await store.add_subscription(ctx.session, ctx.person.id, spec, now)
        if added is None:
            ctx.end_flow()
            return [ctx.reply("alerts.too_many", max=store.MAX_SUBSCRIPTIONS)]
        sub, key = added, "alerts.saved"
    ctx.end_flow()
    log.info("alert subscription %s saved (%s)", sub.id, sub.frequency)
    manage = [[command_button(ctx.t("alerts.button_list"), "alerts")]]
    return [ctx.reply(key, manage, what=describe(ctx.lang, sub))]


def _edit_options(ctx: Context) -> list[tuple[str, str]]:
    fields = [
        name
        for name in EDITABLE
        if name != "time" or ctx.data.get("frequency") != Frequency.INSTANT.value
    ]
    return [
        *((ctx.t(f"alerts.field_{name}"), name) for name in fields),
        (ctx.t("alerts.back"), "back"),
    ]


async def ask_edit(ctx: Context) -> list[Reply]:
    return [ctx.reply("alerts.ask_edit", ctx.choices(_edit_options(ctx)))]


async def answer_edit(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_edit_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    if answer == "back":
        return await ctx.enter(FLOW, "summary")
    data = dict(ctx.data)
    if answer == "topics":
        data.pop("topics", None)
        data["picked"] = list(data.get("picked") or data.get("topics") or [])
    elif answer == "frequency":
        for name in ("frequency", "weekday", "time"):
            data.pop(name, None)
    elif answer in ("keywords", "time"):
        data.pop(answer, None)
    return await ctx.enter(FLOW, answer, data)


# --- /unsubscribe ----------------------------------------------------------------------------


def _stop_options(ctx: Context) -> list[tuple[str, str]]:
    return [
        (ctx.t("alerts.stop_all"), "all"),
        (ctx.t("alerts.stop_choose"), "choose"),
        (ctx.t("alerts.stop_keep"), "keep"),
    ]


async def unsubscribe(ctx: Context) -> list[Reply]:
    """``/unsubscribe`` (or "stop the alerts"): stop them all, or choose in the list."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    subs = [s for s in await store.subscriptions_of(ctx.session, ctx.person.id) if s.active]
    if not subs:
        return [menu(ctx, "alerts.none_active")]
    return await ctx.enter(STOP_FLOW, "confirm", {"count": len(subs)})


async def ask_stop(ctx: Context) -> list[Reply]:
    buttons = ctx.choices(_stop_options(ctx), per_row=1)
    return [ctx.reply("alerts.ask_stop_all", buttons, count=ctx.data.get("count", 0))]


async def answer_stop(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_stop_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    ctx.end_flow()
    if answer == "keep":
        return [menu(ctx, "alerts.kept")]
    if answer == "choose" or ctx.person is None:
        return await _listing(ctx) if ctx.person is not None else []
    now = _now()
    for sub in await store.subscriptions_of(ctx.session, ctx.person.id):
        if sub.active:
            store.stop_subscription(sub, store.STOP_USER, now)
    await store.forget_interest(ctx.session, ctx.person.id)
    manage = [[command_button(ctx.t("alerts.button_list"), "alerts")]]
    return [ctx.reply("alerts.stopped_all", manage)]


# --- /remind ---------------------------------------------------------------------------------


async def remind(ctx: Context) -> list[Reply]:
    """``/remind C-12``: remind me before challenge C-12 closes. ``/remind off``: no more."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    rest = (ctx.msg.command[1] if ctx.msg.command else "").strip()
    if rest.casefold() == "off":
        await store.forget_interest(ctx.session, ctx.person.id)
        return [ctx.reply("alerts.reminders_off")]
    ref = parse_ref(rest) if rest else None
    if ref is None or ref[0] is not ItemKind.CHALLENGE:
        return [ctx.reply("alerts.remind_usage")]
    challenge = await ctx.session.get(Challenge, ref[1])
    if challenge is None or challenge.status != Status.APPROVED.value:
        return [ctx.reply("alerts.remind_unknown", ref=f"C-{ref[1]}")]
    if challenge.deadline is None:
        return [ctx.reply("alerts.remind_no_deadline", ref=challenge.ref)]
    await store.record_interest(ctx.session, ctx.person.id, challenge.id)
    return [
        ctx.reply("alerts.remind_set", ref=challenge.ref, deadline=challenge.deadline.isoformat())
    ]


# --- the alerts, written when they are sent ---------------------------------------------------


def _shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


@dataclass
class _Loaded:
    """What the alerts being sent refer to, loaded together (one query per table)."""

    people: dict[int, Person]
    challenges: dict[int, Challenge]  # approved ones only: others are not announced
    subscriptions: dict[int, Subscription]  # active ones only
    sees_restricted: set[int]  # people with an approved solution profile

    @classmethod
    async def of(cls, session: AsyncSession, rows: Sequence[OutboxMessage]) -> _Loaded:
        people_ids = {row.person_id for row in rows if row.person_id is not None}
        challenge_ids: set[int] = set()
        subscription_ids: set[int] = set()
        for row in rows:
            for value in (row.payload.get("challenge"), *row.payload.get("challenges", ())):
                if isinstance(value, int):
                    challenge_ids.add(value)
            if isinstance(row.payload.get("subscription"), int):
                subscription_ids.add(row.payload["subscription"])
        people = await session.scalars(select(Person).where(Person.id.in_(people_ids)))
        challenges = await session.scalars(
            select(Challenge).where(
                Challenge.id.in_(challenge_ids), Challenge.status == Status.APPROVED.value
            )
        )
        subscriptions = await session.scalars(
            select(Subscription).where(
                Subscription.id.in_(subscription_ids), Subscription.active.is_(True)
            )
        )
        loaded = cls(
            {p.id: p for p in people},
            {c.id: c for c in challenges},
            {s.id: s for s in subscriptions},
            set(),
        )
        if any(
            c.confidentiality == Confidentiality.RESTRICTED.value
            for c in loaded.challenges.values()
        ):
            approved = await session.scalars(
                select(SolutionProfile.person_id).where(
                    SolutionProfile.person_id.in_(people_ids),
                    SolutionProfile.status == Status.APPROVED.value,
                )
            )
            loaded.sees_restricted = {pid for pid in approved if pid is not None}
        return loaded

    def person(self, row: OutboxMessage) -> Person | None:
        return self.people.get(row.person_id) if row.person_id is not None else None

    def challenge(self, value: object) -> Challenge | None:
        return self.challenges.get(value) if isinstance(value, int) else None

    def subscription(self, row: OutboxMessage) -> Subscription | None:
        value = row.payload.get("subscription")
        sub = self.subscriptions.get(value) if isinstance(value, int) else None
        return sub if sub is not None and sub.person_id == row.person_id else None


def _details(loaded: _Loaded, lang: str, person_id: int, ch: Challenge) -> str:
    """The lines under an announced challenge's title: what it needs, topics, dates, offer."""
    lines = []
    restricted = ch.confidentiality == Confidentiality.RESTRICTED.value
    if restricted and person_id not in loaded.sees_restricted:
        lines.append(t(lang, "alerts.restricted"))
    else:
        lines.append(t(lang, "alerts.summary_text", text=_shorten(ch.description, SUMMARY_MAX)))
    facts = []
    if ch.topics:
        facts.append(t(lang, "alerts.fact_topics", topics=_topic_labels(lang, ch.topics)))
    if ch.region:
        facts.append(t(lang, "alerts.fact_region", region=ch.region))
    if ch.deadline:
        facts.append(t(lang, "alerts.fact_deadline", deadline=ch.deadline.isoformat()))
    if ch.offer:
        facts.append(t(lang, "alerts.fact_offer", offer=_shorten(ch.offer, 100)))
    if facts:
        lines.append(" · ".join(facts))
    return "\n".join(lines)


def _stop_button(lang: str, sub: Subscription) -> Button:
    return command_button(t(lang, "alerts.button_stop_these"), f"alerts stop {sub.id}")


async def render_alerts(session: AsyncSession, rows: Sequence[OutboxMessage]) -> list[Reply | None]:
    """New challenges, announced as they are approved (None: no longer wanted)."""
    loaded = await _Loaded.of(session, rows)
    return [_alert(loaded, row) for row in rows]


def _alert(loaded: _Loaded, row: OutboxMessage) -> Reply | None:
    person = loaded.person(row)
    challenge = loaded.challenge(row.payload.get("challenge"))
    sub = loaded.subscription(row)
    if person is None or challenge is None or sub is None:
        return None
    lang = person.language
    text = t(
        lang,
        "alerts.new_challenge",
        ref=challenge.ref,
        title=_shorten(challenge.title, TITLE_MAX),
    )
    text += "\n" + _details(loaded, lang, person.id, challenge)
    buttons = [_stop_button(lang, sub)]
    if challenge.deadline is not None:
        remind_me = command_button(t(lang, "alerts.button_remind"), f"remind {challenge.ref}")
        buttons.insert(0, remind_me)
    return Reply(text, (tuple(buttons),))


async def render_digests(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> list[Reply | None]:
    """Parts of daily or weekly digests (None: nothing left worth sending)."""
    loaded = await _Loaded.of(session, rows)
    return [_digest(loaded, row) for row in rows]


def _digest(loaded: _Loaded, row: OutboxMessage) -> Reply | None:
    person = loaded.person(row)
    sub = loaded.subscription(row)
    if person is None or sub is None:
        return None
    challenges = [
        challenge
        for value in row.payload.get("challenges", ())
        if (challenge := loaded.challenge(value)) is not None
    ]
    if not challenges:
        return None
    lang = person.language
    daily = sub.frequency == Frequency.DAILY.value
    head_key = "alerts.digest_daily" if daily else "alerts.digest_weekly"
    total = int(row.payload.get("total", len(challenges)))
    lines = [t(lang, head_key, count=total, what=_what(lang, sub.topics, sub.keywords, None))]
    for challenge in challenges:
        deadline = (
            t(lang, "alerts.digest_deadline", deadline=challenge.deadline.isoformat())
            if challenge.deadline
            else ""
        )
        title = _shorten(challenge.title, TITLE_MAX)
        lines.append(t(lang, "alerts.digest_item", ref=challenge.ref, title=title) + deadline)
    part, parts = int(row.payload.get("part", 1)), int(row.payload.get("parts", 1))
    if parts > 1:
        lines.append(t(lang, "alerts.digest_part", part=part, parts=parts))
    if part == parts and total > store.DIGEST_MAX_ITEMS:
        lines.append(t(lang, "alerts.digest_more", count=total - store.DIGEST_MAX_ITEMS))
    return Reply("\n".join(lines), ((_stop_button(lang, sub),),))


async def render_reminders(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> list[Reply | None]:
    """Challenges the person is interested in close within three days."""
    loaded = await _Loaded.of(session, rows)
    today = datetime.now(UTC).date()
    replies: list[Reply | None] = []
    for row in rows:
        person = loaded.person(row)
        challenge = loaded.challenge(row.payload.get("challenge"))
        if person is None or challenge is None or challenge.deadline is None:
            replies.append(None)
            continue
        if challenge.deadline < today:
            replies.append(None)
            continue
        lang = person.language
        text = t(
            lang,
            "alerts.reminder",
            ref=challenge.ref,
            title=_shorten(challenge.title, TITLE_MAX),
            deadline=challenge.deadline.isoformat(),
        )
        stop = command_button(t(lang, "alerts.button_stop_reminders"), "remind off")
        replies.append(Reply(text, ((stop,),)))
    return replies


# --- how did the introduction go? ------------------------------------------------------------

OUTCOMES = (
    MatchState.PROPOSAL.value,
    MatchState.CONTRACT.value,
    MatchState.DECLINED.value,
    MatchState.NO_FOLLOW_UP.value,
)


async def render_followups(
    session: AsyncSession, rows: Sequence[OutboxMessage]
) -> list[Reply | None]:
    """Some weeks after an introduction: how is it going? (None once it has been answered.)"""
    return [await _followup(session, row) for row in rows]


async def _followup(session: AsyncSession, row: OutboxMessage) -> Reply | None:
    person = await session.get(Person, row.person_id) if row.person_id else None
    match_id = row.payload.get("match")
    match = await session.get(Match, match_id) if isinstance(match_id, int) else None
    if person is None or match is None or match.state not in store.OPEN_MATCH_STATES:
        return None
    if person.id not in await store.match_parties(session, match):
        return None
    challenge = await session.get(Challenge, match.challenge_id)
    if challenge is None:
        return None
    lang = person.language
    text = t(
        lang,
        "alerts.followup",
        ref=challenge.ref,
        title=_shorten(challenge.title, TITLE_MAX),
    )
    buttons = [
        command_button(t(lang, f"alerts.outcome_{name}"), f"outcome {match.id} {name}")
        for name in OUTCOMES
    ]
    return Reply(text, (tuple(buttons[:2]), tuple(buttons[2:])))


async def outcome(ctx: Context) -> list[Reply]:
    """``/outcome MATCH OUTCOME`` (the buttons of a follow-up): record how it went."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    rest = (ctx.msg.command[1] if ctx.msg.command else "").split()
    if len(rest) != 2 or not rest[0].isdigit() or len(rest[0]) > 12 or rest[1] not in OUTCOMES:
        return [ctx.reply("alerts.outcome_usage")]
    match = await ctx.session.get(Match, int(rest[0]), with_for_update=True)
    parties = await store.match_parties(ctx.session, match) if match is not None else {}
    if match is None or ctx.person.id not in parties:
        return [ctx.reply("alerts.outcome_unknown")]
    answer = rest[1]
    if match.state not in store.OPEN_MATCH_STATES:
        known = match.state if match.state in OUTCOMES else MatchState.DECLINED.value
        return [ctx.reply("alerts.outcome_already", outcome=ctx.t(f"alerts.outcome_{known}"))]
    match.state = answer
    match.outcome_by = parties[ctx.person.id]
    log.info("introduction %s: outcome %s reported by the %s", match.id, answer, match.outcome_by)
    return [ctx.reply("alerts.outcome_noted", outcome=ctx.t(f"alerts.outcome_{answer}"))]


RENDERERS = {
    store.KIND_ALERT: render_alerts,
    store.KIND_DIGEST: render_digests,
    store.KIND_REMINDER: render_reminders,
    store.KIND_FOLLOWUP: render_followups,
}


feature = Feature(
    commands={
        "alerts": Command(show_alerts),
        "subscribe": Command(subscribe),
        "unsubscribe": Command(unsubscribe),
        "remind": Command(remind),
        "outcome": Command(outcome),
    },
    flows={
        FLOW: {
            "topics": Step(ask_topics, answer_topics),
            "keywords": Step(ask_keywords, answer_keywords),
            "frequency": Step(ask_frequency, answer_frequency, expects_text=False),
            "weekday": Step(ask_weekday, answer_weekday, expects_text=False),
            "time": Step(ask_time, answer_time),
            "region": Step(ask_region, answer_region),
            "timezone": Step(ask_timezone, answer_timezone),
            "quiet": Step(ask_quiet, answer_quiet),
            "summary": Step(show_summary, answer_summary, expects_text=False),
            "edit": Step(ask_edit, answer_edit, expects_text=False),
        },
        STOP_FLOW: {"confirm": Step(ask_stop, answer_stop, expects_text=False)},
    },
    intents={
        "subscribe_alerts": subscribe_from_text,
        "unsubscribe_alerts": unsubscribe,
    },
)
