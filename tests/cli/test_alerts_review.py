"""The review loop through the real CLI: alerts run/list/show/ack/resolve, author, authors.

Every test works on a real SQLite file seeded by ``review_seed`` (two invented authors, one
drifting), and raises its alerts with the real alerts stage (``emomon alerts run``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_seed import DRIFT, DRIFT_HANDLE, GAP_DAYS, STEADY, T0, seed

from monitor.cli import cli
from monitor.errors import ExitStatus


def invoke(cfg: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], env=env)
    return result.exit_code, result.output


@pytest.fixture()
def cfg(tmp_path: Path) -> Path:
    path = seed(tmp_path)
    code, out = invoke(path, "alerts", "run")
    assert code == 0, out
    return path


def alerts_json(cfg: Path, *args: str) -> list[dict]:
    code, out = invoke(cfg, "alerts", "list", "--json", *args)
    assert code == 0, out
    return json.loads(out)["alerts"]


def test_alerts_run_raises_the_drifting_author_only_and_sends_the_evidence(cfg: Path) -> None:
    alerts = alerts_json(cfg)
    assert {a["subject"] for a in alerts} == {DRIFT}
    assert {a["rule"] for a in alerts} == {"rise", "level"}
    sent = [json.loads(line) for line in (cfg.parent / "alerts.jsonl").read_text().splitlines()]
    rise = next(p for p in sent if p["rule"] == "rise")
    assert rise["explanation"].startswith(f"The depression index of {DRIFT} averaged 0.75 over")
    assert "against its own baseline of" in rise["explanation"]
    assert [p["index"] for p in rise["posts"]] == [0.75] * len(rise["posts"])
    assert rise["posts"][-1]["trigger"] and rise["posts"][-1]["post_id"] == rise["trigger_post_id"]
    assert all("text" not in p for p in rise["posts"])  # no text unless excerpts are switched on
    assert DRIFT_HANDLE not in json.dumps(sent)  # pseudonymised
    code, out = invoke(cfg, "alerts", "run")
    assert code == 0 and "0 new" in out  # one episode, one alert


def test_alerts_show_explains_and_lists_the_posts_in_order_with_text(cfg: Path) -> None:
    rise = next(a for a in alerts_json(cfg) if a["rule"] == "rise")
    code, out = invoke(cfg, "alerts", "show", str(rise["id"]), "--json")
    assert code == 0, out
    doc = json.loads(out)
    assert doc["explanation"].startswith(f"The depression index of {DRIFT} averaged 0.75")
    assert "rule `rise`" in doc["explanation"] and "h = " in doc["explanation"]
    dates = [p["created_at"] for p in doc["posts"]]
    assert dates == sorted(dates) and len(dates) == len(rise["evidence"]["post_ids"])
    assert all(p["text"].startswith("invented post") for p in doc["posts"])
    assert doc["posts"][0]["top_emotions"][0]["emotion"] == "sadness"
    code, text = invoke(cfg, "alerts", "show", str(rise["id"]), "--width", "80")
    assert code == 0
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "Posts behind it" in text and "▶" in text and "sadness 0.75" in text
    assert "not a diagnosis" in text and DRIFT_HANDLE not in text


def test_alerts_show_unknown_id_is_one_line(cfg: Path) -> None:
    code, out = invoke(cfg, "alerts", "show", "999")
    assert code == 1 and "alert 999 does not exist" in out and "Traceback" not in out


def test_ack_and_resolve_keep_who_when_what(cfg: Path) -> None:
    aid = str(alerts_json(cfg)[0]["id"])
    code, out = invoke(cfg, "alerts", "ack", aid, "--note", "reading the posts", "--by", "sam")
    assert code == 0 and f"alert {aid}: acknowledged by sam" in out
    code, out = invoke(cfg, "alerts", "resolve", aid, "--note", "checked in; fine", "--by", "kim")
    assert code == 0
    code, out = invoke(cfg, "alerts", "show", aid, "--json")
    history = json.loads(out)["history"]
    assert [(h["action"], h["by"], h["note"]) for h in history] == [
        ("acknowledged", "sam", "reading the posts"),
        ("resolved", "kim", "checked in; fine"),
    ]
    assert all(re.match(r"\d{4}-\d\d-\d\dT", h["at"]) for h in history)
    code, out = invoke(cfg, "alerts", "ack", aid, "--note", "again")
    assert code == 1 and "already resolved" in out
    code, out = invoke(cfg, "alerts", "ack", aid)
    assert code == 2 and "--note" in out  # a note is required


def test_ack_with_an_empty_note_is_refused(cfg: Path) -> None:
    code, out = invoke(cfg, "alerts", "ack", "1", "--note", "  ")
    assert code == 1 and "the note is empty" in out and "(--note)" in out


def test_list_filters_and_csv(cfg: Path) -> None:
    assert [a["rule"] for a in alerts_json(cfg, "--rule", "rise")] == ["rise"]
    rise = alerts_json(cfg, "--rule", "rise")[0]
    invoke(cfg, "alerts", "ack", str(rise["id"]), "--note", "n", "--by", "sam")
    assert [a["id"] for a in alerts_json(cfg, "--status", "acknowledged")] == [rise["id"]]
    assert alerts_json(cfg, "--since", "2030-01-01") == []
    assert len(alerts_json(cfg, "--since", T0.date().isoformat())) == 2
    code, out = invoke(cfg, "alerts", "list", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 2 and {r["subject"] for r in rows} == {DRIFT}
    assert all(r["explanation"].startswith("The depression index") for r in rows)
    code, out = invoke(cfg, "alerts", "list", "--since", "2025-05-01", "--until", "2025-04-01")
    assert code == 2 and "not before --until" in out


def test_list_table_fits_80_columns(cfg: Path) -> None:
    code, out = invoke(cfg, "alerts", "list", "--width", "80")
    assert code == 0 and max(len(line) for line in out.splitlines()) <= 80
    assert "baseline" in out and "CUSUM" in out and DRIFT in out


def test_author_timeline_has_a_date_axis_gaps_baseline_and_alerts(cfg: Path) -> None:
    code, out = invoke(cfg, "author", DRIFT, "--json")
    assert code == 0, out
    doc = json.loads(out)
    days = doc["days"]
    assert days[0]["day"] == "2025-03-01" and len(days) == 48  # every calendar day
    gap = [d for d in days if d["posts"] == 0]
    assert len(gap) == len(GAP_DAYS) and all(d["index"] is None for d in gap)
    assert {a["rule"] for a in doc["alerts"]} == {"rise", "level"}
    assert doc["summary"]["recent_mean"] == pytest.approx(0.75, abs=1e-3)
    assert doc["big5"]["shown"] and "weak signal" in doc["big5"]["caveat"]
    for width in ("80", "120"):
        code, text = invoke(cfg, "author", DRIFT, "--width", width)
        assert code == 0 and max(len(line) for line in text.splitlines()) <= int(width)
        assert "2025-03-01" in text and "▲" in text and "┈" in text and "baseline" in text
        assert "recent:" in text and "z:" in text  # the legend


def test_author_unknown_pseudonym_and_handle_are_explained(cfg: Path) -> None:
    code, out = invoke(cfg, "author", DRIFT_HANDLE)
    assert code == 1 and "authors are shown by pseudonym" in out


def test_author_html_is_an_svg_chart_page(cfg: Path, tmp_path: Path) -> None:
    page = tmp_path / "author.html"
    code, out = invoke(cfg, "author", DRIFT, "--format", "html", "--output", str(page))
    assert code == 0, out
    html = page.read_text()
    assert html.count('class="chart time') == 2 and "x-title" in html and 'class="marker"' in html
    assert DRIFT_HANDLE not in html


def test_report_and_report_author_agree_on_an_author(cfg: Path) -> None:
    code, out = invoke(cfg, "report", "--format", "json")
    full = {r["author"]: r for r in json.loads(out)["review"]}
    code, out = invoke(cfg, "report", "--format", "json", "--author", DRIFT)
    one = {r["author"]: r for r in json.loads(out)["review"]}
    code, out = invoke(cfg, "author", DRIFT, "--json")
    view = json.loads(out)["summary"]
    for key in ("recent_mean", "baseline_mean", "z", "recent_posts"):
        assert full[DRIFT][key] == one[DRIFT][key]
        assert view[key] == pytest.approx(full[DRIFT][key], abs=1e-4)


def test_reveal_is_off_by_default_and_audited_when_on(tmp_path: Path) -> None:
    cfg = seed(tmp_path)
    code, out = invoke(cfg, "authors", "reveal", DRIFT, "--reason", "check-in agreed")
    assert code == ExitStatus.CONFIG and "allow_reveal = true" in out and DRIFT_HANDLE not in out
    cfg = seed(tmp_path / "on", extra_config="[privacy]\nallow_reveal = true\n")
    code, out = invoke(cfg, "authors", "reveal", DRIFT, "--reason", "alert 1: check-in", "--by", "sam")
    assert code == 0 and DRIFT_HANDLE in out and "https://forum.example/quiet_harbor/" in out
    code, out = invoke(cfg, "authors", "audit", "--json")
    rows = json.loads(out)["reveals"]
    assert [(r["pseudonym"], r["by"], r["reason"]) for r in rows] == [(DRIFT, "sam", "alert 1: check-in")]
    code, out = invoke(cfg, "authors", "reveal", "a-nobody", "--reason", "x")
    assert code == 1 and "no author has the pseudonym" in out
    code, out = invoke(cfg, "authors", "audit")
    assert code == 0 and DRIFT_HANDLE not in out and "alert 1: check-in" in out


def test_no_other_command_prints_a_handle(cfg: Path) -> None:
    for args in (
        ("report",),
        ("report", "--format", "html"),
        ("report", "--format", "json"),
        ("alerts", "list", "--format", "csv"),
        ("author", STEADY),
    ):
        code, out = invoke(cfg, *args)
        assert code == 0, (args, out)
        assert DRIFT_HANDLE not in out and "plain_sky" not in out, args


def test_sources_list_is_readable_at_80_columns(cfg: Path) -> None:
    code, out = invoke(cfg, "sources", "list", env={"COLUMNS": "80"})
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80
    header = next(line for line in out.splitlines() if "kind" in line)
    for column in ("source / location", "kind", "posts", "rejected", "state", "last ingest"):
        assert column in header  # no header cut to "loca…"
    assert "…" not in out and "forum (ad-hoc)" in out


def test_the_e_mail_digest_carries_the_same_evidence(tmp_path: Path) -> None:
    from email import message_from_bytes
    from email.message import EmailMessage
    from email.policy import default

    from smtp_server import SmtpServer

    server = SmtpServer()
    try:
        cfg = seed(
            tmp_path,
            channels='["email"]',
            extra_config=(
                f'[channels.email]\nhost = "127.0.0.1"\nport = {server.port}\nrecipients = ["team@example.org"]\n'
            ),
        )
        code, out = invoke(cfg, "alerts", "run")
        assert code == 0, out
    finally:
        server.close()
    [mail] = server.messages
    msg = message_from_bytes(mail["data"], _class=EmailMessage, policy=default)
    body = msg.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert f"The depression index of {DRIFT} averaged 0.75 over" in text
    assert "index 0.75  sadness 0.75" in text and "alerts ack ID --note" in text
    assert DRIFT_HANDLE not in mail["data"].decode("utf-8", "replace")
