"""innobot on Matrix: the moderators' rooms, community rooms and direct chats, through matrix-nio.

The adapter logs in (an access token, or a password once: the token and device are then kept in
``data_dir/matrix``), joins the configured moderation rooms, accepts invitations to those rooms,
to rooms linked to a community and to direct chats (``is_direct``) and declines all others, and
syncs as a task in innobot's own event loop. What people say in direct chats and community rooms
goes to the dispatcher (``on_message``) like Telegram messages; moderation rooms keep their desk.
The sync token is stored in the database after each sync, and every moderation event acted on is
recorded in the same transaction as its effects: a restart neither replays a command nor misses
one (a gap in a long outage is filled from the room's history). Encrypted rooms work; the keys
live in ``data_dir/matrix``.

:mod:`bot.adapters.matrix_events` turns Matrix events into the platform-neutral
:class:`~handlers.moderation.RoomEvent`; the decisions are taken in :mod:`handlers.moderation`.
What the bot says goes through the outbox; :meth:`MatrixAdapter.send` renders it (HTML
``formatted_body`` and a plain ``body``), posts triage cards and thread replies, and turns the
homeserver's rate limiting (429 ``M_LIMIT_EXCEEDED``) into :class:`RetryLater` with its
``retry_after_ms``.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import io
import json
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Final

from aiohttp import ClientError
from nio import (
    AsyncClient,
    AsyncClientConfig,
    ErrorResponse,
    JoinResponse,
    LoginResponse,
    MegolmEvent,
    RoomGetEventResponse,
    RoomGetStateEventResponse,
    RoomMessagesResponse,
    RoomPutStateResponse,
    RoomRedactResponse,
    RoomResolveAliasResponse,
    RoomSendResponse,
    SyncResponse,
    UploadResponse,
    WhoamiResponse,
)
from nio.exceptions import LocalProtocolError, OlmUnverifiedDeviceError, SendRetryError
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.base import (
    Pacing,
    PermanentFailure,
    Receipt,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from bot.adapters.matrix_events import (
    SYNC_FILTER,
    RoomCreation,
    event_level,
    explicit_level,
    file_content,
    is_direct_invite,
    message_content,
    mute_level,
    power_level,
    quoted_from,
    redact_level,
    reply_target,
    to_incoming,
    to_room_event,
    with_user_level,
)
from bot.logs import pseudonym
from bot.outbox import PRIORITY_NOTIFICATION, PRIORITY_REPLY, enqueue
from bot.settings import Settings
from handlers.core import Document, GroupAction, IncomingMessage, Platform, Quoted, Reply
from handlers.i18n import t
from handlers.moderation import (
    MODERATION_ROOM,
    ROOM_LANGUAGE_KEY,
    DeskConfig,
    PowerLookup,
    RoomAddress,
    RoomEvent,
    handle_room_event,
    parse_ref,
    render_card,
    wants_attention,
)
from storage import engagement as engagement_store
from storage import moderation as store
from storage.models import utcnow

log = logging.getLogger(__name__)

SYNC_TOKEN_KEY: Final = "matrix.sync_token"
DIRECT_KEY: Final = "matrix.direct:"  # + room id: a direct chat, and the person it is with
CREDENTIALS_FILE: Final = "credentials.json"
BACKFILL_MAX: Final = 1000  # events fetched from history to close a gap after an outage
UNDECRYPTED_KEEP: Final = 300.0  # seconds an undecryptable event waits for its room key
HANDLED_KEEP: Final = timedelta(days=30)
DB_ATTEMPTS: Final = 4
RATE_LIMIT_RETRIES: Final = 3  # waits of retry_after_ms inside one send before the outbox holds it

Wake = Callable[[], None]
OnMessage = Callable[[IncomingMessage], Awaitable[None]]


class MatrixConfigError(RuntimeError):
    """The Matrix settings cannot work (no credentials, a token the homeserver refuses)."""


class _SyncFailed(RuntimeError):
    """A sync or login request failed in a way worth retrying."""


# --- the adapter -----------------------------------------------------------------------------


@dataclass
class _Undecrypted:
    room_id: str
    event: Any
    since: float = field(default_factory=time.monotonic)


class MatrixAdapter:
    """The bot's Matrix account: syncs the moderation rooms, sends what the outbox gives it."""

    platform = Platform.MATRIX

    def __init__(
        self,
        settings: Settings,
        sessions: async_sessionmaker[AsyncSession],
        *,
        on_queued: Wake = lambda: None,
        on_message: OnMessage | None = None,
        poll_timeout: float = 30.0,
        timeline_limit: int = 100,
        retry_delay: float = 2.0,
    ) -> None:
        if not settings.matrix_homeserver:
            raise MatrixConfigError("INNOBOT_MATRIX_HOMESERVER is not set")
        self._settings = settings
        self._sessions = sessions
        self._on_queued = on_queued
        # Direct chats and community rooms are handled only with a dispatcher to hand them to.
        self._on_message = on_message
        self._directs: dict[str, str] = {}  # direct chat → the person it is with
        self._texts_sent: dict[str, None] = {}  # replies whose text went out before their file
        self._poll_ms = int(poll_timeout * 1000)
        self._filter: dict[str, Any] = json.loads(json.dumps(SYNC_FILTER))
        self._filter["room"]["timeline"]["limit"] = timeline_limit
        self._retry_delay = retry_delay
        self._max_backoff = max(0.5, settings.matrix_max_backoff)
        rate = max(0.05, settings.matrix_send_rate)
        self.pacing = Pacing(per_chat_rate=rate, per_chat_burst=10, overall_rate=rate)
        self._store_dir = settings.data_dir / "matrix"
        self._configured = [r.strip() for r in settings.matrix_rooms.split(",") if r.strip()]
        self._rooms: list[str] = []  # configured rooms, resolved to ids, cards go to the first
        self._joined: set[str] = set()
        self._client: AsyncClient | None = None
        self._token: str | None = None
        self._full_state = True
        self._task: asyncio.Task[None] | None = None
        self._side_tasks: set[asyncio.Task[None]] = set()
        self._rejoining: set[str] = set()
        self._undecrypted: list[_Undecrypted] = []
        self._creations: dict[str, RoomCreation] = {}
        self._stopping = asyncio.Event()
        self._ready = asyncio.Event()
        self._throttled_until = 0.0
        self._send_lock = asyncio.Lock()
        self.connected = False
        self.failure: Exception | None = None
        self.syncs = 0
        self.rate_limited = 0
        self._state = asyncio.Condition()

    # --- lifecycle ---

    @property
    def user_id(self) -> str:
        return self._client.user_id if self._client is not None else ""

    @property
    def rooms(self) -> list[str]:
        """The moderation rooms' ids (known once started)."""
        return list(self._rooms)

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Log in and sync in the background (retrying while the homeserver is unreachable)."""
        if self._task is None:
            self._stopping.clear()
            self._task = asyncio.create_task(self._run(), name="matrix-sync")

    async def wait_ready(self, timeout: float = 60.0) -> None:
        """Wait until the first sync is done (raise if the settings cannot work)."""
        async with asyncio.timeout(timeout):
            while not self._ready.is_set():
                if self.failure is not None:
                    raise self.failure
                if self._task is not None and self._task.done():
                    raise RuntimeError("the Matrix sync task ended")
                async with self._state:
                    await self._state.wait()

    async def wait_until(self, predicate: Callable[[MatrixAdapter], bool], timeout: float) -> None:
        """Wait until ``predicate(self)`` holds (checked after every sync or connection change)."""
        async with asyncio.timeout(timeout), self._state:
            await self._state.wait_for(lambda: predicate(self))

    async def stop(self) -> None:
        """Stop syncing; what the outbox still holds stays there."""
        self._stopping.set()
        tasks = [t for t in (self._task, *self._side_tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._task = None
        self._side_tasks.clear()
        if self._client is not None:
            await self._client.close()
            self._client = None
        self.connected = False
        await self._changed()

    async def _changed(self) -> None:
        async with self._state:
            self._state.notify_all()

    async def _run(self) -> None:
        backoff = 0.5
        while not self._stopping.is_set():
            try:
                if self._client is None:
                    await self._log_in()
                    await self._prepare()
                await self._sync_once()
                if not self.connected:
                    log.info("matrix: connected to %s", self._settings.matrix_homeserver)
                    self.connected = True
                    self._on_queued()
                backoff = 0.5
                self.syncs += 1
                await self._changed()
            except asyncio.CancelledError:
                raise
            except MatrixConfigError as exc:
                log.error("matrix: %s; Matrix is off", exc)
                self.failure = exc
                await self._changed()
                return
            except Exception as exc:
                if self.connected:
                    log.warning("matrix: lost the homeserver (%s); reconnecting", _describe(exc))
                else:
                    log.info("matrix: homeserver unavailable (%s); retrying", _describe(exc))
                self.connected = False
                await self._changed()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), backoff)
                backoff = min(backoff * 2, self._max_backoff)

    # --- logging in and joining ---

    def _new_client(self, user: str = "", device_id: str | None = None) -> AsyncClient:
        self._store_dir.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            self._store_dir.chmod(0o700)
        config = AsyncClientConfig(
            max_limit_exceeded=0,
            max_timeouts=1,
            request_timeout=30,
            encryption_enabled=True,
            store_sync_tokens=False,
        )
        return AsyncClient(
            self._settings.matrix_homeserver or "",
            user,
            device_id=device_id,
            store_path=str(self._store_dir),
            config=config,
        )

    def _credentials_path(self) -> Path:
        return self._store_dir / CREDENTIALS_FILE

    def _saved_credentials(self) -> dict[str, str] | None:
        try:
            saved = json.loads(self._credentials_path().read_text("utf-8"))
        except (OSError, ValueError):
            return None
        if (
            not isinstance(saved, dict)
            or saved.get("homeserver") != self._settings.matrix_homeserver
        ):
            return None
        wanted = self._settings.matrix_user_id
        if wanted and saved.get("user_id") != wanted:
            return None
        if all(isinstance(saved.get(k), str) for k in ("user_id", "device_id", "access_token")):
            return saved
        return None

    def _save_credentials(self, user_id: str, device_id: str, token: str) -> None:
        path = self._credentials_path()
        data = {
            "homeserver": self._settings.matrix_homeserver,
            "user_id": user_id,
            "device_id": device_id,
            "access_token": token,
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out)

    async def _whoami(self, client: AsyncClient, token: str) -> tuple[str, str] | None:
        client.access_token = token
        answer = await client.whoami()
        if isinstance(answer, WhoamiResponse) and answer.device_id:
            return answer.user_id, answer.device_id
        if isinstance(answer, ErrorResponse) and answer.status_code in (
            "M_UNKNOWN_TOKEN",
            "M_FORBIDDEN",
        ):
            return None
        raise _SyncFailed(f"whoami: {answer}")

    async def _log_in(self) -> None:
        settings = self._settings
        probe = self._new_client(settings.matrix_user_id or "")
        try:
            if settings.matrix_access_token is not None:
                token = settings.matrix_access_token.get_secret_value()
                who = await self._whoami(probe, token)
                if who is None:
                    raise MatrixConfigError("the homeserver refused INNOBOT_MATRIX_ACCESS_TOKEN")
                user_id, device_id = who
            elif (saved := self._saved_credentials()) is not None and (
                await self._whoami(probe, saved["access_token"]) is not None
            ):
                user_id, device_id, token = (
                    saved["user_id"],
                    saved["device_id"],
                    saved["access_token"],
                )
            elif settings.matrix_password is not None and settings.matrix_user_id:
                answer = await probe.login(
                    settings.matrix_password.get_secret_value(), device_name="innobot"
                )
                if not isinstance(answer, LoginResponse):
                    if isinstance(answer, ErrorResponse) and answer.status_code == "M_FORBIDDEN":
                        raise MatrixConfigError("the homeserver refused the Matrix password")
                    raise _SyncFailed(f"login: {answer}")
                user_id, device_id, token = answer.user_id, answer.device_id, answer.access_token
                self._save_credentials(user_id, device_id, token)
            else:
                raise MatrixConfigError(
                    "set INNOBOT_MATRIX_ACCESS_TOKEN, or INNOBOT_MATRIX_USER_ID and "
                    "INNOBOT_MATRIX_PASSWORD"
                )
        finally:
            await probe.close()
        client = self._new_client(user_id, device_id)
        client.restore_login(user_id, device_id, token)
        self._client = client
        log.info("matrix: logged in as %s (device %s)", user_id, device_id)

    async def _prepare(self) -> None:
        """Resolve and join the configured rooms; load the sync token; note the room language."""
        client = self._require_client()
        rooms: list[str] = []
        for room in self._configured:
            if room.startswith("#"):
                answer = await client.room_resolve_alias(room)
                if not isinstance(answer, RoomResolveAliasResponse):
                    log.warning("matrix: cannot resolve room alias %s: %s", room, answer)
                    continue
                room = answer.room_id
            rooms.append(room)
        if not rooms:
            raise MatrixConfigError("INNOBOT_MATRIX_ROOMS names no usable room")
        self._rooms = rooms
        for room in rooms:
            answer = await client.join(room)
            if isinstance(answer, JoinResponse):
                self._joined.add(room)
            else:
                log.warning(
                    "matrix: cannot join %s yet (%s); waiting for an invitation", room, answer
                )
        async with self._sessions() as session, session.begin():
            self._token = await store.get_state(session, SYNC_TOKEN_KEY)
            await store.set_state(session, ROOM_LANGUAGE_KEY, self._settings.matrix_language)
            await store.forget_handled(session, utcnow() - HANDLED_KEEP)
        self._full_state = True
        await self._join_linked()

    def _require_client(self) -> AsyncClient:
        if self._client is None:
            raise _SyncFailed("not logged in")
        return self._client

    @property
    def desk(self) -> DeskConfig:
        return DeskConfig(
            rooms=frozenset(self._rooms),
            threshold=self._settings.matrix_power_level,
            lang=self._settings.matrix_language,
            telegram=self._settings.telegram_token is not None,
        )

    # --- syncing ---

    async def _sync_once(self) -> None:
        client = self._require_client()
        since = self._token
        first = since is None
        answer = await client.sync(
            timeout=0 if first or self._full_state else self._poll_ms,
            sync_filter=self._filter,
            since=since,
            full_state=True if self._full_state and not first else None,
        )
        if not isinstance(answer, SyncResponse):
            if isinstance(answer, ErrorResponse) and answer.status_code == "M_UNKNOWN_TOKEN":
                self._client = None
                with contextlib.suppress(OSError):
                    self._credentials_path().unlink()
                await client.close()
            raise _SyncFailed(f"sync: {answer}")
        self._full_state = False
        await self._exchange_keys(client)
        await self._on_sync(answer, execute=not first, since=since)
        await self._save_token(answer.next_batch)
        self._ready.set()

    async def _exchange_keys(self, client: AsyncClient) -> None:
        if client.olm is None:
            return
        if client.should_upload_keys:
            await client.keys_upload()
        if client.should_query_keys:
            await client.keys_query()
        if client.should_claim_keys:
            await client.keys_claim(client.get_users_for_key_claiming())
        await client.send_to_device_messages()

    async def _save_token(self, token: str) -> None:
        self._token = token
        try:
            async with self._sessions() as session, session.begin():
                await store.set_state(session, SYNC_TOKEN_KEY, token)
        except OperationalError as exc:
            # Events are recorded as handled with their effects: a stale token replays nothing.
            log.warning("matrix: could not store the sync token (%s)", type(exc).__name__)

    async def _on_sync(self, answer: SyncResponse, *, execute: bool, since: str | None) -> None:
        client = self._require_client()
        allowed = set(self._rooms)
        for room_id, invitation in answer.rooms.invite.items():
            if room_id in allowed:
                joined = await client.join(room_id)
                if isinstance(joined, JoinResponse):
                    log.info("matrix: joined moderation room %s after an invitation", room_id)
                    self._joined.add(room_id)
                    self._on_queued()
            elif await self._accept_invitation(room_id, invitation.invite_state):
                continue
            else:
                log.info("matrix: declined an invitation to a room that is not configured")
                await client.room_leave(room_id)
        for room_id in answer.rooms.leave:
            self._joined.discard(room_id)
            if room_id in allowed and not self._stopping.is_set():
                log.warning("matrix: removed from moderation room %s; trying to rejoin", room_id)
                self._spawn(self._rejoin(room_id), f"matrix-rejoin-{room_id}")
        for room_id, info in answer.rooms.join.items():
            self._joined.add(room_id)
            if not execute:
                continue
            events = list(info.timeline.events)
            if info.timeline.limited and since is not None and info.timeline.prev_batch:
                events = await self._backfill(room_id, info.timeline.prev_batch, since) + events
            if room_id not in allowed:
                # What happened in a community room or direct chat before innobot joined it
                # (its creation, earlier members joining) is history, not for it to answer.
                events = events[_own_join(events, self.user_id) + 1 :]
            for event in events:
                await self._on_event(room_id, event)
        if execute:
            await self._retry_undecrypted()

    async def _backfill(self, room_id: str, start: str, until: str) -> list[Any]:
        """Events between ``until`` (the last sync) and ``start``, oldest first: the gap a
        limited timeline leaves after an outage."""
        client = self._require_client()
        found: list[Any] = []
        token: str | None = start
        while token and len(found) < BACKFILL_MAX:
            page = await client.room_messages(room_id, start=token, end=until, limit=100)
            if not isinstance(page, RoomMessagesResponse) or not page.chunk:
                break
            found.extend(page.chunk)
            if page.end in (None, token):
                break
            token = page.end
        if found:
            log.info("matrix: caught up on %d earlier events in %s", len(found), room_id)
        return list(reversed(found))

    async def _rejoin(self, room_id: str) -> None:
        delay = 1.0
        while not self._stopping.is_set() and room_id not in self._joined:
            client = self._client
            if client is not None:
                try:
                    answer = await client.join(room_id)
                except (ClientError, OSError, TimeoutError):
                    answer = None
                if isinstance(answer, JoinResponse):
                    log.info("matrix: rejoined moderation room %s", room_id)
                    self._joined.add(room_id)
                    self._on_queued()
                    return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), delay)
            delay = min(delay * 2, self._max_backoff)

    def _spawn(self, coroutine: Any, name: str) -> None:
        if any(task.get_name() == name for task in self._side_tasks):
            coroutine.close()
            return
        task = asyncio.create_task(coroutine, name=name)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _retry_undecrypted(self) -> None:
        client = self._require_client()
        waiting, self._undecrypted = self._undecrypted, []
        for item in waiting:
            try:
                event = client.decrypt_event(item.event)
            except Exception:
                event = None
            if event is not None and not isinstance(event, MegolmEvent):
                await self._on_event(item.room_id, event)
            elif time.monotonic() - item.since < UNDECRYPTED_KEEP:
                self._undecrypted.append(item)
            else:
                log.warning(
                    "matrix: gave up on an event in %s that could not be decrypted", item.room_id
                )

    # --- acting on events ---

    async def _on_event(self, room_id: str, event: Any) -> None:
        if isinstance(event, MegolmEvent):
            log.info("matrix: an event in %s cannot be decrypted yet; waiting for its key", room_id)
            self._undecrypted.append(_Undecrypted(room_id, event))
            return
        source = getattr(event, "source", None)
        if not isinstance(source, Mapping):
            return
        if room_id not in self._rooms:
            private = await self._people_room(room_id)
            if private is not None:
                await self._on_people_event(room_id, source, private=private)
                return
        room_event = to_room_event(room_id, source, self.user_id)
        if room_event is None or not wants_attention(room_event):
            return
        try:
            await self._handle(room_event)
        except Exception:
            log.exception(
                "matrix: failed to act on event %s from %s in %s",
                room_event.event_id,
                pseudonym(room_event.sender),
                room_id,
            )
            await self._apologise(room_event)

    async def _handle(self, event: RoomEvent) -> None:
        if await act_on(self._sessions, event, self.desk, lambda: self._power_of(event)):
            self._on_queued()
            if event.text.lstrip().lower().startswith("!community"):
                # A room may have just been linked: join it if it lets the bot in.
                self._spawn(self._join_linked(), "matrix-join-linked")

    # --- direct chats and community rooms ---

    async def _accept_invitation(self, room_id: str, invite_state: list[Any]) -> bool:
        """Join a room linked to a community, or a direct chat someone opened with innobot."""
        client = self._require_client()
        inviter = is_direct_invite(invite_state, self.user_id)
        async with self._sessions() as session:
            linked = await engagement_store.community_of_room(session, room_id) is not None
        if not linked and (inviter is None or self._on_message is None):
            return False
        joined = await client.join(room_id)
        if not isinstance(joined, JoinResponse):
            log.warning("matrix: could not join %s after an invitation: %s", room_id, joined)
            return True
        self._joined.add(room_id)
        if linked:
            log.info("matrix: joined community room %s", room_id)
        elif inviter is not None:
            async with self._sessions() as session, session.begin():
                await store.set_state(session, DIRECT_KEY + room_id, inviter)
            self._directs[room_id] = inviter
            log.info("matrix: joined a direct chat with %s", pseudonym(inviter))
        self._on_queued()
        return True

    async def _join_linked(self) -> None:
        """Join the community rooms innobot is not in yet (possible once invited, or if public)."""
        client = self._client
        if client is None:
            return
        async with self._sessions() as session:
            communities = await engagement_store.communities(session)
        for room in sorted({c.matrix_room_id for c in communities if c.matrix_room_id}):
            if room in self._joined:
                continue
            try:
                answer = await client.join(room)
            except (ClientError, OSError, TimeoutError):
                continue
            if isinstance(answer, JoinResponse):
                log.info("matrix: joined community room %s", room)
                self._joined.add(room)
                self._on_queued()
            else:
                log.info("matrix: cannot join community room %s until invited", room)

    async def _people_room(self, room_id: str) -> bool | None:
        """True for a direct chat, False for a community room, None for any other room."""
        if self._on_message is None:
            return None
        if room_id in self._directs:
            return True
        async with self._sessions() as session:
            if await engagement_store.community_of_room(session, room_id) is not None:
                return False
            partner = await store.get_state(session, DIRECT_KEY + room_id)
        if partner is None:
            return None
        self._directs[room_id] = partner
        return True

    async def _on_people_event(
        self, room_id: str, source: Mapping[str, Any], *, private: bool
    ) -> None:
        """A message in a direct chat or community room, handed to the dispatcher once."""
        assert self._on_message is not None
        client = self._require_client()
        sender = source.get("sender")
        event_id = source.get("event_id")
        if not isinstance(sender, str) or not isinstance(event_id, str):
            return
        if private and sender != self._directs.get(room_id):
            return  # someone else in a direct chat: it is not theirs
        room = client.rooms.get(room_id)
        name = room.user_name(sender) if room is not None else None
        msg = to_incoming(room_id, source, self.user_id, private=private, display_name=name)
        if msg is None:
            return
        target = reply_target(source)
        if target is not None and msg.command is not None and msg.command[0] == "report":
            msg = dataclasses.replace(msg, reply_to=await self._quoted(room_id, target))
        # The dispatcher records the event in the transaction of its effects: a sync replayed
        # after a crash finds it there (and drops it), whether the crash came before or after.
        await self._on_message(dataclasses.replace(msg, event_id=event_id))

    async def _quoted(self, room_id: str, event_id: str) -> Quoted | None:
        """The message replied to, as handlers see it (None if it cannot be read)."""
        client = self._require_client()
        try:
            answer = await client.room_get_event(room_id, event_id)
        except (ClientError, OSError, TimeoutError):
            return None
        if not isinstance(answer, RoomGetEventResponse):
            return None
        event = answer.event
        if isinstance(event, MegolmEvent):
            with contextlib.suppress(Exception):
                event = client.decrypt_event(event)
        source = getattr(event, "source", None)
        return quoted_from(source, self.user_id) if isinstance(source, Mapping) else None

    async def _apologise(self, event: RoomEvent) -> None:
        with contextlib.suppress(Exception):
            async with self._sessions() as session, session.begin():
                text = t(self._settings.matrix_language, "errors.apology")
                enqueue(session, Platform.MATRIX, event.room_id, [Reply(text)])
            self._on_queued()

    async def _power_of(self, event: RoomEvent) -> int | None:
        """The sender's power level from the room's current state (None: not a member).

        Membership and power levels are read from the homeserver for every command; only the
        room's creation (immutable) is remembered.
        """
        client = self._require_client()
        try:
            member, levels, creation = await asyncio.gather(
                client.room_get_state_event(event.room_id, "m.room.member", event.sender),
                client.room_get_state_event(event.room_id, "m.room.power_levels"),
                self._creation(event.room_id),
            )
        except (ClientError, OSError, TimeoutError) as exc:
            log.warning("matrix: could not read power levels (%s); refusing", type(exc).__name__)
            return None
        if not isinstance(member, RoomGetStateEventResponse):
            return None
        if member.content.get("membership") != "join":
            return None
        if isinstance(levels, RoomGetStateEventResponse):
            return power_level(levels.content, event.sender, creation)
        if getattr(levels, "status_code", None) == "M_NOT_FOUND":
            return power_level(None, event.sender, creation)
        return None

    async def _creation(self, room_id: str) -> RoomCreation | None:
        known = self._creations.get(room_id)
        if known is not None:
            return known
        client = self._require_client()
        state = await client.room_get_state(room_id)
        events = getattr(state, "events", None)
        if not isinstance(events, list):
            return None
        for raw in events:
            if isinstance(raw, Mapping) and raw.get("type") == "m.room.create":
                creation = RoomCreation.from_event(raw)
                self._creations[room_id] = creation
                return creation
        return None

    # --- sending ---

    def _room_of(self, room: str) -> str:
        if room == MODERATION_ROOM:
            if not self._rooms:
                raise RetryLater(self._retry_delay, "moderation room not known yet")
            return self._rooms[0]
        return room

    async def send(self, chat_id: str, reply: Reply) -> Receipt | None:
        """Post ``reply`` where ``chat_id`` (a :class:`RoomAddress`) says; a reply carrying a
        group action is carried out in the room instead, and its outcome returned."""
        if self._client is None or not self.connected:
            raise RetryLater(self._retry_delay, "not connected to the homeserver")
        address = RoomAddress.parse(chat_id)
        room = self._room_of(address.room)
        if reply.action is not None:
            return await self._act(room, reply.action, reply.text)
        if address.card is not None:
            await self._send_card(room, address.card)
            return None
        root = address.thread_event
        if address.thread_ref is not None:
            root = await self._card_event(address.thread_ref, room)
        if reply.document is None:
            await self._room_send(room, message_content(reply, root))
            return None
        # A reply with a file is two messages: a retry sends only what did not go out yet.
        key = hashlib.sha256(
            f"{room}|{reply.text}|{reply.document.filename}".encode() + reply.document.content
        ).hexdigest()
        if key not in self._texts_sent:
            await self._room_send(room, message_content(reply, root))
            self._texts_sent[key] = None
            while len(self._texts_sent) > 1000:
                del self._texts_sent[next(iter(self._texts_sent))]
        await self._send_document(room, reply.document)
        self._texts_sent.pop(key, None)
        return None

    # --- acting on reports in community rooms ---

    async def _act(self, room: str, action: GroupAction, reason: str) -> Receipt:
        """Carry out ``action`` in the community room ``room``.

        ``delete_message`` redacts the event (with ``reason``); ``restrict`` lowers the member's
        power level below what speaking needs (the receipt says what it was, ``previous``, None
        for the room's default, and whether the member could not speak ``already``);
        ``unrestrict`` gives it back; ``check_rights`` (a room just linked: innobot joins it
        first if it may) says innobot's level, ``have``, and the ``redact`` and
        ``power_levels`` levels acting needs. The receipt says ``ok`` and
        otherwise ``reason``: ``no_right`` (innobot's level, ``have``, is below the ``needed``
        one to ``right``: ``redact`` or ``power_levels``), ``not_member``, ``gone`` (the event
        no longer exists) or ``is_admin`` (the member's ``level`` is not below innobot's).
        Network trouble and rate limiting raise, so that the outbox tries again.
        """
        if action.kind == "check_rights" and room not in self._joined:
            await self._join_for_check(room)
        if room not in self._joined:
            return {"ok": False, "reason": "not_member", "detail": "innobot is not in the room"}
        levels = await self._levels(room)
        if levels is None:
            return {"ok": False, "reason": "not_member", "detail": "cannot read the room's state"}
        creation = await self._creation(room)
        own = power_level(levels, self.user_id, creation)
        if action.kind == "check_rights":
            return {
                "ok": True,
                "have": own,
                "redact": redact_level(levels),
                "power_levels": event_level(levels, "m.room.power_levels", state=True),
            }
        if action.kind == "delete_message":
            receipt = await self._redact(room, action, reason, levels, own)
        elif action.kind in ("restrict", "unrestrict") and action.user_id:
            receipt = await self._set_power(room, action, levels, own, creation)
        else:
            raise RejectedMessage(f"unknown group action {action.kind!r}")
        outcome = "done" if receipt.get("ok") else f"refused ({receipt.get('reason')})"
        log.info("matrix: %s in %s for %s: %s", action.kind, room, action.ref, outcome)
        return receipt

    async def _join_for_check(self, room: str) -> None:
        """Join a room just linked, if it lets innobot in (invited, or public)."""
        client = self._require_client()
        answer = await self._call(client.join(room))
        if isinstance(answer, JoinResponse):
            log.info("matrix: joined community room %s", room)
            self._joined.add(room)

    async def _levels(self, room: str) -> dict[str, Any] | None:
        """The room's ``m.room.power_levels`` content now ({} if it has none; None: unreadable)."""
        client = self._require_client()
        answer = await self._call(client.room_get_state_event(room, "m.room.power_levels"))
        if isinstance(answer, RoomGetStateEventResponse):
            return dict(answer.content)
        code = getattr(answer, "status_code", None)
        if code == "M_NOT_FOUND":
            return {}
        if code == "M_FORBIDDEN":
            return None
        raise TransientFailure(f"power levels unreadable: {answer}")

    async def _call(self, request: Awaitable[Any]) -> Any:
        """A homeserver request; unreachable or rate limited: :class:`RetryLater`."""
        try:
            answer = await request
        except (ClientError, OSError, TimeoutError) as exc:
            raise RetryLater(
                self._retry_delay, f"homeserver unreachable: {_describe(exc)}"
            ) from exc
        delay = _rate_limit_delay(answer)
        if delay is not None:
            self.rate_limited += 1
            raise RetryLater(delay, "429")
        return answer

    async def _redact(
        self, room: str, action: GroupAction, reason: str, levels: dict[str, Any], own: int
    ) -> Receipt:
        needed = redact_level(levels)
        if own < needed:
            return {
                "ok": False,
                "reason": "no_right",
                "right": "redact",
                "needed": needed,
                "have": own,
            }
        client = self._require_client()
        event_id = action.message_id or ""
        found = await self._call(client.room_get_event(room, event_id))
        if not isinstance(found, RoomGetEventResponse):
            if getattr(found, "status_code", None) == "M_NOT_FOUND":
                return {"ok": False, "reason": "gone", "detail": "no such event"}
            raise TransientFailure(f"event unreadable: {found}")
        unsigned = getattr(found.event, "source", {}).get("unsigned") or {}
        if isinstance(unsigned, Mapping) and "redacted_because" in unsigned:
            return {"ok": False, "reason": "gone", "detail": "already redacted"}
        answer = await self._call(client.room_redact(room, event_id, reason=reason[:500] or None))
        if isinstance(answer, RoomRedactResponse):
            return {"ok": True, "event_id": str(answer.event_id)}
        return self._refusal(answer, "redact", needed, own)

    async def _set_power(
        self,
        room: str,
        action: GroupAction,
        levels: dict[str, Any],
        own: int,
        creation: RoomCreation | None,
    ) -> Receipt:
        member = action.user_id or ""
        needed = event_level(levels, "m.room.power_levels", state=True)
        if own < needed:
            return {
                "ok": False,
                "reason": "no_right",
                "right": "power_levels",
                "needed": needed,
                "have": own,
            }
        current = power_level(levels, member, creation)
        silent = mute_level(levels)
        if action.kind == "restrict":
            if current >= own:
                return {"ok": False, "reason": "is_admin", "level": current, "have": own}
            previous = explicit_level(levels, member)
            if current > silent:
                content = with_user_level(levels, member, silent)
                refusal = await self._put_levels(room, content, needed, own)
                if refusal is not None:
                    return refusal
            return {
                "ok": True,
                "previous": previous,
                "level": min(current, silent),
                "already": current <= silent,
            }
        # unrestrict: only a member still unable to speak gets their level back (a room admin
        # may have changed it meanwhile: theirs is the last word).
        if current > silent:
            return {"ok": True, "unchanged": True}
        if current >= own or (action.level is not None and action.level > own):
            return {"ok": False, "reason": "is_admin", "level": current, "have": own}
        content = with_user_level(levels, member, action.level)
        refusal = await self._put_levels(room, content, needed, own)
        return refusal if refusal is not None else {"ok": True}

    async def _put_levels(
        self, room: str, content: dict[str, Any], needed: int, own: int
    ) -> Receipt | None:
        client = self._require_client()
        answer = await self._call(client.room_put_state(room, "m.room.power_levels", content))
        if isinstance(answer, RoomPutStateResponse):
            return None
        return self._refusal(answer, "power_levels", needed, own)

    @staticmethod
    def _refusal(answer: Any, right: str, needed: int, own: int) -> Receipt:
        code = getattr(answer, "status_code", None)
        detail = str(getattr(answer, "message", "") or answer)[:200]
        if code == "M_FORBIDDEN":
            return {
                "ok": False,
                "reason": "no_right",
                "right": right,
                "needed": needed,
                "have": own,
                "detail": detail,
            }
        if code == "M_NOT_FOUND":
            return {"ok": False, "reason": "gone", "detail": detail}
        raise TransientFailure(f"{right}: {answer}")

    async def _send_document(self, room: str, document: Document) -> None:
        """Upload ``document`` (encrypted in encrypted rooms) and post it as an ``m.file``."""
        client = self._client
        if client is None:
            raise RetryLater(self._retry_delay, "not connected to the homeserver")
        joined = client.rooms.get(room)
        encrypted = bool(getattr(joined, "encrypted", False))
        try:
            answer, keys = await client.upload(
                io.BytesIO(document.content),
                content_type=document.mime_type,
                filename=document.filename,
                encrypt=encrypted,
                filesize=len(document.content),
            )
        except (ClientError, OSError, TimeoutError) as exc:
            raise RetryLater(self._retry_delay, f"upload failed: {_describe(exc)}") from exc
        if not isinstance(answer, UploadResponse):
            delay = _rate_limit_delay(answer)
            if delay is not None:
                raise RetryLater(delay, "429 on upload")
            if getattr(answer, "status_code", None) == "M_TOO_LARGE":
                raise RejectedMessage("file too large for the homeserver")
            raise TransientFailure(f"upload failed: {answer}")
        size = len(document.content)
        content = file_content(document.filename, document.mime_type, size, answer.content_uri)
        if keys is not None:
            del content["url"]
            content["file"] = {**keys, "url": answer.content_uri}
        await self._room_send(room, content)

    async def _card_event(self, ref_text: str, room: str) -> str | None:
        ref = parse_ref(ref_text)
        if ref is None:
            return None
        async with self._sessions() as session:
            card = await store.card_of(session, *ref, room_id=room)
        return card.event_id if card is not None else None

    async def _send_card(self, room: str, ref_text: str) -> None:
        ref = parse_ref(ref_text)
        if ref is None:
            raise RejectedMessage(f"not an item reference: {ref_text[:40]}")
        async with self._sessions() as session:
            card = await render_card(session, *ref, self._settings.matrix_language)
        if card is None:
            log.warning("matrix: item %s is gone; its card is not posted", ref_text)
            return
        # The same transaction id for the same card: a retried send does not post it twice.
        txn = "innobot-card-" + hashlib.sha256(f"{room}|{ref_text}".encode()).hexdigest()[:24]
        event_id = await self._room_send(room, message_content(card), txn)
        async with self._sessions() as session, session.begin():
            await store.save_card(session, *ref, room, event_id)

    async def _room_send(self, room: str, content: dict[str, Any], txn: str | None = None) -> str:
        client = self._client
        if client is None:
            raise RetryLater(self._retry_delay, "not connected to the homeserver")
        if room not in self._joined:
            if room not in self._rooms:
                # A community room or direct chat innobot was removed from: it is gone.
                raise PermanentFailure("not in the room")
            raise RetryLater(self._retry_delay, "not in the room")
        # One send at a time: after a 429 every waiting send honours its retry_after_ms, and
        # messages keep their order.
        async with self._send_lock:
            txn = txn or uuid.uuid4().hex
            for _attempt in range(RATE_LIMIT_RETRIES + 1):
                wait = self._throttled_until - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                answer = await self._room_send_once(client, room, content, txn)
                if isinstance(answer, RoomSendResponse):
                    return str(answer.event_id)
                delay = _rate_limit_delay(answer)
                if delay is None:
                    break
                self.rate_limited += 1
                self._throttled_until = max(self._throttled_until, time.monotonic() + delay)
            else:
                raise RetryLater(max(0.1, self._throttled_until - time.monotonic()), "429")
        code = getattr(answer, "status_code", None)
        if code == "M_FORBIDDEN":
            if room not in self._rooms:
                raise PermanentFailure("M_FORBIDDEN in a community room or direct chat")
            # Kicked or muted: keep the message until the bot may speak again.
            raise RetryLater(self._retry_delay, "M_FORBIDDEN")
        if code == "M_TOO_LARGE":
            raise RejectedMessage("message too large for the homeserver")
        raise TransientFailure(f"send failed: {answer}")

    async def _room_send_once(
        self, client: AsyncClient, room: str, content: dict[str, Any], txn: str
    ) -> Any:
        try:
            return await client.room_send(
                room, "m.room.message", content, tx_id=txn, ignore_unverified_devices=True
            )
        except (ClientError, OSError, TimeoutError) as exc:
            raise RetryLater(
                self._retry_delay, f"homeserver unreachable: {_describe(exc)}"
            ) from exc
        except (LocalProtocolError, SendRetryError, OlmUnverifiedDeviceError) as exc:
            raise TransientFailure(f"cannot send yet: {exc}") from exc

    def in_room(self, room_id: str) -> bool:
        """Whether the bot is in ``room_id`` now (as far as the last sync told)."""
        return room_id in self._joined


async def act_on(
    sessions: async_sessionmaker[AsyncSession],
    event: RoomEvent,
    desk: DeskConfig,
    power_of: PowerLookup,
) -> bool:
    """Act on ``event`` once: its effects, what it makes the bot say and the record that it was
    handled are committed together. False if it had been handled already.

    A busy or conflicting database is retried: the whole event is handled again from the start.
    """
    for attempt in range(1, DB_ATTEMPTS + 1):
        try:
            async with sessions() as session, session.begin():
                if await store.is_handled(session, Platform.MATRIX.value, event.event_id):
                    return False
                out = await handle_room_event(session, event, desk, power_of)
                store.mark_handled(session, Platform.MATRIX.value, event.event_id)
                for message in out:
                    priority = (
                        PRIORITY_REPLY
                        if message.to.platform is Platform.MATRIX
                        else PRIORITY_NOTIFICATION
                    )
                    enqueue(
                        session,
                        message.to.platform,
                        message.to.chat_id,
                        [message.reply],
                        person_id=message.person_id,
                        priority=priority,
                    )
            return True
        except (OperationalError, IntegrityError):
            if attempt == DB_ATTEMPTS:
                raise
            await asyncio.sleep(0.05 * 2**attempt)
    return False


def _own_join(events: list[Any], own_user: str) -> int:
    """The index of the bot's own joining in ``events`` (the last one), or -1."""
    for index in range(len(events) - 1, -1, -1):
        source = getattr(events[index], "source", None)
        if not isinstance(source, Mapping) or source.get("type") != "m.room.member":
            continue
        content = source.get("content")
        unsigned = source.get("unsigned")
        previous = unsigned.get("prev_content") if isinstance(unsigned, Mapping) else None
        if (
            source.get("state_key") == own_user
            and isinstance(content, Mapping)
            and content.get("membership") == "join"
            and not (isinstance(previous, Mapping) and previous.get("membership") == "join")
        ):
            return index
    return -1


def _rate_limit_delay(answer: Any) -> float | None:
    """Seconds a 429 / M_LIMIT_EXCEEDED answer asks to wait; None for other answers."""
    code = getattr(answer, "status_code", None)
    retry_ms = getattr(answer, "retry_after_ms", None)
    if code not in ("M_LIMIT_EXCEEDED", 429, "429") and not retry_ms:
        return None
    # A little more than asked: the homeserver's bucket refills continuously.
    return float(retry_ms or 1000) / 1000 * 1.05 + 0.01


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
