"""Programme statistics from a small store whose every figure is known (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage import stats
from storage.models import (
    Challenge,
    Idea,
    Identity,
    Match,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    Person,
    SolutionProfile,
    Subscription,
)
from tests.dashboard.conftest import NOW

Sessions = async_sessionmaker[AsyncSession]


def at(text: str) -> datetime:
    """``"05-20 10:00"`` → that moment of 2026 in UTC."""
    return datetime.fromisoformat(f"2026-{text}:00+00:00")


async def small_programme(sessions: Sessions) -> None:
    """Five people, six submissions, six matches, a few decisions, subscriptions and alerts."""
    async with sessions() as session, session.begin():
        nordic = Organisation(name="Nordic Agritech AB", created_at=at("04-01 09:00"))
        hospital = Organisation(name="Ospedale San Carlo", created_at=at("04-01 09:00"))
        ada = Person(display_name="Ada Lovelace", role="citizen", created_at=at("06-01 10:00"))
        people = [
            ada,
            Person(display_name="Bo Berg", role="citizen", created_at=at("05-10 10:00")),
            Person(display_name="Cy Colombo", role="citizen", created_at=at("05-20 10:00")),
            Person(display_name="Di Holm", role="sme", created_at=at("04-02 10:00")),
            Person(display_name="Ed Rossi", role="challenge_owner", created_at=at("06-03 10:00")),
        ]
        for n, person in enumerate(people):
            person.identities.append(
                Identity(platform="telegram", external_id=str(7000 + n), chat_id=str(7000 + n))
            )
        session.add_all([nordic, hospital, *people])
        await session.flush()
        i1 = Idea(
            title="Solar benches",
            description="d" * 30,
            topics=["energy"],
            status="approved",
            decided_at=at("06-04 00:00"),
            show_name=True,
            person_id=ada.id,
            created_at=at("06-02 00:00"),
        )
        i2 = Idea(
            title="Bike lanes",
            description="d" * 30,
            topics=[],
            status="pending",
            person_id=ada.id,
            created_at=NOW - timedelta(days=1),
        )
        i3 = Idea(
            title="Wind kites",
            description="d" * 30,
            topics=["energy", "mobility"],
            status="rejected",
            created_at=at("05-05 00:00"),
        )
        s1 = SolutionProfile(
            title="Smart meters",
            description="d" * 30,
            topics=["energy"],
            status="approved",
            organisation_id=nordic.id,
            contact="sales@nordic.example",
            created_at=at("05-15 00:00"),
        )
        c1 = Challenge(
            title="Heat recovery",
            description="d" * 30,
            topics=["energy"],
            status="approved",
            organisation_id=hospital.id,
            created_at=at("04-20 00:00"),
        )
        c2 = Challenge(
            title="Secret need",
            description="d" * 30,
            topics=[],
            status="approved",
            confidentiality="restricted",
            created_at=at("04-21 00:00"),
        )
        c3 = Challenge(
            title="Quiet need",
            description="d" * 30,
            topics=[],
            status="approved",
            confidentiality="anonymous",
            organisation_id=hospital.id,
            show_name=True,
            person_id=people[4].id,
            created_at=at("04-22 00:00"),
        )
        session.add_all([i1, i2, i3, s1, c1, c2, c3])
        await session.flush()
        session.add_all(
            [
                Match(
                    challenge_id=c1.id,
                    item_kind="solution",
                    item_id=s1.id,
                    score=0.9,
                    state="suggested",
                    created_at=at("05-01 00:00"),
                ),
                Match(
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=i1.id,
                    score=0.8,
                    state="interested",
                    created_at=at("05-02 00:00"),
                ),
                Match(
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=i3.id,
                    score=0.7,
                    state="contract",
                    created_at=at("06-02 00:00"),
                ),
                Match(
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=i2.id,
                    score=0.6,
                    state="declined",
                    owner_intro_at=at("06-05 00:00"),
                    created_at=at("06-03 00:00"),
                ),
                Match(
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=999,
                    score=0.5,
                    state="no_follow_up",
                    owner_intro_at=at("06-05 00:00"),
                    introduced_at=at("06-06 00:00"),
                    created_at=at("06-04 00:00"),
                ),
                Match(
                    challenge_id=c2.id,
                    item_kind="solution",
                    item_id=s1.id,
                    score=0.9,
                    state="proposal",
                    created_at=at("06-05 00:00"),
                ),
                Match(  # the solver was interested, the challenge owner was not
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=998,
                    score=0.4,
                    state="declined",
                    outcome_by="owner",
                    answered_at=at("06-07 00:00"),
                    created_at=at("06-06 00:00"),
                ),
                Match(  # the solver was not interested
                    challenge_id=c1.id,
                    item_kind="idea",
                    item_id=997,
                    score=0.4,
                    state="declined",
                    outcome_by="solver",
                    answered_at=at("06-07 00:00"),
                    created_at=at("06-06 00:00"),
                ),
            ]
        )

        def decision(
            item: Idea | SolutionProfile | Challenge, kind: str, who: str, action: str, hours: float
        ) -> ModerationDecision:
            return ModerationDecision(
                item_kind=kind,
                item_id=item.id,
                moderator=who,
                action=action,
                created_at=item.created_at + timedelta(hours=hours),
            )

        session.add_all(
            [
                decision(i1, "idea", "@anna:x.org", "approve", 48),
                decision(i1, "idea", "@marco:x.org", "tag", 50),
                decision(i3, "idea", "@marco:x.org", "reject", 24),
                decision(i2, "idea", "@anna:x.org", "ask", 1),
                decision(i2, "idea", "submitter", "answer", 2),
                decision(s1, "solution", "@anna:x.org", "approve", 12),
                decision(c1, "challenge", "@marco:x.org", "approve", 72),
            ]
        )
        session.add_all(
            [
                Subscription(person_id=ada.id, topics=["energy"], frequency="instant"),
                Subscription(person_id=people[1].id, topics=[], frequency="daily"),
                Subscription(
                    person_id=people[2].id,
                    topics=["energy"],
                    active=False,
                    stopped_reason="blocked",
                ),
            ]
        )

        def outbox(
            kind: str, status: str, created: datetime, sent: datetime | None = None
        ) -> OutboxMessage:
            return OutboxMessage(
                platform="telegram",
                chat_id="7000",
                kind=kind,
                status=status,
                payload={"text": "x"},
                created_at=created,
                sent_at=sent,
            )

        session.add_all(
            [
                outbox("alert", "sent", at("06-10 08:00"), at("06-10 08:01")),
                outbox("digest", "failed", at("05-02 08:00")),
                outbox("reminder", "pending", at("06-14 08:00")),
                outbox("reply", "sent", at("06-14 08:00"), at("06-14 08:00")),
            ]
        )  # fmt: skip


@pytest.fixture
async def programme(sessions: Sessions) -> Sessions:
    await small_programme(sessions)
    return sessions


def test_months_end_with_the_current_one() -> None:
    months = stats.last_months(NOW, 3)
    assert months == ("2026-04", "2026-05", "2026-06")
    assert stats.last_months(datetime.fromisoformat("2026-02-01T00:00+00:00"), 3) == (
        "2025-12",
        "2026-01",
        "2026-02",
    )


async def test_overview_counts_participants_organisations_and_submissions(
    programme: Sessions,
) -> None:
    async with programme() as session:
        figures = await stats.overview(session, now=NOW)
    assert figures.participants == 5
    assert figures.by_role == {
        "citizen": 3,
        "sme": 1,
        "infrastructure": 0,
        "challenge_owner": 1,
        "moderator": 0,
    }
    assert figures.organisations == 2
    assert figures.submissions == {"idea": 3, "solution": 1, "infrastructure": 0, "challenge": 3}
    assert figures.approved == {"idea": 1, "solution": 1, "infrastructure": 0, "challenge": 3}
    assert figures.months[-3:] == ("2026-04", "2026-05", "2026-06")
    assert figures.monthly["participants"][-3:] == (1, 2, 2)
    assert figures.monthly["idea"][-3:] == (0, 1, 2)
    assert figures.monthly["challenge"][-3:] == (3, 0, 0)
    assert figures.topics == {
        "energy": {"idea": 2, "solution": 1, "challenge": 1},
        "mobility": {"idea": 1},
        "none": {"idea": 1, "challenge": 2},
    }


async def test_funnel_counts_each_match_at_every_stage_it_reached(programme: Sessions) -> None:
    async with programme() as session:
        funnel = await stats.funnel(session, now=NOW)
    assert funnel.stages == {
        "suggested": 8,
        # Two declined matches had got that far: one the owner asked to be introduced to, one
        # the owner turned down after the solver's interest.
        "interested": 6,
        "introduced": 3,  # the one without follow-up had been introduced
        "proposal": 2,
        "contract": 1,
    }
    assert (funnel.declined, funnel.no_follow_up) == (3, 1)
    assert funnel.topics == {
        "energy": {"suggested": 7, "interested": 5, "introduced": 2, "proposal": 1, "contract": 1},
        "none": {"suggested": 1, "interested": 1, "introduced": 1, "proposal": 1, "contract": 0},
    }
    assert funnel.monthly["suggested"][-2:] == (2, 6)
    assert funnel.monthly["contract"][-2:] == (0, 1)


async def test_moderation_queue_decisions_and_times(programme: Sessions) -> None:
    async with programme() as session:
        figures = await stats.moderation(session, now=NOW)
    assert figures.waiting == {"idea": 1, "solution": 0, "infrastructure": 0, "challenge": 0}
    assert figures.queue == 1
    assert figures.oldest == timedelta(days=1)
    assert figures.ages == {"lt_1d": 0, "d1_3": 1, "d3_7": 0, "gt_7d": 0}
    assert figures.decided == 4
    assert figures.median_to_decision == timedelta(hours=36)  # of 12, 24, 48 and 72 hours
    assert [(m.moderator, m.decisions, m.actions) for m in figures.moderators] == [
        ("@anna:x.org", 2, {"approve": 2, "ask": 1}),
        ("@marco:x.org", 2, {"approve": 1, "reject": 1, "tag": 1}),
    ]  # the submitter's answer is nobody's moderation work
    assert figures.monthly_decisions[-3:] == (1, 2, 1)


async def test_alerts_subscriptions_and_deliveries(programme: Sessions) -> None:
    async with programme() as session:
        figures = await stats.alerts(session, now=NOW)
    assert figures.active == 2
    assert figures.stopped == {"blocked": 1}
    assert figures.topics == {"energy": 1, "all": 1}
    assert figures.frequencies == {"instant": 1, "daily": 1}
    assert figures.deliveries == {"sent": 1, "pending": 1, "failed": 1, "dropped": 0}
    assert figures.failure_rate == 0.5
    assert figures.monthly_sent[-2:] == (0, 1)
    assert figures.monthly_failed[-2:] == (1, 0)


async def test_public_items_are_approved_and_carry_no_contact(programme: Sessions) -> None:
    async with programme() as session:
        items = await stats.public_items(session)
    by_title = {item.title: item for item in items}
    assert sorted(by_title) == ["Heat recovery", "Quiet need", "Smart meters", "Solar benches"]
    assert by_title["Solar benches"].author == "Ada Lovelace"  # she chose to show her name
    assert by_title["Smart meters"].organisation == "Nordic Agritech AB"
    assert by_title["Heat recovery"].organisation == "Ospedale San Carlo"
    anonymous = by_title["Quiet need"]
    assert (anonymous.organisation, anonymous.author) == (None, None)
    assert by_title["Solar benches"].published == "2026-06-04"  # the day it was approved


async def test_an_empty_store_gives_zeros(sessions: Sessions) -> None:
    async with sessions() as session:
        overview = await stats.overview(session, now=NOW)
        funnel = await stats.funnel(session, now=NOW)
        moderation = await stats.moderation(session, now=NOW)
        alerts = await stats.alerts(session, now=NOW)
        items = await stats.public_items(session)
    assert overview.participants == 0
    assert set(overview.monthly["idea"]) == {0}
    assert set(funnel.stages.values()) == {0}
    assert (moderation.queue, moderation.oldest, moderation.median_to_decision) == (0, None, None)
    assert alerts.failure_rate is None
    assert items == []
