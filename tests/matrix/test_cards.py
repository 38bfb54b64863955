"""Triage cards in the moderation room, against a real homeserver."""

from __future__ import annotations

from tests.matrix.conftest import MakeBot, MakeMember, moderation_room
from tests.matrix.member import body, html, is_card
from tests.matrix.synapse import Synapse


async def test_a_new_submission_gets_a_card_with_html_and_plain_text(
    make_member: MakeMember, make_bot: MakeBot, synapse: Synapse
) -> None:
    moderator, bot, room = await moderation_room(make_member, make_bot, synapse)
    ref = await bot.submit_idea(
        title="<b>Solar</b> benches",
        description="Benches <script>alert('x')</script> that charge phones & light the square.",
    )
    card = await moderator.wait_for(room, bot.user_id, is_card(ref))
    text, markup = body(card), html(card)
    assert "Idea" in text
    assert ref in text
    assert "<b>Solar</b> benches" in text  # the plain body shows what was typed
    assert "&lt;script&gt;" in markup
    assert "<script>" not in markup
    assert "&lt;b&gt;Solar&lt;/b&gt;" in markup
    assert "energy ✓ 0.82" in text
    assert "built_environment 0.40" in text
    assert "Language: en" in text
    assert "anonymous submitter #" in text
    assert "Ada" not in text
    assert card["content"]["format"] == "org.matrix.custom.html"
