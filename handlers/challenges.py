"""Innovation needs: publishing a challenge (/challenge), browsing open ones (/challenges), and
what owners do with their items: /show, /edit and /close (challenges and profiles alike).

Confidentiality: a ``public`` challenge names its owner; an ``anonymous`` one never does, before a
double opt-in introduction; a ``restricted`` one shows its description only to its owner and to
owners of an approved solution profile — and is searched by its title alone for everybody else,
so that a search cannot reveal what the description says. Anything not approved, or not visible,
gets exactly the answer an id that does not exist gets.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from handlers.context import Command, Context, Feature, Step
from handlers.core import Reply
from handlers.forms import Field, Form, names, shown
from handlers.help import menu, use_buttons
from handlers.moderation import parse_ref
from handlers.profiles import (
    FORMS,
    edit_data,
    render_profile,
    save_submission,
)
from handlers.text import one_line
from nlp.labels import TOPICS
from nlp.matching import Document, MatchingEngine
from storage import brokerage as store
from storage.models import (
    Challenge,
    Confidentiality,
    Idea,
    InfrastructureProfile,
    ItemKind,
    Organisation,
    SolutionProfile,
)

OFFERS = ("contract", "pilot", "co_development", "prize")
CONFIDENTIALITY = tuple(level.value for level in Confidentiality)
PAGE_SIZE = 5
RESULTS_MAX = 100
QUERY_MAX = 200
SEARCH_MIN_SCORE = 0.03
NEW_WORDS_MIN = 5  # words a description must add to the title
TEXT_SHOWN = 1500
BROWSE = "browse"
CLOSE = "close"

_REF_TEXT = re.compile(r"^#?[ISLC]-?\d{1,12}$", re.IGNORECASE)


def today() -> date:
    return date.today()


# --- the form --------------------------------------------------------------------------------


def _offer_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"challenges.offer_{name}"), name) for name in OFFERS]


def _confidentiality_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"challenges.level_{name}"), name) for name in CONFIDENTIALITY]


async def _says_more_than_title(ctx: Context, text: str) -> str | None:
    title = {word.casefold() for word in re.findall(r"\w+", ctx.data.get("title", ""))}
    new = {word.casefold() for word in re.findall(r"\w{3,}", text)} - title
    return None if len(new) >= NEW_WORDS_MIN else "challenges.description_only_title"


def _offer_names(ctx: Context, values: list[str] | None) -> str:
    known = [value for value in values or () if value in OFFERS]
    return ", ".join(ctx.t(f"challenges.offer_{value}") for value in known) or ctx.t(
        "profiles.form_not_set"
    )


def _render(ctx: Context) -> list[tuple[str, str]]:
    data = ctx.data
    form = CHALLENGE_FORM
    deadline = data.get("deadline")
    level = data.get("confidentiality")
    return [
        (form.label(ctx, "organisation"), shown(ctx, data.get("organisation"))),
        (form.label(ctx, "title"), shown(ctx, data.get("title"))),
        (form.label(ctx, "description"), shown(ctx, data.get("description"))),
        (form.label(ctx, "topics"), names(ctx, "topics", data.get("topics"))),
        (form.label(ctx, "deadline"), deadline or ctx.t("challenges.no_deadline")),
        (form.label(ctx, "offer"), _offer_names(ctx, data.get("offer"))),
        (form.label(ctx, "confidentiality"), ctx.t(f"challenges.level_{level}") if level else ""),
        (form.label(ctx, "contact"), shown(ctx, data.get("contact"))),
    ]


async def _submit(ctx: Context) -> list[Reply]:
    data = ctx.data
    analysis = data.get("_analysis", {})
    level = data.get("confidentiality") or Confidentiality.PUBLIC.value
    contact = data.get("contact")
    deadline = data.get("deadline")
    values: dict[str, Any] = {
        "title": data["title"],
        "description": data["description"],
        "lang": str(analysis.get("lang") or ctx.lang)[:8],
        "topics": list(data.get("topics") or []),
        "topic_scores": {str(name): float(score) for name, score in analysis.get("topics", [])},
        "deadline": date.fromisoformat(deadline) if deadline else None,
        "offer": ",".join(value for value in data.get("offer") or () if value in OFFERS)[:200],
        "confidentiality": level,
        "contact": contact,
        "show_name": level == Confidentiality.PUBLIC.value,
    }
    return await save_submission(ctx, ItemKind.CHALLENGE, values, data["organisation"])


CHALLENGE_FORM = Form(
    flow="challenge",
    section="challenges",
    fields=(
        Field("organisation", max_length=200),
        Field("title", max_length=120),
        Field(
            "description",
            kind="paragraph",
            min_length=40,
            max_length=2000,
            check=_says_more_than_title,
        ),
        Field("topics", kind="topics", optional=True, max_selected=3),
        Field("deadline", kind="date", optional=True, max_length=40),
        Field("offer", kind="multi", options=_offer_options, max_selected=len(OFFERS)),
        Field("confidentiality", kind="choice", options=_confidentiality_options),
        Field("contact", optional=True, min_length=5, max_length=300),
    ),
    render=_render,
    submit=_submit,
)


async def new_challenge(ctx: Context) -> list[Reply]:
    return await CHALLENGE_FORM.start(ctx)


async def challenge_edit_data(ctx: Context, item: Challenge) -> dict[str, Any]:
    organisation = (
        await ctx.session.get(Organisation, item.organisation_id) if item.organisation_id else None
    )
    data: dict[str, Any] = {
        "_edit": item.id,
        "_analysis": {
            "lang": item.lang,
            "topics": [[k, v] for k, v in (item.topic_scores or {}).items()],
        },
        "title": item.title,
        "description": item.description,
        "topics": list(item.topics or []),
        "deadline": item.deadline.isoformat() if item.deadline else None,
        "offer": [value for value in (item.offer or "").split(",") if value in OFFERS],
        "confidentiality": item.confidentiality,
        "contact": item.contact,
    }
    if organisation is not None:
        data["organisation"] = organisation.name
    if item.deadline is not None and item.deadline < today():
        del data["deadline"]  # a passed deadline must be given again
    return data


# --- showing a challenge ---------------------------------------------------------------------


async def render_challenge(ctx: Context, item: Challenge) -> str:
    """A challenge as the person in ``ctx`` may see it."""
    person_id = ctx.person.id if ctx.person else None
    mine = person_id is not None and item.person_id == person_id
    lines = [ctx.t("challenges.show_head", ref=item.ref, title=one_line(item.title))]
    if item.confidentiality == Confidentiality.PUBLIC.value or mine:
        names_by_id = await store.organisation_names(ctx.session, [item.organisation_id])
        organisation = names_by_id.get(item.organisation_id or 0)
        if organisation:
            lines.append(ctx.t("challenges.show_owner", name=one_line(organisation)))
    else:
        lines.append(ctx.t("challenges.show_owner_hidden"))
    details = [_offer_names(ctx, (item.offer or "").split(","))]
    if item.deadline:
        details.append(ctx.t("challenges.deadline_short", date=item.deadline.isoformat()))
    lines.append(ctx.t("challenges.show_details", details=" · ".join(details)))
    if await store.may_read_description(ctx.session, item, person_id):
        text = item.description
        if len(text) > TEXT_SHOWN:
            text = text[:TEXT_SHOWN] + "…"
        lines.append(ctx.t("challenges.show_text", text=text))
    else:
        lines.append(ctx.t("challenges.show_restricted"))
    if item.topics:
        lines.append(ctx.t("challenges.show_topics", topics=names(ctx, "topics", item.topics)))
    if mine:
        related = await store.ideas_matched(ctx.session, item.id)
        if related:
            listed = ", ".join(f"{idea.ref} «{one_line(idea.title)[:60]}»" for idea, _ in related)
            lines.append(ctx.t("challenges.show_ideas", ideas=listed))
        lines.append(
            ctx.t(
                "challenges.show_mine",
                status=ctx.t(f"status.{item.status}"),
                level=ctx.t(f"challenges.level_{item.confidentiality}"),
            )
        )
    return "\n".join(lines)


async def render_idea(ctx: Context, item: Idea) -> str:
    counts = await store.endorsement_counts(ctx.session, [item.id])
    lines = [ctx.t("challenges.idea_head", ref=item.ref, title=one_line(item.title))]
    lines.append(ctx.t("challenges.show_text", text=item.description[:TEXT_SHOWN]))
    lines.append(ctx.t("challenges.idea_support", count=counts.get(item.id, 0), ref=item.ref))
    return "\n".join(lines)


async def show_item(ctx: Context, kind: ItemKind, item_id: int) -> str | None:
    """The text of an item the person may see, else None (whether or not it exists)."""
    person_id = ctx.person.id if ctx.person else None
    item = await store.visible_item(ctx.session, kind, item_id, person_id)
    if item is None:
        return None
    if isinstance(item, Challenge):
        return await render_challenge(ctx, item)
    if isinstance(item, SolutionProfile | InfrastructureProfile):
        return await render_profile(ctx, item)
    return await render_idea(ctx, item)


async def show_command(ctx: Context) -> list[Reply]:
    """``/show ID``: an item, if the person may see it."""
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    token = rest.split(" ", 1)[0] if rest else ""
    if not token:
        return [ctx.reply("challenges.show_usage")]
    ref = parse_ref(token[:20])
    if ref is None:
        return [ctx.reply("challenges.bad_ref", token=token[:20])]
    text = await show_item(ctx, *ref)
    if text is None:
        return [ctx.reply("challenges.not_found", ref=f"{ref[0].prefix}-{ref[1]}")]
    return [Reply(text)]


# --- browsing --------------------------------------------------------------------------------


def _topic_asked(ctx: Context, words: str) -> str | None:
    """The topic ``words`` names (its id, or its name in any of innobot's languages)."""
    wanted = words.strip().casefold()
    from handlers.i18n import LANGUAGES, t

    for name in TOPICS:
        if wanted == name or any(
            wanted == t(lang, f"topics.{name}").casefold() for lang in LANGUAGES
        ):
            return name
    return None


async def _matching_ids(ctx: Context, words: str) -> list[int]:
    challenges = await store.open_challenges(ctx.session, today())
    if not words:
        return [item.id for item in challenges][:RESULTS_MAX]
    topic = _topic_asked(ctx, words)
    if topic is not None:
        return [item.id for item in challenges if topic in (item.topics or [])][:RESULTS_MAX]
    person_id = ctx.person.id if ctx.person else None
    may_read_restricted = await store.has_approved_solution_profile(ctx.session, person_id)
    engine = MatchingEngine()
    for item in challenges:
        readable = (
            item.confidentiality != Confidentiality.RESTRICTED.value
            or may_read_restricted
            or item.person_id == person_id
        )
        engine.add(
            Document(
                str(item.id),
                item.title,
                item.description if readable else "",
                item.lang,
                topics=tuple(item.topics or ()),
            )
        )
    ranked = engine.rank(Document("query", words, ""), RESULTS_MAX, min_score=SEARCH_MIN_SCORE)
    return [int(result.id) for result in ranked]


async def browse_command(ctx: Context) -> list[Reply]:
    """``/challenges [words or topic]``: open challenges, newest or best-matching first."""
    words = one_line(ctx.msg.command[1] if ctx.msg.command else "")
    return await _search(ctx, words)


async def challenge_from_text(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    return await new_challenge(ctx)


async def browse_from_text(ctx: Context) -> list[Reply]:
    """Free text asking for challenges: the open ones, newest first (typed words would rank by
    the request's own phrasing, which says little about the subject)."""
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    return await _search(ctx, "")


async def _search(ctx: Context, words: str) -> list[Reply]:
    if len(words) > QUERY_MAX:
        return [ctx.reply("profiles.query_too_long", max=QUERY_MAX)]
    ids = await _matching_ids(ctx, words)
    if not ids:
        if ctx.flow == BROWSE:
            ctx.end_flow()
        key = "challenges.browse_none_for" if words else "challenges.browse_none"
        return [menu(ctx, key, words=words)]
    return await ctx.enter(BROWSE, "page", {"q": words, "ids": ids, "page": 0})


def _page_options(
    ctx: Context, shown_ids: list[int], page: int, pages: int
) -> list[tuple[str, str]]:
    options = [(f"C-{item_id}", f"show:{item_id}") for item_id in shown_ids]
    if page > 0:
        options.append((ctx.t("challenges.browse_previous"), "previous"))
    if page + 1 < pages:
        options.append((ctx.t("challenges.browse_next"), "next"))
    options.append((ctx.t("challenges.browse_done"), "done"))
    return options


def _page_ids(ctx: Context) -> tuple[list[int], int, int]:
    ids = [int(i) for i in ctx.data.get("ids", [])]
    pages = max(1, -(-len(ids) // PAGE_SIZE))
    page = min(max(0, int(ctx.data.get("page", 0))), pages - 1)
    return ids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE], page, pages


async def _show_page(ctx: Context) -> list[Reply]:
    shown_ids, page, pages = _page_ids(ctx)
    words = ctx.data.get("q") or ""
    total = len(ctx.data.get("ids", []))
    head = ctx.t(
        "challenges.browse_head_for" if words else "challenges.browse_head",
        words=words,
        count=total,
        page=page + 1,
        pages=pages,
    )
    lines = [head]
    person_id = ctx.person.id if ctx.person else None
    for item_id in shown_ids:
        item = await store.visible_item(ctx.session, ItemKind.CHALLENGE, item_id, person_id)
        if not isinstance(item, Challenge) or not store.is_open(item, today()):
            lines.append(ctx.t("challenges.browse_gone", ref=f"C-{item_id}"))
            continue
        marks = []
        if item.deadline:
            marks.append(ctx.t("challenges.deadline_short", date=item.deadline.isoformat()))
        if item.confidentiality != Confidentiality.PUBLIC.value:
            marks.append(ctx.t(f"challenges.mark_{item.confidentiality}"))
        lines.append(
            ctx.t(
                "challenges.browse_item",
                ref=item.ref,
                title=one_line(item.title)[:90],
                marks=" · ".join(marks) or "–",
            )
        )
    lines.append(ctx.t("challenges.browse_hint"))
    buttons = ctx.choices(_page_options(ctx, shown_ids, page, pages), per_row=PAGE_SIZE)
    return [Reply("\n".join(lines), tuple(tuple(row) for row in buttons))]


async def _answer_page(ctx: Context) -> list[Reply]:
    shown_ids, page, pages = _page_ids(ctx)
    if ctx.button_value is None:
        typed = one_line(ctx.msg.text)
        if _REF_TEXT.match(typed):
            ref = parse_ref(typed)
            assert ref is not None
            text = await show_item(ctx, *ref)
            reply = Reply(text) if text else ctx.reply("challenges.not_found", ref=typed.upper())
            return [reply, *await ctx.reprompt()]
        if ctx.chosen([(ctx.t("challenges.browse_done"), "done")]) == "done":
            ctx.end_flow()
            return [menu(ctx)]
        return await _search(ctx, typed)
    value = ctx.chosen(_page_options(ctx, shown_ids, page, pages))
    if value is None:
        return await use_buttons(ctx)
    if value == "done":
        ctx.end_flow()
        return [menu(ctx)]
    if value in ("next", "previous"):
        ctx.goto(BROWSE, "page", {**ctx.data, "page": page + (1 if value == "next" else -1)})
        return await _show_page(ctx)
    item_id = int(value.split(":", 1)[1])
    text = await show_item(ctx, ItemKind.CHALLENGE, item_id)
    reply = Reply(text) if text else ctx.reply("challenges.not_found", ref=f"C-{item_id}")
    ctx.goto(BROWSE, "page")
    return [reply, *await _show_page(ctx)]


# --- the owner's commands: /edit and /close --------------------------------------------------


async def _own_from_command(ctx: Context, usage: str) -> tuple[store.Owned | None, list[Reply]]:
    assert ctx.person is not None
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    token = rest.split(" ", 1)[0] if rest else ""
    if not token:
        return None, [ctx.reply(usage)]
    ref = parse_ref(token[:20])
    if ref is None:
        return None, [ctx.reply("challenges.bad_ref", token=token[:20])]
    kind, item_id = ref
    item = await store.own_item(ctx.session, ctx.person.id, kind, item_id)
    if item is None:
        # Not theirs, an idea, or nothing at all: the same answer.
        return None, [ctx.reply("challenges.not_yours", ref=f"{kind.prefix}-{item_id}")]
    return item, []


async def edit_command(ctx: Context) -> list[Reply]:
    """``/edit ID``: change one's profile or challenge; it goes back to the moderators."""
    item, problem = await _own_from_command(ctx, "challenges.edit_usage")
    if item is None:
        return problem
    if item.status not in store.EDITABLE:
        return [
            ctx.reply(
                "challenges.not_editable", ref=item.ref, status=ctx.t(f"status.{item.status}")
            )
        ]
    if isinstance(item, Challenge):
        form, data = CHALLENGE_FORM, await challenge_edit_data(ctx, item)
    else:
        form, data = FORMS[item.KIND], await edit_data(ctx.session, item)
    intro = ctx.reply("challenges.edit_intro", ref=item.ref)
    return [intro, *await form.start(ctx, data)]


def _close_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t("challenges.close_yes"), "yes"), (ctx.t("challenges.close_no"), "no")]


async def close_command(ctx: Context) -> list[Reply]:
    """``/close ID``: withdraw one's profile or challenge (after a confirmation)."""
    item, problem = await _own_from_command(ctx, "challenges.close_usage")
    if item is None:
        return problem
    if item.status not in store.EDITABLE:
        return [
            ctx.reply(
                "challenges.not_editable", ref=item.ref, status=ctx.t(f"status.{item.status}")
            )
        ]
    return await ctx.enter(
        CLOSE, "confirm", {"kind": item.KIND.value, "id": item.id, "ref": item.ref}
    )


async def _ask_close(ctx: Context) -> list[Reply]:
    buttons = ctx.choices(_close_options(ctx))
    return [ctx.reply("challenges.close_confirm", buttons, ref=ctx.data.get("ref", ""))]


async def _answer_close(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_close_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    data = dict(ctx.data)
    ctx.end_flow()
    if answer == "no" or ctx.person is None:
        return [menu(ctx, "challenges.close_kept")]
    item = await store.own_item(ctx.session, ctx.person.id, ItemKind(data["kind"]), int(data["id"]))
    if item is None or not await store.withdraw(ctx.session, item):
        return [menu(ctx, "profiles.edit_gone")]
    return [menu(ctx, "challenges.closed", ref=item.ref)]


feature = Feature(
    commands={
        "challenge": Command(new_challenge),
        "challenges": Command(browse_command),
        "show": Command(show_command),
        "edit": Command(edit_command),
        "close": Command(close_command),
    },
    flows={
        "challenge": CHALLENGE_FORM.steps(),
        BROWSE: {"page": Step(_show_page, _answer_page)},
        CLOSE: {"confirm": Step(_ask_close, _answer_close, expects_text=False)},
    },
    intents={"post_challenge": challenge_from_text, "browse_challenges": browse_from_text},
)
