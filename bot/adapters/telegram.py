"""innobot on Telegram: updates in (long polling or webhook), replies out as HTML with buttons.

:func:`to_incoming` turns a Telegram update into an :class:`IncomingMessage`; everything else
about Telegram (python-telegram-bot's Application, rate limits, HTML, message size, error codes)
stays in :class:`TelegramAdapter`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import logging
import os
import re
import time
import warnings
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from functools import partial
from typing import Any, Final

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from telegram import (
    ChatMember,
    ChatMemberUpdated,
    ChatPermissions,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputPollOption,
    Message,
    PollAnswer,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode, PollLimit, PollType
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    RetryAfter,
    TelegramError,
)
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    BaseUpdateProcessor,
    ContextTypes,
    TypeHandler,
)
from telegram.warnings import PTBDeprecationWarning

from bot.adapters.base import (
    DeliveryError,
    Pacing,
    PermanentFailure,
    Receipt,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from bot.settings import Settings
from handlers.context import COMMAND_PREFIX
from handlers.core import (
    ContentKind,
    Document,
    GroupAction,
    IncomingMessage,
    Platform,
    Poll,
    Quoted,
    Reply,
)
from handlers.markup import to_html
from storage import engagement as engagement_store

log = logging.getLogger(__name__)

# Opt in to python-telegram-bot's coming time-period types (timedelta) now: innobot reads them
# either way, and PTB stops warning about the change on every flood-control answer.
os.environ.setdefault("PTB_TIMEDELTA", "true")

TEXT_LIMIT: Final = 4096  # Telegram's limit on one message's text
CALLBACK_DATA_LIMIT: Final = 64  # bytes
DISPLAY_NAME_LIMIT: Final = 128
# Poll answers (of innobot's non-anonymous polls) and changes of innobot's own membership in a
# group are asked for explicitly: they are not message updates.
ALLOWED_UPDATES: Final = [
    Update.MESSAGE,
    Update.CALLBACK_QUERY,
    Update.POLL_ANSWER,
    Update.MY_CHAT_MEMBER,
]
POLL_TIMEOUT: Final = 30  # seconds a getUpdates call may wait for updates
MAX_CONCURRENT_UPDATES: Final = 64
UPDATE_QUEUE_SIZE: Final = 1024  # a full queue slows polling / the webhook down
# Parts of a split reply already delivered, kept so that a retried reply does not repeat them.
PROGRESS_ENTRIES: Final = 1024
PROGRESS_TTL: Final = 3600.0

OnMessage = Callable[[IncomingMessage], Awaitable[None]]
AnyApplication = Application[Any, Any, Any, Any, Any, Any]

# Message contents innobot does not read but answers with a polite "text only, please".
_OTHER_CONTENT: Final = (
    "animation",
    "audio",
    "video",
    "video_note",
    "contact",
    "location",
    "venue",
    "poll",
    "dice",
    "game",
    "story",
    "paid_media",
)


# --- updates in ---------------------------------------------------------------------------------


def to_incoming(update: Update) -> IncomingMessage | None:
    """The platform-neutral form of ``update``; None for updates nobody sent to innobot.

    Service messages (members joining, pinned messages...), edits, channel posts and callback
    queries without data are not messages a person sent us and are ignored. A poll answer
    becomes the command ``/poll POLL_ID N,N`` (``-`` for a withdrawn vote) from the voter's
    private chat; a change of innobot's own membership in a group becomes a ``BOT_STATUS``.
    """
    if update.poll_answer is not None:
        return _poll_answer(update, update.poll_answer)
    if update.my_chat_member is not None:
        return _bot_status(update, update.my_chat_member)
    query = update.callback_query
    if query is not None:
        message = query.message
        if query.data is None or message is None:
            return None
        user = query.from_user
        return IncomingMessage(
            platform=Platform.TELEGRAM,
            chat_id=str(message.chat.id),
            user_id=str(user.id),
            button=query.data[:CALLBACK_DATA_LIMIT],
            kind=ContentKind.BUTTON,
            display_name=_display_name(user.first_name, user.last_name),
            language_hint=user.language_code,
            is_private=message.chat.type == ChatType.PRIVATE,
            message_id=str(message.message_id),
            raw=update,
        )

    message = update.message
    if message is None or message.from_user is None:
        return None
    if message.new_chat_members:
        return _member_joined(update, message)
    if message.from_user.is_bot:
        return None
    kind = _content_kind(message)
    if kind is None:
        return None
    user = message.from_user
    return IncomingMessage(
        platform=Platform.TELEGRAM,
        chat_id=str(message.chat.id),
        user_id=str(user.id),
        text=(message.text or "") if kind == ContentKind.TEXT else "",
        kind=kind,
        display_name=_display_name(user.first_name, user.last_name),
        language_hint=user.language_code,
        is_private=message.chat.type == ChatType.PRIVATE,
        message_id=str(message.message_id),
        reply_to=_quoted(message.reply_to_message),
        raw=update,
    )


def _member_joined(update: Update, message: Message) -> IncomingMessage | None:
    """A person (not a bot) joining a group: the newcomer is the sender."""
    people = [member for member in message.new_chat_members or () if not member.is_bot]
    if not people:
        return None
    newcomer = people[0]
    return IncomingMessage(
        platform=Platform.TELEGRAM,
        chat_id=str(message.chat.id),
        user_id=str(newcomer.id),
        kind=ContentKind.MEMBER_JOINED,
        display_name=_display_name(newcomer.first_name, newcomer.last_name),
        language_hint=newcomer.language_code,
        is_private=False,
        message_id=str(message.message_id),
        raw=update,
    )


def _poll_answer(update: Update, answer: PollAnswer) -> IncomingMessage | None:
    user = answer.user
    if user is None or user.is_bot:  # voted as a chat (an anonymous admin): nobody to count
        return None
    chosen = ",".join(str(i + 1) for i in answer.option_ids) or "-"
    return IncomingMessage(
        platform=Platform.TELEGRAM,
        chat_id=str(user.id),  # a private chat's id is its user's id
        user_id=str(user.id),
        button=f"{COMMAND_PREFIX}poll {answer.poll_id[:40]} {chosen}",
        kind=ContentKind.BUTTON,
        display_name=_display_name(user.first_name, user.last_name),
        language_hint=user.language_code,
        raw=update,
    )


def bot_status(member: ChatMember) -> str:
    """innobot's place in a group in words: ``admin delete restrict``, ``member``, ``removed``."""
    if member.status == ChatMemberStatus.OWNER:
        return "admin delete restrict"
    if member.status == ChatMemberStatus.ADMINISTRATOR:
        rights = [
            name
            for name, right in (
                ("delete", "can_delete_messages"),
                ("restrict", "can_restrict_members"),
            )
            if getattr(member, right, False)
        ]
        return " ".join(["admin", *rights])
    if member.status in (ChatMemberStatus.MEMBER, ChatMemberStatus.RESTRICTED):
        return "member"
    return "removed"  # left or banned


def _bot_status(update: Update, change: ChatMemberUpdated) -> IncomingMessage | None:
    if change.chat.type not in (ChatType.GROUP, ChatType.SUPERGROUP):
        return None  # a private chat blocked or unblocked: the outbox notices that by itself
    by = change.from_user
    return IncomingMessage(
        platform=Platform.TELEGRAM,
        chat_id=str(change.chat.id),
        user_id=str(by.id),
        text=bot_status(change.new_chat_member),
        kind=ContentKind.BOT_STATUS,
        display_name=_display_name(by.first_name, by.last_name),
        language_hint=by.language_code,
        is_private=False,
        raw=update,
    )


def _quoted(message: Message | None) -> Quoted | None:
    if message is None:
        return None
    author = message.from_user
    return Quoted(
        message_id=str(message.message_id),
        user_id=str(author.id) if author is not None else None,
        text=(message.text or message.caption or "")[:1000],
        from_bot=bool(author is not None and author.is_bot),
    )


def _content_kind(message: Message) -> ContentKind | None:
    if message.text is not None:
        return ContentKind.TEXT
    if message.sticker is not None:
        return ContentKind.STICKER
    if message.photo:
        return ContentKind.PHOTO
    if message.voice is not None:
        return ContentKind.VOICE
    if any(getattr(message, name, None) for name in _OTHER_CONTENT):
        return ContentKind.OTHER  # before DOCUMENT: an animation also carries a document
    if message.document is not None:
        return ContentKind.DOCUMENT
    return None


def _display_name(first: str, last: str | None) -> str | None:
    name = " ".join(part for part in (first, last) if part).strip()
    return name[:DISPLAY_NAME_LIMIT] or None


# --- replies out --------------------------------------------------------------------------------

_HTML_ATOM = re.compile(r"<[^>]*>|&#?[0-9A-Za-z]{1,10};|.", re.DOTALL)
_TAG_NAME = re.compile(r"</?([A-Za-z][A-Za-z0-9-]*)")


def _units(text: str) -> int:
    """Length as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def split_html(text: str, limit: int = TEXT_LIMIT) -> list[str]:
    """Cut Telegram HTML into messages of at most ``limit`` units each.

    Cuts fall on paragraph breaks, else line breaks, else spaces; a formatting tag open at a cut
    is closed at the end of one part and opened again at the start of the next, and an HTML
    entity is never cut. Whitespace at a cut is dropped (Telegram trims it anyway).
    """
    if _units(text) <= limit:
        return [text] if _strip_tags(text).strip() else []
    atoms: list[str] = _HTML_ATOM.findall(text)
    parts: list[str] = []
    carried: list[tuple[str, str]] = []  # (tag name, opening tag) open at the start of a part
    i = 0
    while i < len(atoms):
        while i < len(atoms) and atoms[i] in (" ", "\n"):
            i += 1
        if i == len(atoms):
            break
        stack = list(carried)
        size = sum(_units(opening) for _, opening in stack)
        paragraph = line = space = 0
        j = i
        while j < len(atoms):
            atom = atoms[j]
            new_stack = _after(stack, atom)
            new_closing = sum(len(name) + 3 for name, _ in new_stack)
            if size + _units(atom) + new_closing > limit:
                break
            size += _units(atom)
            stack = new_stack
            j += 1
            if atom == "\n":
                if j >= 2 and atoms[j - 2] == "\n":
                    paragraph = j
                else:
                    line = j
            elif atom == " ":
                space = j
        end = j
        if j < len(atoms):
            half = i + (j - i) // 2
            if paragraph > half:
                end = paragraph
            elif line > half:
                end = line
            else:
                end = space or paragraph or line or j
        end = max(end, i + 1)
        last = end
        while last > i and atoms[last - 1] in (" ", "\n"):
            last -= 1
        body = "".join(atoms[i:last])
        ending = list(carried)
        for atom in atoms[i:end]:
            ending = _after(ending, atom)
        part = (
            "".join(opening for _, opening in carried)
            + body
            + "".join(f"</{name}>" for name, _ in reversed(ending))
        )
        if _strip_tags(part).strip():
            parts.append(part)
        carried = ending
        i = end
    return parts


def _after(stack: list[tuple[str, str]], atom: str) -> list[tuple[str, str]]:
    """The open tags after ``atom``."""
    if not atom.startswith("<") or len(atom) < 3:
        return stack
    match = _TAG_NAME.match(atom)
    if match is None:
        return stack
    name = match.group(1).lower()
    if atom.startswith("</"):
        return stack[:-1] if stack and stack[-1][0] == name else stack
    return [*stack, (name, atom)]


def _strip_tags(part: str) -> str:
    """The text a reader sees in a piece of Telegram HTML."""
    return html.unescape(re.sub(r"<[^>]*>", "", part))


def _keyboard(reply: Reply) -> InlineKeyboardMarkup | None:
    rows = [
        [InlineKeyboardButton(button.label, callback_data=button.payload) for button in row]
        for row in reply.buttons
        if row
    ]
    return InlineKeyboardMarkup(rows) if rows else None


def poll_fits(poll: Poll) -> bool:
    """Whether Telegram takes ``poll`` as a native poll (else the reply's buttons are sent)."""
    return (
        0 < len(poll.question.strip()) <= PollLimit.MAX_QUESTION_LENGTH
        and 2 <= len(poll.options) <= PollLimit.MAX_OPTION_NUMBER
        and all(0 < len(o.strip()) <= PollLimit.MAX_OPTION_LENGTH for o in poll.options)
    )


def _number(value: str | None) -> int:
    try:
        return int(value or "")
    except ValueError:
        raise RejectedMessage(f"not a Telegram id: {value!r}") from None


def _retry_after_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        # The attribute's type changes in a future PTB version; accept both forms.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return float(value)


# Bad Request descriptions that mean the chat cannot be written to any more.
_RECIPIENT_GONE: Final = (
    "chat not found",
    "user not found",
    "user is deactivated",
    "chat is deactivated",
    "group chat was deactivated",
    "bot was kicked",
    "bot is not a member",
    "peer_id_invalid",
    "chat_write_forbidden",
    "have no rights to send",
    "not enough rights to send",
    "bot can't initiate conversation",
)


def delivery_error(error: TelegramError) -> DeliveryError:
    """What a Bot API error means for the outbox."""
    if isinstance(error, RetryAfter):
        return RetryLater(_retry_after_seconds(error), "telegram flood control")
    if isinstance(error, Forbidden):  # blocked by the user, kicked from the group
        return PermanentFailure(f"telegram refused: {error.message}")
    if isinstance(error, ChatMigrated):
        return PermanentFailure(f"telegram group moved to chat {error.new_chat_id}")
    if isinstance(error, BadRequest):
        if any(sign in error.message.lower() for sign in _RECIPIENT_GONE):
            return PermanentFailure(f"telegram recipient unreachable: {error.message}")
        # The message itself was refused (bad markup, invalid button...): sending it again would
        # fail the same way, but the recipient is still reachable, so this is no PermanentFailure.
        return RejectedMessage(f"telegram rejected the message: {error.message}")
    if isinstance(error, InvalidToken):
        return TransientFailure("telegram rejected the bot token")
    # TimedOut, NetworkError (5xx, connection trouble), Conflict and anything else.
    return TransientFailure(f"telegram unavailable: {error.message}")


# --- the adapter --------------------------------------------------------------------------------


class _ChatOrderedProcessor(BaseUpdateProcessor):
    """Updates of different chats run concurrently; those of one chat run one after another.

    ``on_receipt`` starts for each update as soon as it is taken from the queue, before the
    update waits for its chat's turn (button presses are acknowledged there); it has finished
    before the update is handled.
    """

    def __init__(
        self, max_concurrent: int, on_receipt: Callable[[Update], Coroutine[Any, Any, None]]
    ) -> None:
        super().__init__(max_concurrent)
        self._on_receipt = on_receipt
        self._locks: dict[int, asyncio.Lock] = {}
        self._waiting: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        if not isinstance(update, Update):
            await coroutine
            return
        receipt = asyncio.create_task(self._on_receipt(update))
        key = update.effective_chat.id if update.effective_chat else 0
        if update.poll_answer is not None and update.poll_answer.user is not None:
            key = update.poll_answer.user.id  # the voter's private chat
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._waiting[key] = self._waiting.get(key, 0) + 1
        try:
            async with lock:
                await receipt
                await coroutine
        finally:
            self._waiting[key] -= 1
            if not self._waiting[key]:
                del self._waiting[key], self._locks[key]

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass


class TelegramAdapter:
    """Receives Telegram updates, hands them to ``on_message``, and delivers replies."""

    platform = Platform.TELEGRAM
    # Telegram's flood limits: about 1 message/s into a chat, 20/min into a group, 30/s overall.
    pacing = Pacing(
        per_chat_rate=1.0,
        per_chat_burst=3,
        overall_rate=30.0,
        per_group_rate=20 / 60,
        per_group_burst=3,
        group_prefix="-",
    )

    def __init__(
        self,
        settings: Settings,
        on_message: OnMessage,
        *,
        sessions: async_sessionmaker[AsyncSession] | None = None,
    ) -> None:
        if settings.telegram_token is None:
            raise ValueError("Telegram needs INNOBOT_TELEGRAM_TOKEN")
        if settings.telegram_mode == "webhook" and not (
            settings.webhook_url and settings.webhook_secret
        ):
            raise ValueError(
                "Telegram webhook mode needs INNOBOT_WEBHOOK_URL and INNOBOT_WEBHOOK_SECRET"
            )
        self._settings = settings
        self._on_message = on_message
        # Where the polls innobot sends are recorded (their answers name only the poll).
        self._sessions = sessions
        self._application: AnyApplication | None = None
        # Held while a poll is sent and recorded; an answer from that chat waits for it.
        self._poll_locks: weakref.WeakValueDictionary[int, asyncio.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._progress: OrderedDict[tuple[str, Reply], tuple[int, float]] = OrderedDict()

    @property
    def application(self) -> AnyApplication:
        if self._application is None:
            raise RuntimeError("the Telegram adapter is not started")
        return self._application

    @property
    def running(self) -> bool:
        return self._application is not None and self._application.running

    def _build(self) -> AnyApplication:
        settings = self._settings
        assert settings.telegram_token is not None
        builder = (
            ApplicationBuilder()
            .token(settings.telegram_token.get_secret_value())
            .base_url(settings.telegram_api_url)
            .base_file_url(settings.telegram_file_url)
            # Behind the outbox's pacing: the overall rate again, and the 20 messages a minute
            # into one group. max_retries=0: the outbox retries, not PTB.
            .rate_limiter(AIORateLimiter(overall_max_rate=self.pacing.overall_rate, max_retries=0))
            .concurrent_updates(_ChatOrderedProcessor(MAX_CONCURRENT_UPDATES, self._on_receipt))
            .update_queue(asyncio.Queue(maxsize=UPDATE_QUEUE_SIZE))
        )
        if settings.telegram_mode == "webhook":
            builder = builder.updater(None)  # updates arrive through innobot's own web server
        application: AnyApplication = builder.build()
        application.add_handler(TypeHandler(Update, self._on_update))
        application.add_error_handler(self._on_error)
        return application

    async def start(self) -> None:
        """Connect to the Bot API and start receiving updates."""
        if self._application is not None:
            raise RuntimeError("the Telegram adapter is already started")
        application = self._build()
        settings = self._settings
        try:
            await application.initialize()  # getMe: fails early on a wrong token
            await application.start()
            if settings.telegram_mode == "webhook":
                assert settings.webhook_url is not None
                assert settings.webhook_secret is not None
                await application.bot.set_webhook(
                    settings.webhook_url,
                    secret_token=settings.webhook_secret.get_secret_value(),
                    allowed_updates=ALLOWED_UPDATES,
                )
            else:
                assert application.updater is not None
                await application.updater.start_polling(
                    timeout=POLL_TIMEOUT,
                    allowed_updates=ALLOWED_UPDATES,
                    error_callback=self._on_polling_error,
                )
        except BaseException:
            await self._shutdown(application)
            raise
        self._application = application
        log.info(
            "telegram: receiving updates by %s as @%s",
            settings.telegram_mode,
            application.bot.username,
        )

    async def stop_receiving(self) -> None:
        """Take no more updates and let the ones in hand finish; sending still works."""
        application = self._application
        if application is None:
            return
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()

    async def stop(self) -> None:
        """Stop receiving, let the updates in hand finish, and disconnect."""
        await self.stop_receiving()
        application, self._application = self._application, None
        if application is not None:
            await self._shutdown(application)
            log.info("telegram: stopped")

    @staticmethod
    async def _shutdown(application: AnyApplication) -> None:
        if application.updater is not None and application.updater.running:
            await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()

    async def process_webhook_update(self, data: dict[str, Any]) -> None:
        """Queue one update received on the webhook; raises ValueError if it is not one."""
        application = self.application
        if not isinstance(data.get("update_id"), int):
            raise ValueError("not a Telegram update")
        try:
            update = Update.de_json(data, application.bot)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ValueError("not a Telegram update") from error
        await application.update_queue.put(update)

    async def _on_receipt(self, update: Update) -> None:
        query = update.callback_query
        if query is None:
            return
        try:
            await query.answer()  # stops the spinner on the pressed button
        except Exception as error:
            log.warning(
                "telegram: could not answer button press of update %s: %s", update.update_id, error
            )

    async def _on_update(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        message = to_incoming(update)
        if message is None:
            log.debug("telegram: ignoring update %s", update.update_id)
            return
        # Telegram delivers an update again when its receipt was not confirmed (a restart before
        # the next getUpdates, a webhook answer that did not arrive): the dispatcher drops it.
        message = replace(message, event_id=f"{context.bot.id}:{update.update_id}")
        if update.poll_answer is not None and update.poll_answer.user is not None:
            lock = self._poll_locks.get(update.poll_answer.user.id)
            if lock is not None:
                async with lock:  # the poll answered may still be being recorded
                    pass
        try:
            await self._on_message(message)
        except Exception:
            # One failing message must not stop the others (nor polling).
            log.exception("telegram: handling update %s failed", update.update_id)

    async def _on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        update_id = update.update_id if isinstance(update, Update) else None
        log.error(
            "telegram: error in update %s: %r", update_id, context.error, exc_info=context.error
        )

    @staticmethod
    def _on_polling_error(error: TelegramError) -> None:
        log.warning("telegram: polling failed (%s); retrying", error)

    # -- delivery --

    async def send(self, chat_id: str, reply: Reply) -> Receipt | None:
        """Deliver ``reply`` into ``chat_id``, split over several messages if it is long.

        Raises RetryLater, TransientFailure or PermanentFailure. When a long reply fails half-way
        the parts already delivered are remembered, and a retry of the same reply sends the rest.
        A reply carrying a poll that fits Telegram's limits is sent as a native poll (after its
        intro); a group action is carried out and its outcome returned (see :meth:`_act`).
        """
        try:
            target = int(chat_id)
        except ValueError:
            raise PermanentFailure("not a Telegram chat id") from None
        if self._application is None:
            # Not started, or stopped: the outbox keeps the reply and tries again later.
            raise TransientFailure("the Telegram adapter is not running")
        if reply.action is not None:
            return await self._act(target, reply.action)
        steps = self._steps(target, reply)
        if not steps:
            raise RejectedMessage("empty reply: nothing to send")
        key = (chat_id, reply)
        done = self._delivered(key)
        for index, step in enumerate(steps):
            if index < done:
                continue
            try:
                await step()
            except (TelegramError, RuntimeError) as error:
                # PTB raises RuntimeError when its HTTP client is shut down mid-send.
                failure = (
                    delivery_error(error)
                    if isinstance(error, TelegramError)
                    else TransientFailure("the Telegram adapter is stopping")
                )
                if index and isinstance(failure, RetryLater | TransientFailure):
                    self._remember(key, index)
                else:
                    self._progress.pop(key, None)
                raise failure from error
        self._progress.pop(key, None)
        return None

    def _steps(self, chat: int, reply: Reply) -> list[Callable[[], Awaitable[None]]]:
        if reply.poll is not None and poll_fits(reply.poll):
            poll = reply.poll
            intro = split_html(to_html(poll.intro)) if poll.intro.strip() else []
            return [
                *(partial(self._send_text, chat, part, None) for part in intro),
                partial(self._send_poll, chat, poll),
            ]
        keyboard = _keyboard(reply)
        parts = split_html(to_html(reply.text)) if reply.text.strip() else []
        steps: list[Callable[[], Awaitable[None]]] = [
            partial(self._send_text, chat, part, keyboard if n == len(parts) - 1 else None)
            for n, part in enumerate(parts)
        ]
        if reply.document is not None:
            markup = None if parts else keyboard
            steps.append(partial(self._send_document, chat, reply.document, markup))
        return steps

    async def _send_text(self, chat: int, part: str, markup: InlineKeyboardMarkup | None) -> None:
        bot = self.application.bot
        try:
            await bot.send_message(chat, part, parse_mode=ParseMode.HTML, reply_markup=markup)
        except BadRequest as error:
            if "parse entities" not in error.message.lower():
                raise
            # A rendering fault must not leave the user without an answer: send it unformatted.
            log.error("telegram: HTML rejected (%s); sending plain text", error.message)
            await bot.send_message(chat, _strip_tags(part), reply_markup=markup)

    async def _send_poll(self, chat: int, poll: Poll) -> None:
        """A non-anonymous poll (only those tell innobot who answered), recorded before any
        answer to it is handled."""
        lock = self._poll_locks.get(chat)
        if lock is None:
            lock = self._poll_locks[chat] = asyncio.Lock()
        async with lock:
            message = await self.application.bot.send_poll(
                chat,
                poll.question,
                [InputPollOption(option) for option in poll.options],
                is_anonymous=False,
                type=PollType.REGULAR,
                allows_multiple_answers=poll.multiple,
            )
            if message.poll is not None:
                await self._record_poll(chat, message.message_id, message.poll.id, poll.subject)

    async def _record_poll(self, chat: int, message_id: int, poll_id: str, subject: str) -> None:
        if self._sessions is None:
            log.warning("telegram: poll %s sent with nowhere to record it", poll_id)
            return
        try:
            async with self._sessions() as session, session.begin():
                await engagement_store.record_poll(
                    session, Platform.TELEGRAM.value, str(chat), str(message_id), poll_id, subject
                )
        except SQLAlchemyError:
            # The poll is out; its answers will be refused as unknown, which the voter is told.
            log.exception("telegram: could not record poll %s (%s)", poll_id, subject)

    # -- group actions --

    async def _act(self, chat: int, action: GroupAction) -> Receipt:
        """Carry out ``action`` in the group ``chat``.

        The receipt says ``ok``, and otherwise ``reason``: ``no_right`` (innobot lacks the admin
        right), ``not_member`` (innobot is not in the group), ``gone`` (the message or member is
        no longer there), ``too_old`` (bots may delete messages for 48 hours), ``is_admin`` (an
        administrator cannot be restricted) or ``refused``; ``status``, where it was looked up, is
        innobot's place in the group (:func:`bot_status`). Flood control and network trouble
        raise, to be retried.
        """
        bot = self.application.bot
        try:
            if action.kind == "check_rights":
                return {"ok": True, "status": await self._own_status(chat)}
            if action.kind == "delete_message":
                await bot.delete_message(chat, _number(action.message_id))
            elif action.kind == "restrict":
                await bot.restrict_chat_member(
                    chat,
                    _number(action.user_id),
                    ChatPermissions.no_permissions(),
                    until_date=action.until,
                )
            elif action.kind == "unrestrict":
                # Every permission: how the Bot API lifts a member's restrictions (the group's
                # own defaults still apply to them, as to any member).
                await bot.restrict_chat_member(
                    chat, _number(action.user_id), ChatPermissions.all_permissions()
                )
            elif action.kind == "stop_poll":
                await bot.stop_poll(chat, _number(action.message_id))
            else:
                raise RejectedMessage(f"unknown group action {action.kind!r}")
        except (BadRequest, Forbidden) as error:
            return await self._refused(chat, action, error)
        except TelegramError as error:
            raise delivery_error(error) from error
        except RuntimeError as error:
            raise TransientFailure("the Telegram adapter is stopping") from error
        log.info("telegram: %s done in chat %s for %s", action.kind, chat, action.ref)
        return {"ok": True}

    async def _own_status(self, chat: int) -> str:
        bot = self.application.bot
        try:
            return bot_status(await bot.get_chat_member(chat, bot.id))
        except Forbidden:
            return "removed"
        except BadRequest as error:
            if "not found" in error.message.lower():
                return "removed"
            raise

    async def _refused(self, chat: int, action: GroupAction, error: TelegramError) -> Receipt:
        detail = error.message[:200]
        lowered = detail.lower()
        log.warning("telegram: %s refused in chat %s: %s", action.kind, chat, detail)
        if isinstance(error, Forbidden) or any(
            sign in lowered for sign in ("chat not found", "not a member", "was kicked")
        ):
            return {"ok": False, "reason": "not_member", "status": "removed", "detail": detail}
        if "administrator" in lowered:
            return {"ok": False, "reason": "is_admin", "detail": detail}
        if "not found" in lowered or "already been closed" in lowered:
            return {"ok": False, "reason": "gone", "detail": detail}
        needed = {"delete_message": "delete", "restrict": "restrict", "unrestrict": "restrict"}.get(
            action.kind
        )
        if needed is None:
            return {"ok": False, "reason": "refused", "detail": detail}
        # Telegram's answer does not always say which right is missing: ask for innobot's own.
        try:
            status = await self._own_status(chat)
        except TelegramError as again:
            raise delivery_error(again) from again
        if needed not in status.split():
            reason = "no_right"
        elif action.kind == "delete_message":
            reason = "too_old"
        else:
            reason = "refused"
        return {"ok": False, "reason": reason, "status": status, "detail": detail}

    async def _send_document(
        self, chat: int, document: Document, markup: InlineKeyboardMarkup | None
    ) -> None:
        await self.application.bot.send_document(
            chat, document.content, filename=document.filename, reply_markup=markup
        )

    def _delivered(self, key: tuple[str, Reply]) -> int:
        entry = self._progress.get(key)
        if entry is None:
            return 0
        done, stamp = entry
        if time.monotonic() - stamp > PROGRESS_TTL:
            del self._progress[key]
            return 0
        return done

    def _remember(self, key: tuple[str, Reply], done: int) -> None:
        self._progress[key] = (done, time.monotonic())
        self._progress.move_to_end(key)
        while len(self._progress) > PROGRESS_ENTRIES:
            self._progress.popitem(last=False)
