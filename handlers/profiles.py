"""What SMEs and labs can do: solution profiles (/profile), infrastructure profiles (/lab), and
searching them (/partners WORDS, /labs WORDS).

A profile goes to the moderators first; only approved profiles are ever searched or shown to
others. Contact details are asked for but never shown: they are passed on only at a double opt-in
introduction (see :mod:`handlers.matches`).
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from handlers.context import Command, Context, Feature
from handlers.core import Reply
from handlers.forms import Field, Form, names, shown, yes_no
from handlers.help import menu
from handlers.i18n import t
from handlers.moderation import queue_triage_card, room_language, thread_recipient
from handlers.text import one_line
from nlp.matching import Document, MatchingEngine, explain
from storage import brokerage as store
from storage.alerts import subscribe_to_profile_topics
from storage.models import (
    InfrastructureProfile,
    ItemKind,
    Organisation,
    OutboxMessage,
    SolutionProfile,
    Status,
)

log = logging.getLogger(__name__)

SPOKEN = ("en", "it", "sv", "de", "fr", "es")
PRICE_MODELS = ("free", "cost_based", "commercial", "negotiable")
MAX_PENDING = 3  # profiles of one kind a person may have waiting for moderation at once
SEARCH_RESULTS = 6
SEARCH_MIN_SCORE = 0.05
QUERY_MAX = 200
TEXT_SHOWN = 1500


# --- the forms -------------------------------------------------------------------------------


def _trl_options(ctx: Context) -> list[tuple[str, str]]:
    return [(str(level), str(level)) for level in range(1, 10)]


def _spoken_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"profiles.spoken_{code}"), code) for code in SPOKEN]


def spoken_names(ctx: Context, codes: list[str] | None) -> str:
    known = [code for code in codes or () if code in SPOKEN]
    if not known:
        return ctx.t("profiles.form_not_set")
    return ", ".join(ctx.t(f"profiles.spoken_{code}") for code in known)


def _price_options(ctx: Context) -> list[tuple[str, str]]:
    return [(ctx.t(f"profiles.price_{name}"), name) for name in PRICE_MODELS]


def _common_lines(ctx: Context, form: Form) -> list[tuple[str, str]]:
    data = ctx.data
    return [
        (form.label(ctx, "organisation"), shown(ctx, data.get("organisation"))),
        (form.label(ctx, "title"), shown(ctx, data.get("title"))),
        (form.label(ctx, "description"), shown(ctx, data.get("description"))),
        (form.label(ctx, "topics"), names(ctx, "topics", data.get("topics"))),
    ]


def _tail_lines(ctx: Context, form: Form) -> list[tuple[str, str]]:
    data = ctx.data
    return [
        (form.label(ctx, "contact"), shown(ctx, data.get("contact"))),
        (
            form.label(ctx, "show_name"),
            ctx.t("common.yes" if data.get("show_name") == "yes" else "common.no"),
        ),
    ]


def _render_profile(ctx: Context) -> list[tuple[str, str]]:
    data = ctx.data
    form = PROFILE_FORM
    return [
        *_common_lines(ctx, form),
        (form.label(ctx, "trl"), shown(ctx, data.get("trl"))),
        (form.label(ctx, "location"), shown(ctx, data.get("location"))),
        (form.label(ctx, "languages"), spoken_names(ctx, data.get("languages"))),
        *_tail_lines(ctx, form),
    ]


def _render_lab(ctx: Context) -> list[tuple[str, str]]:
    data = ctx.data
    form = LAB_FORM
    price = data.get("price_model")
    return [
        *_common_lines(ctx, form),
        (form.label(ctx, "equipment"), shown(ctx, data.get("equipment"))),
        (
            form.label(ctx, "price_model"),
            ctx.t(f"profiles.price_{price}") if price else shown(ctx, None),
        ),
        (form.label(ctx, "lead_time"), shown(ctx, data.get("lead_time"))),
        (form.label(ctx, "location"), shown(ctx, data.get("location"))),
        *_tail_lines(ctx, form),
    ]


async def _submit_profile(ctx: Context) -> list[Reply]:
    return await submit(ctx, ItemKind.SOLUTION)


async def _submit_lab(ctx: Context) -> list[Reply]:
    return await submit(ctx, ItemKind.INFRASTRUCTURE)


_ORGANISATION = Field("organisation", max_length=200)
_TITLE = Field("title", max_length=120)
_DESCRIPTION = Field("description", kind="paragraph", min_length=40, max_length=2000)
_TOPICS = Field("topics", kind="topics", optional=True, max_selected=3)
_CONTACT = Field("contact", optional=True, min_length=5, max_length=300)
_SHOW_NAME = Field("show_name", kind="choice", options=yes_no)

PROFILE_FORM = Form(
    flow="profile",
    section="profiles",
    fields=(
        _ORGANISATION,
        _TITLE,
        _DESCRIPTION,
        _TOPICS,
        Field("trl", kind="choice", optional=True, options=_trl_options),
        Field("location", max_length=120),
        Field("languages", kind="multi", options=_spoken_options, max_selected=len(SPOKEN)),
        _CONTACT,
        _SHOW_NAME,
    ),
    render=_render_profile,
    submit=_submit_profile,
)

LAB_FORM = Form(
    flow="lab",
    section="profiles",
    fields=(
        _ORGANISATION,
        _TITLE,
        _DESCRIPTION,
        Field("equipment", optional=True, max_length=1000),
        _TOPICS,
        Field("price_model", kind="choice", optional=True, options=_price_options),
        Field("lead_time", optional=True, max_length=120),
        Field("location", max_length=200),
        _CONTACT,
        _SHOW_NAME,
    ),
    render=_render_lab,
    submit=_submit_lab,
)

FORMS = {ItemKind.SOLUTION: PROFILE_FORM, ItemKind.INFRASTRUCTURE: LAB_FORM}


# --- submitting ------------------------------------------------------------------------------


def split_location(text: str | None) -> tuple[str | None, str | None]:
    """``"Lombardy, Italy"`` → ``("Lombardy", "Italy")``; a single name is taken as the country."""
    if not text:
        return None, None
    region, sep, country = text.rpartition(",")
    if not sep:
        return None, text.strip()[:64] or None
    return region.strip()[:120] or None, country.strip()[:64] or None


def _item_values(ctx: Context, kind: ItemKind) -> dict[str, Any]:
    data = ctx.data
    analysis = data.get("_analysis", {})
    contact = data.get("contact")
    values: dict[str, Any] = {
        "title": data["title"],
        "description": data["description"],
        "lang": str(analysis.get("lang") or ctx.lang)[:8],
        "topics": list(data.get("topics") or []),
        "topic_scores": {str(name): float(score) for name, score in analysis.get("topics", [])},
        "contact": contact,
        "share_contact": bool(contact),
        "show_name": data.get("show_name") == "yes",
    }
    if kind is ItemKind.SOLUTION:
        region, country = split_location(data.get("location"))
        trl = data.get("trl")
        values |= {
            "trl": int(trl) if trl else None,
            "region": region,
            "country": country,
            "languages": list(data.get("languages") or []),
        }
    else:
        values |= {
            "services": data["description"],
            "equipment": data.get("equipment"),
            "price_model": data.get("price_model"),
            "lead_time": data.get("lead_time"),
            "location": data.get("location"),
        }
    return values


async def tell_moderators_of_edit(ctx: Context, item: store.Owned) -> None:
    """An edited item is back in the queue: its card's thread says so (or it gets its first
    card, if it never had one)."""
    queued = await ctx.session.scalar(
        select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"card:{item.ref}")
    )
    if queued is None:
        queue_triage_card(ctx.session, item)
        return
    lang = await room_language(ctx.session)
    text = t(lang, "profiles.moderators_edited", ref=item.ref, title=one_line(item.title)[:80])
    ctx.notifications.append(Reply(text, to=thread_recipient(item.ref)))


async def save_submission(
    ctx: Context, kind: ItemKind, values: dict[str, Any], organisation: str
) -> list[Reply]:
    """Store a new or edited profile or challenge and send it to the moderators."""
    assert ctx.person is not None
    session = ctx.session
    model = store.OWNED_MODELS[kind]
    text = f"{values['title']} {values['description']}"
    editing = ctx.data.get("_edit")
    if editing is not None:
        item = await store.own_item(session, ctx.person.id, kind, int(editing))
        ctx.end_flow()
        if item is None or item.status not in store.EDITABLE:
            return [menu(ctx, "profiles.edit_gone")]
        values["organisation_id"] = await _organisation_id(session, item, organisation)
        await store.resubmit(session, item, values)
        await tell_moderators_of_edit(ctx, item)
        return [menu(ctx, "profiles.resubmitted", ref=item.ref)]

    if await store.count_pending(session, ctx.person.id, kind) >= MAX_PENDING:
        ctx.end_flow()
        log.info("refused a submission: too many items waiting for moderation")
        return [menu(ctx, "profiles.too_many_pending", max=MAX_PENDING)]
    twin = await store.near_duplicate_of_own(session, ctx.person.id, kind, text)
    if twin is not None:
        ctx.end_flow()
        log.info("refused a near-duplicate of %s", twin.ref)
        return [menu(ctx, "profiles.duplicate", ref=twin.ref)]
    country, region = values.get("country"), values.get("region")
    org = await store.organisation_named(
        session, organisation, country=country, region=region, kind=kind.value
    )
    item = await store.add_item(
        session, model, {**values, "person_id": ctx.person.id, "organisation_id": org.id}
    )
    if ctx.person.organisation_id is None and kind is not ItemKind.CHALLENGE:
        ctx.person.organisation_id = org.id
    queue_triage_card(session, item)
    ctx.end_flow()
    replies = [
        menu(
            ctx,
            f"{'challenges' if kind is ItemKind.CHALLENGE else 'profiles'}.submitted",
            ref=item.ref,
        )
    ]
    # Its owner hears of challenges on the profile's topics (handlers.alerts; /alerts to opt out).
    if kind is ItemKind.SOLUTION and await subscribe_to_profile_topics(
        session, ctx.person, item.topics
    ):
        replies.append(ctx.reply("alerts.profile_subscribed"))
    return replies


async def _organisation_id(session: AsyncSession, item: store.Owned, name: str) -> int:
    if item.organisation_id is not None:
        organisation = await session.get(Organisation, item.organisation_id)
        if organisation is not None:
            organisation.name = name
            return organisation.id
    created = await store.organisation_named(session, name)
    return created.id


async def submit(ctx: Context, kind: ItemKind) -> list[Reply]:
    return await save_submission(ctx, kind, _item_values(ctx, kind), ctx.data["organisation"])


async def new_profile(ctx: Context) -> list[Reply]:
    return await PROFILE_FORM.start(ctx)


async def new_lab(ctx: Context) -> list[Reply]:
    return await LAB_FORM.start(ctx)


async def edit_data(
    session: AsyncSession, item: SolutionProfile | InfrastructureProfile
) -> dict[str, Any]:
    """A form's answers from a stored profile (to edit it)."""
    organisation = (
        await session.get(Organisation, item.organisation_id) if item.organisation_id else None
    )
    data: dict[str, Any] = {
        "_edit": item.id,
        "_analysis": {
            "lang": item.lang,
            "topics": [[k, v] for k, v in (item.topic_scores or {}).items()],
        },
        "organisation": organisation.name if organisation else "",
        "title": item.title,
        "description": item.description,
        "topics": list(item.topics or []),
        "contact": item.contact,
        "show_name": "yes" if item.show_name else "no",
    }
    if isinstance(item, SolutionProfile):
        place = ", ".join(part for part in (item.region, item.country) if part)
        data |= {
            "trl": str(item.trl) if item.trl else None,
            "location": place or None,
            "languages": list(item.languages or []),
        }
    else:
        data |= {
            "equipment": item.equipment,
            "price_model": item.price_model,
            "lead_time": item.lead_time,
            "location": item.location,
        }
    if not data["organisation"]:
        del data["organisation"]
    if not data.get("location"):
        data.pop("location", None)
    return data


# --- showing ---------------------------------------------------------------------------------


def profile_document(item: SolutionProfile | InfrastructureProfile) -> Document:
    extra = item.equipment if isinstance(item, InfrastructureProfile) and item.equipment else ""
    return Document(
        id=f"{item.KIND.value}:{item.id}",
        title=item.title,
        description=f"{item.description}\n{extra}".strip(),
        lang=item.lang,
        kind=item.KIND.value,
        topics=tuple(str(topic) for topic in item.topics or ()),
    )


def _place(ctx: Context, item: SolutionProfile | InfrastructureProfile) -> str:
    if isinstance(item, InfrastructureProfile):
        return item.location or ""
    place = ", ".join(part for part in (item.region, item.country) if part)
    if item.trl:
        level = ctx.t("profiles.trl_short", trl=item.trl)
        return f"{place} · {level}" if place else level
    return place


async def render_profile(
    ctx: Context, item: SolutionProfile | InfrastructureProfile, *, full: bool = True
) -> str:
    """A profile as others may see it: never its contact details nor its owner's name."""
    names_by_id = await store.organisation_names(ctx.session, [item.organisation_id])
    organisation = names_by_id.get(item.organisation_id or 0) if item.show_name else None
    lines = [ctx.t("profiles.show_head", ref=item.ref, title=one_line(item.title))]
    if organisation:
        lines.append(ctx.t("profiles.show_organisation", name=one_line(organisation)))
    place = _place(ctx, item)
    if place:
        lines.append(ctx.t("profiles.show_place", place=place))
    if full:
        text = (
            item.description
            if len(item.description) <= TEXT_SHOWN
            else item.description[:TEXT_SHOWN] + "…"
        )
        lines.append(ctx.t("profiles.show_text", text=text))
        if isinstance(item, InfrastructureProfile):
            if item.equipment:
                lines.append(ctx.t("profiles.show_equipment", text=item.equipment))
            if item.price_model in PRICE_MODELS:
                lines.append(
                    ctx.t("profiles.show_price", price=ctx.t(f"profiles.price_{item.price_model}"))
                )
            if item.lead_time:
                lines.append(ctx.t("profiles.show_lead_time", text=item.lead_time))
        elif item.languages:
            lines.append(
                ctx.t("profiles.show_languages", languages=spoken_names(ctx, item.languages))
            )
    if item.topics:
        lines.append(ctx.t("profiles.show_topics", topics=names(ctx, "topics", item.topics)))
    if (
        item.person_id == (ctx.person.id if ctx.person else None)
        and item.status != Status.APPROVED.value
    ):
        lines.append(ctx.t("profiles.show_status", status=ctx.t(f"status.{item.status}")))
    return "\n".join(lines)


# --- searching -------------------------------------------------------------------------------


def topic_names(ctx: Context) -> dict[str, str]:
    from nlp.labels import TOPICS

    return {name: ctx.t(f"topics.{name}") for name in TOPICS}


async def _search(ctx: Context, kind: ItemKind, typed: str | None = None) -> list[Reply]:
    section = "partners" if kind is ItemKind.SOLUTION else "labs"
    words = one_line(typed if typed is not None else ctx.msg.command[1] if ctx.msg.command else "")
    if not words:
        return [ctx.reply(f"profiles.{section}_usage")]
    if len(words) > QUERY_MAX:
        return [ctx.reply("profiles.query_too_long", max=QUERY_MAX)]
    profiles = await store.approved_profiles(ctx.session, [kind])
    engine = MatchingEngine()
    engine.add_all(profile_document(item) for item in profiles)
    by_key = {f"{item.KIND.value}:{item.id}": item for item in profiles}
    ranked = engine.rank(Document("query", words, ""), SEARCH_RESULTS, min_score=SEARCH_MIN_SCORE)
    if not ranked:
        return [ctx.reply(f"profiles.{section}_none", words=words)]
    lines = [ctx.t(f"profiles.{section}_head", words=words)]
    topics = topic_names(ctx)
    for result in ranked:
        item = by_key[result.id]
        lines.append("")
        lines.append(await render_profile(ctx, item, full=False))
        why = explain(result.why, ctx.lang, topics)
        if why:
            lines.append(ctx.t("profiles.search_why", why=why))
    lines.append("")
    lines.append(ctx.t("profiles.search_more"))
    return [Reply("\n".join(lines))]


async def search_partners(ctx: Context) -> list[Reply]:
    return await _search(ctx, ItemKind.SOLUTION)


async def search_labs(ctx: Context) -> list[Reply]:
    return await _search(ctx, ItemKind.INFRASTRUCTURE)


# --- free text: "we could offer…", "looking for a partner who…" ------------------------------


async def profile_from_text(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    return await new_profile(ctx)


async def partners_from_text(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    return await _search(ctx, ItemKind.SOLUTION, ctx.msg.text[:QUERY_MAX])


async def labs_from_text(ctx: Context) -> list[Reply]:
    if ctx.person is None:
        return [ctx.reply("errors.needs_consent")]
    return await _search(ctx, ItemKind.INFRASTRUCTURE, ctx.msg.text[:QUERY_MAX])


feature = Feature(
    commands={
        "profile": Command(new_profile),
        "lab": Command(new_lab),
        "partners": Command(search_partners),
        "labs": Command(search_labs),
    },
    flows={"profile": PROFILE_FORM.steps(), "lab": LAB_FORM.steps()},
    intents={
        "offer_solution": profile_from_text,
        "find_partners": partners_from_text,
        "find_infrastructure": labs_from_text,
    },
)
