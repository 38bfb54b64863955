"""Who may see the dashboard: session cookies, CSRF tokens and the security headers.

- The session cookie is ``HttpOnly``, ``SameSite=Strict`` and, in production, ``Secure`` with the
  ``__Host-`` prefix (bound to this host and path ``/``). It carries a random token; the store
  keeps only its hash (``storage.accounts``).
- Every form carries a CSRF token: the session's own (synchronizer token) once signed in, and a
  double-submit cookie on the sign-in form. A POST whose ``Origin`` names another host is refused.
- Every page is sent with a strict Content-Security-Policy (no scripts at all), ``no-store``
  caching, no framing and no referrer to other sites (``same-origin``: with ``no-referrer``
  browsers send ``Origin: null`` on form posts, which would look like a forgery).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final
from urllib.parse import urlsplit

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from yarl import URL

from storage.accounts import SignedIn, find_session
from storage.models import utcnow

log = logging.getLogger(__name__)

PREFIX: Final = "/dashboard"
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}
# Routes anyone may reach: the sign-in form and the stylesheet.
PUBLIC_ROUTES: Final = frozenset({"login", "login_submit", "stylesheet"})
TOKEN_MAX: Final = 128


@dataclass(frozen=True)
class DashboardConfig:
    """How the dashboard runs. ``secure_cookies`` is off only for plain-HTTP development."""

    secure_cookies: bool = True
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def session_cookie(self) -> str:
        return "__Host-innobot-session" if self.secure_cookies else "innobot-session"

    @property
    def login_cookie(self) -> str:
        return "__Host-innobot-login" if self.secure_cookies else "innobot-login"

    def set_cookie(
        self, response: web.StreamResponse, name: str, value: str, max_age: int | None = None
    ) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=self.secure_cookies,
            httponly=True,
            samesite="Strict",
        )

    def delete_cookie(self, response: web.StreamResponse, name: str) -> None:
        response.del_cookie(
            name, path="/", secure=self.secure_cookies, httponly=True, samesite="Strict"
        )


CONFIG: Final = web.AppKey("dashboard_config", DashboardConfig)
SESSIONS: Final = web.AppKey[async_sessionmaker[AsyncSession]]("dashboard_sessions")
SIGNED_IN: Final = web.RequestKey("dashboard_signed_in", SignedIn)
FORM: Final = web.RequestKey[dict[str, str]]("dashboard_form")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def same_token(given: str | None, expected: str | None) -> bool:
    if not given or not expected or len(given) > TOKEN_MAX:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a dashboard page of this site, never another site."""
    if value and value.startswith(PREFIX + "/") and "//" not in value and "\\" not in value:
        return value[:500]
    return PREFIX + "/"


def _foreign_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:
        return False  # not sent by every browser on same-origin requests; CSRF tokens still hold
    return origin == "null" or urlsplit(origin).netloc.lower() != request.host.lower()


async def read_form(request: web.Request) -> dict[str, str]:
    form = await request.post()
    return {key: value for key, value in form.items() if isinstance(value, str)}


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Security headers everywhere; a signed-in session and a CSRF token where they are due."""
    try:
        response = await _guarded(request, handler)
    except web.HTTPException as error:
        error.headers.update(SECURITY_HEADERS)
        raise
    response.headers.update(SECURITY_HEADERS)
    return response


async def _guarded(request: web.Request, handler: Handler) -> web.StreamResponse:
    route = request.match_info.route.name
    if request.method == "POST":
        if _foreign_origin(request):
            log.warning("dashboard: refused a %s from another origin", route)
            raise web.HTTPForbidden(text="cross-site request refused")
        request[FORM] = await read_form(request)
    if route in PUBLIC_ROUTES:
        return await handler(request)
    config = request.app[CONFIG]
    token = request.cookies.get(config.session_cookie, "")
    signed = None
    if token:
        async with request.app[SESSIONS]() as session, session.begin():
            signed = await find_session(session, token, now=config.clock())
    if signed is None:
        if request.method in ("GET", "HEAD"):
            raise web.HTTPSeeOther(URL(f"{PREFIX}/login").with_query(next=request.path))
        raise web.HTTPForbidden(text="not signed in")
    if request.method == "POST" and not same_token(
        request[FORM].get("csrf"), signed.session.csrf_token
    ):
        log.warning("dashboard: refused a %s without the session's CSRF token", route)
        raise web.HTTPForbidden(text="the form's security token is missing or wrong")
    request[SIGNED_IN] = signed
    return await handler(request)
