"""The pages and actions of the web workspace. Every handler reads and writes through
:class:`monitor.api.Emomon`; every page but ``/login`` and ``/healthz`` needs a session.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from monitor.errors import AlertNotFound, ConfigError, EmomonError, RunLocked, StaleAlert
from monitor.web.render import page
from monitor.web.security import CSRF_FIELD, SESSION_SECONDS, LoginLimiter, csrf_ok, csrf_token

if TYPE_CHECKING:
    from monitor.api import Emomon
    from monitor.store.users import Account

T = TypeVar("T")
Handler = Callable[[Request, "Account"], Awaitable[Response]]
PAGE_SIZE = 50
#: Longest note or reason a form may carry.
MAX_NOTE = 4000
#: How far around an alert's window its author's chart reaches.
CHART_BEFORE, CHART_AFTER = timedelta(days=60), timedelta(days=14)
RULES = ("level", "rise", "burst", "source_shift")
SEVERITIES = ("low", "medium", "high")
VERDICT_CHOICES = (("true_alarm", "true alarm"), ("false_alarm", "false alarm"), ("unsure", "unsure"))


@dataclass(frozen=True)
class Draft:
    """What a reviewer sent in an action's form, shown again when the action is refused."""

    action: str = ""
    note: str = ""
    verdict: str | None = None


class Workspace:
    """The handlers over one :class:`~monitor.api.Emomon` and one login rate limiter."""

    def __init__(self, api: Emomon, limiter: LoginLimiter) -> None:
        self.api = api
        self.limiter = limiter

    async def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a (blocking) API call off the event loop."""
        return await run_in_threadpool(fn, *args, **kwargs)

    # -- sessions ----------------------------------------------------------------------------

    async def current_user(self, request: Request) -> Account | None:
        """The logged-in account; None when there is no session, it expired, the account is gone
        or its password changed since the login."""
        session = request.session
        name = session.get("user")
        if not isinstance(name, str):
            return None
        account = await self.call(self.api.user, name)
        since = session.get("since")
        fresh = isinstance(since, int | float) and time.time() - since < SESSION_SECONDS
        if account is None or not fresh or session.get("pw") != account.password_changed_at.isoformat():
            session.clear()
            return None
        return account

    def guarded(self, handler: Handler, *, lead: bool = False) -> Callable[[Request], Awaitable[Response]]:
        """``handler`` behind the checks every page makes: a session (else to ``/login``), the
        lead role where asked, a valid CSRF token on a POST (else 403), and domain errors shown
        as pages."""

        async def endpoint(request: Request) -> Response:
            user = await self.current_user(request)
            if user is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            if request.method == "POST":
                form = await request.form()
                if not csrf_ok(request.session, form.get(CSRF_FIELD)):
                    return forbidden(request, user, "the form's security token is missing or stale: reload the page")
            if lead and user.role != "lead":
                return forbidden(request, user, "only a lead may do this")
            try:
                return await handler(request, user)
            except AlertNotFound as exc:
                return problem(request, user, str(exc), 404)
            except RunLocked as exc:
                return problem(request, user, str(exc), 503)
            except ConfigError as exc:
                return problem(request, user, str(exc), 403)
            except EmomonError as exc:
                return problem(request, user, str(exc), 400)

        return endpoint

    # -- login -------------------------------------------------------------------------------

    async def login_form(self, request: Request) -> Response:
        """The login form (a logged-in user goes on to the queue)."""
        if await self.current_user(request) is not None:
            return RedirectResponse(_local(request.query_params.get("next")), status_code=303)
        return page(request, "login.html.j2", {"next": _local(request.query_params.get("next")), "error": None})

    async def login(self, request: Request) -> Response:
        """Check the form's token, the rate limit and the password; start a session."""
        form = await request.form()
        if not csrf_ok(request.session, form.get(CSRF_FIELD)):
            return forbidden(request, None, "the form's security token is missing or stale: reload the page")
        name = str(form.get("username") or "")[:64]
        password = str(form.get("password") or "")
        target = _local(str(form.get("next") or ""))
        address = request.client.host if request.client else "-"
        wait = self.limiter.wait(name, address)
        if wait > 0:
            minutes = max(1, round(wait / 60))
            return page(
                request,
                "login.html.j2",
                {"next": target, "error": f"too many failed logins: try again in about {minutes} minute(s)"},
                status=429,
                headers={"Retry-After": str(int(wait) + 1)},
            )
        account = await self.call(self.api.authenticate, name, password) if name and password else None
        if account is None:
            self.limiter.failed(name, address)
            # The form again, as a page (200): a refused password is not a fault of the page.
            return page(request, "login.html.j2", {"next": target, "error": "wrong user name or password"})
        self.limiter.succeeded(name)
        request.session.clear()  # a new session: no fixation of an earlier one
        request.session.update(
            {"user": account.name, "pw": account.password_changed_at.isoformat(), "since": time.time()}
        )
        csrf_token(request.session)
        return RedirectResponse(target, status_code=303)

    async def logout(self, request: Request, user: Account) -> Response:
        """End the session."""
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    # -- alerts ------------------------------------------------------------------------------

    async def queue(self, request: Request, user: Account) -> Response:
        """The alert queue: filters, counts, paging."""
        q = request.query_params
        filters = {k: (q.get(k) or "").strip() for k in ("status", "rule", "severity", "source", "since", "until")}
        number = _page_number(q.get("page"))
        found = await self.call(
            self.api.alert_page,
            status=[filters["status"]] if filters["status"] else [],
            rule=[filters["rule"]] if filters["rule"] else [],
            severity=[filters["severity"]] if filters["severity"] else [],
            source=filters["source"] or None,
            since=filters["since"] or None,
            until=filters["until"] or None,
            offset=(number - 1) * PAGE_SIZE,
            limit=PAGE_SIZE,
        )
        pages = max(1, -(-found["total"] // PAGE_SIZE))
        kept = {k: v for k, v in filters.items() if v}

        def link(n: int) -> str:
            return "/alerts?" + urlencode({**kept, "page": n})

        return page(
            request,
            "alerts.html.j2",
            {
                "found": found,
                "filters": filters,
                "page_number": number,
                "pages": pages,
                "prev_link": link(number - 1) if number > 1 else None,
                "next_link": link(number + 1) if number < pages else None,
                "rules": RULES,
                "severities": SEVERITIES,
                "statuses": ("new", "acknowledged", "resolved"),
            },
            user=user,
        )

    async def alert(
        self,
        request: Request,
        user: Account,
        *,
        error: str | None = None,
        status: int = 200,
        draft: Draft | None = None,
        newer: Sequence[int] = (),
    ) -> Response:
        """One alert: explanation, posts, scores, the author's chart around it, history, actions.

        After a refused action, ``error`` says why, ``draft`` refills the form that was sent (so
        nothing typed is lost) and ``newer`` marks the history rows made since the form was read.
        """
        alert_id = int(request.path_params["alert_id"])
        doc = await self.call(self.api.alert, alert_id)
        chart = None
        if doc["subject_kind"] == "author":
            start = datetime.fromisoformat(doc["window_start"].replace("Z", "+00:00"))
            end = datetime.fromisoformat(doc["window_end"].replace("Z", "+00:00"))
            view = await self.call(self.api.author, doc["subject"], since=start - CHART_BEFORE, until=end + CHART_AFTER)
            if not view.empty:
                from monitor.web.charts import author_timeline

                chart = author_timeline(view)
        return page(
            request,
            "alert.html.j2",
            {
                "a": doc,
                "chart": chart,
                "verdicts": VERDICT_CHOICES,
                "error": error,
                "draft": draft or Draft(),
                "newer": set(newer),
            },
            status=status,
            user=user,
        )

    async def act(self, request: Request, user: Account) -> Response:
        """Acknowledge or resolve an alert under the logged-in user's name."""
        alert_id = int(request.path_params["alert_id"])
        action = request.path_params["action"]
        if action not in ("ack", "resolve"):
            return problem(request, user, f"no action {action!r}: use ack or resolve", 404)
        form = await request.form()
        note = str(form.get("note") or "")
        verdict = str(form.get("verdict") or "") or None
        draft = Draft(action, note[:MAX_NOTE], verdict)
        seen = _whole(form.get("seen"))
        refusal = None
        if seen is None:
            refusal = "the form does not say which state of the alert it was filled in on: reload the page"
        elif len(note) > MAX_NOTE:
            refusal = f"the note is longer than {MAX_NOTE} characters"
        elif action == "resolve" and verdict is None:
            refusal = "choose a verdict: true alarm, false alarm or unsure"
        if refusal is not None:
            return await self.alert(request, user, error=refusal, status=400, draft=draft)
        try:
            await self.call(
                self.api.act,
                alert_id,
                action,
                note=note,
                by=user.name,
                verdict=verdict if action == "resolve" else None,
                seen=seen,
            )
        except StaleAlert as exc:  # someone acted since this form was read: show what, keep the draft
            newer = [int(h["id"]) for h in exc.newer]
            return await self.alert(request, user, error=str(exc), status=409, draft=draft, newer=newer)
        except (AlertNotFound, RunLocked):
            raise
        except EmomonError as exc:  # e.g. an empty note: the form again, as it was sent
            return await self.alert(request, user, error=str(exc), status=400, draft=draft)
        return RedirectResponse(f"/alerts/{alert_id}", status_code=303)

    async def stats(self, request: Request, user: Account) -> Response:
        """Verdicts per rule and per month."""
        rows = await self.call(self.api.verdict_stats)
        return page(request, "stats.html.j2", {"rows": rows}, user=user)

    # -- authors and sources -----------------------------------------------------------------

    async def author(self, request: Request, user: Account) -> Response:
        """One author's page: timeline, baseline, alerts, top emotions, Big Five."""
        from monitor.report.author import author_dict
        from monitor.web.charts import author_timeline

        view = await self.call(self.api.author, request.path_params["pseudonym"])
        return page(
            request,
            "author.html.j2",
            {
                "v": view,
                "a": author_dict(view),
                "chart": None if view.empty else author_timeline(view),
                "allow_reveal": self.api.settings.privacy.allow_reveal,
            },
            user=user,
        )

    async def sources(self, request: Request, user: Account) -> Response:
        """Per-source trends: posts, authors, mean index, share above the threshold, mood shifts."""
        from monitor.report.data import report_dict

        data = await self.call(self.api.report)
        return page(request, "sources.html.j2", {"d": report_dict(data), "data": data}, user=user)

    # -- leads -------------------------------------------------------------------------------

    async def audit(self, request: Request, user: Account) -> Response:
        """Every re-identification (leads only), and the form to make one."""
        rows = await self.call(self.api.audit)
        return page(
            request,
            "audit.html.j2",
            {"rows": rows, "allow_reveal": self.api.settings.privacy.allow_reveal},
            user=user,
        )

    async def reveal(self, request: Request, user: Account) -> Response:
        """Re-identify an author (leads only, with a reason, audited first)."""
        form = await request.form()
        pseudonym = str(form.get("pseudonym") or "").strip()
        reason = str(form.get("reason") or "")
        if len(reason) > MAX_NOTE:
            return problem(request, user, f"the reason is longer than {MAX_NOTE} characters", 400)
        ident = await self.call(self.api.reveal, pseudonym, reason=reason, by=user.name)
        return page(request, "revealed.html.j2", {"ident": ident}, user=user)


def forbidden(request: Request, user: Account | None, message: str) -> Response:
    """A 403 page."""
    return problem(request, user, message, 403)


def problem(request: Request, user: Account | None, message: str, status: int) -> Response:
    """A page that says what went wrong and how to go on."""
    return page(request, "problem.html.j2", {"message": message, "status": status}, status=status, user=user)


async def healthz(request: Request) -> Response:
    """200 while the server answers."""
    return PlainTextResponse("ok", headers={"Cache-Control": "no-store"})


async def chart_css(request: Request) -> Response:
    """The charts' stylesheet (from the report's chart module)."""
    from monitor.web.charts import chart_css as css

    return Response(css(), media_type="text/css", headers={"Cache-Control": "max-age=3600"})


async def home(request: Request) -> Response:
    """The queue is the start page."""
    return RedirectResponse("/alerts", status_code=303)


def _local(target: str | None) -> str:
    """``target`` if it is a path on this site, else the queue (no open redirect)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/alerts"


def _whole(value: object) -> int | None:
    """A form field holding a whole number ≥ 0, else None."""
    text = value.strip() if isinstance(value, str) else ""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 18 else None


def _page_number(value: str | None) -> int:
    try:
        return max(1, int(value or 1))
    except ValueError:
        return 1
