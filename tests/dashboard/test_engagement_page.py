"""The engagement page over HTTP: its figures, the period filter, languages, escaping and what it
never shows (who answered, free-text answers, names)."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.models import Community
from tests.dashboard.conftest import NOW, Dashboard, make_account
from tests.dashboard.test_engagement_stats import DAY, engagement_programme

Sessions = async_sessionmaker[AsyncSession]
FIGURE = re.compile(r'<data data-key="([^"]+)" value="([^"]*)">')
PAGE = "/dashboard/engagement"


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The page runs on SQLite; the statistics behind it are tested on both backends."""
    return sqlite_url


@pytest.fixture
async def signed_in(dashboard: Dashboard, sessions: Sessions) -> Dashboard:
    await make_account(sessions)
    assert (await dashboard.login()).status == 303
    return dashboard


async def page(dashboard: Dashboard, query: str = "", **headers: str) -> tuple[str, dict[str, str]]:
    response = await dashboard.get(PAGE + query, headers=headers)
    assert response.status == 200
    text = await response.text()
    return text, dict(FIGURE.findall(text))


async def test_the_page_needs_a_signed_in_session(dashboard: Dashboard) -> None:
    response = await dashboard.get(PAGE, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/dashboard/login?next={PAGE}"


async def test_an_empty_programme(signed_in: Dashboard) -> None:
    text, shown = await page(signed_in)
    assert "<h1>Engagement</h1>" in text
    assert 'aria-current="page" id="nav-engagement"' in text
    for key in ("participants", "members", "answers", "registrations", "attendance"):
        assert shown[key] == "0", key
    for sentence in ("No communities yet.", "No consultations in this period.",
                     "No events in this period."):  # fmt: skip
        assert sentence in text


async def test_the_figures_of_communities_consultations_and_events(
    signed_in: Dashboard, sessions: Sessions
) -> None:
    ids = await engagement_programme(sessions, NOW)
    text, shown = await page(signed_in)
    energy, health, _closed = ids.communities
    q1, q2, q3, q4 = ids.consultations
    held, called_off, coming = ids.events
    assert {key: shown[key] for key in ("participants", "members", "communities", "reports.open",
            "reports.acted_on", "answers", "consultations", "registrations", "waiting",
            "attendance")} == {"participants": "6", "members": "5", "communities": "3",
            "reports.open": "1", "reports.acted_on": "2", "answers": "6",
            "consultations": "4", "registrations": "6", "waiting": "1",
            "attendance": "2"}  # fmt: skip
    assert shown[f"community.{energy}.members"] == "3"
    assert shown[f"community.{energy}.reports_dismissed"] == "1"
    assert shown[f"community.{health}.posts"] == "1"
    assert "Old community (closed)" in text
    assert shown[f"consultation.{q1}.audience"] == "4"
    assert shown[f"consultation.{q1}.participation"] == "0.75"
    assert [shown[f"consultation.{q1}.option.{n}"] for n in (1, 2, 3)] == ["2", "1", "1"]
    assert "Sun: " in text
    for still_open in (q2, q3):  # no results before a consultation closes
        assert f"consultation.{still_open}.option.1" not in shown
    assert shown[f"consultation.{q3}.participation"] == ""
    assert "Free-text answers (not shown)" in text
    assert "More trains" not in text  # a free-text answer
    assert f"consultation.{q4}.option.1" not in shown
    assert shown[f"event.{held}.attendance"] == "2"
    assert shown[f"event.{held}.cancellations"] == "2"
    assert f"event.{called_off}.attendance" not in shown
    assert shown[f"event.{coming}.waiting"] == "1"
    for person in range(1, 7):
        assert f"Person {person}" not in text  # nobody's name
    assert text.count("<svg") == 4


async def test_a_period_filters_the_page(signed_in: Dashboard, sessions: Sessions) -> None:
    ids = await engagement_programme(sessions, NOW)
    text, shown = await page(signed_in, "?period=30d")
    assert '<option value="30d" selected>' in text
    assert (shown["members"], shown["participants"], shown["consultations"]) == ("3", "3", "2")
    first, last = (NOW - 90 * DAY).date(), (NOW - 31 * DAY).date()
    text, shown = await page(signed_in, f"?period=custom&from={first}&to={last}")
    assert f'value="{first}"' in text
    assert f'value="{last}"' in text
    assert shown["consultations"] == "2"
    assert f"consultation.{ids.consultations[0]}.answers" in shown
    assert shown["registrations"] == "0"  # no event starts then
    assert "<h1>Engagement</h1>" in text
    assert 'id="period-error"' not in text


@pytest.mark.parametrize(
    "query",
    ["?period=custom&from=2026-13-01", "?from=2026-06-10&to=2026-06-01", "?period=forever",
     "?period=custom&from=" + "9" * 500],
)  # fmt: skip
async def test_a_period_that_makes_no_sense_shows_all_time(
    signed_in: Dashboard, sessions: Sessions, query: str
) -> None:
    await engagement_programme(sessions, NOW)
    text, shown = await page(signed_in, query)
    assert 'id="period-error"' in text
    assert "Showing all time." in text
    assert shown["members"] == "5"
    assert '<option value="all" selected>' in text


@pytest.mark.parametrize(
    ("language", "heading", "attendance"),
    [("it", "Coinvolgimento", "Presenze"), ("sv", "Engagemang", "Närvaro")],
)
async def test_the_page_in_italian_and_swedish(
    signed_in: Dashboard, sessions: Sessions, language: str, heading: str, attendance: str
) -> None:
    await engagement_programme(sessions, NOW)
    response = await signed_in.post("/dashboard/language", {"language": language, "next": PAGE})
    assert response.headers["Location"] == PAGE
    text, shown = await page(signed_in)
    assert f"<h1>{heading}</h1>" in text
    assert attendance in text
    assert shown["attendance"] == "2"
    assert "{" not in html.unescape(re.sub(r"<[^>]+>", "", text))  # every placeholder filled


async def test_what_moderators_wrote_is_escaped(signed_in: Dashboard, sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        session.add(
            Community(
                name="<script>alert(1)</script>",
                created_by="@mod:example.org",
                created_at=NOW - timedelta(days=1),
            )
        )
    text, _ = await page(signed_in)
    assert "<script>alert" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
