"""The routes of the web workspace through the ASGI test client (Starlette's ``TestClient``), in process,
over a real store of this run's backend (the review seed with its alerts raised).

Redirects without a session, CSRF 403, role checks, 404s, the 409 of an action based on a stale
view, and the security headers (CSP first) on every response.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from review_seed import DRIFT, STEADY, seed
from starlette.testclient import TestClient
from web_site import PASSWORD

from monitor.api import Emomon
from monitor.web.app import create_app
from monitor.web.security import CSP

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
SEEN = re.compile(r'name="seen" value="(\d+)"')


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory, postgres_server: str | None) -> Iterator[Emomon]:
    root = tmp_path_factory.mktemp("routes")
    db_url = None
    if postgres_server is not None:
        import pgcluster

        db_url = pgcluster.create_database(postgres_server)
    em = Emomon(seed(root, extra_config="[privacy]\nallow_reveal = true\n", db_url=db_url))
    assert em.run(["alerts"]).ok
    assert len(em.alerts()) >= 2
    em.add_user("sam", "reviewer", PASSWORD)
    em.add_user("kim", "reviewer", PASSWORD)
    em.add_user("lee", "lead", PASSWORD)
    try:
        yield em
    finally:
        em.close()
        if postgres_server is not None and db_url is not None:
            import pgcluster

            pgcluster.drop_database(postgres_server, db_url)


def client(api: Emomon, name: str | None = None) -> TestClient:
    """A test client on a fresh app; logged in as ``name`` through the form when given."""
    c = TestClient(create_app(api), follow_redirects=False)
    if name is not None:
        r = c.post("/login", data={"csrf_token": token(c, "/login"), "username": name, "password": PASSWORD})
        assert r.status_code == 303, r.text
    return c


def token(c: TestClient, path: str) -> str:
    found = TOKEN.search(c.get(path).text)
    assert found, path
    return found.group(1)


def pages(api: Emomon) -> list[str]:
    return [
        "/alerts",
        "/alerts?status=acknowledged&severity=high&page=2",
        *(f"/alerts/{a['id']}" for a in api.alerts()),
        f"/authors/{DRIFT}",
        f"/authors/{STEADY}",
        "/sources",
        "/alerts/stats",
        "/audit",
    ]


def assert_secured(r: Any, what: str) -> None:
    assert r.headers["content-security-policy"] == CSP, what
    assert r.headers["x-frame-options"] == "DENY", what
    assert r.headers["x-content-type-options"] == "nosniff", what


def test_every_page_without_a_session_redirects_to_login_with_the_page_to_return_to(api: Emomon) -> None:
    c = client(api)
    for path in pages(api):
        r = c.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next=%2F"), path
    r = c.post(f"/alerts/{api.alerts()[0]['id']}/ack", data={"note": "x", "seen": "0"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert c.get("/healthz").status_code == 200 and c.get("/login").status_code == 200


def test_a_post_without_or_with_a_foreign_csrf_token_is_403_and_records_nothing(api: Emomon) -> None:
    sam, kim = client(api, "sam"), client(api, "kim")
    alert_id = api.alerts()[0]["id"]
    before = api.alert(alert_id)["history"]
    seen = str(api.alert(alert_id)["version"])
    for data in (
        {"note": "no token", "seen": seen},
        {"note": "kim's token", "seen": seen, "csrf_token": token(kim, "/alerts")},
    ):
        r = sam.post(f"/alerts/{alert_id}/ack", data=data)
        assert r.status_code == 403 and "security token" in r.text, data
    assert sam.post("/logout", data={}).status_code == 403
    assert api.alert(alert_id)["history"] == before
    assert sam.get("/alerts").status_code == 200  # still logged in: the refused logout did nothing


def test_roles_a_reviewer_cannot_see_the_audit_nor_reveal_a_lead_can(api: Emomon) -> None:
    sam = client(api, "sam")
    assert sam.get("/audit").status_code == 403
    r = sam.post("/reveal", data={"csrf_token": token(sam, "/alerts"), "pseudonym": DRIFT, "reason": "curious"})
    assert r.status_code == 403 and "only a lead" in r.text
    assert api.audit() == []
    lee = client(api, "lee")
    assert lee.get("/audit").status_code == 200
    r = lee.post("/reveal", data={"csrf_token": token(lee, "/audit"), "pseudonym": DRIFT, "reason": "agreed check"})
    assert r.status_code == 200 and [(a["by"], a["pseudonym"]) for a in api.audit()] == [("lee", DRIFT)]


def test_a_missing_alert_author_or_action_is_404(api: Emomon) -> None:
    sam = client(api, "sam")
    missing = max(a["id"] for a in api.alerts()) + 1000
    r = sam.get(f"/alerts/{missing}")
    assert r.status_code == 404 and f"alert {missing} does not exist" in r.text
    t = token(sam, "/alerts")
    r = sam.post(f"/alerts/{missing}/ack", data={"csrf_token": t, "seen": "0", "note": "x"})
    assert r.status_code == 404
    r = sam.post(f"/alerts/{api.alerts()[0]['id']}/delete", data={"csrf_token": t, "seen": "0", "note": "x"})
    assert r.status_code == 404 and "use ack or resolve" in r.text
    assert sam.get("/no/such/page").status_code == 404
    r = sam.get("/authors/a-nobody0000000")
    assert r.status_code == 400 and "a-nobody0000000" in r.text


def test_an_action_on_a_stale_view_is_409_records_nothing_and_keeps_the_draft(api: Emomon) -> None:
    sam, kim = client(api, "sam"), client(api, "kim")
    alert_id = next(a["id"] for a in api.alerts() if a["status"] != "resolved")
    page = kim.get(f"/alerts/{alert_id}").text
    kim_token, kim_seen = TOKEN.search(page), SEEN.search(page)
    assert kim_token and kim_seen
    seen = SEEN.search(sam.get(f"/alerts/{alert_id}").text)
    assert seen and seen.group(1) == kim_seen.group(1)
    r = sam.post(
        f"/alerts/{alert_id}/ack", data={"csrf_token": token(sam, "/alerts"), "seen": seen.group(1), "note": "on it"}
    )
    assert r.status_code == 303
    after = api.alert(alert_id)
    r = kim.post(
        f"/alerts/{alert_id}/resolve",
        data={"csrf_token": kim_token.group(1), "seen": kim_seen.group(1), "note": "fine", "verdict": "unsure"},
    )
    assert r.status_code == 409
    assert "sam acknowledged it" in r.text and "nothing was recorded" in r.text
    assert ">fine</textarea>" in r.text and 'value="unsure" required checked' in r.text
    assert f'name="seen" value="{after["version"]}"' in r.text
    assert api.alert(alert_id)["history"] == after["history"]
    assert_secured(r, "409")
    for seen_value in ("", "-1", "x", "１"):  # a form that does not say what it was based on
        r = kim.post(
            f"/alerts/{alert_id}/ack", data={"csrf_token": kim_token.group(1), "seen": seen_value, "note": "again"}
        )
        assert r.status_code == 400 and "reload the page" in r.text, seen_value
    assert api.alert(alert_id)["history"] == after["history"]


def test_every_response_carries_the_csp_and_no_page_holds_what_it_would_block(api: Emomon) -> None:
    lee = client(api, "lee")
    for path in pages(api):
        r = lee.get(path)
        assert r.status_code == 200, path
        assert_secured(r, path)
        assert r.headers["cache-control"] == "no-store", path
        assert not re.search(r"<script|<style|<[a-z][^>]*\s(?:style|on[a-z]+)=", r.text, re.I), path
        assert not re.search(r'(?:src|href)="(?:https?:)?//', r.text), path  # nothing fetched from elsewhere
    anonymous = client(api)
    for path in ("/login", "/healthz", "/charts.css", "/static/web.css", "/alerts", "/no/such/page"):
        assert_secured(anonymous.get(path), path)
    assert_secured(anonymous.post("/login", data={}), "403 login")


def test_the_login_page_and_redirects_stay_on_this_site(api: Emomon) -> None:
    c = client(api)
    t = token(c, "/login")
    r = c.post("/login", data={"csrf_token": t, "username": "sam", "password": PASSWORD, "next": "https://evil.test"})
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
