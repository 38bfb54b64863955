"""Fixtures for the Matrix tests: a real Synapse for the session, members, and innobot's bot.

``synapse`` installs Synapse in ``.venv-synapse`` when it is missing (``scripts/synapse.sh``, the
same step ``make test`` runs), starts it on a free loopback port with a generated configuration,
and stops it at the end. It never skips: if Synapse cannot be had, the tests fail and say why.

``make_member()`` registers a user and starts a real matrix-nio client for them; ``make_bot()``
starts innobot's Matrix adapter with an outbox worker, a recording adapter standing in for the
submitters' Telegram, and the test's SQLite database.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.adapters.matrix import MatrixAdapter
from bot.outbox import DeliveryWorker
from bot.settings import Settings
from handlers.core import Platform
from handlers.moderation import queue_triage_card
from storage.ideas import add_idea
from storage.models import SUBMISSION_MODELS, ModerationDecision, Person, Submission
from storage.people import add_person
from tests.fakes.recording_adapter import RecordingAdapter
from tests.matrix.member import Member
from tests.matrix.synapse import MatrixUser, Synapse, SynapseUnavailable, install_synapse


@pytest.fixture(scope="session")
def synapse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synapse]:
    try:
        venv = install_synapse()
        server = Synapse(tmp_path_factory.mktemp("synapse"), venv)
        server.start()
    except SynapseUnavailable as exc:
        pytest.fail(f"the Matrix tests need a Synapse homeserver: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The Matrix tests use SQLite; the moderation logic runs on both backends elsewhere."""
    return sqlite_url


MakeMember = Callable[..., Awaitable[Member]]


@pytest.fixture
async def make_member(synapse: Synapse, tmp_path: Path) -> AsyncIterator[MakeMember]:
    started: list[Member] = []

    async def make(name: str | None = None, *, encrypted: bool = False) -> Member:
        user = synapse.register(name)
        store = tmp_path / f"store-{user.localpart}" if encrypted else None
        member = Member(synapse.url, user, store)
        await member.start()
        started.append(member)
        return member

    yield make
    for member in started:
        await member.close()


@dataclass
class Bot:
    """innobot's Matrix side as the tests run it."""

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    adapter: MatrixAdapter
    worker: DeliveryWorker
    telegram: RecordingAdapter
    user: MatrixUser
    _extra: list[Any] = field(default_factory=list)

    @property
    def user_id(self) -> str:
        return self.user.user_id

    @property
    def room(self) -> str:
        return self.adapter.rooms[0]

    async def stop(self) -> None:
        await self.adapter.stop()
        await self.worker.stop()

    async def submit_idea(
        self,
        title: str = "Solar benches for the town square",
        description: str = "Benches with solar panels that charge phones and light the square.",
        *,
        lang: str = "en",
        chat: str = "1001",
        name: str = "Ada",
        show_name: bool = False,
        topics: dict[str, float] | None = None,
    ) -> str:
        """A citizen (on Telegram) submits an idea; its card is queued with it."""
        async with self.sessions() as session, session.begin():
            person = await session.scalar(
                select(Person).where(Person.display_name == name, Person.language == lang)
            )
            if person is None:
                person = await add_person(
                    session,
                    platform=Platform.TELEGRAM.value,
                    external_id=chat,
                    chat_id=chat,
                    display_name=name,
                    language_code=lang,
                    language=lang,
                )
            scores = topics if topics is not None else {"energy": 0.82, "built_environment": 0.4}
            idea = await add_idea(
                session,
                person_id=person.id,
                title=title,
                description=description,
                lang=lang,
                topics=list(scores)[:1],
                topic_scores=scores,
                show_name=show_name,
            )
            queue_triage_card(session, idea)
            ref = idea.ref
        self.worker.wake()
        return ref

    async def item(self, ref: str) -> Submission:
        from handlers.moderation import parse_ref

        parsed = parse_ref(ref)
        assert parsed is not None
        kind, item_id = parsed
        async with self.sessions() as session:
            item = await session.get(SUBMISSION_MODELS[kind], item_id)
        assert item is not None
        return item

    async def decisions(self, ref: str) -> list[ModerationDecision]:
        from handlers.moderation import parse_ref
        from storage.moderation import decisions_of

        parsed = parse_ref(ref)
        assert parsed is not None
        async with self.sessions() as session:
            return await decisions_of(session, *parsed)


MakeBot = Callable[..., Awaitable[Bot]]


@pytest.fixture
async def make_bot(
    synapse: Synapse, sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> AsyncIterator[MakeBot]:
    running: list[Bot] = []

    async def make(
        rooms: list[str],
        *,
        user: MatrixUser | None = None,
        data_dir: Path | None = None,
        timeline_limit: int = 100,
        send_rate: float = 1000.0,
        language: str = "en",
        wait: bool = True,
    ) -> Bot:
        bot_user = user or synapse.register(None)
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_dir=data_dir or tmp_path / "bot-data",
            matrix_homeserver=synapse.url,
            matrix_access_token=SecretStr(bot_user.access_token),
            matrix_rooms=",".join(rooms),
            matrix_max_backoff=1.0,
            matrix_send_rate=send_rate,
            matrix_language=language,  # type: ignore[arg-type]
        )
        telegram = RecordingAdapter(platform=Platform.TELEGRAM)
        worker = DeliveryWorker(sessions, {Platform.TELEGRAM: telegram}, idle_interval=0.5)
        adapter = MatrixAdapter(
            settings,
            sessions,
            on_queued=worker.wake,
            poll_timeout=10.0,
            timeline_limit=timeline_limit,
            retry_delay=0.3,
        )
        worker.add_adapter(adapter)
        worker.start()
        adapter.start()
        bot = Bot(settings, sessions, adapter, worker, telegram, bot_user)
        running.append(bot)
        if wait:
            await adapter.wait_ready()
        return bot

    yield make
    for bot in running:
        with contextlib.suppress(Exception):
            await bot.stop()


async def moderation_room(
    make_member: MakeMember,
    make_bot: MakeBot,
    synapse: Synapse,
    *,
    encrypted: bool = False,
    **bot_options: Any,
) -> tuple[Member, Bot, str]:
    """A moderator (power 100), the bot invited and running, and the room's id."""
    moderator = await make_member(encrypted=encrypted)
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id], encrypted=encrypted)
    bot = await make_bot([room], user=bot_user, **bot_options)
    await moderator.wait_for_member(room, bot_user.user_id)
    return moderator, bot, room
