"""A room member played by a test: a real matrix-nio client that syncs in the background.

Moderators (and members without power) in the Matrix tests are :class:`Member` objects: they
create rooms, invite, send commands, react, edit and redact, and await what the bot posts.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from nio import (
    AsyncClient,
    AsyncClientConfig,
    JoinResponse,
    MegolmEvent,
    RoomCreateResponse,
    RoomPreset,
    RoomSendResponse,
    SyncResponse,
)

from tests.matrix.synapse import MatrixUser

Source = dict[str, Any]


class Member:
    """One user's client. ``events[room_id]`` holds every event seen, decrypted when possible."""

    def __init__(self, homeserver: str, user: MatrixUser, store: Path | None = None) -> None:
        self.user = user
        config = AsyncClientConfig(
            encryption_enabled=store is not None,
            store_sync_tokens=False,
            max_limit_exceeded=None,
            max_timeout_retry_wait_time=1.0,
        )
        if store is not None:
            store.mkdir(parents=True, exist_ok=True)
        self.client = AsyncClient(
            homeserver, user.user_id, device_id=user.device_id,
            store_path=str(store) if store else "", config=config,
        )  # fmt: skip
        self.client.restore_login(user.user_id, user.device_id, user.access_token)
        self.events: dict[str, list[Source]] = defaultdict(list)
        self._seen: set[str] = set()
        self._arrived = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self._token: str | None = None

    @property
    def user_id(self) -> str:
        return self.user.user_id

    async def start(self) -> None:
        await self._sync(0)
        self._task = asyncio.create_task(self._loop(), name=f"member-{self.user.localpart}")

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        await self.client.close()

    async def _loop(self) -> None:
        while True:
            try:
                await self._sync(5000)
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.2)  # the homeserver is down in some tests: poll again

    async def _sync(self, timeout_ms: int) -> None:
        answer = await self.client.sync(timeout=timeout_ms, since=self._token, full_state=None)
        if not isinstance(answer, SyncResponse):
            raise RuntimeError(f"sync failed: {answer}")
        self._token = answer.next_batch
        client = self.client
        if client.olm is not None:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await client.keys_query()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            await client.send_to_device_messages()
        for room_id in answer.rooms.invite:
            await client.join(room_id)
        async with self._arrived:
            for room_id, info in answer.rooms.join.items():
                for event in info.timeline.events:
                    if isinstance(event, MegolmEvent):
                        decrypted = client.decrypt_event(event)
                        event = decrypted if decrypted is not None else event
                    source = dict(event.source)
                    source["received_at"] = time.monotonic()  # for benchmarks
                    if source.get("event_id") in self._seen:
                        continue
                    self._seen.add(source.get("event_id", ""))
                    if isinstance(event, MegolmEvent):
                        source["undecrypted"] = True
                    elif getattr(event, "decrypted", False):
                        source["decrypted"] = True
                    self.events[room_id].append(source)
            self._arrived.notify_all()

    # --- rooms ---

    async def create_room(
        self,
        invite: list[str],
        *,
        powers: Mapping[str, int] | None = None,
        encrypted: bool = False,
        name: str = "Moderation",
    ) -> str:
        initial: list[dict[str, Any]] = []
        if encrypted:
            initial.append(
                {
                    "type": "m.room.encryption",
                    "state_key": "",
                    "content": {"algorithm": "m.megolm.v1.aes-sha2"},
                }
            )
        # Room version 12: the creator's power is unlimited and must not be listed.
        levels = {"users": dict(powers or {})}
        answer = await self.client.room_create(
            name=name,
            invite=invite,
            preset=RoomPreset.private_chat,
            initial_state=initial,
            power_level_override=levels,
        )
        if not isinstance(answer, RoomCreateResponse):
            raise RuntimeError(f"room_create failed: {answer}")
        await self.wait_joined(answer.room_id)
        return str(answer.room_id)

    async def join(self, room_id: str) -> None:
        answer = await self.client.join(room_id)
        if not isinstance(answer, JoinResponse):
            raise RuntimeError(f"join failed: {answer}")
        await self.wait_joined(room_id)

    async def wait_joined(self, room_id: str, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: room_id in self.client.rooms)

    async def wait_for_member(self, room_id: str, user_id: str, timeout: float = 30.0) -> None:
        """Wait until ``user_id`` has joined ``room_id`` (as this member's client sees it)."""

        def joined() -> bool:
            room = self.client.rooms.get(room_id)
            return room is not None and user_id in room.users and user_id not in room.invited_users

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(joined)

    async def invite(self, room_id: str, user_id: str) -> None:
        await self.client.room_invite(room_id, user_id)

    async def kick(self, room_id: str, user_id: str) -> None:
        await self.client.room_kick(room_id, user_id)

    async def set_power(self, room_id: str, user_id: str, level: int) -> None:
        current = await self.client.room_get_state_event(room_id, "m.room.power_levels")
        content = dict(current.content)
        content["users"] = {**content.get("users", {}), user_id: level}
        await self.client.room_put_state(room_id, "m.room.power_levels", content)

    # --- speaking ---

    async def _send(self, room_id: str, kind: str, content: dict[str, Any]) -> str:
        answer = await self.client.room_send(room_id, kind, content, ignore_unverified_devices=True)
        if not isinstance(answer, RoomSendResponse):
            raise RuntimeError(f"room_send failed: {answer}")
        return str(answer.event_id)

    async def say(self, room_id: str, text: str, *, thread: str | None = None) -> str:
        content: dict[str, Any] = {"msgtype": "m.text", "body": text}
        if thread is not None:
            content["m.relates_to"] = {
                "rel_type": "m.thread",
                "event_id": thread,
                "is_falling_back": True,
                "m.in_reply_to": {"event_id": thread},
            }
        return await self._send(room_id, "m.room.message", content)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        content = {"m.relates_to": {"rel_type": "m.annotation", "event_id": event_id, "key": key}}
        return await self._send(room_id, "m.reaction", content)

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        # The fallback body is the new text itself (not "* text", as some clients send), so
        # only the m.replace relation tells it is an edit.
        content = {
            "msgtype": "m.text",
            "body": text,
            "m.new_content": {"msgtype": "m.text", "body": text},
            "m.relates_to": {"rel_type": "m.replace", "event_id": event_id},
        }
        return await self._send(room_id, "m.room.message", content)

    async def redact(self, room_id: str, event_id: str) -> None:
        await self.client.room_redact(room_id, event_id, reason="test")

    # --- listening ---

    def messages(self, room_id: str, sender: str) -> list[Source]:
        return [
            e
            for e in self.events[room_id]
            if e.get("sender") == sender and e.get("type") == "m.room.message"
        ]

    async def wait_for(
        self,
        room_id: str,
        sender: str,
        predicate: Callable[[Source], bool] = lambda e: True,
        *,
        timeout: float = 30.0,
    ) -> Source:
        """The first message from ``sender`` in ``room_id`` that satisfies ``predicate``."""

        def found() -> Source | None:
            return next((e for e in self.messages(room_id, sender) if predicate(e)), None)

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: found() is not None)
        event = found()
        assert event is not None
        return event

    async def wait_count(
        self,
        room_id: str,
        sender: str,
        count: int,
        predicate: Callable[[Source], bool] = lambda e: True,
        *,
        timeout: float = 60.0,
    ) -> list[Source]:
        """Wait until ``sender`` has posted ``count`` messages that satisfy ``predicate``."""

        def matching() -> list[Source]:
            return [e for e in self.messages(room_id, sender) if predicate(e)]

        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: len(matching()) >= count)
        return matching()


def body(event: Source) -> str:
    return str(event.get("content", {}).get("body", ""))


def html(event: Source) -> str:
    return str(event.get("content", {}).get("formatted_body", ""))


def thread_of(event: Source) -> str | None:
    relates = event.get("content", {}).get("m.relates_to", {})
    return relates.get("event_id") if relates.get("rel_type") == "m.thread" else None


def is_card(ref: str) -> Callable[[Source], bool]:
    """Whether an event is the triage card of ``ref`` (its first line names it)."""
    return lambda event: body(event).split("\n", 1)[0].split(" · ", 1)[0].endswith(f" {ref}")
