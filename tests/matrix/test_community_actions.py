"""Acting on reports from a Matrix community room, against the real homeserver: ``!community
remove`` redacts the reported message, ``!community mute`` lowers the member's power level so that
the homeserver refuses what they send, and the end of the mute (or ``!community unmute``, before
its time) gives their level back; without the power level (or against a room admin) nothing
changes and the moderation room is told why, in its language. Linking the room checks innobot's
power levels there.

innobot runs complete (``bot.app``) against Synapse and the Bot API double. The end of a mute is
an outbox row due at that time: the test makes it due now instead of waiting for the clock.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from nio import RoomGetEventResponse, RoomGetStateEventResponse, RoomSendResponse
from pydantic import SecretStr
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.app import App, build_app
from bot.settings import Settings
from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from handlers.markup import to_plain
from storage.models import GroupReport, OutboxMessage, OutboxStatus, utcnow
from tests.e2e.conftest import FAST_LIMITS, FAST_PACING
from tests.fakes.bot_api import FakeBotAPI
from tests.matrix.conftest import MakeMember
from tests.matrix.member import Member, Source, body
from tests.matrix.synapse import Synapse


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=FAST_LIMITS) as server:
        yield server


def shown(lang: str, key: str, /, **values: object) -> str:
    return to_plain(t(lang, key, **values)).strip()


def says(lang: str, key: str, /, **values: object) -> Callable[[Source], bool]:
    """The event's body contains the catalog text ``key``; a value given as ``...`` may be
    anything (the text around it must be there)."""
    marker = "\x00"
    parts = shown(lang, key, **{k: marker if v is ... else v for k, v in values.items()})
    pieces = [p for p in parts.split(marker) if p]
    return lambda event: all(piece in body(event) for piece in pieces)


def refused(lang: str, ref: str, why_key: str, /, **values: object) -> Callable[[Source], bool]:
    why = t(lang, why_key, **values)
    return says(lang, "engagement.matrix_refused", ref=ref, why=why)


async def _innobot(
    fake: FakeBotAPI,
    synapse: Synapse,
    db_url: str,
    data_dir: Path,
    room: str,
    token: str,
    lang: str,
) -> App:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        data_dir=data_dir,
        database_url=db_url,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        flood_burst=1000,
        matrix_homeserver=synapse.url,
        matrix_access_token=SecretStr(token),
        matrix_rooms=room,
        matrix_max_backoff=1.0,
        matrix_send_rate=100.0,
        matrix_language=lang,  # type: ignore[arg-type]
    )
    app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
    assert app.telegram is not None
    app.telegram.pacing = FAST_PACING
    await app.start()
    assert app.matrix is not None
    await app.matrix.wait_ready()
    return app


class Scene:
    """A moderation desk and a linked community room with its host (the room's creator)."""

    def __init__(self, app: App, moderator: Member, desk: str, host: Member, room: str) -> None:
        self.app, self.moderator, self.desk, self.host, self.room = app, moderator, desk, host, room
        assert app.matrix is not None
        self.bot = app.matrix.user_id

    async def command(self, text: str, heard: Callable[[Source], bool]) -> Source:
        """A moderator's command, and the first later message of innobot's that ``heard``."""
        before = len(self.moderator.messages(self.desk, self.bot))
        await self.moderator.say(self.desk, text)
        return await self.heard(heard, before)

    async def heard(self, predicate: Callable[[Source], bool], after: int = 0) -> Source:
        def later(event: Source) -> bool:
            return event in self.moderator.messages(self.desk, self.bot)[after:] and predicate(
                event
            )

        try:
            return await self.moderator.wait_for(self.desk, self.bot, later)
        except TimeoutError:
            said = [body(e) for e in self.moderator.messages(self.desk, self.bot)[after:]]
            raise AssertionError(f"not heard in the moderation room: {said}") from None

    async def member(self, make_member: MakeMember) -> Member:
        someone = await make_member()
        await self.host.invite(self.room, someone.user_id)
        await someone.join(self.room)
        await self.host.wait_for_member(self.room, someone.user_id)
        return someone

    async def report(self, reporter: Member, author: Member, event_id: str, ref: str) -> None:
        """``reporter`` replies to ``event_id`` with !report; the card ``ref`` reaches the desk."""
        await reporter.client.room_send(
            self.room,
            "m.room.message",
            {
                "msgtype": "m.text",
                "body": f"> <{author.user_id}> ...\n\n!report",
                "m.relates_to": {"m.in_reply_to": {"event_id": event_id}},
            },
        )
        await self.heard(lambda e: ref in body(e) and author.user_id in body(e))

    async def status(self, report: int) -> str:
        async with self.app.sessions() as session:
            found = await session.get(GroupReport, report)
            assert found is not None
            return found.status

    async def users(self) -> dict[str, int]:
        answer = await self.host.client.room_get_state_event(self.room, "m.room.power_levels")
        assert isinstance(answer, RoomGetStateEventResponse)
        return dict(answer.content.get("users", {}))


@pytest.fixture
async def scene(
    fake: FakeBotAPI,
    synapse: Synapse,
    make_member: MakeMember,
    db_url: str,
    tmp_path: Path,
    engine: AsyncEngine,
    request: pytest.FixtureRequest,
) -> AsyncIterator[Scene]:
    """``engine``: the test's database, with innobot's schema."""
    lang = getattr(request, "param", "en")
    moderator = await make_member()
    bot_user = synapse.register(None)
    desk = await moderator.create_room([bot_user.user_id])
    app = await _innobot(fake, synapse, db_url, tmp_path, desk, bot_user.access_token, lang)
    try:
        await moderator.wait_for_member(desk, bot_user.user_id)
        host = await make_member()
        room = await host.create_room([], name="Energia")
        stage = Scene(app, moderator, desk, host, room)
        await stage.command("!community create Energia | topics=energy", lambda e: "K-1" in body(e))
        await stage.command(f"!community link 1 matrix {room}", lambda e: room in body(e))
        await host.invite(room, stage.bot)
        await host.wait_for_member(room, stage.bot)
        yield stage
    finally:
        await app.stop()


async def _can_send(member: Member, room: str) -> str | None:
    """None if ``member`` may speak in ``room``; else the homeserver's error code."""
    answer = await member.client.room_send(
        room, "m.room.message", {"msgtype": "m.text", "body": "Still here?"}
    )
    return None if isinstance(answer, RoomSendResponse) else str(answer.status_code)


@pytest.mark.parametrize("scene", ["en", "it", "sv"], indirect=True)
async def test_remove_redacts_and_mute_silences_until_the_end(
    scene: Scene, make_member: MakeMember
) -> None:
    lang = scene.app.settings.matrix_language
    await scene.host.set_power(scene.room, scene.bot, 100)
    spammer = await scene.member(make_member)
    reporter = await scene.member(make_member)

    # Remove: the reported message is redacted, as any other client reads it back.
    rude = await spammer.say(scene.room, "Buy cheap solar panels at spam.example")
    await scene.report(reporter, spammer, rude, "R-1")
    await scene.command(
        "!community remove R-1", says(lang, "engagement.matrix_removing", ref="R-1")
    )
    await scene.heard(says(lang, "engagement.matrix_removed_done", ref="R-1"))
    answer = await scene.host.client.room_get_event(scene.room, rude)
    assert isinstance(answer, RoomGetEventResponse)
    redacted = answer.event.source
    assert "redacted_because" in redacted.get("unsigned", {})
    assert "body" not in redacted.get("content", {})
    assert await scene.status(1) == "removed"

    # Mute: the homeserver refuses what the member sends, until the mute ends.
    again = await spammer.say(scene.room, "Really cheap panels, spam.example")
    await scene.report(reporter, spammer, again, "R-2")
    await scene.command(
        "!community mute R-2 30m", says(lang, "engagement.matrix_muting", ref="R-2", until=...)
    )
    await scene.heard(says(lang, "engagement.matrix_muted_done", ref="R-2", until=...))
    assert await _can_send(spammer, scene.room) == "M_FORBIDDEN"
    assert await scene.status(2) == "muted"
    assert (await scene.users())[spammer.user_id] < 0
    assert await _can_send(reporter, scene.room) is None  # nobody else is affected

    async with scene.app.sessions() as session, session.begin():
        [end] = await session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.chat_id == scene.room,
                OutboxMessage.status == OutboxStatus.PENDING.value,
                OutboxMessage.payload["action"]["kind"].as_string() == "unrestrict",
            )
        )
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == end)
            .values(next_attempt_at=utcnow())  # the 30 minutes are over
        )
    scene.app.worker.wake()
    await scene.heard(says(lang, "engagement.matrix_unmuted", ref="R-2"))
    assert await _can_send(spammer, scene.room) is None
    assert spammer.user_id not in await scene.users()  # back to the room's default
    async with scene.app.sessions() as session:
        done = await session.get(OutboxMessage, end)
        assert done is not None
        assert (done.status, done.payload) == (OutboxStatus.SENT.value, {})  # no member id kept

    # Unmute: a mute ended before its time; the end that waited for it does not act any more.
    third = await spammer.say(scene.room, "Last chance: panels at spam.example")
    await scene.report(reporter, spammer, third, "R-3")
    await scene.command(
        "!community mute R-3 7d", says(lang, "engagement.matrix_muted_done", ref="R-3", until=...)
    )
    assert await _can_send(spammer, scene.room) == "M_FORBIDDEN"
    await scene.command(
        "!community unmute R-3", says(lang, "engagement.report_unmuted_done", ref="R-3")
    )
    assert await _can_send(spammer, scene.room) is None
    assert spammer.user_id not in await scene.users()
    assert await scene.status(3) == "unmuted"
    async with scene.app.sessions() as session:
        ends = list(
            await session.scalars(
                select(OutboxMessage).where(
                    OutboxMessage.chat_id == scene.room,
                    OutboxMessage.status == OutboxStatus.DROPPED.value,
                )
            )
        )
        assert [row.payload for row in ends] == [{}]


async def test_without_the_power_level_or_against_an_admin_the_room_is_told(
    scene: Scene, make_member: MakeMember
) -> None:
    lang = "en"
    # The link came before innobot was invited; linked again now that it is in, with the room's
    # default level (0), the moderation room hears both levels it lacks and the ones needed.
    await scene.heard(says(lang, "engagement.matrix_rights_not_member", name="Energia"))
    missing = (
        f"{t(lang, 'engagement.power_redact')} (50), {t(lang, 'engagement.power_levels')} (100)"
    )
    await scene.command(
        f"!community link 1 matrix {scene.room}",
        says(lang, "engagement.matrix_rights_low", name="Energia", have=0, missing=missing),
    )
    spammer = await scene.member(make_member)
    reporter = await scene.member(make_member)
    rude = await spammer.say(scene.room, "Buy cheap solar panels at spam.example")
    await scene.report(reporter, spammer, rude, "R-1")

    # innobot has the room's default level (0): it may neither redact nor change levels.
    redact = t(lang, "engagement.power_redact")
    await scene.command(
        "!community remove R-1",
        refused(lang, "R-1", "engagement.matrix_no_power", what=redact, needed=50, have=0),
    )
    levels = t(lang, "engagement.power_levels")
    await scene.command(
        "!community mute R-1 1h",
        refused(lang, "R-1", "engagement.matrix_no_power", what=levels, needed=100, have=0),
    )
    assert await _can_send(spammer, scene.room) is None
    assert await scene.status(1) == "open"

    # With the power level: a room admin cannot be muted, a message already gone not removed.
    await scene.host.set_power(scene.room, scene.bot, 100)
    await scene.command(
        f"!community link 1 matrix {scene.room}",
        says(lang, "engagement.matrix_rights_ok", name="Energia", have=100),
    )
    await scene.host.set_power(scene.room, spammer.user_id, 100)
    await scene.command(
        "!community mute R-1 1h", refused(lang, "R-1", "engagement.matrix_is_admin")
    )
    await spammer.redact(scene.room, rude)
    await scene.command("!community remove R-1", refused(lang, "R-1", "engagement.matrix_gone"))
    assert await scene.status(1) == "open"
    assert (await scene.users())[spammer.user_id] == 100
