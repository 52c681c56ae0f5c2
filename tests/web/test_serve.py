"""``emomon serve`` over HTTP: a real uvicorn subprocess on loopback, a real store, httpx clients.

Sessions, CSRF, the login limit, roles, what the pages show (no handles; hostile text escaped)
and that every action lands in the store under the logged-in user.
"""

from __future__ import annotations

import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from review_seed import DRIFT, DRIFT_HANDLE, STEADY
from web_site import EMOMON, HOSTILE, PASSWORD, Site, free_port, run_emomon, start_server, stop

from monitor.web.security import CSP

HANDLES = (DRIFT_HANDLE, "plain_sky")


def pages(site: Site) -> list[str]:
    """Every page of the workspace (alert ids as stored)."""
    ids = [a["id"] for a in site.api().alerts()]
    return [
        "/alerts",
        "/alerts?status=new&rule=rise",
        *(f"/alerts/{i}" for i in ids),
        f"/authors/{DRIFT}",
        f"/authors/{STEADY}",
        "/sources",
        "/alerts/stats",
        "/audit",
    ]


def test_healthz_answers_without_a_session(site: Site) -> None:
    r = site.client().get("/healthz")
    assert r.status_code == 200 and r.text == "ok"


def test_pages_without_a_session_redirect_to_login(site: Site) -> None:
    client = site.client()
    for path in pages(site):
        r = client.get(path)
        assert r.status_code == 303, path
        assert r.headers["location"].startswith("/login?next="), path
    r = client.post("/alerts/1/ack", {"note": "no session"})
    assert r.status_code == 303 and r.headers["location"].startswith("/login")


def test_login_sets_a_signed_httponly_samesite_strict_cookie_with_an_expiry(site: Site) -> None:
    client = site.client()
    r = client.login("sam")
    assert r.status_code == 303 and r.headers["location"] == "/alerts"
    cookie = r.headers["set-cookie"]
    flags = [part.strip().lower() for part in cookie.split(";")]
    assert "httponly" in flags and "samesite=strict" in flags
    assert any(f.startswith("max-age=") and int(f.split("=")[1]) > 0 for f in flags)
    assert "secure" not in flags  # plain HTTP on loopback: Secure only behind TLS (--behind-tls)
    page = client.get("/alerts")
    assert page.status_code == 200 and "sam (reviewer)" in page.text


def test_login_goes_on_to_the_page_asked_for_but_never_off_site(site: Site) -> None:
    client = site.client()
    token = client.token("/login?next=/sources")
    r = client.post("/login", {"csrf_token": token, "username": "sam", "password": PASSWORD, "next": "/sources"})
    assert r.headers["location"] == "/sources"
    other = site.client()
    token = other.token()
    r = other.post("/login", {"csrf_token": token, "username": "sam", "password": PASSWORD, "next": "//evil.example/x"})
    assert r.headers["location"] == "/alerts"


def test_a_wrong_password_is_refused(site: Site) -> None:
    client = site.client()
    r = client.login("sam", "not the password")
    assert r.status_code == 200 and "wrong user name or password" in r.text
    assert client.get("/alerts").status_code == 303


def test_failed_logins_are_rate_limited_even_for_the_right_password_after(site: Site) -> None:
    client = site.client()
    for _ in range(5):
        assert "wrong user name or password" in client.login("kim", "guess again").text
    r = client.login("kim")
    assert r.status_code == 429 and "too many failed logins" in r.text
    assert 800 < int(r.headers["retry-after"]) <= 901
    assert client.get("/alerts").status_code == 303  # no session came of it
    assert site.client().login("sam").status_code == 303  # another name is not held up


def test_a_post_without_or_with_a_wrong_csrf_token_is_403_and_changes_nothing(site: Site) -> None:
    fresh = site.client()
    fresh.token()
    r = fresh.post("/login", {"username": "sam", "password": PASSWORD})
    assert r.status_code == 403
    client = site.client()
    assert client.login("sam").status_code == 303
    alert_id = site.api().alerts()[0]["id"]
    before = site.api().alert(alert_id)["history"]
    for data in ({"note": "no token"}, {"note": "wrong token", "csrf_token": "x" * 43}):
        r = client.post(f"/alerts/{alert_id}/ack", data)
        assert r.status_code == 403, data
        assert "security token" in r.text
    assert site.api().alert(alert_id)["history"] == before


def test_ack_and_resolve_are_recorded_under_the_logged_in_user_with_the_verdict(site: Site) -> None:
    client = site.client()
    client.login("sam")
    alert_id = site.api().alerts(status="new")[0]["id"]
    token = client.token(f"/alerts/{alert_id}")
    seen = client.seen(alert_id)
    r = client.post(
        f"/alerts/{alert_id}/ack", {"csrf_token": token, "seen": seen, "note": "reading the posts", "by": "mallory"}
    )
    assert r.status_code == 303 and r.headers["location"] == f"/alerts/{alert_id}"
    seen = client.seen(alert_id)
    r = client.post(f"/alerts/{alert_id}/resolve", {"csrf_token": token, "seen": seen, "note": "checked in"})
    assert r.status_code == 400 and "choose a verdict" in r.text
    r = client.post(
        f"/alerts/{alert_id}/resolve",
        {"csrf_token": token, "seen": seen, "note": "checked in", "verdict": "false_alarm"},
    )
    assert r.status_code == 303
    doc = site.api().alert(alert_id)
    assert doc["status"] == "resolved"
    assert [(h["action"], h["by"], h["verdict"]) for h in doc["history"]] == [
        ("acknowledged", "sam", None),
        ("resolved", "sam", "false_alarm"),
    ]
    page = client.get(f"/alerts/{alert_id}").text
    assert "false alarm" in page and "checked in" in page and 'action="/alerts/' not in page  # no forms once resolved
    judged = [v for v in site.api().verdicts() if v["alert_id"] == alert_id]
    assert judged and judged[0]["verdict"] == "false_alarm" and judged[0]["by"] == "sam"
    stats = client.get("/alerts/stats").text
    assert re.search(r"<td>\d{4}-\d{2}</td><td>[a-z ]+</td><td>\d+</td><td>[1-9]\d*</td>", stats), stats
    r = client.post(f"/alerts/{alert_id}/ack", {"csrf_token": token, "seen": seen, "note": "too late"})
    assert r.status_code == 409 and "sam resolved it" in r.text  # a view from before the resolve is refused
    r = client.post(f"/alerts/{alert_id}/ack", {"csrf_token": token, "seen": str(doc["version"]), "note": "too late"})
    assert r.status_code == 400 and "already resolved" in r.text  # and a resolved alert stays resolved
    assert len(site.api().alert(alert_id)["history"]) == 2


def test_two_people_posting_at_once_on_one_view_one_is_recorded_the_other_refused(site: Site) -> None:
    alert_id = site.api().alerts(status="new")[0]["id"]
    clients = [site.client(), site.client()]
    forms = []
    for client, name in zip(clients, ("sam", "lee"), strict=True):  # a lead acts too; kim is held by the limit
        client.login(name)
        forms.append({"csrf_token": client.token(f"/alerts/{alert_id}"), "seen": client.seen(alert_id)})
    assert forms[0]["seen"] == forms[1]["seen"]
    barrier = threading.Barrier(2)

    def post(i: int) -> httpx.Response:
        barrier.wait()
        return clients[i].post(f"/alerts/{alert_id}/ack", {**forms[i], "note": f"at once {i}"})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(post, range(2)))
    assert sorted(r.status_code for r in answers) == [303, 409]
    history = site.api().alert(alert_id)["history"]
    assert len(history) == 1
    loser = next(r for r in answers if r.status_code == 409)
    assert f"{history[0]['by']} acknowledged it" in loser.text and history[0]["note"] in loser.text


def test_two_people_on_one_alert_the_second_sees_what_the_first_did_and_loses_nothing(site: Site) -> None:
    sam, lee = site.client(), site.client()
    sam.login("sam")
    lee.login("lee")
    alert_id = site.api().alerts(status=["new", "acknowledged"])[0]["id"]
    before = site.api().alert(alert_id)["history"]
    sam_token, lee_token = sam.token(f"/alerts/{alert_id}"), lee.token(f"/alerts/{alert_id}")
    seen = sam.seen(alert_id)
    assert lee.seen(alert_id) == seen  # both read the alert as it is
    r = sam.post(f"/alerts/{alert_id}/ack", {"csrf_token": sam_token, "seen": seen, "note": "sam is on it"})
    assert r.status_code == 303
    lee_note = "lee: spoke to the team <b>no risk</b>"
    r = lee.post(
        f"/alerts/{alert_id}/resolve",
        {"csrf_token": lee_token, "seen": seen, "note": lee_note, "verdict": "false_alarm"},
    )
    assert r.status_code == 409
    assert "sam acknowledged it" in r.text and "nothing was recorded" in r.text
    assert re.search(r'<tr class="newer">.*?sam.*?since you read it.*?sam is on it', r.text, re.S), r.text
    # lee's note and verdict are in the form again (escaped), on the alert's new version
    assert "lee: spoke to the team &lt;b&gt;no risk&lt;/b&gt;</textarea>" in r.text
    assert re.search(r'value="false_alarm" required checked', r.text)
    version = site.api().alert(alert_id)["version"]
    assert f'name="seen" value="{version}"' in r.text
    history = site.api().alert(alert_id)["history"]
    assert history[:-1] == before and (history[-1]["by"], history[-1]["note"]) == ("sam", "sam is on it")
    r = lee.post(
        f"/alerts/{alert_id}/resolve",
        {"csrf_token": lee_token, "seen": str(version), "note": lee_note, "verdict": "false_alarm"},
    )
    assert r.status_code == 303  # having read what sam did, lee's resolve is recorded
    doc = site.api().alert(alert_id)
    assert doc["status"] == "resolved"
    assert [(h["by"], h["action"]) for h in doc["history"][len(before) :]] == [
        ("sam", "acknowledged"),
        ("lee", "resolved"),
    ]


def test_a_reviewer_cannot_reveal_or_read_the_audit(site: Site) -> None:
    client = site.client()
    client.login("sam")
    before = site.api().audit()
    token = client.token("/alerts")
    r = client.post("/reveal", {"csrf_token": token, "pseudonym": DRIFT, "reason": "curious"})
    assert r.status_code == 403 and DRIFT_HANDLE not in r.text
    assert client.get("/audit").status_code == 403
    assert "/audit" not in client.get("/alerts").text  # no link to it either
    assert 'action="/reveal"' not in client.get(f"/authors/{DRIFT}").text
    assert site.api().audit() == before


def test_a_lead_reveals_with_a_reason_and_the_audit_row_appears(site: Site) -> None:
    client = site.client()
    client.login("lee")
    token = client.token(f"/authors/{DRIFT}")
    r = client.post("/reveal", {"csrf_token": token, "pseudonym": DRIFT, "reason": "   "})
    assert r.status_code == 400 and "reason is empty" in r.text and DRIFT_HANDLE not in r.text
    r = client.post(
        "/reveal", {"csrf_token": token, "pseudonym": DRIFT, "reason": "alert 1: team agreed on a check-in"}
    )
    assert r.status_code == 200 and DRIFT_HANDLE in r.text
    assert r.headers["cache-control"] == "no-store"
    rows = site.api().audit()
    assert rows[0]["pseudonym"] == DRIFT and rows[0]["by"] == "lee" and "check-in" in rows[0]["reason"]
    audit = client.get("/audit")
    assert audit.status_code == 200 and "team agreed on a check-in" in audit.text and DRIFT_HANDLE not in audit.text


def test_no_page_shows_a_handle(site: Site) -> None:
    for name in ("sam", "lee"):
        client = site.client()
        client.login(name)
        for path in pages(site):
            r = client.get(path)
            assert r.status_code in (200, 403), (name, path)
            for handle in HANDLES:
                assert handle not in r.text, (name, path, handle)
            assert "forum.example" not in r.text  # post links name the handle


def test_hostile_post_text_is_shown_escaped(site: Site) -> None:
    client = site.client()
    client.login("sam")
    alert_id = next(a["id"] for a in site.api().alerts() if site.hostile_post in a["evidence"]["post_ids"])
    html = client.get(f"/alerts/{alert_id}").text
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    assert "<script" not in html and "<img src=x" not in html
    assert HOSTILE not in html


def test_pages_are_not_cached_nor_framed_and_carry_the_content_security_policy(site: Site) -> None:
    client = site.client()
    client.login("lee")
    for path in pages(site):
        r = client.get(path)
        assert r.headers["cache-control"] == "no-store" and r.headers["x-frame-options"] == "DENY", path
        assert r.headers["content-security-policy"] == CSP, path
        # nothing the policy would block: no inline script or style, no style= or on...= attribute
        assert not re.search(r"<script|<style|<[a-z][^>]*\s(?:style|on[a-z]+)=", r.text, re.I), path
    assert site.client().get("/alerts").headers["content-security-policy"] == CSP  # the redirect too


def test_a_new_password_ends_the_sessions_made_with_the_old_one(site: Site) -> None:
    client = site.client()
    assert client.login("ana").status_code == 303
    assert client.get("/alerts").status_code == 200
    changed = run_emomon(site.root, "users", "passwd", "ana", "--password-stdin", stdin="another long password\n")
    assert changed.returncode == 0, changed.stderr
    assert client.get("/alerts").status_code == 303


def test_another_host_than_loopback_prints_how_to_put_it_behind_tls(site: Site) -> None:
    port = free_port()
    process = subprocess.Popen(
        [str(EMOMON), "serve", "--host", "0.0.0.0", "--port", str(port)],
        cwd=site.root,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        assert "TLS reverse proxy" in line and f"127.0.0.1:{port}" in line and "--behind-tls" in line
    finally:
        stop(process)


def test_behind_tls_the_session_cookie_is_secure(site: Site) -> None:
    process, url = start_server(site.root, "--behind-tls")
    try:
        proxy = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.7"}
        form = httpx.get(f"{url}/login", headers=proxy)
        flags = [part.strip().lower() for part in form.headers["set-cookie"].split(";")]
        assert "secure" in flags and "httponly" in flags and "samesite=strict" in flags
        # a client over HTTPS sends the cookie back (httpx would not over this plain loopback)
        cookie = form.headers["set-cookie"].split(";")[0]
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
        assert token
        r = httpx.post(
            f"{url}/login",
            headers={**proxy, "Cookie": cookie},
            data={"csrf_token": token.group(1), "username": "sam", "password": PASSWORD},
        )
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()
    finally:
        stop(process)


def test_the_sources_page_draws_each_source_with_the_report_chart_module(site: Site) -> None:
    client = site.client()
    client.login("sam")
    html = client.get("/sources").text
    assert "<td>forum</td>" in html
    assert re.search(r'<svg [^>]*class="chart[^"]*"[^>]*aria-label="depression index per (day|week) of forum"', html)
    css = client.get("/charts.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css") and "svg" in css.text
