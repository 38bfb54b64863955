"""The moderation commands and what they answer to bad input, against a real homeserver."""

from __future__ import annotations

from storage.models import Idea, Status
from tests.matrix.conftest import MakeBot, MakeMember, moderation_room
from tests.matrix.member import body, html, is_card
from tests.matrix.synapse import Synapse


async def test_queue_lists_waiting_items_oldest_first_in_pages(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    refs = [await bot.submit_idea(title=f"Idea number {n}") for n in range(1, 13)]
    await moderator.wait_for(room, bot.user_id, is_card(refs[-1]))
    await moderator.say(room, f"!approve {refs[0]}")
    await moderator.wait_for(room, bot.user_id, lambda e: "approved by" in body(e))

    await moderator.say(room, "!queue")
    first = await moderator.wait_for(room, bot.user_id, lambda e: "page 1 of 2" in body(e))
    lines = body(first).splitlines()
    assert lines[0] == "Waiting for a decision: 11 (page 1 of 2, oldest first)"
    assert [line.split()[0] for line in lines[1:11]] == refs[1:11]
    assert lines[-1] == "Next page: !queue 2"
    await moderator.say(room, "!queue 2")
    second = await moderator.wait_for(room, bot.user_id, lambda e: "page 2 of 2" in body(e))
    assert body(second).splitlines()[1].startswith(refs[11])
    await moderator.say(room, "!queue 7")
    await moderator.wait_for(room, bot.user_id, lambda e: "There is no page 7" in body(e))
    await moderator.say(room, "!queue next")
    await moderator.wait_for(room, bot.user_id, lambda e: "Usage: !queue [PAGE]" in body(e))


async def test_show_history_stats_tag_merge_and_help(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    long_text = "A community fridge where shops leave unsold food. " * 30
    original = await bot.submit_idea(title="Community fridge", description=long_text)
    duplicate = await bot.submit_idea(title="Shared fridge", description=long_text)
    card = await moderator.wait_for(room, bot.user_id, is_card(duplicate))
    assert f"Similar: {original} «Community fridge»" in body(card)
    assert f"Shortened. Full text: !show {duplicate}" in body(card)
    assert long_text.strip() not in body(card)

    await moderator.say(room, f"!show {duplicate}")
    full = await moderator.wait_for(
        room, bot.user_id, lambda e: is_card(duplicate)(e) and "Shortened" not in body(e)
    )
    assert long_text.strip() in body(full)

    await moderator.say(room, f"!tag {original} agrifood social")
    await moderator.wait_for(
        room, bot.user_id, lambda e: "filed under: agrifood, social" in body(e)
    )
    await moderator.say(room, f"!tag {original} cooking")
    unknown = await moderator.wait_for(room, bot.user_id, lambda e: "Unknown topics" in body(e))
    assert "cooking" in body(unknown)
    assert (await bot.item(original)).topics == ["agrifood", "social"]

    await moderator.say(room, f"!merge {duplicate} {original}")
    await moderator.wait_for(room, bot.user_id, lambda e: "merged into" in body(e))
    merged = await bot.item(duplicate)
    assert isinstance(merged, Idea)
    assert merged.status == Status.MERGED.value
    assert merged.merged_into_id == (await bot.item(original)).id
    await bot.telegram.wait_for(1)
    assert f"merged with a similar one, {original}" in bot.telegram.sent[0][1].text

    await moderator.say(room, f"!merge {original} {original}")
    await moderator.wait_for(room, bot.user_id, lambda e: "cannot be merged into itself" in body(e))
    await moderator.say(room, f"!merge {original} C-1")
    await moderator.wait_for(room, bot.user_id, lambda e: "different kinds" in body(e))

    await moderator.say(room, f"!history {duplicate}")
    history = await moderator.wait_for(room, bot.user_id, lambda e: "History of" in body(e))
    assert "merge (pending → merged)" in body(history)
    assert moderator.user_id in body(history)
    await moderator.say(room, f"!history {original}")
    await moderator.wait_for(
        room, bot.user_id, lambda e: f"History of {original}" in body(e) and "topics set" in body(e)
    )

    await moderator.say(room, "!stats")
    stats = await moderator.wait_for(room, bot.user_id, lambda e: "statistics" in body(e))
    assert "Idea: 2 (1 pending, 1 merged)" in body(stats)
    assert f"Waiting longest: {original}" in body(stats)
    assert f"Decisions in the last 7 days: 1 ({moderator.user_id} 1)" in body(stats)
    assert "<b>Moderation statistics</b>" in html(stats)

    await moderator.say(room, "!help")
    help_text = await moderator.wait_for(room, bot.user_id, lambda e: "!merge ID" in body(e))
    assert "!merge ID INTO_ID" in body(help_text)


async def test_unknown_commands_ids_missing_arguments_and_decided_items(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea()
    await moderator.wait_for(room, bot.user_id, is_card(ref))

    async def answer_to(command: str, expected: str) -> str:
        await moderator.say(room, command)
        found = await moderator.wait_for(room, bot.user_id, lambda e: expected in body(e))
        return body(found)

    await answer_to("!frobnicate", "I don't know !frobnicate")
    await answer_to("!approve", "Usage: !approve ID [NOTE]")
    await answer_to("!approve 42", "42 is not an item id")
    await answer_to("!approve I-999", "There is no item I-999")
    await answer_to(f"!ask {ref}", "Usage: !ask ID QUESTION")
    await answer_to("!merge I-1", "Usage: !merge ID INTO_ID")
    await answer_to("!tag I-1", "Usage: !tag ID TOPIC...")
    await answer_to(f"!reject {ref} " + "x" * 1001, "The reason is too long")
    assert (await bot.item(ref)).status == Status.PENDING.value

    await answer_to(f"!approve {ref}", "approved by")
    again = await answer_to(f"!reject {ref} Changed my mind", "already been decided")
    assert f"approved, by {moderator.user_id}" in again
    assert (await bot.item(ref)).status == Status.APPROVED.value
    assert len(await bot.decisions(ref)) == 1
    # Chatter is not a command and gets no answer; "!" alone neither.
    count = len(moderator.messages(room, bot.user_id))
    await moderator.say(room, "Shall we look at the queue after lunch?")
    await moderator.say(room, "!")
    await answer_to("!HELP", "Moderation commands")
    assert len(moderator.messages(room, bot.user_id)) == count + 1


async def test_huge_messages_are_refused_without_harm(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea()
    await moderator.wait_for(room, bot.user_id, is_card(ref))
    huge = "!reject " + ref + " " + "é" * 30_000  # about 60 KB of UTF-8, near Matrix's limit
    await moderator.say(room, huge)
    await moderator.wait_for(room, bot.user_id, lambda e: "too long for a command" in body(e))
    await moderator.say(room, "ä" * 31_000)  # chatter of the same size: ignored
    await moderator.say(room, f"!approve {ref}")
    await moderator.wait_for(room, bot.user_id, lambda e: "approved by" in body(e))
    assert [d.action for d in await bot.decisions(ref)] == ["approve"]


async def test_an_edited_command_is_not_run_again_and_redactions_change_nothing(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    first = await bot.submit_idea(title="First")
    second = await bot.submit_idea(title="Second")
    card = await moderator.wait_for(room, bot.user_id, is_card(second))

    command = await moderator.say(room, f"!approve {first}")
    await moderator.wait_for(room, bot.user_id, lambda e: f"{first} approved" in body(e))
    await moderator.edit(room, command, f"!approve {second}")
    await moderator.edit(room, command, f"!reject {first} edited")
    await moderator.redact(room, command)
    await moderator.redact(room, card["event_id"])
    # The next command is answered, so the edits and redactions above have been seen.
    await moderator.say(room, "!stats")
    await moderator.wait_for(room, bot.user_id, lambda e: "statistics" in body(e))
    assert (await bot.item(first)).status == Status.APPROVED.value
    assert (await bot.item(second)).status == Status.PENDING.value
    assert len(await bot.decisions(first)) == 1
    answers = [e for e in moderator.messages(room, bot.user_id) if "approved by" in body(e)]
    assert len(answers) == 1


async def test_commands_outside_the_moderation_rooms_are_refused(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator = await make_member()
    bot_user = synapse.register(None)
    room = await moderator.create_room([bot_user.user_id], name="Moderation")
    other = await moderator.create_room([bot_user.user_id], name="Coffee corner")
    # An earlier configuration listed both rooms; the bot is still in the second one.
    first_run = await make_bot([room, other], user=bot_user)
    await moderator.wait_for_member(other, bot_user.user_id)
    await first_run.stop()
    bot = await make_bot([room], user=bot_user)
    ref = await bot.submit_idea()
    await moderator.wait_for(room, bot.user_id, is_card(ref))

    await moderator.say(other, f"!approve {ref}")
    await moderator.wait_for(other, bot.user_id, lambda e: "only in the moderation room" in body(e))
    assert (await bot.item(ref)).status == Status.PENDING.value

    # A direct chat: the invitation is declined.
    direct = await moderator.create_room([bot_user.user_id], name="Direct")
    await moderator.say(room, "!help")  # answered after the invitation was seen
    await moderator.wait_for(room, bot.user_id, lambda e: "Moderation commands" in body(e))
    membership = await moderator.client.room_get_state_event(
        direct, "m.room.member", bot_user.user_id
    )
    assert membership.content["membership"] == "leave"
