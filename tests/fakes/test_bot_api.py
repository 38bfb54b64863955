"""The Bot API double answers python-telegram-bot's real ``Bot`` the way Telegram does."""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.error import BadRequest, Conflict, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from tests.fakes.bot_api import SECRET_HEADER, FakeBotAPI, FloodLimits, parse_html

USER = 4242


class ManualClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def fake(clock: ManualClock) -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(clock=clock) as server:
        server.add_user(USER)
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


def seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = error.retry_after
    return value if isinstance(value, int | float) else value.total_seconds()


async def test_get_me_describes_the_bot(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.id == 123456789
    assert me.username == "innobot_test_bot"


async def test_a_wrong_token_is_unauthorized(fake: FakeBotAPI) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("987:WRONG", base_url=fake.base_url):
            pass


async def test_an_unknown_method_is_a_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)method not found"):
        await bot.do_api_request("sendTelepathy", api_kwargs={"chat_id": USER})


async def test_html_is_parsed_into_text_and_entities(bot: Bot, fake: FakeBotAPI) -> None:
    html = (
        '<b>Bold</b> <i>it</i> <code>x&lt;y</code> <a href="https://example.org/">site</a>\n'
        "<pre>block</pre> 5 &gt; 4 &amp; 🙂 <b>after emoji</b>"
    )
    message = await bot.send_message(USER, html, parse_mode="HTML")
    assert message.text == "Bold it x<y site\nblock 5 > 4 & 🙂 after emoji"
    by_type = {entity.type: message.parse_entity(entity) for entity in message.entities}
    assert by_type == {
        MessageEntity.BOLD: "after emoji",
        MessageEntity.ITALIC: "it",
        MessageEntity.CODE: "x<y",
        MessageEntity.TEXT_LINK: "site",
        MessageEntity.PRE: "block",
    }
    [sent] = fake.sent(USER)
    assert sent.raw_text == html
    assert sent.formatted("bold") == ["Bold", "after emoji"]


@pytest.mark.parametrize(
    "html",
    [
        "<b>never closed",
        "<b><i>crossed</b></i>",
        "<script>alert(1)</script>",
        "fish & chips",
        "a < b",
        "stray </i> end tag",
    ],
)
async def test_malformed_html_cannot_be_parsed(bot: Bot, fake: FakeBotAPI, html: str) -> None:
    with pytest.raises(BadRequest, match=r"(?i)parse entities"):
        await bot.send_message(USER, html, parse_mode="HTML")
    assert fake.sent(USER) == []


def test_entity_offsets_count_utf16_units() -> None:
    text, entities = parse_html("🙂<b>x</b>")
    assert text == "🙂x"
    assert entities == [{"type": "bold", "offset": 2, "length": 1}]


async def test_text_length_is_bounded(bot: Bot, fake: FakeBotAPI) -> None:
    await bot.send_message(USER, "é" * 4096)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(USER, "é" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)empty"):
        await bot.send_message(USER, " \n ")
    with pytest.raises(BadRequest, match=r"(?i)empty"):
        await bot.send_message(USER, "<b> </b>", parse_mode="HTML")
    assert len(fake.sent(USER)) == 1


async def test_unknown_and_blocked_chats(bot: Bot, fake: FakeBotAPI) -> None:
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await bot.send_message(777, "hello")
    fake.block(USER)
    with pytest.raises(Forbidden, match=r"(?i)blocked"):
        await bot.send_message(USER, "hello")


async def test_inline_keyboards_are_validated(bot: Bot, fake: FakeBotAPI) -> None:
    ok = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="f:1:" + "y" * 60)]])
    message = await bot.send_message(USER, "Sure?", reply_markup=ok)
    assert fake.sent(USER)[0].button_labels() == ["Yes"]
    assert message.reply_markup == ok
    too_long = InlineKeyboardMarkup([[InlineKeyboardButton("No", callback_data="n" * 65)]])
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(USER, "Sure?", reply_markup=too_long)


async def test_long_polling_returns_an_update_injected_while_waiting(
    bot: Bot, fake: FakeBotAPI
) -> None:
    poll = asyncio.create_task(bot.get_updates(timeout=30))
    await fake.poll_waiting.wait()
    fake.send_text(USER, "/start", language_code="it")
    [update] = await poll
    assert update.message is not None
    assert update.message.text == "/start"
    assert update.message.entities[0].type == MessageEntity.BOT_COMMAND
    assert update.message.from_user is not None
    assert update.message.from_user.language_code == "it"


async def test_offset_confirms_updates(bot: Bot, fake: FakeBotAPI) -> None:
    for text in ("one", "two", "three"):
        fake.send_text(USER, text)
    first = await bot.get_updates(timeout=0)
    assert [u.message.text for u in first if u.message] == ["one", "two", "three"]
    again = await bot.get_updates(offset=first[1].update_id + 1, timeout=0)
    assert [u.message.text for u in again if u.message] == ["three"]
    assert await bot.get_updates(offset=again[0].update_id + 1, timeout=0) == ()
    assert fake.pending_updates == 0


async def test_user_media_deserialises(bot: Bot, fake: FakeBotAPI) -> None:
    fake.send_sticker(USER)
    fake.send_photo(USER, caption="my prototype")
    fake.send_voice(USER)
    fake.send_document(USER, "plan.pdf")
    messages = [u.message for u in await bot.get_updates(timeout=0)]
    assert all(m is not None for m in messages)
    sticker, photo, voice, document = messages
    assert sticker is not None
    assert sticker.sticker is not None
    assert photo is not None
    assert photo.photo
    assert photo.caption == "my prototype"
    assert voice is not None
    assert voice.voice is not None
    assert document is not None
    assert document.document is not None
    assert document.document.file_name == "plan.pdf"


async def test_button_press_and_callback_answer(bot: Bot, fake: FakeBotAPI) -> None:
    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Italiano", callback_data="f:0:it")]])
    message = await bot.send_message(USER, "Language?", reply_markup=keyboard)
    fake.press_button_labelled(USER, "Italiano")
    [update] = await bot.get_updates(timeout=0)
    query = update.callback_query
    assert query is not None
    assert query.data == "f:0:it"
    assert query.message is not None
    assert query.message.message_id == message.message_id
    assert await bot.answer_callback_query(query.id)
    assert query.id in fake.answered_callbacks
    with pytest.raises(BadRequest, match=r"(?i)query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(LookupError):
        fake.press_button(USER, "f:0:xx", message.message_id)


@pytest.mark.parametrize(
    ("status", "error"), [(429, RetryAfter), (500, NetworkError), (403, Forbidden)]
)
async def test_injected_failures(
    bot: Bot, fake: FakeBotAPI, status: int, error: type[Exception]
) -> None:
    fake.fail_next(2, status, retry_after=7)
    for _ in range(2):
        with pytest.raises(error) as caught:
            await bot.send_message(USER, "hello")
        if isinstance(caught.value, RetryAfter):
            assert seconds(caught.value) == 7
    await bot.send_message(USER, "hello")
    assert [m.text for m in fake.sent(USER)] == ["hello"]


async def test_per_chat_flood_limit(bot: Bot, fake: FakeBotAPI, clock: ManualClock) -> None:
    for n in range(3):  # a short burst is tolerated
        await bot.send_message(USER, f"burst {n}")
    with pytest.raises(RetryAfter) as caught:
        await bot.send_message(USER, "one too many")
    assert seconds(caught.value) == 1
    clock.now += 1.0
    await bot.send_message(USER, "after a second")
    with pytest.raises(RetryAfter):
        await bot.send_message(USER, "sustained more than 1/s")
    assert len(fake.sent(USER)) == 4


async def test_overall_and_group_flood_limits(bot: Bot, fake: FakeBotAPI) -> None:
    for user in range(1, 31):
        fake.add_user(user)
        await bot.send_message(user, "news")
    fake.add_user(31)
    with pytest.raises(RetryAfter):
        await bot.send_message(31, "news")

    async with FakeBotAPI(limits=FloodLimits(overall_rate=1000, overall_burst=1000)) as roomy:
        roomy.add_group(-100)
        async with Bot(roomy.token, base_url=roomy.base_url) as group_bot:
            for n in range(20):
                await group_bot.send_message(-100, f"update {n}")
            with pytest.raises(RetryAfter) as caught:
                await group_bot.send_message(-100, "twenty-first in a minute")
    assert seconds(caught.value) == 3


async def test_flood_limits_can_be_switched_off(fake: FakeBotAPI) -> None:
    async with FakeBotAPI(limits=None) as unlimited:
        unlimited.add_user(USER)
        async with Bot(unlimited.token, base_url=unlimited.base_url) as b:
            for n in range(10):
                await b.send_message(USER, f"message {n}")
        assert len(unlimited.sent(USER)) == 10


async def test_documents_are_uploaded_as_multipart(bot: Bot, fake: FakeBotAPI) -> None:
    content = b'{"ideas": []}'
    message = await bot.send_document(
        USER, content, filename="export.json", caption="<b>Your data</b>", parse_mode="HTML"
    )
    assert message.document is not None
    assert message.document.file_name == "export.json"
    [sent] = fake.sent(USER)
    assert sent.document is not None
    assert sent.document[:2] == ("export.json", content)
    assert sent.text == "Your data"


async def test_edit_message_text(bot: Bot, fake: FakeBotAPI) -> None:
    message = await bot.send_message(USER, "Draft")
    edited = await bot.edit_message_text("Final", chat_id=USER, message_id=message.message_id)
    assert isinstance(edited, type(message))
    [sent] = fake.sent(USER)
    assert (sent.text, sent.edits) == ("Final", ["Draft"])
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("Final", chat_id=USER, message_id=message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)not found"):
        await bot.edit_message_text("Other", chat_id=USER, message_id=999)


async def test_chat_actions_are_recorded(bot: Bot, fake: FakeBotAPI) -> None:
    assert await bot.send_chat_action(USER, "typing")
    assert fake.chat_actions == [(USER, "typing")]
    with pytest.raises(BadRequest):
        await bot.send_chat_action(USER, "dancing")


async def test_wait_for_messages_reports_what_came(bot: Bot, fake: FakeBotAPI) -> None:
    waiter = asyncio.create_task(fake.wait_for_messages(USER, 2))
    await bot.send_message(USER, "first")
    await bot.send_message(USER, "second")
    assert [m.text for m in await waiter] == ["first", "second"]
    with pytest.raises(AssertionError, match=r"(?i)expected 3 messages"):
        await fake.wait_for_messages(USER, 3, timeout=0.01)


async def test_webhook_mode_posts_updates_with_the_secret(bot: Bot, fake: FakeBotAPI) -> None:
    received: list[tuple[str | None, dict[str, object]]] = []

    async def webhook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER), await request.json()))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/telegram"
    try:
        fake.send_text(USER, "waiting before the webhook was set")
        assert await bot.set_webhook(url, secret_token="s3cret-Token_1")
        assert (await bot.get_webhook_info()).url == url
        fake.send_text(USER, "hello webhook")
        await fake.wait_for_webhook_deliveries()
        with pytest.raises(Conflict):
            await bot.get_updates(timeout=0)
        assert await bot.delete_webhook()
        fake.send_text(USER, "back to polling")
        [polled] = await bot.get_updates(timeout=0)
    finally:
        await runner.cleanup()
    assert [secret for secret, _ in received] == ["s3cret-Token_1"] * 2
    texts = [Update.de_json(body, bot).message.text for _, body in received]  # type: ignore[union-attr]
    assert texts == ["waiting before the webhook was set", "hello webhook"]
    assert fake.webhook_statuses == [200, 200]
    assert polled.message is not None
    assert polled.message.text == "back to polling"
