"""Matrix moderation latency: a Telegram submission to its triage card, and !approve to the
submitter's notification.

innobot runs complete (python-telegram-bot polling the Bot API double over HTTP, dispatcher,
router, store, outbox, the matrix-nio adapter) against a real Synapse on loopback, installed and
started like the test suite's. Citizens (through the double) submit ideas one at a time; a
moderator (a real matrix-nio client, long-polling /sync) waits for each card. Then the moderator
approves every item, one at a time, and the citizen waits for the notification.

- submission → card: from pressing "confirm" on Telegram to the card reaching the moderator's
  client (so it includes the homeserver delivering it to another client);
- !approve → notification: from the moderator sending the command to the Bot API double
  receiving innobot's sendMessage for the citizen.

The double and the moderator run in innobot's process and event loop; submissions are sequential,
so they add little. SQLite in a temporary directory is the store.

    .venv/bin/python benchmarks/matrix_latency.py [--submissions 200] [--citizens 20]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import SecretStr  # noqa: E402

from bot.adapters.base import Pacing  # noqa: E402
from bot.app import build_app  # noqa: E402
from bot.settings import Settings  # noqa: E402
from handlers.i18n import LANGUAGE_NAMES, t  # noqa: E402
from handlers.intents import KeywordAnalyzer  # noqa: E402
from storage.migrate import upgrade  # noqa: E402
from tests.e2e.journey import TelegramUser  # noqa: E402
from tests.fakes.bot_api import FakeBotAPI, FloodLimits  # noqa: E402
from tests.matrix.member import Member, body, is_card  # noqa: E402
from tests.matrix.synapse import Synapse, install_synapse  # noqa: E402

LIFTED_LIMITS = FloodLimits(
    per_chat_rate=1000, per_chat_burst=1000, overall_rate=100_000, overall_burst=100_000
)
LIFTED_PACING = Pacing(per_chat_rate=1000.0, per_chat_burst=1000, overall_rate=100_000.0)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def report(name: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(
        f"{name:<28} n={len(ms):<4} p50={percentile(ms, 50):7.1f} ms  "
        f"p90={percentile(ms, 90):7.1f} ms  p99={percentile(ms, 99):7.1f} ms  "
        f"max={max(ms):7.1f} ms  mean={statistics.fmean(ms):7.1f} ms"
    )


async def onboard(user: TelegramUser) -> None:
    await user.say("/start", expect=2)
    await user.press(LANGUAGE_NAMES["en"], expect=1)
    await user.press(t("en", "onboarding.agree"), expect=2)
    await user.press(t("en", "roles.citizen"), expect=1)


async def submit(user: TelegramUser, number: int) -> tuple[str, float]:
    """One idea through the whole flow; returns its reference and when it was confirmed."""
    await user.say("/idea", expect=1)
    await user.say(f"Community energy idea number {number}", expect=1)
    await user.say(
        f"Neighbours share rooftop solar panels and a battery, proposal {number}.", expect=1
    )
    await user.press(t("en", "idea.topic_other"), expect=1)
    await user.press(t("en", "common.no"), expect=1)
    confirmed = time.monotonic()
    [done] = await user.press(t("en", "idea.confirm"), expect=1)
    [ref] = done.formatted("bold")
    return ref, confirmed


async def run(submissions: int, citizens: int, workdir: Path) -> None:
    print(f"installing/starting Synapse in {workdir} ...", flush=True)
    synapse = Synapse(workdir / "synapse", install_synapse())
    synapse.start()
    db_url = f"sqlite+aiosqlite:///{workdir / 'innobot.db'}"
    await upgrade(db_url)
    moderator_user = synapse.register("moderator")
    bot_user = synapse.register("innobot")
    moderator = Member(synapse.url, moderator_user)
    try:
        await moderator.start()
        room = await moderator.create_room([bot_user.user_id])
        async with FakeBotAPI(limits=LIFTED_LIMITS) as fake:
            settings = Settings(
                _env_file=None,  # type: ignore[call-arg]
                data_dir=workdir / "data",
                database_url=db_url,
                telegram_token=SecretStr(fake.token),
                telegram_api_url=fake.base_url,
                telegram_file_url=fake.base_file_url,
                flood_burst=100_000,
                matrix_homeserver=synapse.url,
                matrix_access_token=SecretStr(bot_user.access_token),
                matrix_rooms=room,
                matrix_send_rate=1000.0,
            )
            app = await build_app(settings, analyzer=KeywordAnalyzer(), web_server=False)
            assert app.telegram is not None
            assert app.matrix is not None
            app.telegram.pacing = LIFTED_PACING
            await app.start()
            try:
                await app.matrix.wait_ready()
                await moderator.wait_for_member(room, bot_user.user_id)
                await measure(app_user=bot_user.user_id, moderator=moderator, room=room,
                              fake=fake, submissions=submissions, citizens=citizens)  # fmt: skip
            finally:
                await app.stop()
    finally:
        await moderator.close()
        synapse.stop()


async def measure(
    *,
    app_user: str,
    moderator: Member,
    room: str,
    fake: FakeBotAPI,
    submissions: int,
    citizens: int,
) -> None:
    users = [TelegramUser(fake, 70_000 + n, language_code="en") for n in range(citizens)]
    for user in users:
        await onboard(user)
    print(f"{citizens} citizens onboarded; {submissions} submissions follow", flush=True)

    to_card: list[float] = []
    owners: dict[str, TelegramUser] = {}
    for number in range(submissions):
        user = users[number % citizens]
        ref, confirmed = await submit(user, number)
        card = await moderator.wait_for(room, app_user, is_card(ref), timeout=60)
        to_card.append(float(card["received_at"]) - confirmed)
        owners[ref] = user

    to_notification: list[float] = []
    for ref, user in owners.items():
        sent = time.monotonic()
        await moderator.say(room, f"!approve {ref}")
        [note] = await user.read(1)
        to_notification.append(time.monotonic() - sent)
        assert ref in note.text
    await moderator.wait_count(
        room, app_user, len(owners), lambda e: " approved by " in body(e), timeout=60
    )
    print()
    report("submission -> card", to_card)
    report("!approve -> notification", to_notification)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--citizens", type=int, default=20)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="innobot-matrix-bench-") as workdir:
        asyncio.run(run(args.submissions, args.citizens, Path(workdir)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
