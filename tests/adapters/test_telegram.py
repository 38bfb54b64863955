"""The Telegram adapter against the Bot API double, over real HTTP with python-telegram-bot."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from aiohttp import ClientSession, web
from pydantic import SecretStr

from bot.adapters.base import (
    PermanentFailure,
    RejectedMessage,
    RetryLater,
    TransientFailure,
)
from bot.adapters.telegram import TelegramAdapter
from bot.settings import Settings
from bot.web import SECRET_HEADER, build_web_app
from handlers.core import Button, ContentKind, Document, IncomingMessage, Reply
from handlers.markup import escape
from tests.fakes.bot_api import FakeBotAPI

USER = 4242
OTHER_USER = 5353
SECRET = "webhook-secret_0123456789"


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def settings_for(fake: FakeBotAPI, **overrides: Any) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=SecretStr(fake.token),
        telegram_api_url=fake.base_url,
        telegram_file_url=fake.base_file_url,
        **overrides,
    )


class Inbox:
    """What the adapter handed to innobot, awaitable."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[IncomingMessage] = asyncio.Queue()

    async def __call__(self, message: IncomingMessage) -> None:
        await self.queue.put(message)

    async def next(self) -> IncomingMessage:
        async with asyncio.timeout(10):
            return await self.queue.get()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(clock=clock) as server:
        server.add_user(USER)
        yield server


@pytest.fixture
def inbox() -> Inbox:
    return Inbox()


@pytest.fixture
async def adapter(fake: FakeBotAPI, inbox: Inbox) -> AsyncIterator[TelegramAdapter]:
    telegram = TelegramAdapter(settings_for(fake), inbox)
    await telegram.start()
    try:
        yield telegram
    finally:
        await telegram.stop()


# --- sending --------------------------------------------------------------------------------


async def test_markup_is_sent_as_html_with_an_inline_keyboard(
    adapter: TelegramAdapter, fake: FakeBotAPI
) -> None:
    reply = Reply(
        "*Thank you!* Your reference is `IDEA-42`. _Add a photo?_",
        buttons=((Button("Yes", "f:3:yes"), Button("No", "f:3:no")), (Button("Help", "c:help"),)),
    )
    await adapter.send(str(USER), reply)
    [sent] = fake.sent(USER)
    assert sent.parse_mode == "HTML"
    assert sent.text == "Thank you! Your reference is IDEA-42. Add a photo?"
    assert sent.formatted("bold") == ["Thank you!"]
    assert sent.formatted("code") == ["IDEA-42"]
    assert sent.formatted("italic") == ["Add a photo?"]
    assert [[b["callback_data"] for b in row] for row in sent.buttons] == [
        ["f:3:yes", "f:3:no"],
        ["c:help"],
    ]
    assert sent.button_labels() == ["Yes", "No", "Help"]


async def test_user_content_is_shown_as_typed(adapter: TelegramAdapter, fake: FakeBotAPI) -> None:
    title = "<b>&*_[ `x` </i>"
    await adapter.send(str(USER), Reply(f"*Title:* {escape(title)}"))
    [sent] = fake.sent(USER)
    assert sent.text == f"Title: {title}"
    assert sent.formatted("bold") == ["Title:"]
    assert [e["type"] for e in sent.entities] == ["bold"]


async def test_a_long_reply_is_split_with_nothing_lost(
    adapter: TelegramAdapter, fake: FakeBotAPI
) -> None:
    words = [f"idea{n}" for n in range(1230)]
    lines = [" ".join(words[i : i + 8]) for i in range(0, len(words), 8)]
    body = "\n\n".join("\n".join(lines[i : i + 4]) for i in range(0, len(lines), 4))
    text = f"*All ideas*\n\n_{body}_"
    assert len(text) > 10_000
    await adapter.send(str(USER), Reply(text, buttons=((Button("More", "c:more"),),)))
    parts = fake.sent(USER)
    assert len(parts) == 3
    assert all(len(part.raw_text) <= 4096 for part in parts)
    assert " ".join(part.text for part in parts).split() == ["All", "ideas", *words]
    assert all(part.formatted("italic") for part in parts)  # the italics span every cut
    assert [part.button_labels() for part in parts] == [[], [], ["More"]]


async def test_a_document_follows_the_text(adapter: TelegramAdapter, fake: FakeBotAPI) -> None:
    export = Document("innobot-export.json", json.dumps({"ideas": []}).encode())
    await adapter.send(str(USER), Reply("Here is *your data*.", document=export))
    text, document = fake.sent(USER)
    assert text.text == "Here is your data."
    assert document.document is not None
    assert document.document[:2] == ("innobot-export.json", export.content)


async def test_flood_control_becomes_retry_later_with_the_servers_delay(
    adapter: TelegramAdapter, fake: FakeBotAPI
) -> None:
    fake.fail_next(1, 429, retry_after=9)
    with pytest.raises(RetryLater) as caught:
        await adapter.send(str(USER), Reply("hello"))
    assert caught.value.retry_after == 9
    await adapter.send(str(USER), Reply("hello"))
    assert [m.text for m in fake.sent(USER)] == ["hello"]


async def test_a_blocked_bot_is_a_permanent_failure(
    adapter: TelegramAdapter, fake: FakeBotAPI
) -> None:
    fake.fail_next(1, 403)
    with pytest.raises(PermanentFailure):
        await adapter.send(str(USER), Reply("hello"))
    fake.block(USER)
    with pytest.raises(PermanentFailure):
        await adapter.send(str(USER), Reply("hello again"))


@pytest.mark.parametrize("chat_id", ["777", "not-a-chat"])
async def test_unknown_chats_are_permanent_failures(adapter: TelegramAdapter, chat_id: str) -> None:
    with pytest.raises(PermanentFailure):
        await adapter.send(chat_id, Reply("hello"))


async def test_a_refused_message_is_no_reason_to_give_up_on_the_user(
    adapter: TelegramAdapter,
) -> None:
    too_long_payload = Reply("Pick one", buttons=((Button("A", "f:1:" + "a" * 70),),))
    with pytest.raises(RejectedMessage):  # neither permanent, transient nor throttled
        await adapter.send(str(USER), too_long_payload)


async def test_sending_while_stopped_is_transient(fake: FakeBotAPI, inbox: Inbox) -> None:
    telegram = TelegramAdapter(settings_for(fake), inbox)
    with pytest.raises(TransientFailure):
        await telegram.send(str(USER), Reply("too early"))
    await telegram.start()
    await telegram.stop()
    with pytest.raises(TransientFailure):
        await telegram.send(str(USER), Reply("too late"))
    assert fake.sent(USER) == []


async def test_after_it_stops_receiving_it_can_still_send(fake: FakeBotAPI, inbox: Inbox) -> None:
    telegram = TelegramAdapter(settings_for(fake), inbox)
    await telegram.start()
    await telegram.stop_receiving()
    assert not telegram.running
    await telegram.send(str(USER), Reply("queued before shutdown"))
    await telegram.stop()
    assert [m.text for m in fake.sent(USER)] == ["queued before shutdown"]


async def test_server_errors_are_transient(adapter: TelegramAdapter, fake: FakeBotAPI) -> None:
    fake.fail_next(1, 500)
    with pytest.raises(TransientFailure):
        await adapter.send(str(USER), Reply("hello"))


async def test_a_retried_long_reply_sends_only_what_is_missing(
    adapter: TelegramAdapter, fake: FakeBotAPI, clock: ManualClock
) -> None:
    text = "\n\n".join(f"*Part {n}*\n" + "lorem ipsum " * 300 for n in range(4))
    reply = Reply(text)
    with pytest.raises(RetryLater):  # three parts fit Telegram's burst, the fourth does not
        await adapter.send(str(USER), reply)
    assert len(fake.sent(USER)) == 3
    clock.now += 1.0
    await adapter.send(str(USER), reply)
    parts = fake.sent(USER)
    assert [p.formatted("bold") for p in parts] == [["Part 0"], ["Part 1"], ["Part 2"], ["Part 3"]]


# --- receiving by long polling --------------------------------------------------------------


async def test_polling_delivers_texts_and_button_presses(
    adapter: TelegramAdapter, fake: FakeBotAPI, inbox: Inbox
) -> None:
    fake.send_text(USER, "/start", language_code="sv", first_name="Greta", last_name="Berg")
    start = await inbox.next()
    assert start.command == ("start", "")
    assert (start.chat_id, start.user_id, start.kind) == (str(USER), str(USER), ContentKind.TEXT)
    assert (start.display_name, start.language_hint) == ("Greta Berg", "sv")

    await adapter.send(str(USER), Reply("Språk?", buttons=((Button("Svenska", "f:0:sv"),),)))
    press = fake.press_button_labelled(USER, "Svenska")
    pressed = await inbox.next()
    assert (pressed.kind, pressed.button) == (ContentKind.BUTTON, "f:0:sv")
    assert pressed.message_id == str(fake.sent(USER)[0].message_id)
    assert press["callback_query"]["id"] in fake.answered_callbacks


async def test_other_content_reaches_innobot_as_its_kind(
    adapter: TelegramAdapter, fake: FakeBotAPI, inbox: Inbox
) -> None:
    fake.send_sticker(USER)
    fake.send_voice(USER)
    assert [(await inbox.next()).kind for _ in range(2)] == [
        ContentKind.STICKER,
        ContentKind.VOICE,
    ]


async def test_a_failing_handler_does_not_stop_polling(fake: FakeBotAPI) -> None:
    seen: list[str] = []
    second = asyncio.Event()

    async def on_message(message: IncomingMessage) -> None:
        seen.append(message.text)
        if message.text == "boom":
            raise RuntimeError("handler bug")
        second.set()

    telegram = TelegramAdapter(settings_for(fake), on_message)
    await telegram.start()
    try:
        fake.send_text(USER, "boom")
        fake.send_text(USER, "still there?")
        async with asyncio.timeout(10):
            await second.wait()
    finally:
        await telegram.stop()
    assert seen == ["boom", "still there?"]


async def test_chats_run_concurrently_and_each_chat_in_order(fake: FakeBotAPI) -> None:
    fake.add_user(OTHER_USER)
    log: list[str] = []
    other_chat_done = asyncio.Event()
    all_done = asyncio.Event()

    async def on_message(message: IncomingMessage) -> None:
        log.append(f"start {message.text}")
        if message.text == "a1":
            await other_chat_done.wait()  # would never end if chats were handled one by one
        if message.text == "b1":
            other_chat_done.set()
        log.append(f"end {message.text}")
        if len(log) == 8:
            all_done.set()

    telegram = TelegramAdapter(settings_for(fake), on_message)
    await telegram.start()
    try:
        fake.send_text(USER, "a1")
        fake.send_text(USER, "a2")
        fake.send_text(USER, "a3")
        fake.send_text(OTHER_USER, "b1")
        async with asyncio.timeout(10):
            await all_done.wait()
    finally:
        await telegram.stop()
    chat_a = [entry for entry in log if entry.endswith(("a1", "a2", "a3"))]
    assert chat_a == ["start a1", "end a1", "start a2", "end a2", "start a3", "end a3"]
    assert log.index("end b1") < log.index("end a1")


async def test_stop_lets_the_message_in_hand_finish(fake: FakeBotAPI) -> None:
    started = asyncio.Event()
    release = asyncio.Event()
    finished: list[str] = []

    async def on_message(message: IncomingMessage) -> None:
        started.set()
        await release.wait()
        finished.append(message.text)

    telegram = TelegramAdapter(settings_for(fake), on_message)
    await telegram.start()
    fake.send_text(USER, "almost done")
    async with asyncio.timeout(10):
        await started.wait()
    stopping = asyncio.create_task(telegram.stop())
    release.set()
    await stopping
    assert finished == ["almost done"]
    assert not telegram.running


async def test_a_wrong_token_fails_at_start(fake: FakeBotAPI, inbox: Inbox) -> None:
    settings = settings_for(fake)
    settings.telegram_token = SecretStr("1:WRONG")
    telegram = TelegramAdapter(settings, inbox)
    with pytest.raises(Exception, match=r"(?i)unauthorized|token"):
        await telegram.start()
    assert not telegram.running


# --- receiving by webhook -------------------------------------------------------------------


@pytest.fixture
async def serve() -> AsyncIterator[Callable[..., Awaitable[tuple[str, web.AppRunner]]]]:
    runners: list[web.AppRunner] = []

    async def start(app: web.Application, sock: socket.socket) -> tuple[str, web.AppRunner]:
        runner = web.AppRunner(app)
        await runner.setup()
        runners.append(runner)
        await web.SockSite(runner, sock).start()
        return f"http://127.0.0.1:{sock.getsockname()[1]}", runner

    yield start
    for runner in runners:
        await runner.cleanup()


def loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


async def test_webhook_mode_receives_updates_through_the_web_app(
    fake: FakeBotAPI, inbox: Inbox, serve: Callable[..., Awaitable[tuple[str, web.AppRunner]]]
) -> None:
    sock = loopback_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/telegram"
    settings = settings_for(
        fake, telegram_mode="webhook", webhook_url=url, webhook_secret=SecretStr(SECRET)
    )
    telegram = TelegramAdapter(settings, inbox)
    await serve(build_web_app(settings, telegram), sock)
    await telegram.start()
    try:
        assert (fake.webhook_url, fake.webhook_secret) == (url, SECRET)
        fake.send_text(USER, "/idea")
        assert (await inbox.next()).command == ("idea", "")
        await telegram.send(str(USER), Reply("Title?", buttons=((Button("Cancel", "c:cancel"),),)))
        fake.press_button_labelled(USER, "Cancel")
        assert (await inbox.next()).button == "c:cancel"
        await fake.wait_for_webhook_deliveries()
    finally:
        await telegram.stop()
    assert fake.webhook_statuses == [200, 200]
    assert len(fake.answered_callbacks) == 1


@pytest.fixture
async def webhook_client(
    fake: FakeBotAPI, inbox: Inbox
) -> AsyncIterator[tuple[ClientSession, str]]:
    sock = loopback_socket()
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = settings_for(
        fake,
        telegram_mode="webhook",
        webhook_url=f"{base}/telegram",
        webhook_secret=SecretStr(SECRET),
    )
    telegram = TelegramAdapter(settings, inbox)
    runner = web.AppRunner(build_web_app(settings, telegram))
    await runner.setup()
    await web.SockSite(runner, sock).start()
    await telegram.start()
    try:
        async with ClientSession() as session:
            yield session, f"{base}/telegram"
    finally:
        await telegram.stop()
        await runner.cleanup()


UPDATE = {
    "update_id": 90001,
    "message": {
        "message_id": 1,
        "date": 1_700_000_000,
        "chat": {"id": USER, "type": "private", "first_name": "Ada"},
        "from": {"id": USER, "is_bot": False, "first_name": "Ada"},
        "text": "hello from the webhook",
    },
}


@pytest.mark.parametrize("headers", [{}, {SECRET_HEADER: "guess"}, {SECRET_HEADER: SECRET + "x"}])
async def test_the_webhook_refuses_a_wrong_secret(
    webhook_client: tuple[ClientSession, str], inbox: Inbox, headers: dict[str, str]
) -> None:
    session, url = webhook_client
    async with session.post(url, json=UPDATE, headers=headers) as response:
        assert response.status == 403
    assert inbox.queue.empty()


async def test_the_webhook_accepts_the_right_secret(
    webhook_client: tuple[ClientSession, str], inbox: Inbox
) -> None:
    session, url = webhook_client
    async with session.post(url, json=UPDATE, headers={SECRET_HEADER: SECRET}) as response:
        assert response.status == 200
    assert (await inbox.next()).text == "hello from the webhook"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"hello": "world"}', 400),
        (b'{"update_id": 1, "message": {"chat": 5}}', 400),
        (b'{"update_id": 1, "message": "' + b"x" * 300_000 + b'"}', 413),
    ],
)
async def test_the_webhook_rejects_what_is_not_an_update(
    webhook_client: tuple[ClientSession, str], inbox: Inbox, body: bytes, status: int
) -> None:
    session, url = webhook_client
    headers = {SECRET_HEADER: SECRET, "Content-Type": "application/json"}
    async with session.post(url, data=body, headers=headers) as response:
        assert response.status == status
    assert inbox.queue.empty()
