"""/mydata and /forget cover memberships, registrations and consultation answers."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from handlers.consultations import open_and_close
from storage.models import CommunityMember, ConsultationAnswer, EventRegistration
from tests.engagement.helpers import desk
from tests.handlers.chat import ChatFactory, count, onboard


async def test_mydata_shows_and_forget_erases_engagement(
    sessions: async_sessionmaker[AsyncSession], chat: ChatFactory
) -> None:
    later = datetime.now(UTC) + timedelta(days=5)
    when = later.strftime("%Y-%m-%d %H:%M")
    await desk(sessions, "!community create Circular economy")
    await desk(sessions, f"!event create Workshop | kind=workshop | starts={when} | capacity=1")
    await desk(sessions, f"!consultation create Q? | options=A;B | closes={when}")
    async with sessions() as session, session.begin():
        await open_and_close(session, datetime.now(UTC))
    first, second = chat(user_id="71"), chat(user_id="72")
    await onboard(first)
    await onboard(second)
    await first.send("/join 1")
    await first.send("/rsvp 1")
    await second.send("/rsvp 1")  # waiting list
    await first.send("/vote 1 2")

    await first.send("/mydata")
    [document] = [r.document for r in first.replies if r.document is not None]
    data = json.loads(document.content)
    assert data["community_memberships"][0]["community_id"] == 1
    assert data["event_registrations"][0]["status"] == "going"
    assert data["consultation_answers"][0]["choices"] == [1]

    await first.send("/forget")
    await first.press(value="yes")
    assert await count(sessions, CommunityMember) == 0
    # The freed place goes to the waiting list; the answer still counts, anonymously.
    assert await count(sessions, EventRegistration, EventRegistration.status == "going") == 1
    assert await count(sessions, ConsultationAnswer, ConsultationAnswer.person_id.is_(None)) == 1
