"""A Telegram Bot API double on loopback: real HTTP, Telegram's answers, recorded traffic.

The bot under test talks to it exactly as to ``api.telegram.org`` (``POST /bot<token>/<method>``,
form-encoded or multipart bodies). Tests play the users: they inject updates
(:meth:`FakeBotAPI.send_text`, :meth:`FakeBotAPI.press_button`, ...) and await what the bot sent
(:meth:`FakeBotAPI.wait_for_messages`). Updates are served by long polling, or POSTed to the
webhook once the bot has set one. Flood limits, HTML entity parsing and error answers follow
Telegram's documented behaviour closely enough for an adapter to be tested against it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import math
import re
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import aiohttp
from aiohttp import web

JSON = dict[str, Any]
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MESSAGE_MAX = 4096
CAPTION_MAX = 1024
CALLBACK_DATA_MAX = 64
# Methods that put something into a chat: flood limits and injected failures apply to them.
SENDING_METHODS = frozenset({"sendmessage", "senddocument", "editmessagetext", "sendpoll"})
# Telegram's poll limits (Bot API 10.0, as python-telegram-bot 22.8's PollLimit states them).
POLL_QUESTION_MAX = 300
POLL_OPTION_MAX = 100
POLL_OPTIONS_MIN = 1
POLL_OPTIONS_MAX = 12
POLL_TYPES = frozenset({"regular", "quiz"})
# A bot may delete messages in groups for 48 hours after they were sent.
DELETE_WINDOW = 48 * 3600
# Restrictions shorter than 30 seconds or longer than 366 days are forever (until_date 0).
RESTRICT_MIN = 30
RESTRICT_MAX = 366 * 24 * 3600
# The update types Telegram sends when ``allowed_updates`` is not given (or empty).
DEFAULT_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
        "inline_query",
        "chosen_inline_result",
        "shipping_query",
        "pre_checkout_query",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
    }
)
ADMIN_RIGHTS = (
    "can_manage_chat",
    "can_delete_messages",
    "can_manage_video_chats",
    "can_restrict_members",
    "can_promote_members",
    "can_change_info",
    "can_invite_users",
    "can_post_stories",
    "can_edit_stories",
    "can_delete_stories",
    "can_pin_messages",
    "can_manage_topics",
)
MEMBER_PERMISSIONS = (
    "can_send_messages",
    "can_send_audios",
    "can_send_documents",
    "can_send_photos",
    "can_send_videos",
    "can_send_video_notes",
    "can_send_voice_notes",
    "can_send_polls",
    "can_send_other_messages",
    "can_add_web_page_previews",
    "can_change_info",
    "can_invite_users",
    "can_pin_messages",
    "can_manage_topics",
    "can_edit_tag",
    "can_react_to_messages",
)
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)


class ApiError(Exception):
    """An error answer: ``{"ok": false, "error_code": ..., "description": ...}``."""

    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after

    def body(self) -> JSON:
        body: JSON = {"ok": False, "error_code": self.code, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def bad_request(detail: str) -> ApiError:
    return ApiError(400, f"Bad Request: {detail}")


def too_many_requests(retry_after: int) -> ApiError:
    return ApiError(429, f"Too Many Requests: retry after {retry_after}", retry_after)


# --- Telegram's HTML parse mode -----------------------------------------------------------------

_TAG_ENTITY = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_ATTRIBUTE = re.compile(r"""\s*([a-zA-Z-]+)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(source: str) -> tuple[str, list[JSON]]:
    """Telegram's HTML parse mode: the plain text and its entities (offsets in UTF-16 units).

    Raises ``ApiError`` 400 "can't parse entities" for what Telegram rejects: unsupported or
    unclosed tags, mismatched end tags, a ``&`` that starts no entity.
    """

    def fail(detail: str) -> ApiError:
        return bad_request(f"can't parse entities: {detail}")

    def byte_offset(index: int) -> int:
        return len(source[:index].encode())

    plain: list[str] = []
    plain_len = 0  # UTF-16 units so far
    stack: list[tuple[str, int, JSON]] = []  # (tag, start offset, entity fields)
    entities: list[JSON] = []
    i = 0
    while i < len(source):
        c = source[i]
        if c == "<":
            end = source.find(">", i)
            if end < 0:
                raise fail(f"Can't find end of the tag starting at byte offset {byte_offset(i)}")
            inner = source[i + 1 : end]
            if inner.startswith("/"):
                name = inner[1:].strip().lower()
                if not stack:
                    raise fail(f"Unexpected end tag at byte offset {byte_offset(i)}")
                tag, start, fields = stack.pop()
                if name != tag:
                    raise fail(
                        f'Unmatched end tag at byte offset {byte_offset(i)}, expected "</{tag}>", '
                        f'found "</{name}>"'
                    )
                if plain_len > start and fields:
                    entities.append({**fields, "offset": start, "length": plain_len - start})
            else:
                match = re.match(r"[a-zA-Z][a-zA-Z0-9-]*", inner)
                name = match.group(0).lower() if match else ""
                if name not in _TAG_ENTITY:
                    raise fail(f'Unsupported start tag "{name}" at byte offset {byte_offset(i)}')
                attributes = {
                    m.group(1).lower(): next(g for g in m.groups()[1:] if g is not None)
                    for m in _ATTRIBUTE.finditer(inner[len(name) :])
                }
                fields = _entity_fields(name, attributes, stack)
                stack.append((name, plain_len, fields))
            i = end + 1
            continue
        if c == "&":
            match = re.match(r"&(#[0-9]{1,7}|#x[0-9a-fA-F]{1,6}|[a-zA-Z]{1,10});", source[i:])
            if match is None:
                raise fail(f"Can't find end of the entity starting at byte offset {byte_offset(i)}")
            name = match.group(1)
            if name.startswith("#x"):
                char = chr(int(name[2:], 16))
            elif name.startswith("#"):
                char = chr(int(name[1:]))
            else:
                char = _NAMED_ENTITIES.get(name.lower(), match.group(0))
            plain.append(char)
            plain_len += utf16_len(char)
            i += len(match.group(0))
            continue
        plain.append(c)
        plain_len += utf16_len(c)
        i += 1
    if stack:
        raise fail(f'Can\'t find end tag corresponding to start tag "{stack[-1][0]}"')
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return "".join(plain), entities


def _entity_fields(name: str, attributes: Mapping[str, str], stack: list[Any]) -> JSON:
    kind = _TAG_ENTITY[name]
    if name == "span":
        return {"type": "spoiler"} if attributes.get("class") == "tg-spoiler" else {}
    if name == "a":
        href = attributes.get("href")
        return {"type": "text_link", "url": href} if href else {}
    if name == "code" and stack and stack[-1][0] == "pre":
        # <pre><code class="language-x"> is one pre entity with a language.
        language = attributes.get("class", "").removeprefix("language-")
        if language:
            stack[-1][2]["language"] = language
        return {}
    return {"type": kind}


def strip_message(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram trims leading and trailing whitespace of a message and moves entities along."""
    stripped = text.strip()
    if not stripped:
        return "", []
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    size = utf16_len(stripped)
    kept: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, size)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept


# --- flood limits -------------------------------------------------------------------------------


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    burst: float
    tokens: float = -1.0
    stamp: float = 0.0

    def wait_needed(self, now: float) -> float:
        """Seconds until a token is free (0: one is free now)."""
        if self.tokens < 0:
            self.tokens, self.stamp = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self) -> None:
        self.tokens -= 1


@dataclass(frozen=True)
class FloodLimits:
    """Telegram's published limits (Bot FAQ)."""

    per_chat_rate: float = 1.0
    per_chat_burst: int = 3
    per_group_per_minute: int = 20
    overall_rate: float = 30.0
    overall_burst: int = 30


# --- what the fake records ----------------------------------------------------------------------


@dataclass
class SentMessage:
    """A message the bot put into a chat, as the user sees it."""

    chat_id: int
    message_id: int
    text: str  # plain text after entity parsing (the caption for a document)
    entities: list[JSON]
    raw_text: str  # the text or caption parameter as the bot sent it
    parse_mode: str | None
    reply_markup: JSON | None
    document: tuple[str, bytes, str] | None = None  # (file name, content, MIME type)
    poll: JSON | None = None  # the Poll object of a sendPoll (its current state)
    edits: list[str] = field(default_factory=list)  # earlier texts, oldest first
    at: float = field(default_factory=time.monotonic)  # when the fake received it

    @property
    def buttons(self) -> list[list[JSON]]:
        """The inline keyboard's rows (``[]`` when there is none)."""
        if not self.reply_markup:
            return []
        rows: list[list[JSON]] = self.reply_markup.get("inline_keyboard", [])
        return rows

    def button_labels(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]

    def formatted(self, entity_type: str) -> list[str]:
        """The pieces of text carrying ``entity_type`` (``"bold"``, ``"code"``, ...)."""
        units = self.text.encode("utf-16-le")
        return [
            units[2 * e["offset"] : 2 * (e["offset"] + e["length"])].decode("utf-16-le")
            for e in self.entities
            if e["type"] == entity_type
        ]


@dataclass(frozen=True)
class ApiCall:
    method: str  # as in the URL
    params: JSON
    status: int


class PollClosed(LookupError):
    """A user tried to vote in a poll that is closed (Telegram's apps do not let them)."""


@dataclass
class _Failure:
    code: int
    description: str
    retry_after: int | None
    methods: frozenset[str]


class FakeBotAPI:
    """A Bot-API-compatible server for tests. Use ``async with FakeBotAPI() as fake:``."""

    def __init__(
        self,
        token: str = "123456789:TEST-innobot-token",
        *,
        limits: FloodLimits | None = FloodLimits(),
        clock: Callable[[], float] = time.monotonic,
        bot_username: str = "innobot_test_bot",
    ) -> None:
        self.token = token
        self.bot_user: JSON = {
            "id": int(token.split(":", 1)[0]),
            "is_bot": True,
            "first_name": "innobot",
            "username": bot_username,
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }
        self.limits = limits
        self.clock = clock
        self.calls: list[ApiCall] = []
        self.chat_actions: list[tuple[int, str]] = []
        self.answered_callbacks: dict[str, JSON] = {}  # query id -> answer parameters
        self.webhook_url: str | None = None
        self.webhook_secret: str | None = None
        self.webhook_statuses: list[int] = []  # HTTP status of every webhook delivery
        self.allowed_updates: frozenset[str] = DEFAULT_UPDATES  # as the bot last asked
        self.dropped_updates: list[JSON] = []  # injected updates of types the bot did not want
        self.deleted: list[tuple[int, int]] = []  # (chat, message) deleted by the bot
        self.restrictions: list[tuple[int, int, JSON, int]] = []  # (chat, user, rights, until)

        self._users: dict[int, JSON] = {}
        self._chats: dict[int, JSON] = {}
        self._blocked: set[int] = set()
        # Group members by chat, as ChatMember objects (innobot's own included).
        self._members: dict[int, dict[int, JSON]] = defaultdict(dict)
        self._polls: dict[str, JSON] = {}  # poll id -> {"poll", "chat", "message", "votes"}
        self._poll_ids = itertools.count(5_000_000_000_000_000_001)
        self._messages: dict[int, list[JSON]] = defaultdict(list)  # every message, by chat
        self._sent: dict[int, list[SentMessage]] = defaultdict(list)
        self._next_message_id: dict[int, int] = defaultdict(lambda: 1)
        self._update_ids = itertools.count(1)
        self._query_ids = itertools.count(1)
        self._open_queries: set[str] = set()
        self._pending: deque[JSON] = deque()  # updates not yet confirmed by an offset
        self._updates_arrived = asyncio.Event()
        # Set while a getUpdates call waits for updates (tests use it to inject mid-poll).
        self.poll_waiting = asyncio.Event()
        self._waiters: dict[int, list[tuple[int, asyncio.Future[None]]]] = defaultdict(list)
        self._call_logged = asyncio.Event()
        self._failures: deque[_Failure] = deque()
        self._chat_buckets: dict[int, TokenBucket] = {}
        self._overall_bucket: TokenBucket | None = None
        self._webhook_queue: asyncio.Queue[JSON] = asyncio.Queue()
        self._webhook_task: asyncio.Task[None] | None = None
        self._webhook_idle = asyncio.Event()
        self._webhook_idle.set()
        self._session: aiohttp.ClientSession | None = None
        self._runner: web.AppRunner | None = None
        self._closing = False
        self.port = 0

    # -- lifecycle --

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = int(self._runner.addresses[0][1])
        self._session = aiohttp.ClientSession()
        self._webhook_task = asyncio.create_task(self._deliver_webhooks())

    async def close(self) -> None:
        self._closing = True
        self._updates_arrived.set()  # end the long polls in progress
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
        if self._session is not None:
            await self._session.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> FakeBotAPI:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def base_url(self) -> str:
        """For ``ApplicationBuilder().base_url(...)``: the bot appends its token."""
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    # -- test controls --

    def add_user(
        self,
        user_id: int,
        *,
        first_name: str = "Ada",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        """Register a user (and their private chat with the bot); returns the User object."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self._users[user_id] = user
        chat = {k: v for k, v in user.items() if k in ("id", "first_name", "last_name", "username")}
        self._chats[user_id] = {**chat, "type": "private"}
        return user

    def add_group(self, chat_id: int, title: str = "Innovation circle") -> None:
        """A supergroup innobot is an ordinary member of (no admin rights)."""
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        self._chats[chat_id] = {"id": chat_id, "type": "supergroup", "title": title}
        self._members[chat_id].setdefault(
            self.bot_user["id"], {"status": "member", "user": self.bot_user}
        )

    def set_member(
        self,
        chat_id: int,
        user_id: int,
        status: str = "member",
        *,
        can_delete_messages: bool = False,
        can_restrict_members: bool = False,
        by: int | None = None,
    ) -> JSON:
        """Give ``user_id`` (innobot's own id included) ``status`` in the group: ``creator``,
        ``administrator`` (with the two rights innobot cares about), ``member``, ``left`` or
        ``kicked``. ``by``: the admin who made the change; a change of innobot's own status then
        reaches it as a ``my_chat_member`` update, as on Telegram."""
        if chat_id not in self._chats:
            self.add_group(chat_id)
        bot_id = self.bot_user["id"]
        user = self.bot_user if user_id == bot_id else self._users.get(user_id)
        if user is None:
            user = self.add_user(user_id)
        member: JSON = {"status": status, "user": user}
        if status == "creator":
            member["is_anonymous"] = False
        elif status == "administrator":
            rights = dict.fromkeys(ADMIN_RIGHTS, False)
            rights.update(
                can_manage_chat=True,
                can_delete_messages=can_delete_messages,
                can_restrict_members=can_restrict_members,
            )
            member.update(can_be_edited=user_id == bot_id, is_anonymous=False, **rights)
        elif status == "kicked":
            member["until_date"] = 0
        elif status not in ("member", "left"):
            raise ValueError(f"unknown member status {status!r}")
        old = self._members[chat_id].get(user_id, {"status": "left", "user": user})
        self._members[chat_id][user_id] = member
        if user_id == bot_id and by is not None:
            self._enqueue(
                {
                    "update_id": next(self._update_ids),
                    "my_chat_member": {
                        "chat": self._chats[chat_id],
                        "from": self._users[by] if by in self._users else self.add_user(by),
                        "date": int(time.time()),
                        "old_chat_member": old,
                        "new_chat_member": member,
                    },
                }
            )
        return member

    def delete_by_author(self, chat_id: int, message_id: int) -> None:
        """The message's author deletes it (bots are not told)."""
        messages = self._messages[chat_id]
        messages[:] = [m for m in messages if m["message_id"] != message_id]

    def member(self, chat_id: int, user_id: int) -> JSON:
        """``user_id``'s ChatMember object in the group (``left`` if never there)."""
        user = self.bot_user if user_id == self.bot_user["id"] else self._users.get(user_id)
        return self._members[chat_id].get(user_id, {"status": "left", "user": user})

    def block(self, user_id: int) -> None:
        """The user blocks the bot: every send into their chat answers 403."""
        self._blocked.add(user_id)

    def fail_next(
        self,
        count: int,
        status: int,
        *,
        retry_after: int = 3,
        description: str | None = None,
        methods: Iterable[str] = SENDING_METHODS,
    ) -> None:
        """Make the next ``count`` calls of ``methods`` fail with ``status`` (429, 500, 403...)."""
        default = {
            429: f"Too Many Requests: retry after {retry_after}",
            403: "Forbidden: bot was blocked by the user",
            500: "Internal Server Error",
            502: "Bad Gateway",
            400: "Bad Request: chat not found",
        }
        failure = _Failure(
            code=status,
            description=description or default.get(status, "Internal Server Error"),
            retry_after=retry_after if status == 429 else None,
            methods=frozenset(m.lower() for m in methods),
        )
        self._failures.extend([failure] * count)

    def send_text(
        self,
        user_id: int,
        text: str,
        *,
        chat_id: int | None = None,
        language_code: str | None = "en",
        first_name: str = "Ada",
        last_name: str | None = None,
        reply_to: int | None = None,
    ) -> JSON:
        """The user sends ``text`` (a ``/command`` carries a bot_command entity), as a reply to
        message ``reply_to`` of the same chat if given."""
        fields: JSON = {"text": text}
        if text.startswith("/"):
            command = text.split(maxsplit=1)[0]
            fields["entities"] = [
                {"type": "bot_command", "offset": 0, "length": utf16_len(command)}
            ]
        if reply_to is not None:
            where = user_id if chat_id is None else chat_id
            quoted = next((m for m in self._messages[where] if m["message_id"] == reply_to), None)
            if quoted is None:
                raise LookupError(f"no message {reply_to} in chat {where}")
            fields["reply_to_message"] = {
                k: v for k, v in quoted.items() if k != "reply_to_message"
            }
        return self._user_message(user_id, chat_id, language_code, first_name, last_name, fields)

    def join_group(
        self,
        user_id: int,
        chat_id: int,
        *,
        language_code: str | None = "en",
        first_name: str = "Ada",
    ) -> JSON:
        """The user joins the group: the service message listing the new member."""
        if user_id not in self._users or self._users[user_id].get("language_code") != language_code:
            self.add_user(user_id, first_name=first_name, language_code=language_code)
        fields: JSON = {"new_chat_members": [self._users[user_id]]}
        return self._user_message(user_id, chat_id, language_code, first_name, None, fields)

    def send_sticker(self, user_id: int, *, language_code: str | None = "en") -> JSON:
        sticker = {
            "file_id": "CAACAgIAAxkBAAIBsticker",
            "file_unique_id": "AgADsticker",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "type": "regular",
            "emoji": "👍",
        }
        return self._user_message(user_id, None, language_code, "Ada", None, {"sticker": sticker})

    def send_photo(self, user_id: int, caption: str | None = None) -> JSON:
        sizes = [
            {"file_id": f"AgACphoto{w}", "file_unique_id": f"AQADphoto{w}", "width": w, "height": w}
            for w in (90, 320, 800)
        ]
        fields: JSON = {"photo": sizes}
        if caption:
            fields["caption"] = caption
        return self._user_message(user_id, None, "en", "Ada", None, fields)

    def send_voice(self, user_id: int) -> JSON:
        voice = {
            "file_id": "AwACvoice",
            "file_unique_id": "AgADvoice",
            "duration": 3,
            "mime_type": "audio/ogg",
        }
        return self._user_message(user_id, None, "en", "Ada", None, {"voice": voice})

    def send_document(self, user_id: int, file_name: str = "idea.pdf") -> JSON:
        document = {
            "file_id": "BQACdocument",
            "file_unique_id": "AgADdocument",
            "file_name": file_name,
            "mime_type": "application/pdf",
        }
        return self._user_message(user_id, None, "en", "Ada", None, {"document": document})

    def press_button(self, user_id: int, callback_data: str, message_id: int) -> JSON:
        """The user presses the button carrying ``callback_data`` under the bot's message."""
        chat_id = user_id
        message = next((m for m in self._messages[chat_id] if m["message_id"] == message_id), None)
        if message is None:
            raise LookupError(f"no message {message_id} in chat {chat_id}")
        rows = message.get("reply_markup", {}).get("inline_keyboard", [])
        if not any(b.get("callback_data") == callback_data for row in rows for b in row):
            raise LookupError(f"message {message_id} has no button {callback_data!r}")
        query_id = str(next(self._query_ids) * 7919)
        self._open_queries.add(query_id)
        update = {
            "update_id": next(self._update_ids),
            "callback_query": {
                "id": query_id,
                "from": self._users[user_id],
                "message": message,
                "chat_instance": f"-{chat_id}77",
                "data": callback_data,
            },
        }
        self._enqueue(update)
        return update

    def press_button_labelled(self, user_id: int, label: str) -> JSON:
        """Press the button whose label is ``label`` on the newest message that shows one."""
        for sent in reversed(self._sent[user_id]):
            for row in sent.buttons:
                for button in row:
                    if button["text"] == label and "callback_data" in button:
                        return self.press_button(user_id, button["callback_data"], sent.message_id)
        raise LookupError(f"no button labelled {label!r} in chat {user_id}")

    def answer_poll(self, user_id: int, poll_id: str, option_ids: Iterable[int]) -> JSON:
        """The user votes for ``option_ids`` in the poll (none: takes the vote back).

        Raises :class:`PollClosed` for a closed poll and ValueError for what Telegram's apps do
        not allow (unknown options, several in a single-answer poll, a change where revoting is
        off, taking back a vote never given). A non-anonymous poll's bot gets a ``poll_answer``.
        """
        entry = self._polls.get(poll_id)
        if entry is None:
            raise LookupError(f"no poll {poll_id}")
        poll, votes = entry["poll"], entry["votes"]
        if poll["is_closed"]:
            raise PollClosed(f"poll {poll_id} is closed")
        chosen = list(option_ids)
        options = poll["options"]
        if any(not 0 <= i < len(options) for i in chosen) or len(set(chosen)) != len(chosen):
            raise ValueError(f"invalid option ids {chosen}")
        if len(chosen) > 1 and not poll["allows_multiple_answers"]:
            raise ValueError("this poll takes one answer")
        earlier = votes.get(user_id)
        if not chosen and earlier is None:
            raise ValueError("no vote to take back")
        if earlier is not None and chosen and not poll["allows_revoting"]:
            raise ValueError("this poll does not allow changing the answer")
        for i in earlier or ():
            options[i]["voter_count"] -= 1
        for i in chosen:
            options[i]["voter_count"] += 1
        if chosen:
            votes[user_id] = chosen
        else:
            votes.pop(user_id, None)
        poll["total_voter_count"] = len(votes)
        if user_id not in self._users:
            self.add_user(user_id)
        update: JSON = {"update_id": next(self._update_ids), "poll": json.loads(json.dumps(poll))}
        self._enqueue(update)
        if poll["is_anonymous"]:
            return update
        answer = {
            "update_id": next(self._update_ids),
            "poll_answer": {
                "poll_id": poll_id,
                "user": self._users[user_id],
                "option_ids": chosen,
                "option_persistent_ids": [options[i]["persistent_id"] for i in chosen],
            },
        }
        self._enqueue(answer)
        return answer

    def polls(self, chat_id: int) -> list[SentMessage]:
        """The polls the bot sent into ``chat_id``, in order."""
        return [m for m in self._sent[chat_id] if m.poll is not None]

    def sent(self, chat_id: int) -> list[SentMessage]:
        """Everything the bot put into ``chat_id``, in order."""
        return list(self._sent[chat_id])

    def all_sent(self) -> list[SentMessage]:
        return [m for messages in self._sent.values() for m in messages]

    @property
    def pending_updates(self) -> int:
        return len(self._pending)

    async def wait_for_messages(
        self, chat_id: int, count: int, timeout: float = 10.0
    ) -> list[SentMessage]:
        """Wait until the bot has sent at least ``count`` messages into ``chat_id``; return all."""
        if len(self._sent[chat_id]) < count:
            waiter = (count, asyncio.get_running_loop().create_future())
            self._waiters[chat_id].append(waiter)
            try:
                async with asyncio.timeout(timeout):
                    await waiter[1]
            except TimeoutError:
                got = [m.text[:80] for m in self._sent[chat_id]]
                raise AssertionError(
                    f"expected {count} messages in chat {chat_id} within {timeout}s, got {got}"
                ) from None
            finally:
                self._waiters[chat_id].remove(waiter)
        return list(self._sent[chat_id])

    async def wait_for_call(
        self,
        method: str,
        *,
        status: int | None = None,
        chat_id: int | None = None,
        timeout: float = 10.0,
    ) -> ApiCall:
        """Wait for a call of ``method`` (answered with ``status``, into ``chat_id``)."""

        def matches(call: ApiCall) -> bool:
            return (
                call.method.lower() == method.lower()
                and (status is None or call.status == status)
                and (chat_id is None or str(call.params.get("chat_id")) == str(chat_id))
            )

        async with asyncio.timeout(timeout):
            while True:
                found = next((call for call in self.calls if matches(call)), None)
                if found is not None:
                    return found
                self._call_logged.clear()
                await self._call_logged.wait()

    async def wait_for_webhook_deliveries(self, timeout: float = 10.0) -> None:
        """Wait until every injected update has been POSTed to the webhook."""
        async with asyncio.timeout(timeout):
            await self._webhook_idle.wait()

    # -- update injection --

    def _user_message(
        self,
        user_id: int,
        chat_id: int | None,
        language_code: str | None,
        first_name: str,
        last_name: str | None,
        fields: JSON,
    ) -> JSON:
        if user_id not in self._users or self._users[user_id].get("language_code") != language_code:
            self.add_user(
                user_id, first_name=first_name, last_name=last_name, language_code=language_code
            )
        chat_id = user_id if chat_id is None else chat_id
        if chat_id not in self._chats:
            self.add_group(chat_id)
        if chat_id < 0 and user_id not in self._members[chat_id]:
            self._members[chat_id][user_id] = {"status": "member", "user": self._users[user_id]}
        message = {
            "message_id": self._new_message_id(chat_id),
            "from": self._users[user_id],
            "chat": self._chats[chat_id],
            "date": int(time.time()),
            **fields,
        }
        self._messages[chat_id].append(message)
        update = {"update_id": next(self._update_ids), "message": message}
        self._enqueue(update)
        return update

    def deliver_again(self, update: JSON) -> None:
        """Send ``update`` once more, as Telegram does when it saw no confirmation of it: a
        webhook answer that did not arrive, or a bot that stopped before its next getUpdates
        confirmed the update (in polling mode an update behind the bot's offset stays dropped)."""
        self._enqueue(json.loads(json.dumps(update)))

    def _enqueue(self, update: JSON) -> None:
        kind = next(key for key in update if key != "update_id")
        if kind not in self.allowed_updates:
            self.dropped_updates.append(update)
            return
        if self.webhook_url:
            self._webhook_idle.clear()
            self._webhook_queue.put_nowait(update)
        else:
            self._pending.append(update)
            self._updates_arrived.set()

    def _new_message_id(self, chat_id: int) -> int:
        message_id = self._next_message_id[chat_id]
        self._next_message_id[chat_id] += 1
        return message_id

    async def _deliver_webhooks(self) -> None:
        assert self._session is not None
        while True:
            update = await self._webhook_queue.get()
            url = self.webhook_url
            if url is None:  # webhook deleted meanwhile: back to getUpdates
                self._pending.append(update)
                self._updates_arrived.set()
            else:
                headers = {SECRET_HEADER: self.webhook_secret} if self.webhook_secret else {}
                try:
                    async with self._session.post(url, json=update, headers=headers) as response:
                        self.webhook_statuses.append(response.status)
                except aiohttp.ClientError:
                    self.webhook_statuses.append(0)
            if self._webhook_queue.empty():
                self._webhook_idle.set()

    # -- the HTTP API --

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: JSON = {}
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            params = await _read_params(request)
            handler = getattr(self, f"_api_{method.lower()}", None)
            if handler is None:
                raise ApiError(400, "Bad Request: method not found")  # Telegram itself says 404
            self._check_injected_failure(method.lower())
            result = await handler(params)
        except ApiError as error:
            self._log_call(method, params, error.code)
            return web.json_response(error.body(), status=error.code)
        self._log_call(method, params, 200)
        return web.json_response({"ok": True, "result": result})

    def _log_call(self, method: str, params: JSON, status: int) -> None:
        logged = {k: v for k, v in params.items() if not isinstance(v, bytes)}
        self.calls.append(ApiCall(method, logged, status))
        self._call_logged.set()

    def _check_injected_failure(self, method: str) -> None:
        if self._failures and method in self._failures[0].methods:
            failure = self._failures.popleft()
            raise ApiError(failure.code, failure.description, failure.retry_after)

    def _chat(self, params: JSON) -> JSON:
        try:
            chat_id = int(params.get("chat_id", ""))
        except (TypeError, ValueError):
            raise bad_request("chat not found") from None
        chat = self._chats.get(chat_id)
        if chat is None:
            raise bad_request("chat not found")
        if chat_id in self._blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id < 0:
            status = self.member(chat_id, self.bot_user["id"])["status"]
            if status == "kicked":
                raise ApiError(403, "Forbidden: bot was kicked from the supergroup chat")
            if status == "left":
                raise ApiError(403, "Forbidden: bot is not a member of the supergroup chat")
        return chat

    def _check_flood(self, chat_id: int) -> None:
        if self.limits is None:
            return
        now = self.clock()
        limits = self.limits
        if chat_id not in self._chat_buckets:
            if chat_id < 0:
                per_minute = limits.per_group_per_minute
                self._chat_buckets[chat_id] = TokenBucket(per_minute / 60, per_minute)
            else:
                self._chat_buckets[chat_id] = TokenBucket(
                    limits.per_chat_rate, limits.per_chat_burst
                )
        if self._overall_bucket is None:
            self._overall_bucket = TokenBucket(limits.overall_rate, limits.overall_burst)
        buckets = (self._chat_buckets[chat_id], self._overall_bucket)
        wait = max(bucket.wait_needed(now) for bucket in buckets)
        if wait > 0:
            raise too_many_requests(max(1, math.ceil(wait)))
        for bucket in buckets:
            bucket.take()

    def _format(
        self, text: str, parse_mode: str | None, limit: int, what: str
    ) -> tuple[str, list[JSON]]:
        entities: list[JSON] = []
        if parse_mode is None or parse_mode == "":
            plain = text
        elif parse_mode.lower() == "html":
            plain, entities = parse_html(text)
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode!r} in this fake")
        plain, entities = strip_message(plain, entities)
        if len(plain) > limit:
            raise bad_request(f"message {what} is too long")
        return plain, entities

    def _bot_message(self, chat: JSON, fields: JSON) -> JSON:
        message = {
            "message_id": self._new_message_id(chat["id"]),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
            **{k: v for k, v in fields.items() if v not in (None, [])},
        }
        self._messages[chat["id"]].append(message)
        return message

    async def _record(self, sent: SentMessage) -> None:
        self._sent[sent.chat_id].append(sent)
        for count, future in self._waiters.get(sent.chat_id, ()):
            if len(self._sent[sent.chat_id]) >= count and not future.done():
                future.set_result(None)

    async def _api_getme(self, params: JSON) -> JSON:
        return self.bot_user

    def _allow(self, wanted: Any) -> None:
        """``allowed_updates`` of getUpdates / setWebhook: kept until asked differently."""
        if wanted is None:
            return
        if not isinstance(wanted, list):
            raise bad_request("can't parse allowed updates JSON array")
        self.allowed_updates = frozenset(str(w) for w in wanted) or DEFAULT_UPDATES

    async def _api_getupdates(self, params: JSON) -> list[JSON]:
        if self.webhook_url:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        self._allow(params.get("allowed_updates"))
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = max(float(params.get("timeout") or 0), 0.0)
        if offset > 0:
            while self._pending and self._pending[0]["update_id"] < offset:
                self._pending.popleft()
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._pending and not self._closing:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                break
            self._updates_arrived.clear()
            self.poll_waiting.set()
            try:
                async with asyncio.timeout(remaining):
                    await self._updates_arrived.wait()
            except TimeoutError:
                pass
            finally:
                self.poll_waiting.clear()
        if offset < 0:
            return list(self._pending)[offset:][:limit]
        return list(self._pending)[:limit]

    async def _api_deletewebhook(self, params: JSON) -> bool:
        self.webhook_url = None
        self.webhook_secret = None
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending.clear()
        return True

    async def _api_setwebhook(self, params: JSON) -> bool:
        url = params.get("url", "")
        if not url:
            return await self._api_deletewebhook(params)
        if not str(url).startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise bad_request("bad webhook: secret token contains unallowed characters")
        self._allow(params.get("allowed_updates"))
        self.webhook_url = str(url)
        self.webhook_secret = None if secret is None else str(secret)
        if params.get("drop_pending_updates") in (True, "true", "True"):
            self._pending.clear()
        while self._pending:  # what was waiting for getUpdates now goes to the webhook
            self._webhook_idle.clear()
            self._webhook_queue.put_nowait(self._pending.popleft())
        return True

    async def _api_getwebhookinfo(self, params: JSON) -> JSON:
        return {
            "url": self.webhook_url or "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._pending) + self._webhook_queue.qsize(),
        }

    async def _api_sendmessage(self, params: JSON) -> JSON:
        chat = self._chat(params)
        text = str(params.get("text", ""))
        parse_mode = params.get("parse_mode")
        plain, entities = self._format(text, parse_mode, MESSAGE_MAX, "text")
        if not plain:
            raise bad_request("message text is empty")
        markup = _check_markup(params.get("reply_markup"))
        self._check_flood(chat["id"])
        message = self._bot_message(
            chat, {"text": plain, "entities": entities, "reply_markup": markup}
        )
        await self._record(
            SentMessage(
                chat["id"], message["message_id"], plain, entities, text, parse_mode, markup
            )
        )
        return message

    async def _api_editmessagetext(self, params: JSON) -> JSON:
        chat = self._chat(params)
        message_id = int(params.get("message_id") or 0)
        message = next(
            (
                m
                for m in self._messages[chat["id"]]
                if m["message_id"] == message_id and m["from"]["id"] == self.bot_user["id"]
            ),
            None,
        )
        if message is None:
            raise bad_request("message to edit not found")
        text = str(params.get("text", ""))
        parse_mode = params.get("parse_mode")
        plain, entities = self._format(text, parse_mode, MESSAGE_MAX, "text")
        if not plain:
            raise bad_request("message text is empty")
        markup = _check_markup(params.get("reply_markup"))
        if (
            plain == message.get("text")
            and entities == message.get("entities", [])
            and (markup == message.get("reply_markup"))
        ):
            raise bad_request(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        self._check_flood(chat["id"])
        message.update({"text": plain, "entities": entities, "edit_date": int(time.time())})
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        for sent in self._sent[chat["id"]]:
            if sent.message_id == message_id:
                sent.edits.append(sent.text)
                sent.text, sent.entities, sent.raw_text = plain, entities, text
                sent.reply_markup = markup
        return message

    async def _api_answercallbackquery(self, params: JSON) -> bool:
        query_id = str(params.get("callback_query_id", ""))
        if query_id not in self._open_queries:
            raise bad_request(
                "query is too old and response timeout expired or query id is invalid"
            )
        text = params.get("text")
        if text is not None and len(str(text)) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self._open_queries.discard(query_id)
        self.answered_callbacks[query_id] = params
        return True

    async def _api_senddocument(self, params: JSON) -> JSON:
        chat = self._chat(params)
        upload = params.get("document")
        if not isinstance(upload, _Upload):
            raise bad_request("there is no document in the request")
        caption = str(params.get("caption") or "")
        parse_mode = params.get("parse_mode")
        plain, entities = self._format(caption, parse_mode, CAPTION_MAX, "caption")
        markup = _check_markup(params.get("reply_markup"))
        self._check_flood(chat["id"])
        document = {
            "file_id": f"BQACAgIAAxkB{len(self._messages[chat['id']])}",
            "file_unique_id": f"AgAD{len(upload.content)}",
            "file_name": upload.filename,
            "mime_type": upload.content_type,
            "file_size": len(upload.content),
        }
        message = self._bot_message(
            chat,
            {
                "document": document,
                "caption": plain or None,
                "caption_entities": entities,
                "reply_markup": markup,
            },
        )
        await self._record(
            SentMessage(
                chat["id"],
                message["message_id"],
                plain,
                entities,
                caption,
                parse_mode,
                markup,
                document=(upload.filename, upload.content, upload.content_type),
            )
        )
        return message

    # -- polls --

    async def _api_sendpoll(self, params: JSON) -> JSON:
        chat = self._chat(params)
        question = str(params.get("question", "")).strip()
        if not question:
            raise bad_request("poll question must be non-empty")
        if len(question) > POLL_QUESTION_MAX:
            raise bad_request(f"poll question length must not exceed {POLL_QUESTION_MAX}")
        raw = params.get("options")
        if not isinstance(raw, list):
            raise bad_request("can't parse options JSON object")
        texts: list[str] = []
        for option in raw:
            # Bot API 7.3+: InputPollOption objects; plain strings are still accepted.
            text = option.get("text") if isinstance(option, dict) else option
            if not isinstance(text, str):
                raise bad_request("can't parse InputPollOption")
            text = text.strip()
            if not text:
                raise bad_request("poll options must be non-empty")
            if len(text) > POLL_OPTION_MAX:
                raise bad_request(f"poll options length must not exceed {POLL_OPTION_MAX}")
            texts.append(text)
        if len(texts) < POLL_OPTIONS_MIN:
            raise bad_request(f"poll must have at least {POLL_OPTIONS_MIN} option")
        if len(texts) > POLL_OPTIONS_MAX:
            raise bad_request(f"poll can't have more than {POLL_OPTIONS_MAX} options")
        kind = str(params.get("type") or "regular")
        if kind not in POLL_TYPES:
            raise bad_request("wrong poll type specified")
        if kind == "quiz":
            raise bad_request("quizzes are not supported by this fake")
        anonymous = _flag(params, "is_anonymous", True)
        if not anonymous and chat["type"] == "channel":
            raise bad_request("non-anonymous polls can't be sent to channel chats")
        markup = _check_markup(params.get("reply_markup"))
        self._check_flood(chat["id"])
        poll_id = str(next(self._poll_ids))
        poll: JSON = {
            "id": poll_id,
            "question": question,
            "options": [
                {"text": text, "voter_count": 0, "persistent_id": f"{poll_id}-{n}"}
                for n, text in enumerate(texts)
            ],
            "total_voter_count": 0,
            "is_closed": _flag(params, "is_closed", False),
            "is_anonymous": anonymous,
            "type": kind,
            "allows_multiple_answers": _flag(params, "allows_multiple_answers", False),
            "allows_revoting": _flag(params, "allows_revoting", kind == "regular"),
            "members_only": False,
        }
        message = self._bot_message(chat, {"poll": poll, "reply_markup": markup})
        self._polls[poll_id] = {
            "poll": poll,
            "chat": chat["id"],
            "message": message["message_id"],
            "votes": {},
        }
        await self._record(
            SentMessage(
                chat["id"], message["message_id"], question, [], question, None, markup, poll=poll
            )
        )
        return message

    async def _api_stoppoll(self, params: JSON) -> JSON:
        chat = self._chat(params)
        message_id = _int(params.get("message_id"))
        entry = next(
            (
                e
                for e in self._polls.values()
                if e["chat"] == chat["id"] and e["message"] == message_id
            ),
            None,
        )
        if entry is None:
            raise bad_request("message with poll to stop not found")
        if entry["poll"]["is_closed"]:
            raise bad_request("poll has already been closed")
        entry["poll"]["is_closed"] = True
        return dict(entry["poll"])

    # -- group administration --

    def _rights(self, chat_id: int) -> JSON:
        return self.member(chat_id, self.bot_user["id"])

    def _can(self, chat_id: int, right: str) -> bool:
        member = self._rights(chat_id)
        return member["status"] == "creator" or (
            member["status"] == "administrator" and bool(member.get(right))
        )

    async def _api_deletemessage(self, params: JSON) -> bool:
        chat = self._chat(params)
        message_id = _int(params.get("message_id"))
        messages = self._messages[chat["id"]]
        message = next((m for m in messages if m["message_id"] == message_id), None)
        if message is None:
            raise bad_request("message to delete not found")
        own = message["from"]["id"] == self.bot_user["id"]
        if chat["id"] < 0:
            if not own and not self._can(chat["id"], "can_delete_messages"):
                raise bad_request("message can't be deleted for everyone")
            if time.time() - message["date"] > DELETE_WINDOW:
                raise bad_request("message can't be deleted for everyone")
        messages.remove(message)
        self.deleted.append((chat["id"], message_id))
        return True

    async def _api_restrictchatmember(self, params: JSON) -> bool:
        chat = self._chat(params)
        if chat["type"] != "supergroup":
            raise bad_request("method is available only for supergroups")
        user_id = _int(params.get("user_id"))
        permissions = params.get("permissions")
        if not isinstance(permissions, dict):
            raise bad_request("can't parse chat permissions JSON object")
        if not self._can(chat["id"], "can_restrict_members"):
            raise bad_request("not enough rights to restrict/unrestrict chat member")
        if user_id == self.bot_user["id"]:
            raise bad_request("can't restrict self")
        target = self._members[chat["id"]].get(user_id)
        if target is None or user_id not in self._users:
            raise bad_request("user not found")
        if target["status"] in ("creator", "administrator"):
            raise bad_request("user is an administrator of the chat")
        until = _int(params.get("until_date") or 0)
        left = until - time.time()
        if until and not RESTRICT_MIN <= left <= RESTRICT_MAX:
            until = 0  # forever, as Telegram reads it
        rights = {name: bool(permissions.get(name, False)) for name in MEMBER_PERMISSIONS}
        self.restrictions.append((chat["id"], user_id, rights, until))
        if all(rights.values()):  # every permission given: an ordinary member again
            if target["status"] != "left":
                self._members[chat["id"]][user_id] = {"status": "member", "user": target["user"]}
            return True
        self._members[chat["id"]][user_id] = {
            "status": "restricted",
            "user": self._users[user_id],
            "is_member": target["status"] != "left",
            "until_date": until,
            **rights,
        }
        return True

    async def _api_getchatmember(self, params: JSON) -> JSON:
        chat = self._chat(params)
        user_id = _int(params.get("user_id"))
        if user_id != self.bot_user["id"] and user_id not in self._users:
            raise bad_request("user not found")
        if chat["id"] > 0:
            user = self.bot_user if user_id == self.bot_user["id"] else self._users[user_id]
            return {"status": "member", "user": user}
        return self.member(chat["id"], user_id)

    async def _api_getchatadministrators(self, params: JSON) -> list[JSON]:
        chat = self._chat(params)
        if chat["id"] > 0:
            raise bad_request("there are no administrators in the private chat")
        return [
            m
            for m in self._members[chat["id"]].values()
            if m["status"] in ("creator", "administrator")
        ]

    async def _api_sendchataction(self, params: JSON) -> bool:
        chat = self._chat(params)
        action = str(params.get("action", ""))
        if action not in CHAT_ACTIONS:
            raise bad_request("wrong parameter action in request")
        self.chat_actions.append((chat["id"], action))
        return True


@dataclass(frozen=True)
class _Upload:
    filename: str
    content: bytes
    content_type: str


async def _read_params(request: web.Request) -> JSON:
    """Query string plus body: form fields (JSON inside for non-strings), multipart or JSON."""
    params: JSON = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
        return params
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        form = await request.post()
        for name, value in form.items():
            if isinstance(value, web.FileField):
                params[name] = _Upload(
                    value.filename,
                    value.file.read(),
                    value.content_type or "application/octet-stream",
                )
            else:
                params[name] = _decode_field(name, str(value))
    return params


# Fields whose values are objects or arrays; they arrive as JSON inside form fields.
_JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "link_preview_options",
        "reply_parameters",
        "options",
        "permissions",
    }
)


def _flag(params: JSON, name: str, default: bool) -> bool:
    """A Boolean parameter (``true``/``false`` in a form field, or JSON true/false)."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if str(value).lower() in ("true", "1"):
        return True
    if str(value).lower() in ("false", "0"):
        return False
    raise bad_request(f"can't parse {name} as Boolean")


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request("wrong integer value") from None


def _decode_field(name: str, value: str) -> Any:
    if name in _JSON_FIELDS:
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _check_markup(markup: Any) -> JSON | None:
    if markup is None or markup == "":
        return None
    if isinstance(markup, str):
        try:
            markup = json.loads(markup)
        except json.JSONDecodeError:
            raise bad_request("can't parse reply keyboard markup JSON object") from None
    if not isinstance(markup, dict):
        raise bad_request("object expected as reply markup")
    rows = markup.get("inline_keyboard")
    if rows is None:
        return markup
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise bad_request('field "inline_keyboard" of the InlineKeyboardMarkup must be an Array')
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not str(button.get("text", "")).strip():
                raise bad_request("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            actions = {"callback_data", "url", "switch_inline_query", "copy_text", "web_app"}
            if not actions & set(button):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_MAX:
                raise bad_request("BUTTON_DATA_INVALID")
    return markup
