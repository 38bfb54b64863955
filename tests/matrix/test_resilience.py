"""Restarts, outages, kicks, rate limits and encryption, against a real homeserver."""

from __future__ import annotations

from bot.adapters.matrix import SYNC_TOKEN_KEY
from storage.models import AdapterState, Status
from tests.matrix.conftest import MakeBot, MakeMember, moderation_room
from tests.matrix.member import body, is_card
from tests.matrix.synapse import Synapse


async def test_a_restart_neither_replays_commands_nor_misses_new_ones(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    first = await bot.submit_idea(title="First")
    second = await bot.submit_idea(title="Second")
    await moderator.wait_for(room, bot.user_id, is_card(second))
    await moderator.say(room, f"!approve {first}")
    await moderator.wait_for(room, bot.user_id, lambda e: f"{first} approved" in body(e))
    await bot.stop()
    async with bot.sessions() as session:
        token = await session.get(AdapterState, SYNC_TOKEN_KEY)
    assert token is not None

    await moderator.say(room, f"!approve {second}")  # while the bot is down
    restarted = await make_bot([room], user=bot.user)
    await moderator.wait_for(room, bot.user_id, lambda e: f"{second} approved" in body(e))
    await moderator.say(room, "!stats")  # answered: everything before it has been seen
    await moderator.wait_for(room, bot.user_id, lambda e: "statistics" in body(e))

    replies = [body(e) for e in moderator.messages(room, bot.user_id)]
    assert sum(f"{first} approved" in text for text in replies) == 1
    assert sum(f"{second} approved" in text for text in replies) == 1
    assert not any("already been decided" in text for text in replies)
    assert len(await restarted.decisions(first)) == 1
    # Cards are not posted twice either.
    assert sum(is_card(first)(e) for e in moderator.messages(room, bot.user_id)) == 1


async def test_after_a_long_absence_the_gap_is_filled_from_history(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse, timeline_limit=3)
    refs = [await bot.submit_idea(title=f"Idea {n}") for n in range(6)]
    await moderator.wait_for(room, bot.user_id, is_card(refs[-1]))
    await bot.stop()
    for ref in refs:  # twice the timeline limit of one sync
        await moderator.say(room, f"!approve {ref}")

    await make_bot([room], user=bot.user, timeline_limit=3)
    await moderator.wait_count(room, bot.user_id, 6, lambda e: "approved by" in body(e))
    for ref in refs:
        assert (await bot.item(ref)).status == Status.APPROVED.value


async def test_a_kicked_bot_keeps_its_cards_and_delivers_them_when_invited_back(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    await moderator.kick(room, bot.user_id)
    await bot.adapter.wait_until(lambda adapter: not adapter.in_room(room), timeout=30)
    ref = await bot.submit_idea(title="Submitted while the bot was out")

    await moderator.invite(room, bot.user_id)
    await moderator.wait_for(room, bot.user_id, is_card(ref))
    await moderator.say(room, f"!approve {ref}")
    await moderator.wait_for(room, bot.user_id, lambda e: f"{ref} approved" in body(e))


async def test_the_homeserver_going_down_loses_nothing(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    before = await bot.submit_idea(title="Before the outage")
    await moderator.wait_for(room, bot.user_id, is_card(before))

    synapse.stop()
    try:
        await bot.adapter.wait_until(lambda adapter: not adapter.connected, timeout=60)
        during = await bot.submit_idea(title="During the outage")
    finally:
        synapse.start()
    await bot.adapter.wait_until(lambda adapter: adapter.connected, timeout=60)
    await moderator.wait_for(room, bot.user_id, is_card(during), timeout=60)
    await moderator.say(room, f"!approve {during}")
    await moderator.wait_for(room, bot.user_id, lambda e: f"{during} approved" in body(e))
    assert sum(is_card(before)(e) for e in moderator.messages(room, bot.user_id)) == 1


async def test_the_homeservers_rate_limit_is_honoured_and_no_card_is_lost(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator = await make_member()
    bot_user = synapse.register(None)
    synapse.limit_messages(bot_user.user_id, per_second=2, burst=2)
    room = await moderator.create_room([bot_user.user_id])
    bot = await make_bot([room], user=bot_user)  # paced far faster than the homeserver allows
    refs = [await bot.submit_idea(title=f"Card {n}") for n in range(8)]

    cards = await moderator.wait_count(room, bot.user_id, 8, lambda e: "Decide:" in body(e))
    heads = sorted(body(card).split(" · ")[0] for card in cards)
    assert heads == sorted(f"Idea {ref}" for ref in refs)
    assert bot.adapter.rate_limited >= 1


async def test_an_encrypted_moderation_room(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse, encrypted=True)
    ref = await bot.submit_idea(title="Private pilot with the hospital")
    card = await moderator.wait_for(room, bot.user_id, is_card(ref), timeout=60)
    assert card.get("decrypted") is True
    assert (bot.settings.data_dir / "matrix").is_dir()

    await moderator.say(room, f"!approve {ref}")
    reply = await moderator.wait_for(
        room, bot.user_id, lambda e: f"{ref} approved" in body(e), timeout=60
    )
    assert reply.get("decrypted") is True
    assert (await bot.item(ref)).status == Status.APPROVED.value
