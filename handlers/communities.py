"""Topic communities: /communities, joining and leaving, and innobot in linked group chats.

A community may be linked to a Telegram group and to a Matrix room. There innobot welcomes new
members in the community's language, answers the group commands (:data:`GROUP_COMMANDS`), and
takes ``/report``, sent as a reply to a message, to the moderation room. Anything personal
(joining, registering for an event) is answered in the person's private chat, never in the group.
"""

from __future__ import annotations

import logging

from handlers.context import Command, Context, Feature, command_button
from handlers.core import Button, ContentKind, Platform, Recipient, Reply
from handlers.i18n import t
from handlers.moderation import MODERATION_ROOM, room_language
from handlers.text import one_line
from storage import engagement as store
from storage.models import Community, GroupReport, Role

log = logging.getLogger(__name__)

LIST_MAX = 30
EXCERPT_MAX = 300
GROUP_COMMANDS = frozenset({"communities", "events", "report", "help", "start"})
# Personal commands typed in a linked group or room: carried out, answered in the private chat.
PRIVATE_ANSWERS = frozenset({"join", "leave", "rsvp", "unrsvp"})


def topics_text(lang: str, community: Community) -> str:
    names = [t(lang, f"topics.{name}") for name in community.topics or []]
    if community.region:
        names.append(community.region)
    return ", ".join(names) or "–"


def _parse_id(text: str) -> int | None:
    token = text.strip().lstrip("#").upper().removeprefix("K-").removeprefix("K")
    return int(token) if token.isdigit() and len(token) <= 12 else None


async def private_chat(ctx: Context) -> Recipient | None:
    """The person's private chat with innobot on this platform (for answers given in a group)."""
    if ctx.person is None:
        return None
    for where in await store.reachable(ctx.session, [ctx.person.id]):
        if where.platform == ctx.msg.platform.value:
            return Recipient(Platform(where.platform), where.chat_id)
    return None


# --- /communities, /join, /leave -------------------------------------------------------------


async def list_communities(ctx: Context) -> list[Reply]:
    found = (await store.communities(ctx.session))[:LIST_MAX]
    if not found:
        return [ctx.reply("communities.none")]
    counts = await store.member_counts(ctx.session)
    mine = await store.memberships(ctx.session, ctx.person.id) if ctx.person else set()
    lines = [ctx.t("communities.head")]
    buttons: list[list[Button]] = []
    for community in found:
        lines.append(
            ctx.t(
                "communities.item",
                id=community.id,
                name=community.name,
                topics=topics_text(ctx.lang, community),
                members=counts.get(community.id, 0),
            )
        )
        if community.id in mine:
            label = ctx.t("communities.leave_button", name=community.name[:30])
            buttons.append([command_button(label, f"leave {community.id}")])
        else:
            label = ctx.t("communities.join_button", name=community.name[:30])
            buttons.append([command_button(label, f"join {community.id}")])
    if not ctx.msg.is_private:
        return [Reply("\n".join([*lines, ctx.t("communities.join_privately")]))]
    return [Reply("\n".join(lines), tuple(tuple(row) for row in buttons))]


async def _community_from(ctx: Context, usage: str) -> Community | Reply:
    rest = ctx.msg.command[1] if ctx.msg.command else ""
    community_id = _parse_id(rest)
    if community_id is None:
        return ctx.reply("communities.usage", usage=usage)
    community = await ctx.session.get(Community, community_id)
    if community is None or not community.active:
        return ctx.reply("communities.unknown", id=community_id)
    return community


async def join_community(ctx: Context) -> list[Reply]:
    assert ctx.person is not None
    found = await _community_from(ctx, "/join ID")
    if isinstance(found, Reply):
        return [found]
    joined = await store.join(ctx.session, found.id, ctx.person.id)
    key = "communities.joined" if joined else "communities.already_member"
    replies = [ctx.reply(key, name=found.name)]
    if found.invite_link:
        replies.append(ctx.reply("communities.group_link", link=found.invite_link))
    return replies


async def leave_community(ctx: Context) -> list[Reply]:
    assert ctx.person is not None
    found = await _community_from(ctx, "/leave ID")
    if isinstance(found, Reply):
        return [found]
    left = await store.leave(ctx.session, found.id, ctx.person.id)
    return [ctx.reply("communities.left" if left else "communities.not_member", name=found.name)]


# --- linked groups ---------------------------------------------------------------------------


async def in_group(ctx: Context) -> list[Reply] | None:
    """A message in a group chat or room: handled if it is linked to a community."""
    if ctx.msg.platform is Platform.TELEGRAM:
        community = await store.community_of_chat(ctx.session, ctx.msg.chat_id)
    elif ctx.msg.platform is Platform.MATRIX:
        community = await store.community_of_room(ctx.session, ctx.msg.chat_id)
    else:
        return None
    if community is None:
        return None
    lang = community.language
    msg = ctx.msg
    if msg.kind is ContentKind.MEMBER_JOINED:
        return [
            Reply(
                t(
                    lang,
                    "communities.welcome",
                    name=one_line(msg.display_name or "")[:64] or t(lang, "communities.newcomer"),
                    community=community.name,
                )
            )
        ]
    if msg.button is not None:
        return await _group_button(ctx, msg.button)
    command = msg.command if msg.kind is ContentKind.TEXT else None
    if command is None:
        return []  # members talking among themselves
    name = command[0]
    if name in PRIVATE_ANSWERS:
        return await _privately(ctx, name, lang)
    if name not in GROUP_COMMANDS:
        return [Reply(t(lang, "communities.group_private_only"))]
    ctx.lang = lang  # the group's language, not the sender's
    if name == "report":
        return await report(ctx, community)
    if name == "events":
        from handlers.events import list_events

        listed = await list_events(ctx)
        if msg.platform is Platform.TELEGRAM:
            return listed
        # Matrix rooms have no buttons: the command to send in the direct chat instead.
        return [Reply(_with_rsvp_hint(lang, reply)) if reply.buttons else reply for reply in listed]
    if name == "communities":
        return await list_communities(ctx)
    return [Reply(t(lang, "communities.group_help", community=community.name))]


def _with_rsvp_hint(lang: str, reply: Reply) -> str:
    payload = reply.buttons[0][0].payload if reply.buttons and reply.buttons[0] else ""
    name, _, argument = payload.removeprefix("c:").partition(" ")
    if name != "rsvp" or not argument.isdigit():
        return reply.text
    return reply.text + "\n" + t(lang, "communities.post_rsvp_how", id=argument)


async def _privately(ctx: Context, name: str, group_lang: str) -> list[Reply]:
    """``/join``, ``/rsvp``, ... typed in the group: done, and answered in the private chat
    (Matrix rooms have no buttons: this is how their members register)."""
    from handlers.events import rsvp_command, unrsvp_command

    where = await private_chat(ctx)
    if ctx.person is None or where is None:
        return [Reply(t(group_lang, "communities.start_privately"))]
    handlers = {
        "join": join_community,
        "leave": leave_community,
        "rsvp": rsvp_command,
        "unrsvp": unrsvp_command,
    }
    replies = await handlers[name](ctx)
    ctx.notifications.extend(Reply(r.text, r.buttons, r.document, to=where) for r in replies)
    return []


async def _group_button(ctx: Context, payload: str) -> list[Reply]:
    """A button pressed in the group (an event's RSVP): answered in the private chat."""
    from handlers.events import rsvp_for

    name, _, argument = payload.removeprefix("c:").partition(" ")
    if name != "rsvp":
        return []
    where = await private_chat(ctx)
    if ctx.person is None or where is None:
        return [ctx.reply("communities.start_privately")]
    replies = await rsvp_for(ctx, argument)
    ctx.notifications.extend(Reply(r.text, r.buttons, r.document, to=where) for r in replies)
    return []


async def report(ctx: Context, community: Community) -> list[Reply]:
    """``/report`` as a reply to a message: the moderators get it, with context."""
    quoted = ctx.msg.reply_to
    if quoted is None:
        return [ctx.reply("communities.report_how")]
    if quoted.from_bot or quoted.user_id is None:
        return [ctx.reply("communities.report_bot")]
    author = await store.person_by_identity(ctx.session, ctx.msg.platform.value, quoted.user_id)
    if author is not None and author.role == Role.MODERATOR.value:
        return [ctx.reply("communities.report_moderator")]
    if quoted.user_id == ctx.msg.user_id:
        return [ctx.reply("communities.report_self")]
    if await store.open_report_for(ctx.session, ctx.msg.chat_id, quoted.message_id) is not None:
        return [ctx.reply("communities.report_thanks")]
    entry = GroupReport(
        community_id=community.id,
        chat_id=ctx.msg.chat_id,
        message_id=quoted.message_id,
        reported_user=quoted.user_id,
        reporter_id=ctx.person.id if ctx.person else None,
    )
    ctx.session.add(entry)
    await ctx.session.flush()
    room_lang = await room_language(ctx.session)
    excerpt = one_line(quoted.text)
    if len(excerpt) > EXCERPT_MAX:
        excerpt = excerpt[: EXCERPT_MAX - 1] + "…"
    card = "communities.report_card"
    if ctx.msg.platform is Platform.MATRIX:
        card = "communities.report_card_matrix"
    text = t(
        room_lang,
        card,
        ref=f"R-{entry.id}",
        community=community.name,
        user=quoted.user_id,
        excerpt=excerpt or "–",
    )
    ctx.notifications.append(Reply(text, to=Recipient(Platform.MATRIX, MODERATION_ROOM)))
    log.info("community %s: message reported (report R-%s)", community.id, entry.id)
    return [ctx.reply("communities.report_thanks")]


feature = Feature(
    commands={
        "communities": Command(list_communities, needs_consent=False),
        "join": Command(join_community),
        "leave": Command(leave_community),
    },
    group=in_group,
)
