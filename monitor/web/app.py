"""The ASGI app of ``emomon serve``: routes, signed session cookies, static files.

:func:`create_app` builds it over one :class:`monitor.api.Emomon`; uvicorn serves it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from monitor.web.routes import Workspace, chart_css, healthz, home
from monitor.web.security import COOKIE, SESSION_SECONDS, LoginLimiter, SecurityHeaders

if TYPE_CHECKING:
    from monitor.api import Emomon

#: Largest request body read (forms are small).
MAX_BODY = 64 * 1024


def create_app(api: Emomon, *, secure_cookies: bool = False, limiter: LoginLimiter | None = None) -> Starlette:
    """The web workspace over ``api``.

    Args:
        api: The installation (its store, settings and session secret).
        secure_cookies: Mark the session cookie ``Secure`` (served behind a TLS reverse proxy).
        limiter: The failed-login limit (default: 5 failures per user name, 30 per address, in 15 minutes).
    """
    w = Workspace(api, limiter or LoginLimiter())
    g = w.guarded
    routes = [
        Route("/healthz", healthz),
        Route("/", home),
        Route("/charts.css", chart_css),
        Route("/login", w.login_form, methods=["GET"]),
        Route("/login", w.login, methods=["POST"]),
        Route("/logout", g(w.logout), methods=["POST"]),
        Route("/alerts", g(w.queue)),
        Route("/alerts/stats", g(w.stats)),
        Route("/alerts/{alert_id:int}", g(w.alert)),
        Route("/alerts/{alert_id:int}/{action:str}", g(w.act), methods=["POST"]),
        Route("/authors/{pseudonym:str}", g(w.author)),
        Route("/sources", g(w.sources)),
        Route("/audit", g(w.audit, lead=True)),
        Route("/reveal", g(w.reveal, lead=True), methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("monitor.web", "static")]), name="static"),
    ]
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(
            SessionMiddleware,
            secret_key=api.session_secret(),
            session_cookie=COOKIE,
            max_age=SESSION_SECONDS,
            same_site="strict",
            https_only=secure_cookies,
        ),
    ]
    return Starlette(routes=routes, middleware=middleware, max_body_size=MAX_BODY)
