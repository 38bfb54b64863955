"""The Bot API double's polls and group administration, against python-telegram-bot's real Bot."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import pytest
from telegram import Bot, ChatMemberAdministrator, ChatPermissions, InputPollOption, Update
from telegram.constants import ChatMemberStatus
from telegram.error import BadRequest, Forbidden

from tests.fakes.bot_api import FakeBotAPI, PollClosed

USER = 4242
OTHER = 4343
ADMIN = 4444
GROUP = -100777


@pytest.fixture
async def fake() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI(limits=None) as server:
        server.add_user(USER)
        server.add_user(OTHER)
        server.add_user(ADMIN, first_name="Grace")
        server.add_group(GROUP)
        server.set_member(GROUP, ADMIN, "creator")
        yield server


@pytest.fixture
async def bot(fake: FakeBotAPI) -> AsyncIterator[Bot]:
    async with Bot(fake.token, base_url=fake.base_url, base_file_url=fake.base_file_url) as b:
        yield b


async def updates(bot: Bot, offset: int = 0) -> list[Update]:
    return list(await bot.get_updates(offset=offset, timeout=0))


# --- polls ---------------------------------------------------------------------------------------


async def test_send_poll_with_option_objects(bot: Bot, fake: FakeBotAPI) -> None:
    message = await bot.send_poll(
        USER,
        "Which energy source?",
        [InputPollOption("Sun"), InputPollOption("Wind"), "Water"],
        is_anonymous=False,
        allows_multiple_answers=True,
    )
    poll = message.poll
    assert poll is not None
    assert [o.text for o in poll.options] == ["Sun", "Wind", "Water"]
    assert not poll.is_anonymous
    assert poll.allows_multiple_answers
    assert not poll.is_closed
    assert poll.type == "regular"
    assert poll.allows_revoting
    [sent] = fake.polls(USER)
    assert sent.text == "Which energy source?"
    assert sent.poll is not None
    assert sent.poll["id"] == poll.id


@pytest.mark.parametrize(
    ("question", "options", "error"),
    [
        ("", ["a", "b"], "poll question must be non-empty"),
        ("q" * 301, ["a", "b"], "poll question length must not exceed 300"),
        ("Q?", [], "poll must have at least 1 option"),
        ("Q?", [str(n) for n in range(13)], "poll can't have more than 12 options"),
        ("Q?", ["a", " "], "poll options must be non-empty"),
        ("Q?", ["a", "b" * 101], "poll options length must not exceed 100"),
    ],
)
async def test_send_poll_is_validated_like_telegram(
    bot: Bot, fake: FakeBotAPI, question: str, options: list[str], error: str
) -> None:
    with pytest.raises(BadRequest) as raised:
        await bot.send_poll(USER, question, options)
    assert raised.value.message.lower() == error.lower()
    assert fake.polls(USER) == []


async def test_a_poll_type_other_than_regular_or_quiz_is_refused(bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)wrong poll type"):
        await bot.send_poll(USER, "Q?", ["a", "b"], type="survey")


async def test_poll_answers_reach_the_bot_of_a_non_anonymous_poll(
    bot: Bot, fake: FakeBotAPI
) -> None:
    message = await bot.send_poll(USER, "Q?", ["a", "b", "c"], is_anonymous=False)
    assert message.poll is not None
    poll_id = message.poll.id
    fake.answer_poll(USER, poll_id, [1])
    fake.answer_poll(USER, poll_id, [2])  # changed
    fake.answer_poll(USER, poll_id, [])  # taken back
    got = [u.poll_answer for u in await updates(bot) if u.poll_answer is not None]
    assert [(a.poll_id, a.option_ids) for a in got] == [
        (poll_id, (1,)),
        (poll_id, (2,)),
        (poll_id, ()),
    ]
    assert got[0].user is not None
    assert got[0].user.id == USER
    assert got[0].option_persistent_ids == (f"{poll_id}-1",)


async def test_anonymous_polls_tell_the_bot_only_the_counts(bot: Bot, fake: FakeBotAPI) -> None:
    message = await bot.send_poll(USER, "Q?", ["a", "b"])
    assert message.poll is not None
    fake.answer_poll(USER, message.poll.id, [0])
    got = await updates(bot)
    assert [u.poll_answer for u in got if u.poll_answer] == []
    polls = [u.poll for u in got if u.poll is not None]
    assert polls[-1].options[0].voter_count == 1
    assert polls[-1].total_voter_count == 1


async def test_what_telegrams_apps_do_not_let_a_voter_do(bot: Bot, fake: FakeBotAPI) -> None:
    message = await bot.send_poll(USER, "Q?", ["a", "b"], is_anonymous=False)
    assert message.poll is not None
    poll_id = message.poll.id
    with pytest.raises(ValueError, match=r"(?i)one answer"):
        fake.answer_poll(USER, poll_id, [0, 1])
    with pytest.raises(ValueError, match=r"(?i)invalid option"):
        fake.answer_poll(USER, poll_id, [5])
    with pytest.raises(ValueError, match=r"(?i)take back"):
        fake.answer_poll(USER, poll_id, [])


async def test_stop_poll(bot: Bot, fake: FakeBotAPI) -> None:
    message = await bot.send_poll(USER, "Q?", ["a", "b"], is_anonymous=False)
    assert message.poll is not None
    fake.answer_poll(USER, message.poll.id, [0])
    stopped = await bot.stop_poll(USER, message.message_id)
    assert stopped.is_closed
    assert stopped.options[0].voter_count == 1
    with pytest.raises(PollClosed):
        fake.answer_poll(USER, message.poll.id, [1])
    with pytest.raises(BadRequest, match=r"(?i)poll has already been closed"):
        await bot.stop_poll(USER, message.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message with poll to stop not found"):
        await bot.stop_poll(USER, message.message_id + 1)


async def test_updates_the_bot_did_not_ask_for_are_not_delivered(
    bot: Bot, fake: FakeBotAPI
) -> None:
    message = await bot.send_poll(USER, "Q?", ["a", "b"], is_anonymous=False)
    assert message.poll is not None
    await bot.get_updates(timeout=0, allowed_updates=["message"])
    fake.answer_poll(USER, message.poll.id, [0])
    fake.send_text(USER, "hello")
    got = await bot.get_updates(timeout=0, allowed_updates=["message"])
    assert [u.message.text for u in got if u.message] == ["hello"]
    assert all(u.poll_answer is None for u in got)
    assert len(fake.dropped_updates) == 2  # the poll's new state and the answer


# --- group administration -----------------------------------------------------------------------


async def test_a_bot_that_is_a_plain_member_cannot_moderate(bot: Bot, fake: FakeBotAPI) -> None:
    update = fake.send_text(OTHER, "spam spam", chat_id=GROUP)
    message_id = update["message"]["message_id"]
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted for everyone"):
        await bot.delete_message(GROUP, message_id)
    no_rights = r"(?i)not enough rights to restrict/unrestrict chat member"
    with pytest.raises(BadRequest, match=no_rights):
        await bot.restrict_chat_member(GROUP, OTHER, ChatPermissions(can_send_messages=False))
    member = await bot.get_chat_member(GROUP, bot.id)
    assert member.status == ChatMemberStatus.MEMBER
    assert fake.deleted == []
    assert fake.restrictions == []


async def test_an_admin_bot_deletes_and_restricts(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_member(GROUP, bot.id, "administrator", can_delete_messages=True)
    fake.set_member(GROUP, bot.id, "administrator", can_delete_messages=True,
                    can_restrict_members=True)  # fmt: skip
    update = fake.send_text(OTHER, "spam spam", chat_id=GROUP)
    message_id = update["message"]["message_id"]
    assert await bot.delete_message(GROUP, message_id)
    assert fake.deleted == [(GROUP, message_id)]
    with pytest.raises(BadRequest, match=r"(?i)message to delete not found"):
        await bot.delete_message(GROUP, message_id)
    until = int(time.time()) + 3600
    assert await bot.restrict_chat_member(
        GROUP, OTHER, ChatPermissions(can_send_messages=False), until_date=until
    )
    member = await bot.get_chat_member(GROUP, OTHER)
    assert member.status == ChatMemberStatus.RESTRICTED
    assert fake.restrictions[0][:2] == (GROUP, OTHER)
    assert fake.restrictions[0][3] == until
    assert fake.restrictions[0][2]["can_send_messages"] is False
    with pytest.raises(BadRequest, match=r"(?i)user is an administrator of the chat"):
        await bot.restrict_chat_member(GROUP, ADMIN, ChatPermissions(can_send_messages=False))
    # Every permission lifts the restriction: an ordinary member again.
    assert await bot.restrict_chat_member(GROUP, OTHER, ChatPermissions.all_permissions())
    member = await bot.get_chat_member(GROUP, OTHER)
    assert member.status == ChatMemberStatus.MEMBER


async def test_old_messages_cannot_be_deleted(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_member(GROUP, bot.id, "administrator", can_delete_messages=True)
    update = fake.send_text(OTHER, "old news", chat_id=GROUP)
    update["message"]["date"] -= 49 * 3600
    with pytest.raises(BadRequest, match=r"(?i)message can't be deleted for everyone"):
        await bot.delete_message(GROUP, update["message"]["message_id"])


async def test_administrators_and_the_bots_own_rights(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_member(GROUP, bot.id, "administrator", can_delete_messages=True)
    admins = await bot.get_chat_administrators(GROUP)
    assert {a.user.id for a in admins} == {ADMIN, bot.id}
    me = await bot.get_chat_member(GROUP, bot.id)
    assert isinstance(me, ChatMemberAdministrator)
    assert me.can_delete_messages
    assert not me.can_restrict_members
    with pytest.raises(BadRequest, match=r"(?i)no administrators in the private chat"):
        await bot.get_chat_administrators(USER)


async def test_my_chat_member_updates_and_a_removed_bot(bot: Bot, fake: FakeBotAPI) -> None:
    fake.set_member(GROUP, bot.id, "administrator", can_restrict_members=True, by=ADMIN)
    fake.set_member(GROUP, bot.id, "kicked", by=ADMIN)
    got = [u.my_chat_member for u in await updates(bot) if u.my_chat_member is not None]
    assert [(c.old_chat_member.status, c.new_chat_member.status) for c in got] == [
        (ChatMemberStatus.MEMBER, ChatMemberStatus.ADMINISTRATOR),
        (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.BANNED),
    ]
    assert got[0].from_user.id == ADMIN
    assert got[0].chat.id == GROUP
    with pytest.raises(Forbidden, match=r"(?i)bot was kicked from the supergroup chat"):
        await bot.send_message(GROUP, "hello?")
    fake.set_member(GROUP, bot.id, "left")
    with pytest.raises(Forbidden, match=r"(?i)bot is not a member"):
        await bot.get_chat_member(GROUP, bot.id)
