"""A consultation end to end on Telegram: delivered as a native poll, answered, changed,
withdrawn, answered after it closed, and its results — and the buttons where a poll cannot be."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from bot.app import App
from storage.models import ChatPoll, Consultation, utcnow
from tests.e2e.conftest import StartApp
from tests.e2e.engagement import Handled, ModerationRoom
from tests.e2e.journey import TelegramUser, shown
from tests.e2e.test_citizen_journey import onboard
from tests.fakes.bot_api import FakeBotAPI, PollClosed

LANGUAGES = ["en", "it", "sv"]
QUESTIONS = {
    "en": ("Which energy source should the next call fund?", ["Sun", "Wind", "Water"]),
    "it": ("Quale fonte di energia dovrebbe finanziare il prossimo bando?",
           ["Sole", "Vento", "Acqua"]),
    "sv": ("Vilken energikälla ska nästa utlysning finansiera?", ["Sol", "Vind", "Vatten"]),
}  # fmt: skip


async def _consultation(app: App) -> Consultation:
    async with app.sessions() as session:
        found = await session.get(Consultation, 1)
        assert found is not None
        return found


def _results(lang: str, question: str, options: list[str], counts: list[int]) -> str:
    total = 1 if sum(counts) else 0
    lines = [shown(lang, "consultations.results_head", ref="Q-1", question=question, count=total)]
    for option, count in zip(options, counts, strict=True):
        share = round(100 * count / total) if total else 0
        lines.append(shown(lang, "consultations.results_item", option=option, count=count,
                           share=share))  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize("lang", LANGUAGES)
async def test_a_consultation_as_a_native_poll(
    start_app: StartApp, fake: FakeBotAPI, lang: str
) -> None:
    app = await start_app()
    handled = Handled(app)
    room = await ModerationRoom(app, lang).open()
    ada = TelegramUser(fake, 601, language_code=lang)
    bo = TelegramUser(fake, 602, language_code=lang, first_name="Bo")
    await onboard(ada, lang)
    await onboard(bo, lang)

    question, options = QUESTIONS[lang]
    await room.command(
        f"!consultation create {question} | options={';'.join(options)} "
        "| closes=2099-01-01 10:00 | results"
    )
    await room.read(1)
    assert app.scheduler is not None
    assert await app.scheduler.jobs.engagement() == 2
    consultation = await _consultation(app)
    closes = consultation.closes_at.strftime("%Y-%m-%d %H:%M UTC")

    polls = {}
    for user in (ada, bo):
        intro, poll = await user.read(2)
        # The intro says that Telegram shows innobot the voters and innobot keeps them anonymous.
        assert intro.text == shown(lang, "consultations.poll_intro", ref="Q-1", closes=closes)
        assert poll.poll is not None
        assert poll.text == question
        assert [o["text"] for o in poll.poll["options"]] == options
        assert poll.poll["is_anonymous"] is False
        assert poll.poll["allows_multiple_answers"] is False
        polls[user.user_id] = poll.poll["id"]
    seen = handled.count

    # Answered, changed, withdrawn: one answer per person, the latest counts, nothing said back.
    fake.answer_poll(ada.user_id, polls[ada.user_id], [1])
    fake.answer_poll(bo.user_id, polls[bo.user_id], [0])
    fake.answer_poll(ada.user_id, polls[ada.user_id], [2])
    fake.answer_poll(bo.user_id, polls[bo.user_id], [])
    await handled.wait_for(seen + 4)
    await room.command("!consultation results Q-1")
    assert await room.read(1) == [_results(lang, question, options, [0, 0, 1])]
    assert len(ada.inbox()) == ada.seen
    assert len(bo.inbox()) == bo.seen

    # The close time passes before the scheduler notices: a late vote is refused politely.
    async with app.sessions() as session, session.begin():
        await session.execute(
            update(Consultation).values(closes_at=utcnow() - timedelta(seconds=1))
        )
    fake.answer_poll(bo.user_id, polls[bo.user_id], [1])
    assert [m.text for m in await bo.read(1)] == [
        shown(lang, "consultations.poll_closed", ref="Q-1")
    ]

    # Closing stops the polls; the participant gets the final results.
    await room.command("!consultation close Q-1")
    assert await room.read(1) == [shown(lang, "engagement.consultation_closed", ref="Q-1")]
    [final] = await ada.read(1)
    assert final.text.startswith(shown(lang, "consultations.final"))
    assert _results(lang, question, options, [0, 0, 1]) in final.text
    for user in (ada, bo):
        await fake.wait_for_call("stopPoll", status=200, chat_id=user.user_id)
        with pytest.raises(PollClosed):
            fake.answer_poll(user.user_id, polls[user.user_id], [0])
    await room.command("!consultation results Q-1")
    assert await room.read(1) == [_results(lang, question, options, [0, 0, 1])]


async def test_multiple_choice_polls_take_several_answers(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    app = await start_app()
    handled = Handled(app)
    room = await ModerationRoom(app, "en").open()
    ada = TelegramUser(fake, 611)
    await onboard(ada, "en")
    await room.command(
        "!consultation create Which topics? | options=Energy;Health;Mobility | multiple "
        "| closes=2099-01-01 10:00"
    )
    await room.read(1)
    assert app.scheduler is not None
    await app.scheduler.jobs.engagement()
    _, poll = await ada.read(2)
    assert poll.poll is not None
    assert poll.poll["allows_multiple_answers"] is True
    seen = handled.count
    fake.answer_poll(ada.user_id, poll.poll["id"], [0, 2])
    await handled.wait_for(seen + 1)
    await room.command("!consultation results Q-1")
    [results] = await room.read(1)
    assert "Energy: 1 (100%)" in results
    assert "Health: 0 (0%)" in results
    assert "Mobility: 1 (100%)" in results


async def test_a_poll_that_does_not_fit_falls_back_to_buttons(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    app = await start_app()
    room = await ModerationRoom(app, "en").open()
    ada = TelegramUser(fake, 621)
    await onboard(ada, "en")
    long_question = "Which of these should the region fund first? " + "Please read on. " * 20
    assert len(long_question.strip()) > 300  # longer than a Telegram poll's question
    await room.command(
        f"!consultation create {long_question} | options=Sun;Wind | closes=2099-01-01 10:00"
    )
    await room.read(1)
    assert app.scheduler is not None
    await app.scheduler.jobs.engagement()
    [message] = await ada.read(1)
    assert message.poll is None
    assert message.button_labels() == ["Sun", "Wind"]
    [thanks] = await ada.press("Wind", expect=1)
    assert thanks.text == shown("en", "consultations.thanks", ref="Q-1", answer="Wind")
    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(ChatPoll)) == 0
    assert fake.polls(ada.user_id) == []


async def test_a_vote_in_an_unknown_poll_is_not_counted(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    await start_app()
    ada = TelegramUser(fake, 631)
    await onboard(ada, "en")
    # What a vote in a poll innobot has no record of becomes (the same command a poll answer
    # turns into): it is not counted, and the voter is told how to answer instead.
    [refused] = await ada.say("/poll 12345 1", expect=1)
    assert refused.text == shown("en", "consultations.poll_unknown")
