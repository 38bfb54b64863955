"""Moderators decide in the room; submitters hear about it in their language."""

from __future__ import annotations

import asyncio

from handlers.context import Analysis
from handlers.i18n import t
from storage.models import Status
from tests.matrix.conftest import MakeBot, MakeMember, moderation_room
from tests.matrix.member import body, is_card, thread_of
from tests.matrix.synapse import Synapse


class OffTopic:
    def analyze(self, text: str) -> Analysis:
        return Analysis(lang="en", intent="out_of_scope", intent_score=1.0)


async def test_approve_notifies_the_submitter_in_their_language_and_is_audited(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea(lang="it", chat="2002", name="Giulia")
    await moderator.wait_for(room, bot.user_id, is_card(ref))

    await moderator.say(room, f"!approve {ref} Bella idea, grazie!")
    reply = await moderator.wait_for(room, bot.user_id, lambda e: "approved by" in body(e))
    assert moderator.user_id in body(reply)
    await bot.telegram.wait_for(1)
    chat, note = bot.telegram.sent[0]
    assert chat == "2002"
    assert note.text.startswith("✅ Buone notizie")
    assert "Bella idea, grazie!" in note.text

    item = await bot.item(ref)
    assert item.status == Status.APPROVED.value
    assert item.decided_at is not None
    [decision] = await bot.decisions(ref)
    assert decision.moderator == moderator.user_id
    assert decision.action == "approve"
    assert decision.previous_status == Status.PENDING.value
    assert decision.new_status == Status.APPROVED.value
    assert decision.reason == "Bella idea, grazie!"


async def test_reject_needs_a_reason_and_tells_the_submitter_why(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea(lang="sv", chat="3003", name="Sven")
    await moderator.wait_for(room, bot.user_id, is_card(ref))

    await moderator.say(room, f"!reject {ref}")
    await moderator.wait_for(room, bot.user_id, lambda e: "A reason is required" in body(e))
    assert (await bot.item(ref)).status == Status.PENDING.value

    await moderator.say(room, f"!reject {ref} Finns redan i kommunens plan")
    await moderator.wait_for(room, bot.user_id, lambda e: "rejected by" in body(e))
    await bot.telegram.wait_for(1)
    text = bot.telegram.sent[0][1].text
    assert "godkändes inte" in text
    assert "Motivering: Finns redan i kommunens plan" in text
    assert (await bot.item(ref)).status == Status.REJECTED.value


async def test_a_member_below_the_power_threshold_is_refused_and_nothing_changes(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    helper = await make_member()
    await moderator.set_power(room, helper.user_id, 49)
    await moderator.invite(room, helper.user_id)
    await helper.wait_joined(room)
    ref = await bot.submit_idea()
    await helper.wait_for(room, bot.user_id, is_card(ref))

    await helper.say(room, f"!approve {ref}")
    refusal = await helper.wait_for(room, bot.user_id, lambda e: "only members" in body(e))
    assert "power level 50" in body(refusal)
    await helper.say(room, "!queue")
    await helper.wait_count(room, bot.user_id, 2, lambda e: "only members" in body(e))
    assert (await bot.item(ref)).status == Status.PENDING.value
    assert await bot.decisions(ref) == []
    assert bot.telegram.sent == []

    # !help is open to every member.
    await helper.say(room, "!help")
    await helper.wait_for(room, bot.user_id, lambda e: "Moderation commands" in body(e))


async def test_power_levels_are_read_at_every_command(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    colleague = await make_member()
    await moderator.set_power(room, colleague.user_id, 50)
    await moderator.invite(room, colleague.user_id)
    await colleague.wait_joined(room)
    first = await bot.submit_idea(title="First idea")
    second = await bot.submit_idea(title="Second idea")
    await colleague.wait_for(room, bot.user_id, is_card(second))

    await colleague.say(room, f"!approve {first}")
    await colleague.wait_for(room, bot.user_id, lambda e: f"{first} approved" in body(e))
    await moderator.set_power(room, colleague.user_id, 0)  # demoted
    await colleague.say(room, f"!approve {second}")
    await colleague.wait_for(room, bot.user_id, lambda e: "only members" in body(e))
    assert (await bot.item(second)).status == Status.PENDING.value


async def test_reactions_approve_or_ask_for_a_reason_in_the_cards_thread(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    good = await bot.submit_idea(title="Shared cargo bikes")
    bad = await bot.submit_idea(title="Bigger car parks")
    good_card = await moderator.wait_for(room, bot.user_id, is_card(good))
    bad_card = await moderator.wait_for(room, bot.user_id, is_card(bad))

    await moderator.react(room, good_card["event_id"], "✅️")
    await moderator.wait_for(room, bot.user_id, lambda e: f"{good} approved" in body(e))
    assert (await bot.item(good)).status == Status.APPROVED.value

    await moderator.react(room, bad_card["event_id"], "❌")
    question = await moderator.wait_for(room, bot.user_id, lambda e: "why should" in body(e))
    assert thread_of(question) == bad_card["event_id"]
    assert (await bot.item(bad)).status == Status.PENDING.value

    await moderator.say(room, "Not in line with the mobility plan", thread=bad_card["event_id"])
    done = await moderator.wait_for(room, bot.user_id, lambda e: f"{bad} rejected" in body(e))
    assert thread_of(done) == bad_card["event_id"]
    item = await bot.item(bad)
    assert item.status == Status.REJECTED.value
    [decision] = await bot.decisions(bad)
    assert decision.reason == "Not in line with the mobility plan"
    await bot.telegram.wait_for(2)
    assert "Reason: Not in line with the mobility plan" in bot.telegram.sent[1][1].text

    # Other reactions are only reactions.
    await moderator.react(room, good_card["event_id"], "🎉")
    await moderator.say(room, "!history " + good)
    history = await moderator.wait_for(room, bot.user_id, lambda e: "History of" in body(e))
    assert body(history).count("approval") == 1


async def test_in_a_cards_thread_the_id_is_implied(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea()
    card = await moderator.wait_for(room, bot.user_id, is_card(ref))

    await moderator.say(room, "!tag energy mobility", thread=card["event_id"])
    tagged = await moderator.wait_for(room, bot.user_id, lambda e: "filed under" in body(e))
    assert thread_of(tagged) == card["event_id"]
    assert (await bot.item(ref)).topics == ["energy", "mobility"]
    await moderator.say(room, "!approve", thread=card["event_id"])
    await moderator.wait_for(room, bot.user_id, lambda e: f"{ref} approved" in body(e))


async def test_ask_reaches_the_submitter_and_their_answer_comes_back_to_the_thread(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    from bot.dispatch import Dispatcher
    from handlers.core import IncomingMessage, Platform
    from handlers.help import feature as help_feature
    from handlers.moderation import feature as moderation_feature
    from handlers.router import Router

    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea(lang="en", chat="4004", name="Ann")
    card = await moderator.wait_for(room, bot.user_id, is_card(ref))

    await moderator.say(room, f"!ask {ref} Which square do you mean?")
    await moderator.wait_for(room, bot.user_id, lambda e: "question has been sent" in body(e))
    await bot.telegram.wait_for(1)
    question = bot.telegram.sent[0][1]
    assert "Which square do you mean?" in question.text
    assert [b.payload for row in question.buttons for b in row] == ["c:answer"]
    assert (await bot.item(ref)).status == Status.NEEDS_INFO.value

    # The citizen answers on Telegram (through innobot's router, as in production).
    router = Router([moderation_feature, help_feature], OffTopic())
    dispatcher = Dispatcher(bot.sessions, router, bot.worker)
    dispatcher.add_adapter(bot.telegram)
    incoming = IncomingMessage(
        Platform.TELEGRAM, "4004", "4004", text="/answer Piazza Garibaldi, by the fountain"
    )
    await dispatcher.handle(incoming)
    answer = await moderator.wait_for(room, bot.user_id, lambda e: "Answer from" in body(e))
    assert thread_of(answer) == card["event_id"]
    assert "Piazza Garibaldi, by the fountain" in body(answer)
    await bot.telegram.wait_for(2)
    assert bot.telegram.sent[1][1].text == t("en", "moderation.answer_thanks", ref=ref)
    assert (await bot.item(ref)).status == Status.PENDING.value
    actions = [d.action for d in await bot.decisions(ref)]
    assert actions == ["ask", "answer"]


async def test_two_moderators_deciding_at_once_one_wins_the_other_is_told(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    alice, bot, room = await moderation_room(make_member, make_bot, synapse)
    bob = await make_member()
    await alice.set_power(room, bob.user_id, 50)
    await alice.invite(room, bob.user_id)
    await bob.wait_joined(room)
    ref = await bot.submit_idea()
    await bob.wait_for(room, bot.user_id, is_card(ref))

    await asyncio.gather(
        alice.say(room, f"!approve {ref}"), bob.say(room, f"!reject {ref} Duplicate")
    )
    replies = await alice.wait_count(
        room,
        bot.user_id,
        2,
        lambda e: (
            f"{ref} approved" in body(e)
            or f"{ref} rejected" in body(e)
            or "already been decided" in body(e)
        ),
    )
    wins = [r for r in replies if "already" not in body(r)]
    losses = [r for r in replies if "already" in body(r)]
    assert len(wins) == 1
    assert len(losses) == 1
    decisions = await bot.decisions(ref)
    assert len(decisions) == 1
    assert decisions[0].moderator in body(losses[0])
    await bot.telegram.wait_for(1)
    assert len(bot.telegram.sent) == 1
