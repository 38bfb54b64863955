"""A citizen on Telegram, from /start to a submitted idea, in English, Italian and Swedish."""

from __future__ import annotations

import re
import socket

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.app import App
from handlers.i18n import LANGUAGE_NAMES, t
from storage.models import Idea, Person
from tests.e2e.conftest import StartApp
from tests.e2e.journey import TelegramUser, shown
from tests.fakes.bot_api import FakeBotAPI

IDEAS = {
    "en": ("Solar benches <for> parks & *squares*",
           "Benches with solar panels where people can charge phones and bikes in every park."),
    "it": ("Panchine solari <nei> parchi & *piazze*",
           "Panchine con pannelli solari per ricaricare telefoni e biciclette in ogni parco."),
    "sv": ("Solbänkar <i> parker & *torg*",
           "Bänkar med solpaneler där man kan ladda telefoner och cyklar i varje park."),
}  # fmt: skip


async def onboard(user: TelegramUser, lang: str) -> None:
    """/start → language → consent → role, checking every answer is in ``lang``."""
    welcome, ask_language = await user.say("/start", expect=2)
    hint = user.language_code
    assert welcome.text == shown(hint, "onboarding.welcome")
    assert ask_language.text == shown(hint, "onboarding.ask_language")
    assert ask_language.button_labels() == list(LANGUAGE_NAMES.values())

    [notice] = await user.press(LANGUAGE_NAMES[lang], expect=1)
    assert notice.text == shown(lang, "onboarding.privacy_notice")
    assert notice.button_labels() == [t(lang, "onboarding.agree"), t(lang, "onboarding.decline")]

    thanks, ask_role = await user.press(t(lang, "onboarding.agree"), expect=2)
    assert thanks.text == shown(lang, "onboarding.thanks")
    assert ask_role.text == shown(lang, "onboarding.ask_role")

    [ready] = await user.press(t(lang, "roles.citizen"), expect=1)
    assert ready.text == shown(lang, "onboarding.ready", role=t(lang, "roles.citizen"))
    assert t(lang, "menu.idea") in ready.button_labels()


async def submit_idea(user: TelegramUser, lang: str, title: str, description: str) -> str:
    """/idea → title → description → topic → name shown → confirm; returns the reference."""
    [ask_title] = await user.say("/idea", expect=1)
    assert ask_title.text == shown(lang, "idea.ask_title", max=120)
    [ask_description] = await user.say(title, expect=1)
    assert ask_description.text == shown(lang, "idea.ask_description", min=20)
    return await finish_idea(user, lang, title, description)


async def finish_idea(user: TelegramUser, lang: str, title: str, description: str) -> str:
    [ask_topic] = await user.say(description, expect=1)
    assert t(lang, "idea.topic_other") in ask_topic.button_labels()
    [ask_show_name] = await user.press(t(lang, "idea.topic_other"), expect=1)
    assert ask_show_name.text == shown(lang, "idea.ask_show_name")
    [summary] = await user.press(t(lang, "common.yes"), expect=1)
    assert title in summary.text  # the user's own <, & and * are shown as typed
    assert description in summary.text
    [submitted] = await user.press(t(lang, "idea.confirm"), expect=1)
    [ref] = submitted.formatted("bold")
    assert submitted.text == shown(lang, "idea.submitted", ref=ref)
    assert re.fullmatch(r"[A-Z]+-\d+", ref)
    return ref


async def stored_idea(app: App, ref: str) -> Idea:
    idea_id = int(ref.rsplit("-", 1)[1])
    async with app.sessions() as session:
        idea = await session.get(Idea, idea_id)
    assert idea is not None
    return idea


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_citizen_submits_an_idea(start_app: StartApp, fake: FakeBotAPI, lang: str) -> None:
    app = await start_app()
    user = TelegramUser(fake, 1001, language_code=lang, first_name="Giulia", last_name="Rossi")
    await onboard(user, lang)
    title, description = IDEAS[lang]
    ref = await submit_idea(user, lang, title, description)

    idea = await stored_idea(app, ref)
    assert (idea.title, idea.description, idea.show_name) == (title, description, True)
    async with app.sessions() as session:
        person = (await session.execute(select(Person))).scalar_one()
    assert (person.display_name, person.language) == ("Giulia Rossi", lang)
    assert len(fake.answered_callbacks) == 6  # every button press was acknowledged
    assert len(user.inbox()) == user.seen  # nothing unexpected, nothing twice


async def test_the_app_language_is_used_until_one_is_chosen(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    await start_app()
    user = TelegramUser(fake, 1002, language_code="sv-SE")
    await onboard(user, "it")  # a Swede who prefers Italian


async def test_a_restart_in_the_middle_of_a_flow_loses_nothing(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    app = await start_app()
    user = TelegramUser(fake, 1003, language_code="it")
    await onboard(user, "it")
    title, description = IDEAS["it"]
    await user.say("/idea", expect=1)
    await user.say(title, expect=1)  # innobot now waits for the description

    await app.stop()
    fake.send_text(user.user_id, description, language_code="it")  # sent while innobot is down
    app = await start_app()

    [ask_topic] = await user.read(1)
    assert t("it", "idea.topic_other") in ask_topic.button_labels()
    [_ask_show_name] = await user.press(t("it", "idea.topic_other"), expect=1)
    [_summary] = await user.press(t("it", "common.no"), expect=1)
    [submitted] = await user.press(t("it", "idea.confirm"), expect=1)
    [ref] = submitted.formatted("bold")
    idea = await stored_idea(app, ref)
    assert (idea.title, idea.description, idea.show_name) == (title, description, False)
    assert len(user.inbox()) == user.seen


async def test_forget_erases_the_person(start_app: StartApp, fake: FakeBotAPI) -> None:
    app = await start_app()
    user = TelegramUser(fake, 1004, language_code="en")
    await onboard(user, "en")
    ref = await submit_idea(user, "en", *IDEAS["en"])

    [confirm] = await user.say("/forget", expect=1)
    assert confirm.text == shown("en", "privacy.forget_confirm")
    [forgotten] = await user.press(t("en", "privacy.forget_yes"), expect=1)
    assert forgotten.text == shown("en", "privacy.forgotten")

    async with app.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(Person)) == 0
    idea = await stored_idea(app, ref)
    assert idea.person_id is None  # the idea stays, anonymous
    [refused] = await user.say("/my", expect=1)
    assert refused.text == shown("en", "errors.needs_consent")


async def test_a_user_who_blocked_innobot_does_not_stop_it(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    await start_app()
    user = TelegramUser(fake, 1005)
    await onboard(user, "en")
    fake.block(user.user_id)
    fake.send_text(user.user_id, "/help")
    await fake.wait_for_call("sendMessage", status=403, chat_id=user.user_id)
    other = TelegramUser(fake, 1006)
    [answer] = await other.say("/help", expect=1)  # innobot carries on with everyone else
    assert answer.text == shown("en", "help.text")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def test_the_journey_through_the_webhook(start_app: StartApp, fake: FakeBotAPI) -> None:
    port = free_port()
    await start_app(
        telegram_mode="webhook",
        web_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SecretStr("e2e-secret"),
    )
    assert fake.webhook_url == f"http://127.0.0.1:{port}/telegram"
    user = TelegramUser(fake, 1007, language_code="sv")
    await onboard(user, "sv")
    await submit_idea(user, "sv", *IDEAS["sv"])
    assert set(fake.webhook_statuses) == {200}


async def test_an_update_telegram_delivers_again_is_answered_once(
    start_app: StartApp, fake: FakeBotAPI
) -> None:
    port = free_port()
    await start_app(
        telegram_mode="webhook",
        web_port=port,
        webhook_url=f"http://127.0.0.1:{port}/telegram",
        webhook_secret=SecretStr("e2e-secret"),
    )
    user = TelegramUser(fake, 1008)
    update = fake.send_text(1008, "/help")
    [answer] = await user.read(1)
    assert answer.text == shown("en", "help.text")
    fake.deliver_again(update)
    await fake.wait_for_webhook_deliveries()
    # Updates of one chat are handled in order: a second help would come before these.
    welcome, ask_language = await user.say("/start", expect=2)
    assert welcome.text == shown("en", "onboarding.welcome")
    assert ask_language.text == shown("en", "onboarding.ask_language")
    assert set(fake.webhook_statuses) == {200}
