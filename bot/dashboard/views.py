"""The dashboard's pages: sign-in, overview, brokerage, moderation, alerts, engagement and the
open data."""

from __future__ import annotations

import logging
import math
import secrets
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from importlib import resources
from typing import Any, Final

from aiohttp import web
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from bot.dashboard import charts
from bot.dashboard import export as open_data
from bot.dashboard.auth import (
    CONFIG,
    FORM,
    PREFIX,
    SECURITY_HEADERS,
    SESSIONS,
    SIGNED_IN,
    Handler,
    safe_next,
    same_token,
)
from bot.dashboard.i18n import LANGUAGE_NAMES, LANGUAGES, Texts, from_accept_language, pick
from bot.logs import pseudonym
from storage import accounts, stats

log = logging.getLogger(__name__)

TEMPLATES: Final = web.AppKey("dashboard_templates", Environment)
LOGIN_TOKEN_AGE: Final = 3600  # seconds a sign-in form stays valid
FIELD_MAX: Final = 1024

routes = web.RouteTableDef()


def template_environment() -> Environment:
    return Environment(
        loader=PackageLoader("bot.dashboard", "templates"),
        autoescape=select_autoescape(default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> bytes:
    return resources.files("bot.dashboard").joinpath("static", "dashboard.css").read_bytes()


def texts_for(request: web.Request) -> Texts:
    signed = request.get(SIGNED_IN)
    if signed is not None:
        return Texts(pick(signed.account.language))
    return Texts(
        pick(
            request.query.get("lang"), from_accept_language(request.headers.get("Accept-Language"))
        )
    )


def render(
    request: web.Request, template: str, *, status: int = 200, **context: Any
) -> web.Response:
    texts = texts_for(request)
    signed = request.get(SIGNED_IN)
    page = (
        request.app[TEMPLATES]
        .get_template(template)
        .render(
            t=texts,
            lang=texts.lang,
            prefix=PREFIX,
            account=signed.account if signed else None,
            csrf=signed.session.csrf_token if signed else "",
            languages=LANGUAGE_NAMES,
            generated=request.app[CONFIG].clock().strftime("%Y-%m-%d %H:%M"),
            **context,
        )
    )
    return web.Response(text=page, content_type="text/html", status=status)


ERROR_MESSAGES: Final = {403: "errors.forbidden", 404: "errors.not_found"}


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A refused or unknown page, said in the reader's language (the status stays)."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        key = ERROR_MESSAGES.get(error.status)
        if key is None:
            raise
        texts = texts_for(request)
        page = render(request, "error.html", status=error.status, page="error", message=texts(key))
        page.headers.update(SECURITY_HEADERS)
        return page


# --- signing in and out ------------------------------------------------------------------------


def _login_form(
    request: web.Request, *, error: str | None = None, status: int = 200, notice: str | None = None
) -> web.Response:
    config = request.app[CONFIG]
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        status=status,
        login_token=token,
        next=safe_next(request.query.get("next") or request.get(FORM, {}).get("next")),
        error=error,
        notice=notice,
        page="login",
    )
    config.set_cookie(response, config.login_cookie, token, max_age=LOGIN_TOKEN_AGE)
    return response


@routes.get("/login", name="login")
async def login(request: web.Request) -> web.Response:
    notice = "login.signed_out" if request.query.get("signed_out") else None
    return _login_form(request, notice=notice)


@routes.post("/login", name="login_submit")
async def login_submit(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    form = request[FORM]
    texts = texts_for(request)
    if not same_token(form.get("csrf"), request.cookies.get(config.login_cookie)):
        return _login_form(request, error=texts("login.expired"), status=400)
    username = form.get("username", "")[:FIELD_MAX].strip()
    password = form.get("password", "")[:FIELD_MAX]
    async with request.app[SESSIONS]() as session, session.begin():
        try:
            account = await accounts.authenticate(session, username, password, now=config.clock())
        except accounts.AccountLocked as locked:
            minutes = max(1, math.ceil((locked.until - config.clock()).total_seconds() / 60))
            log.warning("dashboard: sign-in refused, account %s is locked", pseudonym(username))
            return _login_form(request, error=texts("login.locked", minutes=minutes), status=429)
        if account is None:
            log.warning("dashboard: failed sign-in for account %s", pseudonym(username))
            return _login_form(request, error=texts("login.failed"), status=401)
        token = await accounts.open_session(session, account, now=config.clock())
    log.info("dashboard: account %s signed in", pseudonym(username))
    response = web.HTTPSeeOther(safe_next(form.get("next")))
    config.set_cookie(response, config.session_cookie, token)
    config.delete_cookie(response, config.login_cookie)
    raise response


@routes.post("/logout", name="logout")
async def logout(request: web.Request) -> web.StreamResponse:
    config = request.app[CONFIG]
    async with request.app[SESSIONS]() as session, session.begin():
        await accounts.close_session(session, request.cookies.get(config.session_cookie, ""))
    response = web.HTTPSeeOther(f"{PREFIX}/login?signed_out=1")
    config.delete_cookie(response, config.session_cookie)
    raise response


@routes.post("/language", name="language")
async def language(request: web.Request) -> web.StreamResponse:
    chosen = request[FORM].get("language", "")
    if chosen in LANGUAGES:
        async with request.app[SESSIONS]() as session, session.begin():
            await accounts.set_language(session, request[SIGNED_IN].account.id, chosen)
    raise web.HTTPSeeOther(safe_next(request[FORM].get("next")))


@routes.get("/static/dashboard.css", name="stylesheet")
async def css(_request: web.Request) -> web.Response:
    return web.Response(body=stylesheet(), content_type="text/css", charset="utf-8")


# --- the pages ---------------------------------------------------------------------------------


@routes.get("/", name="overview")
async def overview(request: web.Request) -> web.Response:
    texts = texts_for(request)
    now = request.app[CONFIG].clock()
    async with request.app[SESSIONS]() as session:
        figures = await stats.overview(session, now=now)
    months = [texts.month(key, year=False) for key in figures.months]
    kinds = [(kind, texts(f"kinds.{kind}")) for kind in stats.KINDS]
    topic_totals = [(topic, sum(per_kind.values())) for topic, per_kind in figures.topics.items()]
    return render(
        request,
        "overview.html",
        page="overview",
        figures=figures,
        kinds=kinds,
        roles=[(role, _role(texts, role), n) for role, n in figures.by_role.items()],
        role_chart=charts.hbars(
            texts("overview.chart_roles"),
            [(_role(texts, role), n) for role, n in figures.by_role.items()],
        ),
        participants_chart=charts.bars(
            texts("overview.chart_participants"), months, figures.monthly["participants"]
        ),
        submissions_chart=charts.stacked_bars(
            texts("overview.chart_submissions"),
            months,
            [(label, figures.monthly[kind]) for kind, label in kinds],
        ),
        topic_chart=charts.hbars(
            texts("overview.chart_topics"),
            [(texts.topic(topic), total) for topic, total in topic_totals],
            colour=1,
            width=charts.WIDTH,
        ),
    )


def _role(texts: Texts, role: str) -> str:
    return texts(f"roles.{role}") if role in stats.ROLES else texts("roles.other")


@routes.get("/brokerage", name="brokerage")
async def brokerage(request: web.Request) -> web.Response:
    texts = texts_for(request)
    now = request.app[CONFIG].clock()
    async with request.app[SESSIONS]() as session:
        funnel = await stats.funnel(session, now=now)
    suggested = funnel.stages["suggested"]
    stages = [
        (stage, texts(f"brokerage.{stage}"), n, n / suggested if suggested else None)
        for stage, n in funnel.stages.items()
    ]
    months = [texts.month(key, year=False) for key in funnel.months]
    return render(
        request,
        "brokerage.html",
        page="brokerage",
        funnel=funnel,
        stages=stages,
        funnel_chart=charts.hbars(
            texts("brokerage.chart_funnel"), [(label, n) for _, label, n, _ in stages], colour=2
        ),
        time_chart=charts.lines(
            texts("brokerage.chart_time"),
            months,
            [(label, funnel.monthly[stage]) for stage, label, _, _ in stages],
        ),
    )


@routes.get("/moderation", name="moderation")
async def moderation(request: web.Request) -> web.Response:
    texts = texts_for(request)
    now = request.app[CONFIG].clock()
    async with request.app[SESSIONS]() as session:
        figures = await stats.moderation(session, now=now)
    months = [texts.month(key, year=False) for key in figures.months]
    return render(
        request,
        "moderation.html",
        page="moderation",
        figures=figures,
        kinds=[(kind, texts(f"kinds.{kind}")) for kind in stats.KINDS],
        age_chart=charts.hbars(
            texts("moderation.chart_ages"),
            [(texts(f"moderation.{name}"), n) for name, n in figures.ages.items()],
            colour=3,
        ),
        moderator_chart=charts.hbars(
            texts("moderation.chart_moderators"),
            [(m.moderator, m.decisions) for m in figures.moderators[:15]],
            colour=4,
            width=charts.WIDTH,
        ),
        month_chart=charts.bars(
            texts("moderation.chart_months"), months, figures.monthly_decisions
        ),
    )


@routes.get("/alerts", name="alerts")
async def alerts(request: web.Request) -> web.Response:
    texts = texts_for(request)
    now = request.app[CONFIG].clock()
    async with request.app[SESSIONS]() as session:
        figures = await stats.alerts(session, now=now)
    months = [texts.month(key, year=False) for key in figures.months]
    return render(
        request,
        "alerts.html",
        page="alerts",
        figures=figures,
        topic_label=lambda topic: (
            texts("alerts.all_topics") if topic == stats.ALL_TOPICS else texts.topic(topic)
        ),
        topic_chart=charts.hbars(
            texts("alerts.chart_topics"),
            [
                (texts("alerts.all_topics") if t == stats.ALL_TOPICS else texts.topic(t), n)
                for t, n in figures.topics.items()
            ],
            colour=5,
        ),
        month_chart=charts.stacked_bars(
            texts("alerts.chart_months"),
            months,
            [
                (texts("alerts.sent"), figures.monthly_sent),
                (texts("alerts.failed"), figures.monthly_failed),
            ],
        ),
    )


# Periods a page can be filtered by: a preset, or from one day to another (both included).
PERIOD_CHOICES: Final = ("all", *stats.PERIODS, "custom")


def _day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` date from a form field; ValueError if it is something else."""
    text = (text or "").strip()[:10]
    return date.fromisoformat(text) if text else None


def requested_period(
    query: Any, now: datetime
) -> tuple[str, stats.Period, date | None, date | None, bool]:
    """The period a page was asked for: (choice, period, first day, last day, understood)."""
    choice = str(query.get("period", "all"))[:16]
    if choice in stats.PERIODS:
        return choice, stats.Period(start=now - stats.PERIODS[choice]), None, None, True
    if choice != "custom" and not (query.get("from") or query.get("to")):
        return "all", stats.Period(), None, None, choice == "all"
    try:
        first, last = _day(query.get("from")), _day(query.get("to"))
    except ValueError:
        return "all", stats.Period(), None, None, False
    if first is not None and last is not None and last < first:
        return "all", stats.Period(), None, None, False
    start = datetime.combine(first, time(), UTC) if first else None
    end = datetime.combine(last, time(), UTC) + timedelta(days=1) if last else None
    return "custom", stats.Period(start=start, end=end), first, last, True


def _short(label: str, size: int = 26) -> str:
    """A chart's label that fits beside its bar."""
    return label if len(label) <= size else label[: size - 1] + "…"


@routes.get("/engagement", name="engagement")
async def engagement(request: web.Request) -> web.Response:
    texts = texts_for(request)
    now = request.app[CONFIG].clock()
    choice, period, first, last, understood = requested_period(request.query, now)
    async with request.app[SESSIONS]() as session:
        figures = await stats.engagement(session, now=now, period=period)
    months = [texts.month(key, year=False) for key in figures.months]
    series = [(name, texts(f"engagement.monthly_{name}")) for name in figures.monthly]
    return render(
        request,
        "engagement.html",
        page="engagement",
        figures=figures,
        totals=figures.events_total,
        choice=choice,
        choices=[(name, texts(f"engagement.period_{name}")) for name in PERIOD_CHOICES],
        first=first.isoformat() if first else "",
        last=last.isoformat() if last else "",
        understood=understood,
        series=series,
        kind_label=lambda kind: texts.label(f"engagement.kind_{kind}", kind),
        status_label=lambda status: texts.label(f"engagement.status_{status}", status),
        day=lambda moment: moment.strftime("%Y-%m-%d"),
        community_chart=charts.hbars(
            texts("engagement.chart_members"),
            [(c.name, c.members) for c in figures.communities[:20]],
            colour=2,
        ),
        consultation_chart=charts.hbars(
            texts("engagement.chart_answers"),
            [(_short(f"Q-{c.id} {c.question}"), c.answers) for c in figures.consultations[-20:]],
            colour=3,
            width=charts.WIDTH,
        ),
        event_chart=charts.hbars(
            texts("engagement.chart_registrations"),
            [(_short(f"E-{e.id} {e.title}"), e.registrations) for e in figures.events[-20:]],
            colour=4,
            width=charts.WIDTH,
        ),
        month_chart=charts.stacked_bars(
            texts("engagement.chart_months"),
            months,
            [(label, figures.monthly[name]) for name, label in series],
        ),
    )


@routes.get("/export", name="export")
async def export_page(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as session:
        items = await stats.public_items(session)
    counts = Counter(item.kind for item in items)
    texts = texts_for(request)
    return render(
        request,
        "export.html",
        page="export",
        item_counts=[(kind, texts(f"kinds.{kind}"), counts.get(kind, 0)) for kind in stats.KINDS],
        item_total=len(items),
    )


@routes.get("/export.json", name="export_json")
async def export_json(request: web.Request) -> web.Response:
    return await _download(request, "json")


@routes.get("/export.zip", name="export_csv")
async def export_csv(request: web.Request) -> web.Response:
    return await _download(request, "csv")


async def _download(request: web.Request, fmt: open_data.Format) -> web.Response:
    async with request.app[SESSIONS]() as session:
        data = await open_data.collect(session, now=request.app[CONFIG].clock())
    body, media_type, filename = open_data.render(data, fmt)
    log.info("dashboard: open-data export (%s, %d items) downloaded", fmt, len(data.items))
    return web.Response(
        body=body,
        content_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
