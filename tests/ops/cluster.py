"""Several innobot processes on one PostgreSQL database behind Telegram's webhook, on loopback.

Shared by the operations tests and the load and soak benchmarks:

- :class:`InnobotProcess`: ``innobot run`` (through :mod:`tests.ops.serve`) in a process of its
  own, in webhook mode, with JSON logs; started, stopped with SIGTERM (as systemd does), killed.
- :class:`ClusterBotAPI`: the Bot API double, delivering each update as Telegram does — at once,
  several at a time — to the innobot processes in turn, and to the next one when a process refuses
  (503 while starting or stopping) or cannot be reached (restarting): a reverse proxy's upstream.
- :func:`idea_journey`: a consented participant tells innobot an idea in free text and takes it to
  submission (five updates, six replies), checking each answer; latencies are recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import socket
import sys
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App, build_app
from bot.settings import Settings
from handlers.i18n import t
from handlers.intents import KeywordAnalyzer
from storage.db import create_engine, session_factory
from storage.models import Idea, Identity, OutboxMessage, Person
from tests.e2e.journey import shown
from tests.fakes.bot_api import SECRET_HEADER, FakeBotAPI
from tests.ops.serve import LAB_PACING

ROOT = Path(__file__).resolve().parents[2]
SECRET = "ops-webhook-secret"
# The public address every process registers with Telegram: the reverse proxy's.
PUBLIC_WEBHOOK = "http://127.0.0.1:8443/telegram"
RUNNING = "innobot is running"
STOP_LIMIT = 10.0  # seconds innobot may take to stop

IDEAS = {
    "en": "I have an idea: solar benches in every park, so that people can charge phones and bikes",
    "it": "Ho un'idea: panchine solari in ogni parco per ricaricare telefoni e biciclette",
    "sv": "Jag har en idé: solbänkar i varje park där man kan ladda telefoner och cyklar",
}
TITLES = {"en": "Solar benches", "it": "Panchine solari", "sv": "Solbänkar"}
UPDATES_PER_JOURNEY = 5
REPLIES_PER_JOURNEY = 6
_REF = re.compile(r"[A-Z]+-\d+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --- innobot in a process of its own ----------------------------------------------------------


class InnobotProcess:
    """One ``innobot run`` in webhook mode on its own port."""

    def __init__(
        self,
        name: str,
        database_url: str,
        fake: FakeBotAPI,
        data_dir: Path,
        *,
        lift_pacing: bool = True,
        env: dict[str, str] | None = None,
    ) -> None:
        self.name = name
        self.port = free_port()
        self.data_dir = data_dir
        self.logs: list[str] = []
        self.exits: list[tuple[int, float]] = []  # (exit code, seconds from SIGTERM to exit)
        self._process: asyncio.subprocess.Process | None = None
        self._reader: asyncio.Task[None] | None = None
        self._running = asyncio.Event()
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("INNOBOT_")}
        self.env = (
            inherited
            | {
                "PYTHONPATH": str(ROOT),
                "INNOBOT_DATA_DIR": str(data_dir),
                "INNOBOT_DATABASE_URL": database_url,
                "INNOBOT_TELEGRAM_TOKEN": fake.token,
                "INNOBOT_TELEGRAM_API_URL": fake.base_url,
                "INNOBOT_TELEGRAM_FILE_URL": fake.base_file_url,
                "INNOBOT_TELEGRAM_MODE": "webhook",
                "INNOBOT_WEBHOOK_URL": PUBLIC_WEBHOOK,
                "INNOBOT_WEBHOOK_SECRET": SECRET,
                "INNOBOT_WEB_HOST": "127.0.0.1",
                "INNOBOT_WEB_PORT": str(self.port),
                "INNOBOT_LOG_FORMAT": "json",
                "INNOBOT_LOG_LEVEL": "INFO",
                "INNOBOT_FLOOD_BURST": "1000",  # simulated people answer faster than people type
                "INNOBOT_LAB_LIFT_PACING": "1" if lift_pacing else "0",
            }
            | (env or {})
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.returncode is None

    async def start(self, timeout: float = 60.0) -> None:
        """Start and wait until innobot says it is running (it then takes webhook updates)."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._running.clear()
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.ops.serve",
            cwd=self.data_dir,
            env=self.env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        self._reader = asyncio.create_task(self._read_logs(self._process))
        running = asyncio.create_task(self._running.wait())
        exited = asyncio.create_task(self._process.wait())
        done, _ = await asyncio.wait(
            {running, exited}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        running.cancel()
        if running not in done:
            exited.cancel()
            if self.alive:
                self._process.kill()
            await self._process.wait()
            tail = "\n".join(self.logs[-20:])
            raise AssertionError(f"{self.name} did not start:\n{tail}")
        exited.cancel()

    async def _read_logs(self, process: asyncio.subprocess.Process) -> None:
        assert process.stderr is not None
        with (self.data_dir / "innobot.log").open("ab") as saved:
            async for raw in process.stderr:
                saved.write(raw)
                line = raw.decode("utf-8", "replace").rstrip("\n")
                self.logs.append(line)
                with contextlib.suppress(ValueError, TypeError, KeyError):
                    if json.loads(line)["message"].startswith(RUNNING):
                        self._running.set()

    async def stop(self) -> tuple[int, float]:
        """SIGTERM, as systemd sends it; the exit code and how long innobot took to exit.

        The time is measured to the moment innobot noted its exit (``tests/ops/serve.py``): this
        process's event loop, busy playing Telegram, may notice the exit later than it happened.
        """
        assert self._process is not None
        started = time.time()
        self._process.send_signal(signal.SIGTERM)
        code = await self._process.wait()
        noticed = time.time()
        if self._reader is not None:
            await self._reader
        notes = (self.data_dir / "exited-at").read_text().split() if code == 0 else []
        elapsed = (float(notes[-1]) if notes else noticed) - started
        self.exits.append((code, elapsed))
        return code, elapsed

    async def kill(self) -> None:
        if self.alive:
            assert self._process is not None
            self._process.kill()
            await self._process.wait()
        if self._reader is not None:
            await self._reader

    def cpu_seconds(self) -> float:
        """CPU time the process has used so far (Linux), 0 once it has exited."""
        if not self.alive:
            return 0.0
        assert self._process is not None
        try:
            fields = Path(f"/proc/{self._process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_entries(self) -> list[dict[str, Any]]:
        """Every log line, parsed (each must be one JSON object)."""
        entries = []
        for line in self.logs:
            try:
                entries.append(json.loads(line))
            except ValueError:
                raise AssertionError(
                    f"{self.name} wrote a line that is not JSON: {line!r}"
                ) from None
        return entries


async def start_in_process(db_url: str, fake: FakeBotAPI, tmp_path: Path) -> App:
    """innobot in this process and event loop, in webhook mode (for tests that look inside)."""
    port = free_port()
    settings = Settings(
        _env_file=None,
        data_dir=tmp_path,
        database_url=db_url,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        telegram_mode="webhook",
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SecretStr(SECRET),
        web_port=port,
        flood_burst=1000,
    )
    app = await build_app(settings, analyzer=KeywordAnalyzer())
    assert app.telegram is not None
    app.telegram.pacing = LAB_PACING
    await app.start()
    return app


# --- Telegram in front of several processes ----------------------------------------------------


class ClusterBotAPI(FakeBotAPI):
    """The Bot API double, delivering webhook updates to several innobot processes.

    Each update is POSTed as soon as it exists, up to ``connections`` at once (Telegram's
    ``max_connections``), to the next process in turn; a 502/503/504 or a refused connection sends
    it to the next process, as a reverse proxy's upstream would, until one takes it.
    """

    def __init__(self, *, connections: int = 40, give_up_after: float = 60.0) -> None:
        super().__init__(limits=None)
        self.upstreams: list[str] = []
        self.delivered = 0
        self.refused = 0  # 5xx answers (a process starting or stopping)
        self.unreachable = 0  # connections refused or dropped (a process restarting)
        self.undelivered: list[int] = []  # update ids no process took
        self.accepted_by: Counter[str] = Counter()
        self.injected_at: dict[int, float] = {}
        self._give_up_after = give_up_after
        self._slots = asyncio.Semaphore(connections)
        self._turn = itertools.count()
        self._tasks: set[asyncio.Task[None]] = set()
        self._progress = asyncio.Condition()

    def _enqueue(self, update: dict[str, Any]) -> None:
        # Replaces the double's single, sequential webhook delivery. The turn is taken now, so
        # that updates injected one right after the other go to different processes.
        self.injected_at[update["update_id"]] = time.monotonic()
        turn = next(self._turn)
        task = asyncio.get_running_loop().create_task(self._deliver(update, turn))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, update: dict[str, Any], turn: int) -> None:
        assert self._session is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._give_up_after
        failures_in_a_row = 0
        async with self._slots:
            while True:
                upstream = self.upstreams[(turn + failures_in_a_row) % len(self.upstreams)]
                try:
                    async with self._session.post(
                        f"{upstream}/telegram", json=update, headers={SECRET_HEADER: SECRET}
                    ) as response:
                        status = response.status
                except (aiohttp.ClientError, OSError):
                    status = 0
                if status == 200:
                    self.accepted_by[upstream] += 1
                    break
                if status not in (0, 502, 503, 504):
                    raise AssertionError(f"{upstream} answered {status} to update {update}")
                if status == 0:
                    self.unreachable += 1
                else:
                    self.refused += 1
                failures_in_a_row += 1
                if loop.time() > deadline:
                    self.undelivered.append(update["update_id"])
                    break
                if failures_in_a_row % len(self.upstreams) == 0:
                    await asyncio.sleep(0.05)  # every process refused: back off a little
        async with self._progress:
            self.delivered += 1
            self._progress.notify_all()

    async def wait_delivered(self, count: int) -> None:
        """Until ``count`` updates have been delivered (or given up) in all."""
        async with self._progress:
            await self._progress.wait_for(lambda: self.delivered >= count)

    async def drain(self) -> None:
        """Until every update injected so far has been delivered (or given up)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))


# --- participants and their journeys -----------------------------------------------------------


@dataclass
class Participant:
    """A consented participant (stored beforehand) who talks to innobot from Telegram."""

    user_id: int
    lang: str
    seen: int = 0  # innobot's messages already read
    journeys: int = 0  # journeys completed
    expected: int = 0  # innobot's messages expected so far


def participants(count: int, first_id: int = 700_000) -> list[Participant]:
    return [Participant(first_id + n, ("en", "it", "sv")[n % 3]) for n in range(count)]


async def add_participants(database_url: str, people: Iterable[Participant]) -> None:
    """Store them as consented citizens (as if they had gone through onboarding)."""
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session, session.begin():
            for person in people:
                row = Person(language=person.lang, role="citizen")
                row.identities.append(
                    Identity(
                        platform="telegram",
                        external_id=str(person.user_id),
                        chat_id=str(person.user_id),
                        language_code=person.lang,
                    )
                )
                session.add(row)
    finally:
        await engine.dispose()


@dataclass
class JourneyLog:
    latencies: list[float] = field(default_factory=list)  # seconds, one per update
    updates: int = 0
    journeys: int = 0


async def _step(
    fake: ClusterBotAPI,
    person: Participant,
    inject: list[Any],
    replies: int,
    log: JourneyLog,
    timeout: float,
) -> list[str]:
    started = time.monotonic()
    for action in inject:
        action()
    person.expected += replies
    messages = await fake.wait_for_messages(person.user_id, person.expected, timeout=timeout)
    new = messages[person.seen : person.expected]
    person.seen = person.expected
    log.latencies.extend([new[-1].at - started] * len(inject))
    log.updates += len(inject)
    return [message.text for message in new]


async def idea_journey(
    fake: ClusterBotAPI,
    person: Participant,
    log: JourneyLog,
    *,
    double_confirm: bool = False,
    timeout: float = 120.0,
) -> None:
    """From an idea told in free text to its submission, checking innobot's every answer.

    With ``double_confirm`` the confirm button is pressed twice at once, so two processes get
    the two presses at the same moment (:class:`ClusterBotAPI` sends updates injected one right
    after the other to different processes): one submits the idea, the other finds the button
    stale.
    """
    uid, lang = person.user_id, person.lang
    first = await _step(
        fake,
        person,
        [lambda: fake.send_text(uid, IDEAS[lang], language_code=lang)],
        2,
        log,
        timeout,
    )
    assert first == [shown(lang, "idea.from_text"), shown(lang, "idea.ask_title", max=120)], first
    await _step(
        fake,
        person,
        [lambda: fake.send_text(uid, TITLES[lang], language_code=lang)],
        1,
        log,
        timeout,
    )
    other = t(lang, "idea.topic_other")
    [asked] = await _step(
        fake, person, [lambda: fake.press_button_labelled(uid, other)], 1, log, timeout
    )
    assert asked == shown(lang, "idea.ask_show_name"), asked
    yes = t(lang, "common.yes")
    [summary] = await _step(
        fake, person, [lambda: fake.press_button_labelled(uid, yes)], 1, log, timeout
    )
    assert TITLES[lang] in summary
    confirm = t(lang, "idea.confirm")
    presses = [lambda: fake.press_button_labelled(uid, confirm)] * (2 if double_confirm else 1)
    answers = await _step(fake, person, presses, len(presses), log, timeout)
    submitted = [text for text in answers if _REF.search(text)]
    assert len(submitted) == 1, answers
    if double_confirm:
        assert shown(lang, "errors.stale_button") in answers, answers
    person.journeys += 1
    log.journeys += 1


# --- what the store says afterwards ------------------------------------------------------------


@dataclass(frozen=True)
class StoreReport:
    ideas: int
    ideas_per_person: dict[str, int]  # Telegram user id -> ideas
    telegram_pending: int
    telegram_failed: int


async def store_report(database_url: str) -> StoreReport:
    engine = create_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            ideas = (await session.execute(select(func.count(Idea.id)))).scalar_one()
            per_person = dict(
                (
                    await session.execute(
                        select(Identity.external_id, func.count(Idea.id))
                        .join(Idea, Idea.person_id == Identity.person_id)
                        .group_by(Identity.external_id)
                    )
                ).all()
            )
            outbox = dict(
                (
                    await session.execute(
                        select(OutboxMessage.status, func.count())
                        .where(OutboxMessage.platform == "telegram")
                        .group_by(OutboxMessage.status)
                    )
                ).all()
            )
    finally:
        await engine.dispose()
    return StoreReport(
        ideas=ideas,
        ideas_per_person=per_person,
        telegram_pending=outbox.get("pending", 0),
        telegram_failed=outbox.get("failed", 0),
    )
