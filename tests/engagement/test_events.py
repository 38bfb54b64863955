"""Events: announced by moderators, registered for with a calendar file, a waiting list that
moves up, reminders the day before and an hour before, cancellation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.events import queue_reminders
from handlers.i18n import t
from handlers.markup import to_plain
from storage.models import EventRegistration
from tests.engagement.helpers import desk, queued
from tests.handlers.chat import ChatFactory, count, onboard

START = (datetime.now(UTC) + timedelta(days=10)).replace(second=0, microsecond=0)


def _local(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


async def _event(sessions: async_sessionmaker[AsyncSession], capacity: int = 1) -> str:
    said = await desk(
        sessions,
        f"!event create Hydrogen valleys | kind=training | starts={_local(START)} "
        f"| ends={_local(START + timedelta(hours=2))} | tz=UTC | place=Umeå, Sliperiet "
        f"| capacity={capacity} | description=Hands-on training",
    )
    return said


@pytest.mark.parametrize("lang", ["en", "it", "sv"])
async def test_register_wait_cancel_and_move_up(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory, lang: str
) -> None:
    first, second = chat(user_id="11", language_hint=lang), chat(user_id="12", language_hint=lang)
    await onboard(first, lang)
    await onboard(second, lang)
    said = await _event(sessions)
    assert "E-1" in said
    # Both were told, once each, with a button to register.
    announced = await queued(sessions, kind="event")
    assert sorted(row.chat_id for row, _ in announced) == ["11", "12"]
    assert all("Hydrogen valleys" in reply.text for _, reply in announced)

    await first.send("/events")
    assert "Hydrogen valleys" in first.plain
    await first.press(t(lang, "events.rsvp_button"))
    start = _local(START)
    assert first.said(
        lang, "events.registered", title="Hydrogen valleys", start=start, timezone="UTC"
    )
    document = first.replies[0].document
    assert document is not None
    assert document.filename == "event-1.ics"
    calendar = document.content.decode()
    assert "BEGIN:VEVENT" in calendar
    assert "SUMMARY:Hydrogen valleys" in calendar
    assert f"DTSTART:{START.strftime('%Y%m%dT%H%M00Z')}" in calendar

    await second.send("/rsvp E-1")
    assert second.said(lang, "events.waiting", title="Hydrogen valleys")

    await first.send("/unrsvp 1")
    assert first.said(lang, "events.unregistered", title="Hydrogen valleys")
    [moved] = first.outcome.notifications if first.outcome else []
    assert moved.to is not None
    assert moved.to.chat_id == "12"
    assert to_plain(moved.text) == to_plain(
        t(lang, "events.moved_up", title="Hydrogen valleys", start=start, timezone="UTC")
    )
    assert moved.document is not None

    said = await desk(sessions, "!event registrations E-1")
    assert "1/1" in said
    assert "1 cancelled" in said


async def test_reminders_come_the_day_before_and_an_hour_before_once(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    person = chat(user_id="21")
    await onboard(person)
    await _event(sessions, capacity=5)
    await person.send("/rsvp 1")

    async def remind(at: datetime) -> int:
        async with sessions() as session, session.begin():
            return await queue_reminders(session, at)

    assert await remind(START - timedelta(days=2)) == 0
    assert await remind(START - timedelta(hours=23)) == 1
    assert await remind(START - timedelta(hours=22)) == 0
    assert await remind(START - timedelta(minutes=50)) == 1
    assert await remind(START - timedelta(minutes=10)) == 0
    texts = [to_plain(reply.text) for _, reply in await queued(sessions, kind="event")]
    assert any(text.startswith("Reminder: Hydrogen valleys is tomorrow") for text in texts)
    assert any("starts in an hour" in text for text in texts)


async def test_cancelled_events_refuse_registrations_and_registrants_are_told(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    person = chat(user_id="31", language_hint="it")
    await onboard(person, "it")
    await _event(sessions, capacity=5)
    await person.send("/rsvp 1")
    said = await desk(sessions, "!event cancel E-1")
    assert "1" in said
    rows = [reply for row, reply in await queued(sessions) if row.chat_id == "31"]
    assert to_plain(rows[-1].text) == to_plain(
        t("it", "events.cancelled_notice", title="Hydrogen valleys")
    )
    await person.send("/rsvp 1")
    assert person.said("it", "events.is_cancelled", title="Hydrogen valleys")
    await person.send("/rsvp 7")
    assert person.said("it", "events.unknown", ref="E-7")
    await person.send("/unrsvp 7")
    assert person.said("it", "events.unknown", ref="E-7")


async def test_moderators_get_clear_answers_to_bad_events(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    start = _local(START)
    earlier = _local(START - timedelta(hours=1))
    said = await desk(sessions, f"!event create X | starts={start} | ends={earlier}")
    assert said == to_plain(t("en", "engagement.ends_before_starts"))
    said = await desk(sessions, "!event create X | starts=2001-01-01 10:00")
    assert said == to_plain(t("en", "engagement.starts_in_past"))
    said = await desk(sessions, "!event create X | starts=tomorrow")
    assert "tomorrow" in said
    said = await desk(sessions, f"!event create X | starts={start} | tz=Mars/Olympus")
    assert "Mars/Olympus" in said
    said = await desk(sessions, f"!event create X | starts={start} | capacity=-3")
    assert "-3" in said
    said = await desk(sessions, f"!event create X | starts={start} | audience=planet:mars")
    assert "planet:mars" in said
    said = await desk(sessions, f"!event create X | starts={start} | kind=party")
    assert "party" in said
    assert await count(sessions, EventRegistration) == 0
    assert await desk(sessions, "!event list") == to_plain(t("en", "engagement.event_none"))
