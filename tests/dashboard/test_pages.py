"""The dashboard's pages over HTTP: signing in and out, CSRF, headers, languages, escaping."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.dashboard import i18n
from bot.dashboard.auth import SECURITY_HEADERS
from storage.accounts import MAX_FAILED_LOGINS, remove_account
from storage.models import Idea, ModerationDecision
from tests.dashboard.conftest import NOW, PASSWORD, Client, Dashboard, make_account

Sessions = async_sessionmaker[AsyncSession]
PAGES = ("/dashboard/", "/dashboard/brokerage", "/dashboard/moderation", "/dashboard/alerts",
         "/dashboard/engagement", "/dashboard/export")  # fmt: skip


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """The pages run on SQLite; the statistics behind them are tested on both backends."""
    return sqlite_url


@pytest.fixture
async def signed_in(dashboard: Dashboard, sessions: Sessions) -> Dashboard:
    await make_account(sessions)
    response = await dashboard.login()
    assert response.status == 303
    return dashboard


@pytest.mark.parametrize("path", [*PAGES, "/dashboard/export.json", "/dashboard/export.zip"])
async def test_every_page_needs_a_signed_in_session(dashboard: Dashboard, path: str) -> None:
    response = await dashboard.get(path, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/dashboard/login?next={path}"


async def test_a_form_without_a_session_is_refused(dashboard: Dashboard) -> None:
    response = await dashboard.client.post("/dashboard/logout", data={"csrf": "x"})
    assert response.status == 403


async def test_signing_in_opens_every_page(signed_in: Dashboard) -> None:
    titles = ("Participation", "Brokerage funnel", "Moderation", "Challenge alerts", "Engagement",
              "Open data")  # fmt: skip
    for path, title in zip(PAGES, titles, strict=True):
        response = await signed_in.get(path)
        page = await response.text()
        assert response.status == 200, path
        assert f"<h1>{title}</h1>" in page
        assert "Signed in as manager" in page
        for header, value in SECURITY_HEADERS.items():
            assert response.headers[header] == value


async def test_the_session_cookie_is_http_only_and_strict(
    dashboard: Dashboard, sessions: Sessions
) -> None:
    await make_account(sessions)
    response = await dashboard.login()
    cookie = response.cookies["innobot-session"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/"
    assert response.headers["Location"] == "/dashboard/"


async def test_in_production_the_cookies_are_secure_and_host_bound(
    web_client: Client, sessions: Sessions
) -> None:
    await make_account(sessions)
    form = await web_client.get("/dashboard/login")
    login_cookie = form.cookies["__Host-innobot-login"]
    assert login_cookie["secure"]
    assert (await web_client.get("/dashboard", allow_redirects=False)).headers[
        "Location"
    ] == "/dashboard/"
    token = login_cookie.value
    response = await web_client.post(
        "/dashboard/login",
        data={"csrf": token, "username": "manager", "password": PASSWORD},
        cookies={"__Host-innobot-login": token},
        allow_redirects=False,
    )
    assert response.status == 303
    session = response.cookies["__Host-innobot-session"]
    assert session["secure"]
    assert session["httponly"]
    assert session["samesite"] == "Strict"


async def test_a_wrong_password_is_refused_and_repeated_ones_lock_the_account(
    dashboard: Dashboard, sessions: Sessions
) -> None:
    await make_account(sessions)
    unknown = await dashboard.login(username="nobody")
    assert unknown.status == 401
    assert "The user name or the password is not right." in await unknown.text()
    for _ in range(MAX_FAILED_LOGINS):
        wrong = await dashboard.login(password="not the password at all")
        assert wrong.status == 401
    locked = await dashboard.login()  # even the right password, for a while
    assert locked.status == 429
    assert "Too many failed attempts. Try again in 15 minutes." in await locked.text()
    assert "innobot-session" not in locked.cookies


async def test_the_sign_in_form_needs_its_token(dashboard: Dashboard, sessions: Sessions) -> None:
    await make_account(sessions)
    await dashboard.get("/dashboard/login")  # sets the form's cookie
    for token in ("", "forged-token"):
        response = await dashboard.client.post(
            "/dashboard/login",
            data={"csrf": token, "username": "manager", "password": PASSWORD},
            allow_redirects=False,
        )
        assert response.status == 400
        assert "The form had expired" in await response.text()


async def test_forms_need_the_sessions_token(signed_in: Dashboard) -> None:
    for token in (None, "forged-token"):
        data = {"language": "it"} if token is None else {"language": "it", "csrf": token}
        response = await signed_in.client.post("/dashboard/language", data=data)
        assert response.status == 403
        assert "This request was refused. Reload the page and try again." in await response.text()
    page = await (await signed_in.get("/dashboard/")).text()
    assert "<h1>Participation</h1>" in page  # the language did not change


async def test_a_post_from_another_site_is_refused(signed_in: Dashboard) -> None:
    response = await signed_in.post(
        "/dashboard/language",
        {"language": "it"},
        headers={"Origin": "https://evil.example", "Accept-Language": "it"},
    )
    assert response.status == 403
    assert "Richiesta rifiutata." in await response.text()
    same_site = await signed_in.post(
        "/dashboard/language",
        {"language": "it"},
        headers={"Origin": f"http://{signed_in.client.host}:{signed_in.client.port}"},
    )
    assert same_site.status == 303


@pytest.mark.parametrize(
    ("language", "heading", "nav"),
    [("it", "Partecipazione", "Brokeraggio"), ("sv", "Deltagande", "Matchmaking")],
)
async def test_the_language_can_be_changed(
    signed_in: Dashboard, language: str, heading: str, nav: str
) -> None:
    response = await signed_in.post(
        "/dashboard/language", {"language": language, "next": "/dashboard/moderation"}
    )
    assert response.headers["Location"] == "/dashboard/moderation"
    page = await (await signed_in.get("/dashboard/")).text()
    assert f"<h1>{heading}</h1>" in page
    assert nav in page
    assert f'<html lang="{language}">' in page


async def test_the_sign_in_page_speaks_the_browsers_language(dashboard: Dashboard) -> None:
    page = await (
        await dashboard.get("/dashboard/login", headers={"Accept-Language": "sv-SE,sv;q=0.9"})
    ).text()
    assert "<h1>Logga in</h1>" in page
    page = await (
        await dashboard.get("/dashboard/login", headers={"Accept-Language": "de, it;q=0.5"})
    ).text()
    assert "<h1>Accedi</h1>" in page


async def test_signing_out_ends_the_session(signed_in: Dashboard) -> None:
    cookie = signed_in.client.session.cookie_jar.filter_cookies(signed_in.client.make_url("/"))
    token = cookie["innobot-session"].value
    response = await signed_in.post("/dashboard/logout", {})
    assert response.headers["Location"] == "/dashboard/login?signed_out=1"
    again = await signed_in.client.get(
        "/dashboard/", cookies={"innobot-session": token}, allow_redirects=False
    )
    assert again.status == 303  # the old token opens nothing


async def test_a_removed_account_is_signed_out(signed_in: Dashboard, sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        assert await remove_account(session, "manager")
    response = await signed_in.get("/dashboard/", allow_redirects=False)
    assert response.status == 303


async def test_after_signing_in_the_next_page_stays_on_the_dashboard(
    dashboard: Dashboard, sessions: Sessions
) -> None:
    await make_account(sessions)
    for target, expected in (
        ("/dashboard/alerts", "/dashboard/alerts"),
        ("//evil.example/dashboard/", "/dashboard/"),
        ("https://evil.example/", "/dashboard/"),
        ("/dashboard/..//evil.example", "/dashboard/"),
    ):
        token = await dashboard.form_token("/dashboard/login")
        response = await dashboard.client.post(
            "/dashboard/login",
            data={"csrf": token, "username": "manager", "password": PASSWORD, "next": target},
            allow_redirects=False,
        )
        assert response.headers["Location"] == expected


async def test_what_the_store_holds_is_escaped(signed_in: Dashboard, sessions: Sessions) -> None:
    async with sessions() as session, session.begin():
        idea = Idea(
            title="x", description="y" * 30, topics=["<b>bold</b>"], created_at=NOW - timedelta(1)
        )
        session.add(idea)
        await session.flush()
        session.add(
            ModerationDecision(
                item_kind="idea",
                item_id=idea.id,
                moderator="<script>alert(1)</script>",
                action="approve",
                created_at=NOW,
            )
        )
    overview = await (await signed_in.get("/dashboard/")).text()
    moderation = await (await signed_in.get("/dashboard/moderation")).text()
    assert "<b>bold</b>" not in overview
    assert "&lt;b&gt;bold&lt;/b&gt;" in overview
    assert "<script>" not in moderation
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in moderation


async def test_the_downloads(signed_in: Dashboard) -> None:
    response = await signed_in.get("/dashboard/export.json")
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"] == (
        'attachment; filename="innobot-open-data-2026-06-15.json"'
    )
    document = json.loads(await response.read())
    assert document["statistics"]["participants"]["total"] == 0
    archive = await signed_in.get("/dashboard/export.zip")
    assert archive.headers["Content-Type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(await archive.read())) as zipped:
        assert zipped.namelist() == ["statistics.csv", "items.csv"]


async def test_the_stylesheet_is_public_and_unknown_pages_are_not_found(
    dashboard: Dashboard, sessions: Sessions
) -> None:
    css = await dashboard.get("/dashboard/static/dashboard.css")
    assert css.status == 200
    assert css.headers["Content-Type"].startswith("text/css")
    stranger = await dashboard.get("/dashboard/nothing-here", allow_redirects=False)
    assert stranger.status == 303  # a stranger learns nothing, not even what does not exist
    await make_account(sessions)
    await dashboard.login()
    missing = await dashboard.get("/dashboard/nothing-here", allow_redirects=False)
    assert missing.status == 404
    assert missing.headers["X-Frame-Options"] == "DENY"
    assert "<h1>This page does not exist.</h1>" in await missing.text()
    swedish = await dashboard.get("/dashboard/nothing-here", headers={"Accept-Language": "sv"})
    assert "<h1>This page does not exist.</h1>" in await swedish.text()  # the account's language


def test_the_catalogs_have_the_same_keys_and_placeholders() -> None:
    import string

    def shape(lang: str) -> dict[str, set[str]]:
        return {
            key: {name for _, name, _, _ in string.Formatter().parse(text) if name}
            for key, text in i18n.catalog(lang).items()
        }

    english = shape("en")
    for lang in ("it", "sv"):
        assert shape(lang) == english, lang
    texts = {lang: i18n.Texts(lang) for lang in i18n.LANGUAGES}
    assert [texts[lang].number(1234567) for lang in ("en", "it", "sv")] == [
        "1,234,567",
        "1.234.567",
        "1\u00a0234\u00a0567",
    ]
    assert texts["it"].percent(0.125) == "12,5%"
    assert texts["sv"].month("2026-05") == "maj 2026"
    assert texts["en"].duration(timedelta(days=2, hours=5, minutes=7)) == "2 d 5 h"
    assert texts["sv"].duration(timedelta(hours=3, minutes=7)) == "3 tim 7 min"
