"""Pages from the Jinja templates in ``templates/``, autoescaped, sent with ``Cache-Control:
no-store`` (pages show post text); the security headers every response gets are added by
:class:`monitor.web.security.SecurityHeaders`.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from monitor.report.common import NOTE, day, num, pct, shift_brief, signal_label, signed
from monitor.web import charts
from monitor.web.security import CSRF_FIELD, csrf_token

HEADERS = {"Cache-Control": "no-store"}


@functools.cache
def environment() -> Environment:
    """The templates' environment: autoescaping on for every template."""
    env = Environment(
        loader=PackageLoader("monitor.web", "templates"),
        autoescape=select_autoescape(("html.j2",), default_for_string=True, default=True),
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    env.filters.update(
        num=num, pct=pct, day=day, signed=signed, signal=signal_label, shift_brief=shift_brief, words=_words
    )
    env.globals.update(note=NOTE, csrf_field=CSRF_FIELD, source_trend=charts.source_trend)
    return env


def _words(value: str | None) -> str:
    """``false_alarm`` -> ``false alarm``."""
    return "–" if value is None else value.replace("_", " ")


def page(
    request: Request,
    template: str,
    context: Mapping[str, Any] | None = None,
    *,
    status: int = 200,
    user: Any = None,
    headers: Mapping[str, str] | None = None,
) -> HTMLResponse:
    """The rendered page, with the session's CSRF token and the logged-in user in its context."""
    body = (
        environment()
        .get_template(template)
        .render(
            {
                "request": request,
                "user": user,
                "csrf": csrf_token(request.session),
                "path": request.url.path,
                **(context or {}),
            }
        )
    )
    return HTMLResponse(body, status_code=status, headers={**HEADERS, **(headers or {})})
