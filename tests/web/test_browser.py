"""The web workspace in a real headless Chromium (Debian's package), driven by Playwright.

Log in through the form (a wrong password refused), walk every page, act on alerts through the
forms, reveal as a lead, and check that the console stays empty (no script error, no
Content-Security-Policy violation), no page shows a handle and a hostile post is shown as text.
Skipped, with the reason, only where no chromium binary or no Playwright is installed (``.ci/run``
installs both).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from review_seed import DRIFT, DRIFT_HANDLE, STEADY
from web_site import HOSTILE, PASSWORD, Site

from monitor.web.security import CSP

CHROMIUM = next((p for p in (shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH: apt-get install chromium (.ci/run does)")
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the dev extra: pip install -e '.[dev]'")


class Tab:
    """One browser tab on the site, recording console messages, page errors, dialogs and failed loads."""

    def __init__(self, browser: sync_api.Browser, site: Site) -> None:
        self.site = site
        self.context = browser.new_context(base_url=site.url)
        self.page = self.context.new_page()
        self.problems: list[str] = []
        self.page.on("console", lambda m: self.problems.append(f"console {m.type}: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: self.problems.append(f"dialog: {d.message}"))
        self.page.on("requestfailed", lambda r: self.problems.append(f"failed: {r.url}"))

    def login(self, name: str, password: str = PASSWORD) -> None:
        self.page.goto("/alerts")
        assert "/login?next=" in self.page.url
        self.page.fill("input[name=username]", name)
        self.page.fill("input[name=password]", password)
        self.page.click("form.login button[type=submit]")

    def visit(self, path: str) -> str:
        """Go to ``path`` (served under the workspace's Content-Security-Policy, whose violations
        Chromium reports on the console); the DOM as Chromium built it."""
        response = self.page.goto(path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert response.headers.get("content-security-policy") == CSP, path
        return self.page.content()


@pytest.fixture(scope="module")
def browser() -> Iterator[sync_api.Browser]:
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def tab(browser: sync_api.Browser, site: Site) -> Iterator[Tab]:
    t = Tab(browser, site)
    yield t
    t.context.close()


def test_a_wrong_password_is_refused_in_the_form(tab: Tab) -> None:
    tab.login("sam", "not the password")
    assert "/login" in tab.page.url
    assert tab.page.inner_text("p.error") == "wrong user name or password"
    assert tab.problems == []


def test_a_reviewer_walks_every_page_and_resolves_an_alert_with_a_verdict(tab: Tab, tmp_path: Path) -> None:
    tab.login("kim")
    tab.page.wait_for_url("**/alerts")
    alerts = tab.site.api().alerts()
    paths = ["/alerts", *(f"/alerts/{a['id']}" for a in alerts), f"/authors/{DRIFT}", f"/authors/{STEADY}"]
    for path in [*paths, "/sources", "/alerts/stats"]:
        dom = tab.visit(path)
        assert DRIFT_HANDLE not in dom and "plain_sky" not in dom, path
        assert "kim (reviewer)" in dom, path
    chart_page = tab.visit(f"/authors/{DRIFT}")
    assert re.search(r'<svg [^>]*class="chart[ "]', chart_page), "no chart on the author page"
    tab.page.screenshot(path=str(tmp_path / "author.png"), full_page=True)
    assert (tmp_path / "author.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    alert = next(a for a in alerts if tab.site.hostile_post in a["evidence"]["post_ids"])
    tab.visit(f"/alerts/{alert['id']}")
    shown = tab.page.locator("td.post").all_inner_texts()
    assert HOSTILE in shown  # the markup is shown as the text it is
    assert tab.page.locator("td.post img").count() == 0

    if alert["status"] == "new":
        tab.page.fill("form[action$='/ack'] textarea[name=note]", "reading the posts")
        tab.page.click("form[action$='/ack'] button[type=submit]")
    tab.page.fill("form[action$='/resolve'] textarea[name=note]", "spoke to the team; no risk seen")
    tab.page.check("form[action$='/resolve'] input[value=true_alarm]")
    tab.page.click("form[action$='/resolve'] button[type=submit]")
    tab.page.wait_for_url(f"**/alerts/{alert['id']}")
    rows = tab.page.locator("table.history tbody tr").all_inner_texts()
    assert any("kim" in r and "resolved" in r and "true alarm" in r for r in rows), rows
    history = tab.site.api().alert(alert["id"])["history"]
    assert history[-1]["by"] == "kim" and history[-1]["verdict"] == "true_alarm"
    assert tab.problems == []


def test_a_reviewer_cannot_reveal_and_a_post_without_the_token_is_403(tab: Tab) -> None:
    tab.login("kim")
    tab.page.wait_for_url("**/alerts")
    dom = tab.visit(f"/authors/{DRIFT}")
    assert 'action="/reveal"' not in dom and 'href="/audit"' not in dom
    token = tab.page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    forbidden = tab.context.request.post("/reveal", form={"csrf_token": token, "pseudonym": DRIFT, "reason": "x"})
    assert forbidden.status == 403 and DRIFT_HANDLE not in forbidden.text()
    no_token = tab.context.request.post(f"/alerts/{tab.site.api().alerts()[0]['id']}/ack", form={"note": "x"})
    assert no_token.status == 403
    assert tab.problems == []


def test_a_lead_reveals_from_the_author_page_and_the_audit_row_appears(tab: Tab) -> None:
    tab.login("lee")
    tab.page.wait_for_url("**/alerts")
    tab.visit(f"/authors/{DRIFT}")
    tab.page.fill("form[action='/reveal'] textarea[name=reason]", "alert review: the team agreed on a check-in")
    tab.page.click("form[action='/reveal'] button[type=submit]")
    assert tab.page.inner_text("p.revealed").startswith(DRIFT_HANDLE)
    audit = tab.visit("/audit")
    rows = tab.page.locator("table.audit tbody tr").all_inner_texts()
    assert any("lee" in r and DRIFT in r and "agreed on a check-in" in r for r in rows), rows
    assert DRIFT_HANDLE not in audit
    assert tab.problems == []


def test_the_console_record_would_catch_a_policy_violation(tab: Tab) -> None:
    """What the empty-console checks above rely on: under the workspace's policy, an inline style
    and an inline script are refused and Chromium says so on the console."""
    body = '<!DOCTYPE html><p style="color:red">x</p><script>document.title = "ran"</script>'
    tab.page.route(
        "**/csp-probe",
        lambda route: route.fulfill(
            status=200, body=body, headers={"content-type": "text/html", "content-security-policy": CSP}
        ),
    )
    tab.page.goto("/csp-probe")
    assert tab.page.title() != "ran"
    assert any("Content Security Policy" in p for p in tab.problems), tab.problems
