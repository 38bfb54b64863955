"""Brokerage between needs and offers: suggestions, interest, double opt-in introductions,
outcomes; and, for citizens, similar ideas to support instead of submitting a twin.

The path of a match: a challenge (or a profile) is approved → the best matching profile owners
get a suggestion, once per pair ever, with the reasons → a solver says "interested" → the
challenge owner, who sees only a pseudonym when the challenge is anonymous or restricted, asks for
an introduction → the solver accepts → both receive each other's contact details, and only then.
Some weeks later both are asked what came of it (the alerts scheduler's follow-up and ``/outcome``,
in :mod:`handlers.alerts`); moderators can record it too (``!outcome``, :func:`record_outcome`).

What waits for a person is in one place, ``/matches``; notifications carry a button to it.
Messages to the other side are queued in the outbox in the same transaction, with dedupe keys, so
that nothing is sent twice and nothing is sent for a change that was rolled back.

:mod:`handlers.moderation` imports this module (approvals call :func:`on_item_approved`), so this
module does not import it at load time.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bot.outbox import PRIORITY_NOTIFICATION, enqueue
from handlers.context import Command, Context, Feature, Step, command_button
from handlers.core import Platform, Reply
from handlers.help import menu, use_buttons
from handlers.i18n import t
from handlers.text import one_line
from nlp.labels import TOPICS
from nlp.matching import Document, MatchingEngine, Ranked, Why, explain
from storage import brokerage as store
from storage.models import (
    Challenge,
    Confidentiality,
    Idea,
    InfrastructureProfile,
    ItemKind,
    Match,
    MatchState,
    ModerationDecision,
    Organisation,
    Person,
    SolutionProfile,
    Status,
    Submission,
    utcnow,
)
from storage.moderation import reachable_identity

log = logging.getLogger(__name__)

SUGGEST_MAX = 5  # profile owners told about one new challenge
# Weaker matches are not worth a message (0.15 keeps 98% of the evaluation set's relevant pairs).
SUGGEST_MIN = 0.15
CHALLENGES_FOR_PROFILE = 3  # open challenges suggested to a newly approved profile
IDEAS_FOR_CHALLENGE = 3
SIMILAR_IDEAS = 3
SIMILAR_MIN = 0.2
TEXT_SHOWN = 600
FLOW = "matches"
SIMILAR_FLOW = "similar"

OUTCOMES = (
    MatchState.PROPOSAL.value,
    MatchState.CONTRACT.value,
    MatchState.DECLINED.value,
    MatchState.NO_FOLLOW_UP.value,
)
_MATCH_REF = re.compile(r"^#?M-?(\d{1,12})$", re.IGNORECASE)
_IDEA_REF = re.compile(r"^#?I-?(\d{1,12})$", re.IGNORECASE)


def today() -> date:
    return date.today()


def pseudonym(match: Match) -> str:
    """How a challenge owner sees an interested solver before an introduction: a tag that
    differs from one challenge to the next, so that solvers cannot be followed across them."""
    return hashlib.sha256(f"innobot-solver:{match.id}".encode()).hexdigest()[:6]


def _topic_names(lang: str) -> dict[str, str]:
    return {name: t(lang, f"topics.{name}") for name in TOPICS}


def why_text(match: Match, lang: str) -> str:
    return explain(Why.from_dict(match.why or {}), lang, _topic_names(lang))


def _short(text: str, limit: int = 80) -> str:
    line = one_line(text)
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def _matches_button(lang: str) -> tuple[tuple[Any, ...], ...]:
    return ((command_button(t(lang, "matches.open_button"), "matches"),),)


# --- telling people --------------------------------------------------------------------------


async def _tell(
    session: AsyncSession,
    person_id: int | None,
    key: str,
    dedupe: str,
    *,
    button: bool = True,
    **values: object,
) -> bool:
    """Queue ``key`` for a person in their language (False if they cannot be reached)."""
    if person_id is None:
        return False
    person = await session.get(Person, person_id)
    identity = await reachable_identity(session, person_id)
    if person is None or identity is None:
        return False
    lang = person.language
    rendered = {name: value(lang) if callable(value) else value for name, value in values.items()}
    reply = Reply(t(lang, key, **rendered), _matches_button(lang) if button else ())
    enqueue(
        session,
        Platform(identity.platform),
        identity.chat_id,
        [reply],
        person_id=person_id,
        kind="match",
        priority=PRIORITY_NOTIFICATION,
        dedupe_key=dedupe[:255],
    )
    return True


async def _organisation(session: AsyncSession, organisation_id: int | None) -> str | None:
    if organisation_id is None:
        return None
    organisation = await session.get(Organisation, organisation_id)
    return one_line(organisation.name) if organisation else None


def _profile_doc(item: SolutionProfile | InfrastructureProfile | Idea) -> Document:
    extra = item.equipment if isinstance(item, InfrastructureProfile) and item.equipment else ""
    return Document(
        f"{item.KIND.value}:{item.id}",
        item.title,
        f"{item.description}\n{extra}".strip(),
        item.lang,
        item.KIND.value,
        tuple(str(topic) for topic in item.topics or ()),
    )


def _challenge_doc(item: Challenge, *, readable: bool = True) -> Document:
    return Document(
        str(item.id),
        item.title,
        item.description if readable else "",
        item.lang,
        "challenge",
        tuple(str(topic) for topic in item.topics or ()),
    )


# --- approvals: suggestions ------------------------------------------------------------------


async def on_item_approved(session: AsyncSession, item: Submission) -> int:
    """Called by moderation when ``item`` is approved, in the same transaction.

    A challenge: its best matching approved profiles' owners get a suggestion (and matching
    citizens' ideas are recorded for its owner). A profile: its owner gets the best matching open
    challenges. Once per pair, ever. Returns how many suggestions were queued.
    """
    if isinstance(item, Challenge):
        return await _suggest_for_challenge(session, item)
    if isinstance(item, SolutionProfile | InfrastructureProfile):
        return await _suggest_for_profile(session, item)
    return 0


async def _suggest_for_challenge(session: AsyncSession, challenge: Challenge) -> int:
    if not store.is_open(challenge, today()):
        return 0
    known = await store.pairs_known(session, challenge.id)
    profiles = await store.approved_profiles(session, [ItemKind.SOLUTION, ItemKind.INFRASTRUCTURE])
    candidates = {
        f"{p.KIND.value}:{p.id}": p
        for p in profiles
        if (p.KIND.value, p.id) not in known
        and p.person_id is not None
        and p.person_id != challenge.person_id
    }
    sent = 0
    if candidates:
        engine = MatchingEngine()
        engine.add_all(_profile_doc(profile) for profile in candidates.values())
        # A restricted challenge's description is not shown to infrastructure owners, but it
        # may still be matched on: the suggestion says only the title.
        ranked = engine.rank(_challenge_doc(challenge), 4 * SUGGEST_MAX, min_score=SUGGEST_MIN)
        owners: set[int] = set()
        for result in ranked:
            profile = candidates[result.id]
            assert profile.person_id is not None
            if profile.person_id in owners or sent >= SUGGEST_MAX:
                continue  # one suggestion per person per challenge: their best profile
            owners.add(profile.person_id)
            if await _match_and_suggest(session, challenge, profile, result):
                sent += 1
    await _record_ideas(session, challenge, known)
    if sent:
        await _tell(
            session,
            challenge.person_id,
            "matches.owner_suggested",
            f"suggested:{challenge.id}",
            ref=challenge.ref,
            count=sent,
        )
    log.info("challenge %s approved: %d suggestions queued", challenge.ref, sent)
    return sent


async def _record_ideas(
    session: AsyncSession, challenge: Challenge, known: set[tuple[str, int]]
) -> None:
    ideas = [idea for idea in await store.approved_ideas(session) if ("idea", idea.id) not in known]
    if not ideas:
        return
    engine = MatchingEngine()
    engine.add_all(_profile_doc(idea) for idea in ideas)
    by_key = {f"idea:{idea.id}": idea for idea in ideas}
    for result in engine.rank(
        _challenge_doc(challenge), IDEAS_FOR_CHALLENGE, min_score=SUGGEST_MIN
    ):
        idea = by_key[result.id]
        store.add_match(
            session,
            challenge.id,
            ItemKind.IDEA,
            idea.id,
            result.score,
            result.why.as_dict(),
            notified=False,
        )
    await session.flush()


async def _suggest_for_profile(
    session: AsyncSession, profile: SolutionProfile | InfrastructureProfile
) -> int:
    if profile.person_id is None:
        return 0
    known = await store.challenges_known(session, profile.KIND, profile.id)
    challenges = [
        c
        for c in await store.open_challenges(session, today())
        if c.id not in known and c.person_id != profile.person_id
    ]
    if not challenges:
        return 0
    readable = profile.KIND is ItemKind.SOLUTION
    engine = MatchingEngine()
    engine.add_all(
        _challenge_doc(
            c, readable=readable or c.confidentiality != Confidentiality.RESTRICTED.value
        )
        for c in challenges
    )
    by_id = {str(c.id): c for c in challenges}
    sent = 0
    for result in engine.rank(_profile_doc(profile), CHALLENGES_FOR_PROFILE, min_score=SUGGEST_MIN):
        if await _match_and_suggest(session, by_id[result.id], profile, result):
            sent += 1
    log.info("profile %s approved: %d suggestions queued", profile.ref, sent)
    return sent


async def _match_and_suggest(
    session: AsyncSession,
    challenge: Challenge,
    profile: SolutionProfile | InfrastructureProfile,
    result: Ranked,
) -> bool:
    """Record the engine's suggestion of ``profile`` for ``challenge`` and tell its owner."""
    match = store.add_match(
        session,
        challenge.id,
        profile.KIND,
        profile.id,
        result.score,
        result.why.as_dict(),
        notified=True,
    )
    await session.flush()
    return await _suggest(session, match, challenge, profile)


async def _suggest(
    session: AsyncSession,
    match: Match,
    challenge: Challenge,
    profile: SolutionProfile | InfrastructureProfile,
) -> bool:
    assert profile.person_id is not None
    readable = await store.may_read_description(session, challenge, profile.person_id)
    owner = (
        await _organisation(session, challenge.organisation_id)
        if challenge.confidentiality == Confidentiality.PUBLIC.value
        else None
    )
    return await _tell(
        session,
        profile.person_id,
        "matches.suggestion",
        f"suggest:{match.id}",
        ref=challenge.ref,
        title=_short(challenge.title),
        profile=profile.ref,
        owner=owner or "",
        owner_line=lambda lang: (
            t(lang, "matches.owner_named", name=owner) if owner else t(lang, "matches.owner_hidden")
        ),
        why=lambda lang: why_text(match, lang),
        text=lambda lang: (
            _short(challenge.description, TEXT_SHOWN)
            if readable
            else t(lang, "matches.text_restricted")
        ),
    )


# --- /matches: what is waiting for me --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pending:
    what: str  # suggestion, intro, review
    match: Match


async def _pending(ctx: Context) -> list[Pending]:
    assert ctx.person is not None
    session, person_id = ctx.session, ctx.person.id
    found = [Pending("intro", m) for m in await store.introductions_for_solver(session, person_id)]
    found += [
        Pending("suggestion", m) for m in await store.suggestions_for_solver(session, person_id)
    ]
    found += [Pending("review", m) for m in await store.interested_for_owner(session, person_id)]
    skipped = {int(i) for i in ctx.data.get("skipped", [])}
    live = []
    for pending in found:
        if pending.match.id in skipped:
            continue
        challenge, item = await _parties(session, pending.match)
        if challenge is None or item is None or None in (challenge.person_id, item.person_id):
            # The other side has left innobot: nothing can come of this match any more.
            _mark(pending.match, MatchState.DECLINED.value, "gone")
            continue
        live.append(pending)
    return live


async def matches_command(ctx: Context) -> list[Reply]:
    """``/matches``: suggestions to answer, introductions to accept, interested solvers to
    review — one at a time."""
    return await _next(ctx, {"skipped": []}, first=True)


async def _next(ctx: Context, data: dict[str, Any], *, first: bool = False) -> list[Reply]:
    ctx.goto(FLOW, "item", data)
    waiting = await _pending(ctx)
    if not waiting:
        ctx.end_flow()
        return [menu(ctx, "matches.nothing" if first else "matches.all_done")]
    ctx.update(what=waiting[0].what, match=waiting[0].match.id, left=len(waiting))
    return await ctx.reprompt()


def _options(ctx: Context, what: str) -> list[tuple[str, str]]:
    names = {
        "suggestion": ("interested", "not_for_us"),
        "intro": ("accept", "refuse"),
        "review": ("ask_intro", "not_for_us"),
    }[what]
    return [(ctx.t(f"matches.button_{name}"), name) for name in (*names, "later")]


async def _parties(session: AsyncSession, match: Match) -> tuple[Challenge | None, Any]:
    challenge = await session.get(Challenge, match.challenge_id, populate_existing=True)
    item = await store.matched_item(session, match)
    return challenge, item


async def _solver_label(ctx: Context, match: Match, challenge: Challenge, item: Any) -> str:
    """How the challenge owner sees a solver: a pseudonym unless the challenge is public."""
    if challenge.confidentiality != Confidentiality.PUBLIC.value:
        return ctx.t("matches.solver_pseudonym", tag=pseudonym(match))
    organisation = (
        await _organisation(ctx.session, item.organisation_id) if item.show_name else None
    )
    if organisation:
        return ctx.t(
            "matches.solver_named", ref=item.ref, title=_short(item.title), name=organisation
        )
    return ctx.t("matches.solver_profile", ref=item.ref, title=_short(item.title))


async def _ask_item(ctx: Context) -> list[Reply]:
    match = await store.get_match(ctx.session, int(ctx.data.get("match", 0)))
    what = str(ctx.data.get("what", ""))
    if match is None or what not in ANSWERS:
        return await _next(ctx, {"skipped": ctx.data.get("skipped", [])})
    challenge, item = await _parties(ctx.session, match)
    if challenge is None or item is None:
        return await _skip(ctx)
    values: dict[str, object] = {
        "ref": challenge.ref,
        "title": _short(challenge.title),
        "left": ctx.data.get("left", 1),
        "why": why_text(match, ctx.lang),
    }
    if what == "suggestion":
        readable = await store.may_read_description(ctx.session, challenge, item.person_id)
        values |= {
            "profile": item.ref,
            "text": _short(challenge.description, TEXT_SHOWN)
            if readable
            else ctx.t("matches.text_restricted"),
        }
    elif what == "intro":
        values |= {"profile": item.ref}
    else:
        values |= {"solver": await _solver_label(ctx, match, challenge, item)}
    buttons = ctx.choices(_options(ctx, what), per_row=2)
    return [ctx.reply(f"matches.ask_{what}", buttons, **values)]


async def _skip(ctx: Context) -> list[Reply]:
    skipped = [*ctx.data.get("skipped", []), int(ctx.data.get("match", 0))]
    return await _next(ctx, {"skipped": skipped})


async def _answer_item(ctx: Context) -> list[Reply]:
    what = str(ctx.data.get("what", ""))
    if what not in ANSWERS:
        return await _next(ctx, {"skipped": ctx.data.get("skipped", [])})
    answer = ctx.chosen(_options(ctx, what))
    if answer is None:
        return await use_buttons(ctx)
    if answer == "later":
        return await _skip(ctx)
    match = await store.get_match(ctx.session, int(ctx.data.get("match", 0)), lock=True)
    assert ctx.person is not None
    done: list[Reply] = []
    if match is not None:
        challenge, item = await _parties(ctx.session, match)
        if challenge is not None and item is not None:
            done = await ANSWERS[what](ctx, match, challenge, item, answer)
    if not done:
        done = [ctx.reply("matches.changed")]
    return [*done, *await _next(ctx, {"skipped": ctx.data.get("skipped", [])})]


def _mark(match: Match, state: str, by: str | None = None) -> None:
    now = utcnow()
    match.state = state
    match.updated_at = now
    if by is not None:
        match.outcome_by = by


async def _answer_suggestion(
    ctx: Context, match: Match, challenge: Challenge, item: Any, answer: str
) -> list[Reply]:
    assert ctx.person is not None
    if match.state != MatchState.SUGGESTED.value or item.person_id != ctx.person.id:
        return []
    match.answered_at = utcnow()
    if answer == "not_for_us":
        _mark(match, MatchState.DECLINED.value, "solver")
        return [ctx.reply("matches.declined_noted", ref=challenge.ref)]
    _mark(match, MatchState.INTERESTED.value)
    if not store.is_open(challenge, today()):
        return [ctx.reply("matches.challenge_closed", ref=challenge.ref)]
    await _tell(
        ctx.session,
        challenge.person_id,
        "matches.owner_interest",
        f"interest:{match.id}",
        ref=challenge.ref,
        title=_short(challenge.title),
    )
    return [ctx.reply("matches.interest_noted", ref=challenge.ref)]


async def _answer_review(
    ctx: Context, match: Match, challenge: Challenge, item: Any, answer: str
) -> list[Reply]:
    assert ctx.person is not None
    if (
        match.state != MatchState.INTERESTED.value
        or match.owner_intro_at is not None
        or challenge.person_id != ctx.person.id
    ):
        return []
    if answer == "not_for_us":
        _mark(match, MatchState.DECLINED.value, "owner")
        await _tell(
            ctx.session,
            item.person_id,
            "matches.owner_declined",
            f"owner-declined:{match.id}",
            button=False,
            ref=challenge.ref,
            title=_short(challenge.title),
        )
        return [ctx.reply("matches.review_declined")]
    match.owner_intro_at = utcnow()
    match.updated_at = match.owner_intro_at
    await _tell(
        ctx.session,
        item.person_id,
        "matches.intro_request",
        f"intro-request:{match.id}",
        ref=challenge.ref,
        title=_short(challenge.title),
        profile=item.ref,
    )
    return [ctx.reply("matches.intro_requested", ref=challenge.ref)]


async def _answer_intro(
    ctx: Context, match: Match, challenge: Challenge, item: Any, answer: str
) -> list[Reply]:
    assert ctx.person is not None
    if (
        match.state != MatchState.INTERESTED.value
        or match.owner_intro_at is None
        or item.person_id != ctx.person.id
    ):
        return []
    if answer == "refuse":
        _mark(match, MatchState.DECLINED.value, "solver")
        await _tell(
            ctx.session,
            challenge.person_id,
            "matches.intro_refused",
            f"intro-refused:{match.id}",
            button=False,
            ref=challenge.ref,
        )
        return [ctx.reply("matches.intro_refusal_noted")]
    if challenge.person_id is None:
        _mark(match, MatchState.DECLINED.value, "owner")
        return [ctx.reply("matches.owner_gone")]
    match.introduced_at = utcnow()
    _mark(match, MatchState.INTRODUCED.value)
    await _introduce(ctx.session, match, challenge, item)
    return [ctx.reply("matches.introduced_noted", ref=challenge.ref)]


async def _counterpart_name(
    session: AsyncSession, match: Match, challenge: Challenge, item: Any, to_solver: bool
) -> str:
    """Who the other side is — only ever used once they have been introduced."""
    if to_solver:
        person_id, organisation_id = challenge.person_id, challenge.organisation_id
    else:
        person_id, organisation_id = item.person_id, item.organisation_id
    if match.introduced_at is None:
        return f"#{pseudonym(match)}"
    person = await session.get(Person, person_id) if person_id is not None else None
    organisation = await _organisation(session, organisation_id)
    name = one_line(person.display_name)[:100] if person and person.display_name else ""
    return ", ".join(part for part in (name, organisation) if part) or f"#{pseudonym(match)}"


async def _introduce(session: AsyncSession, match: Match, challenge: Challenge, item: Any) -> None:
    """Both sides said yes: each learns who the other is, and how to reach them."""
    sides = (
        (item.person_id, True, challenge.contact if challenge.contact else None),
        (challenge.person_id, False, item.contact if item.share_contact and item.contact else None),
    )
    for person_id, to_solver, contact in sides:
        other = await _counterpart_name(session, match, challenge, item, to_solver)
        await _tell(
            session,
            person_id,
            "matches.introduction",
            f"introduction:{match.id}:{person_id}",
            button=False,
            ref=challenge.ref,
            title=_short(challenge.title),
            profile=item.ref,
            other=other,
            contact_line=lambda lang, c=contact: (
                t(lang, "matches.contact", contact=c)
                if c
                else t(lang, "matches.contact_via_moderators")
            ),
        )
    # The moderators broker introductions too: they see it in the challenge's card thread.
    from handlers.moderation import room_language, thread_recipient

    lang = await room_language(session)
    to = thread_recipient(challenge.ref)
    text = t(
        lang,
        "matches.moderators_introduced",
        ref=challenge.ref,
        profile=item.ref,
        match=f"M-{match.id}",
    )
    enqueue(
        session,
        to.platform,
        to.chat_id,
        [Reply(text)],
        kind="match",
        priority=PRIORITY_NOTIFICATION,
        dedupe_key=f"introduced-room:{match.id}",
    )


ANSWERS = {
    "suggestion": _answer_suggestion,
    "review": _answer_review,
    "intro": _answer_intro,
}


# --- outcomes, as moderators record them ----------------------------------------------------


def parse_match_ref(token: str) -> int | None:
    found = _MATCH_REF.match(token.strip())
    return int(found.group(1)) if found else None


async def record_outcome(
    session: AsyncSession, rest: str, moderator: str
) -> tuple[str, dict[str, object]]:
    """``!outcome M-5 STATE [NOTE]`` in the moderation room: the catalog key to answer with and
    its values. STATE is proposal, contract, declined or no_follow_up."""
    parts = rest.split(None, 2)
    usage: dict[str, object] = {"usage": "!outcome M-ID " + "|".join(OUTCOMES) + " [NOTE]"}
    if len(parts) < 2:
        return "moderation.usage", usage
    match_id = parse_match_ref(parts[0])
    state = parts[1].strip().lower().replace("-", "_")
    if match_id is None or state not in OUTCOMES:
        return "moderation.usage", usage
    match = await store.get_match(session, match_id, lock=True)
    if match is None or match.item_kind == ItemKind.IDEA.value:
        return "matches.mod_unknown", {"ref": f"M-{match_id}"}
    if match.introduced_at is None and state in (
        MatchState.PROPOSAL.value,
        MatchState.CONTRACT.value,
    ):
        return "matches.mod_not_introduced", {"ref": f"M-{match_id}"}
    previous = match.state
    _mark(match, state, moderator[:255])
    session.add(
        ModerationDecision(
            item_kind="match",
            item_id=match.id,
            moderator=moderator[:255],
            action="outcome",
            reason=(parts[2][:1000] if len(parts) > 2 else None),
            previous_status=previous,
            new_status=state,
            created_at=utcnow(),
        )
    )
    await session.flush()
    return "matches.mod_recorded", {"ref": f"M-{match_id}", "state": state}


# --- ideas: similar ones, and supporting one -------------------------------------------------


async def offer_similar_ideas(ctx: Context, idea: Idea) -> list[Reply]:
    """After a citizen submits ``idea``: similar approved ideas, with an offer to support one of
    them instead. Nothing if there are none."""
    assert ctx.person is not None
    others = [
        other
        for other in await store.approved_ideas(ctx.session)
        if other.id != idea.id and other.person_id != ctx.person.id
    ]
    if not others:
        return []
    engine = MatchingEngine()
    engine.add_all(_profile_doc(other) for other in others)
    ranked = engine.rank(_profile_doc(idea), SIMILAR_IDEAS, min_score=SIMILAR_MIN)
    if not ranked:
        return []
    ids = [int(result.id.split(":")[1]) for result in ranked]
    return await ctx.enter(SIMILAR_FLOW, "pick", {"idea": idea.id, "options": ids})


def _similar_options(ctx: Context) -> list[tuple[str, str]]:
    options = [
        (ctx.t("matches.support_button", ref=f"I-{i}"), str(i)) for i in ctx.data.get("options", [])
    ]
    return [*options, (ctx.t("matches.keep_mine"), "keep")]


async def _ask_similar(ctx: Context) -> list[Reply]:
    lines = [ctx.t("matches.similar_head")]
    counts = await store.endorsement_counts(
        ctx.session, [int(i) for i in ctx.data.get("options", [])]
    )
    for idea_id in ctx.data.get("options", []):
        other = await ctx.session.get(Idea, int(idea_id))
        if other is not None:
            lines.append(
                ctx.t(
                    "matches.similar_item",
                    ref=other.ref,
                    title=_short(other.title),
                    count=counts.get(other.id, 0),
                )
            )
    lines.append(ctx.t("matches.similar_question"))
    buttons = ctx.choices(_similar_options(ctx), per_row=1)
    return [Reply("\n".join(lines), tuple(tuple(row) for row in buttons))]


async def _answer_similar(ctx: Context) -> list[Reply]:
    answer = ctx.chosen(_similar_options(ctx))
    if answer is None:
        return await use_buttons(ctx)
    data = dict(ctx.data)
    ctx.end_flow()
    if answer == "keep" or ctx.person is None:
        return [menu(ctx, "matches.kept_own")]
    other = await store.visible_item(ctx.session, ItemKind.IDEA, int(answer), ctx.person.id)
    if not isinstance(other, Idea) or other.status != Status.APPROVED.value:
        return [menu(ctx, "matches.support_gone")]
    await store.endorse(ctx.session, other.id, ctx.person.id)
    own = await ctx.session.get(Idea, int(data["idea"]))
    if own is not None and own.person_id == ctx.person.id:
        await store.withdraw(ctx.session, own, action="withdraw")
    count = (await store.endorsement_counts(ctx.session, [other.id])).get(other.id, 0)
    return [
        menu(
            ctx, "matches.supported_instead", ref=other.ref, own=own.ref if own else "", count=count
        )
    ]


async def support_command(ctx: Context) -> list[Reply]:
    """``/support I-12``: support an approved idea (and follow it)."""
    assert ctx.person is not None
    rest = (ctx.msg.command[1] if ctx.msg.command else "").split(" ", 1)[0][:20]
    if not rest:
        return [ctx.reply("matches.support_usage")]
    found = _IDEA_REF.match(rest)
    if found is None:
        return [ctx.reply("challenges.bad_ref", token=rest)]
    idea_id = int(found.group(1))
    other = await store.visible_item(ctx.session, ItemKind.IDEA, idea_id, ctx.person.id)
    if not isinstance(other, Idea) or other.status != Status.APPROVED.value:
        return [ctx.reply("challenges.not_found", ref=f"I-{idea_id}")]
    if other.person_id == ctx.person.id:
        return [ctx.reply("matches.support_own", ref=other.ref)]
    added = await store.endorse(ctx.session, other.id, ctx.person.id)
    count = (await store.endorsement_counts(ctx.session, [other.id])).get(other.id, 0)
    key = "matches.supported" if added else "matches.already_supported"
    return [ctx.reply(key, ref=other.ref, count=count)]


async def supported_command(ctx: Context) -> list[Reply]:
    """``/supported``: the ideas one supports and follows, where they stand."""
    assert ctx.person is not None
    ideas = await store.supported_by(ctx.session, ctx.person.id)
    if not ideas:
        return [ctx.reply("matches.supported_none")]
    counts = await store.endorsement_counts(ctx.session, [idea.id for idea in ideas])
    lines = [ctx.t("matches.supported_head", count=len(ideas))]
    lines += [
        ctx.t(
            "matches.supported_item",
            ref=idea.ref,
            title=_short(idea.title),
            status=ctx.t(f"status.{idea.status}"),
            count=counts.get(idea.id, 0),
        )
        for idea in ideas
    ]
    return [Reply("\n".join(lines))]


feature = Feature(
    commands={
        "matches": Command(matches_command),
        "support": Command(support_command),
        "supported": Command(supported_command),
    },
    flows={
        FLOW: {"item": Step(_ask_item, _answer_item, expects_text=False)},
        SIMILAR_FLOW: {"pick": Step(_ask_similar, _answer_similar, expects_text=False)},
    },
)

__all__: Sequence[str] = (
    "feature",
    "offer_similar_ideas",
    "on_item_approved",
    "record_outcome",
)
