"""The dashboard in a real browser: Debian's headless Chromium signs in, reads every page, checks
its figures against the store (counted here with SQL of its own), filters the engagement page by
a period, changes the language, downloads the open data and signs out. Screenshots of the pages
go to ``$INNOBOT_SCREENSHOT_DIR`` (``docs/screenshots`` for the documentation) or the test's
temporary directory.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import zipfile
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.settings import Settings
from bot.web import build_web_app
from storage.models import (
    SUBMISSION_MODELS,
    Challenge,
    Community,
    CommunityMember,
    Consultation,
    ConsultationAnswer,
    Event,
    EventRegistration,
    GroupReport,
    Match,
    ModerationDecision,
    Organisation,
    OutboxMessage,
    Person,
    Subscription,
    utcnow,
)
from tests.dashboard import webdriver
from tests.dashboard.conftest import PASSWORD, make_account
from tests.dashboard.seed import MODERATORS, seed_programme

Sessions = async_sessionmaker[AsyncSession]
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def db_url(postgresql_url: str) -> str:
    """Production's store."""
    return postgresql_url


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    chosen = os.environ.get("INNOBOT_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def site(sessions: Sessions) -> AsyncIterator[str]:
    """innobot's web server, configured as in production (secure cookies), on loopback."""
    async with sessions() as session, session.begin():
        await seed_programme(session, utcnow())
    await make_account(sessions, "programme-manager")
    runner = web.AppRunner(build_web_app(Settings(_env_file=None), None, sessions=sessions))
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    await runner.cleanup()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[webdriver.Chromium]:
    problem = webdriver.missing()
    if problem:
        pytest.fail(problem)
    (tmp_path / "downloads").mkdir()
    async with webdriver.Chromium(tmp_path, tmp_path / "downloads") as chromium:
        yield chromium


async def expected_figures(sessions: Sessions) -> dict[str, dict[str, int]]:
    """What each page must show, counted straight from the tables."""

    async def count(session: AsyncSession, query: Any) -> int:
        return int((await session.execute(query)).scalar_one())

    async with sessions() as session:
        overview = {
            "participants": await count(session, select(func.count(Person.id))),
            "organisations": await count(session, select(func.count(Organisation.id))),
        }
        for role, n in await session.execute(
            select(Person.role, func.count()).group_by(Person.role)
        ):
            overview[f"role.{role}"] = n
        waiting = 0
        published = 0
        for kind, model in SUBMISSION_MODELS.items():
            overview[f"submitted.{kind}"] = await count(session, select(func.count(model.id)))
            overview[f"approved.{kind}"] = await count(
                session, select(func.count(model.id)).where(model.status == "approved")
            )
            waiting += await count(
                session,
                select(func.count(model.id)).where(model.status.in_(("pending", "needs_info"))),
            )
            public = select(func.count(model.id)).where(model.status == "approved")
            if model is Challenge:
                public = public.where(Challenge.confidentiality != "restricted")
            published += await count(session, public)
        joined = Counter(
            f"{at.year:04d}-{at.month:02d}"
            for at in (await session.execute(select(Person.created_at))).scalars()
        )
        for month, n in joined.items():
            overview[f"month.{month}.participants"] = n

        reached_interest = or_(
            Match.state.in_(("interested", "introduced", "proposal", "contract")),
            Match.owner_intro_at.is_not(None),
            Match.introduced_at.is_not(None),
            Match.outcome_by == "owner",
        )
        reached_intro = or_(
            Match.state.in_(("introduced", "proposal", "contract")),
            Match.introduced_at.is_not(None),
        )
        brokerage = {
            "stage.suggested": await count(session, select(func.count(Match.id))),
            "stage.interested": await count(
                session, select(func.count(Match.id)).where(reached_interest)
            ),
            "stage.introduced": await count(
                session, select(func.count(Match.id)).where(reached_intro)
            ),
            "stage.proposal": await count(
                session,
                select(func.count(Match.id)).where(Match.state.in_(("proposal", "contract"))),
            ),
            "stage.contract": await count(
                session, select(func.count(Match.id)).where(Match.state == "contract")
            ),
            "declined": await count(
                session, select(func.count(Match.id)).where(Match.state == "declined")
            ),
            "no_follow_up": await count(
                session, select(func.count(Match.id)).where(Match.state == "no_follow_up")
            ),
        }
        decisions = ModerationDecision.action.in_(("approve", "reject", "merge"))
        moderation = {"queue": waiting}
        for moderator, n in await session.execute(
            select(ModerationDecision.moderator, func.count())
            .where(decisions)
            .group_by(ModerationDecision.moderator)
        ):
            moderation[f"moderator.{moderator}"] = n
        alert_rows = OutboxMessage.kind.in_(("alert", "digest", "reminder"))
        alerts = {
            "active": await count(
                session, select(func.count(Subscription.id)).where(Subscription.active)
            ),
            "deliveries.sent": await count(
                session,
                select(func.count(OutboxMessage.id)).where(
                    alert_rows, OutboxMessage.status == "sent"
                ),
            ),
            "deliveries.failed": await count(
                session,
                select(func.count(OutboxMessage.id)).where(
                    alert_rows, OutboxMessage.status == "failed"
                ),
            ),
        }
        engagement = await engagement_figures(session, utcnow())
    return {
        "": overview,
        "brokerage": brokerage,
        "moderation": moderation,
        "alerts": alerts,
        "engagement": engagement,
        "export": {"items.total": published},
    }  # fmt: skip


async def engagement_figures(session: AsyncSession, now: datetime) -> dict[str, int]:
    """The engagement page's figures for all time (every answer of the seed has content)."""

    async def count(query: Any) -> int:
        return int((await session.execute(query)).scalar_one())

    registrations = select(func.count(EventRegistration.id))
    figures = {
        "communities": await count(select(func.count(Community.id))),
        "members": await count(select(func.count(CommunityMember.id))),
        "reports.open": await count(
            select(func.count(GroupReport.id)).where(GroupReport.status == "open")
        ),
        "reports.acted_on": await count(
            select(func.count(GroupReport.id)).where(GroupReport.status.in_(("removed", "muted")))
        ),
        "consultations": await count(select(func.count(Consultation.id))),
        "answers": await count(select(func.count(ConsultationAnswer.id))),
        "registrations": await count(registrations.where(EventRegistration.status == "going")),
        "waiting": await count(registrations.where(EventRegistration.status == "waiting")),
        "attendance": await count(
            registrations.join(Event, Event.id == EventRegistration.event_id).where(
                Event.status == "scheduled",
                Event.starts_at <= now,
                EventRegistration.status == "going",
                EventRegistration.updated_at <= Event.starts_at,
            )
        ),
    }
    for community_id, n in await session.execute(
        select(CommunityMember.community_id, func.count()).group_by(CommunityMember.community_id)
    ):
        figures[f"community.{community_id}.members"] = n
    for consultation_id in await session.scalars(select(Consultation.id)):
        figures[f"consultation.{consultation_id}.audience"] = await count(
            select(func.count(OutboxMessage.id)).where(
                OutboxMessage.dedupe_key.like(f"consultation:{consultation_id}:p:%")
            )
        )
    return figures


async def downloaded(folder: Path, suffix: str) -> bytes:
    """The file the browser saved. Chromium reports no download events through WebDriver, so
    the folder is looked at until the file is complete (bounded by the timeout)."""

    def finished() -> list[Path]:
        return [path for path in folder.iterdir() if path.suffix == suffix]

    for _ in range(600):  # 30 seconds
        done = await asyncio.to_thread(finished)
        if done:
            return await asyncio.to_thread(done[0].read_bytes)
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {suffix} file was downloaded")


async def test_a_programme_manager_reads_the_dashboard(
    site: str, browser: webdriver.Chromium, sessions: Sessions, shots: Path, tmp_path: Path
) -> None:
    await browser.get(f"{site}/dashboard/moderation")
    assert await browser.url() == f"{site}/dashboard/login?next=/dashboard/moderation"
    (shots / "login.png").write_bytes(await browser.screenshot())
    await browser.type(await browser.find("#username"), "programme-manager")
    await browser.type(await browser.find("#password"), "not the password")
    await browser.click_and_wait(await browser.find("#sign-in"))
    assert "not right" in await browser.text(await browser.find("#login-error"))
    await browser.type(await browser.find("#username"), "programme-manager")
    await browser.type(await browser.find("#password"), PASSWORD)
    await browser.click_and_wait(await browser.find("#sign-in"))
    assert await browser.url() == f"{site}/dashboard/moderation"  # where the manager was going

    expected = await expected_figures(sessions)
    names = {"": "overview", "brokerage": "brokerage", "moderation": "moderation",
             "alerts": "alerts", "engagement": "engagement", "export": "export"}  # fmt: skip
    for path, figures in expected.items():
        await browser.get(f"{site}/dashboard/{path}")
        shown = await browser.figures()
        for key, value in figures.items():
            assert shown.get(key) == str(value), (path, key, shown.get(key), value)
        (shots / f"{names[path]}.png").write_bytes(await browser.screenshot())
    assert all(f"moderator.{name}" in expected["moderation"] for name in MODERATORS)
    assert expected["engagement"]["attendance"] > 0

    # The engagement page by period: a preset from the form, then chosen days from the address.
    await browser.get(f"{site}/dashboard/engagement")
    await browser.select("#period", "12m")
    await browser.click_and_wait(await browser.find("#show-period"))
    assert (await browser.url()).startswith(f"{site}/dashboard/engagement?period=12m")
    shown = await browser.figures()
    assert shown["members"] == str(expected["engagement"]["members"])  # the seed's year
    today = utcnow().date()
    first, last = today - timedelta(days=60), today - timedelta(days=1)
    await browser.get(f"{site}/dashboard/engagement?period=custom&from={first}&to={last}")
    start = datetime.combine(first, time(), UTC)
    end = datetime.combine(last, time(), UTC) + timedelta(days=1)
    async with sessions() as session:
        joined = await session.scalar(
            select(func.count(CommunityMember.id)).where(
                CommunityMember.joined_at >= start, CommunityMember.joined_at < end
            )
        )
    shown = await browser.figures()
    assert shown["members"] == str(joined)
    assert 0 < int(shown["members"]) < expected["engagement"]["members"]
    assert await browser.attribute(await browser.find("#from"), "value") == first.isoformat()

    await browser.get(f"{site}/dashboard/export")

    await browser.click(await browser.find("#download-json"))
    await browser.click(await browser.find("#download-csv"))
    document = json.loads(await downloaded(tmp_path / "downloads", ".json"))
    assert len(document["items"]) == expected["export"]["items.total"]
    assert document["statistics"]["participants"]["total"] == expected[""]["participants"]
    engagement = document["statistics"]["engagement"]
    assert engagement["communities"]["members"] == expected["engagement"]["members"]
    assert engagement["events"]["attendance"] == expected["engagement"]["attendance"]
    with zipfile.ZipFile(io.BytesIO(await downloaded(tmp_path / "downloads", ".zip"))) as zipped:
        assert zipped.namelist() == ["statistics.csv", "items.csv"]
        published = zipped.read("items.csv").decode("utf-8")
    for private in (*MODERATORS, "sales@example.org", "lab@example.org", "innovation@example.org"):
        assert private not in json.dumps(document)
        assert private not in published

    await browser.select("#language", "it")
    await browser.click_and_wait(await browser.find("#change-language"))
    assert await browser.url() == f"{site}/dashboard/export"
    assert await browser.text(await browser.find("h1")) == "Open data"
    await browser.get(f"{site}/dashboard/")
    assert await browser.text(await browser.find("h1")) == "Partecipazione"
    assert await browser.text(await browser.find("#nav-brokerage")) == "Brokeraggio"

    await browser.click_and_wait(await browser.find("#logout"))
    assert await browser.url() == f"{site}/dashboard/login?signed_out=1"
    await browser.get(f"{site}/dashboard/alerts")
    assert (await browser.url()).startswith(f"{site}/dashboard/login")

    for page in ("login", *names.values()):
        image = (shots / f"{page}.png").read_bytes()
        assert image.startswith(PNG)
        assert len(image) > 10_000
