"""Item 2: one post cannot switch alerting off, and no date is guessed into the wrong unit.

The shipped examples raise the same alerts with one far-future post added (JSONL, CSV, an RSS
pubDate), with a post dated now added, and with a far-future post written straight into the
database. Epoch values are read as seconds or milliseconds by magnitude; dates past the future
tolerance or before ``[ingest] earliest`` are rejected with a reason.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from monitor.clock import utcnow
from monitor.ingest.stage import adhoc_source, ingest
from monitor.ingest.text import MAX_EPOCH_SECONDS, parse_datetime
from monitor.settings import Settings
from monitor.store.engine import session_scope
from monitor.store.schema import Post, Rejected

SALT = {"EMOMON_PSEUDONYM_SALT": "fixed-salt-so-databases-compare"}
FUTURE_TEXT = "I can't go on like this, everything is falling apart and nobody cares."


def _alerts(site: Path, emomon: Callable[..., Any]) -> set[tuple[Any, ...]]:
    done = emomon(site, "alerts", "list", "--json", env=SALT)
    assert done.returncode == 0, done.stderr
    return {
        (a["rule"], a["subject_kind"], a["subject"], a["severity"], a["trigger_at"], a["window_start"])
        for a in json.loads(done.stdout)["alerts"]
    }


def _run(site: Path, emomon: Callable[..., Any], *args: str) -> dict[str, Any]:
    done = emomon(site, *args, "--json", env=SALT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    return dict(json.loads(done.stdout))


@pytest.fixture(scope="module")
def baseline(
    tmp_path_factory: pytest.TempPathFactory, make_site: Callable[[Path], Path], emomon: Callable[..., Any]
) -> set[tuple[Any, ...]]:
    """The alerts the untouched examples raise (there is at least one)."""
    site = make_site(tmp_path_factory.mktemp("baseline"))
    _run(site, emomon, "run")
    alerts = _alerts(site, emomon)
    assert alerts
    return alerts


def _add_jsonl(examples: Path, when: str) -> None:
    with (examples / "posts.jsonl").open("a", encoding="utf-8") as f:
        f.write(json.dumps({"id": "j-999", "text": FUTURE_TEXT, "author": "quiet_harbor", "created_at": when}) + "\n")


def _add_csv(examples: Path, when: str) -> None:
    with (examples / "posts.csv").open("a", encoding="utf-8") as f:
        f.write(f'c-99,"{FUTURE_TEXT}",quiet_harbor,{when}\n')


def _add_rss(examples: Path, when: str) -> None:
    feed = examples / "feed.xml"
    item = (
        f"<item><guid>https://blog.example.org/posts/99</guid><title>Later</title>"
        f"<pubDate>{when}</pubDate><description>{FUTURE_TEXT}</description></item>"
    )
    feed.write_text(feed.read_text(encoding="utf-8").replace("</channel>", item + "</channel>"), encoding="utf-8")


def test_far_future_posts_change_no_alert(
    baseline: set[tuple[Any, ...]],
    tmp_path: Path,
    make_site: Callable[[Path], Path],
    emomon: Callable[..., Any],
) -> None:
    """One post dated 9999-12-31 in each of a JSONL file, a CSV file and an RSS pubDate."""
    site = make_site(tmp_path / "future")
    _add_jsonl(site / "examples", "9999-12-31T23:59:59Z")
    _add_csv(site / "examples", "9999-12-31 23:59:59")
    _add_rss(site / "examples", "Fri, 31 Dec 9999 23:59:59 GMT")
    _run(site, emomon, "run")
    assert _alerts(site, emomon) == baseline
    with sqlite3.connect(site / "emomon.db") as db:
        rows = db.execute(
            "SELECT s.name, r.reason FROM rejected r JOIN sources s ON s.id = r.source_id "
            "WHERE r.reason LIKE '%future_tolerance_hours%'"
        ).fetchall()
        stored = db.execute("SELECT count(*) FROM posts WHERE text = ?", (FUTURE_TEXT,)).fetchone()
    assert stored == (0,)
    assert sorted(name for name, _ in rows) == ["example-csv", "example-jsonl", "example-rss"]
    assert all("9999-12-31" in reason for _, reason in rows)


def test_a_post_dated_now_does_not_push_older_posts_out_of_the_lookback(
    baseline: set[tuple[Any, ...]],
    tmp_path: Path,
    make_site: Callable[[Path], Path],
    emomon: Callable[..., Any],
) -> None:
    site = make_site(tmp_path / "now")
    with (site / "examples" / "posts.jsonl").open("a", encoding="utf-8") as f:
        f.write(
            json.dumps(
                {
                    "id": "j-now",
                    "text": "Quiet day at the library.",
                    "author": "tern",
                    "created_at": utcnow().isoformat(),
                }
            )
            + "\n"
        )
    _run(site, emomon, "run")
    assert _alerts(site, emomon) == baseline  # the examples, dated 2025, are still evaluated


def test_a_stored_far_future_post_cannot_move_the_alert_window(
    baseline: set[tuple[Any, ...]],
    tmp_path: Path,
    make_site: Callable[[Path], Path],
    emomon: Callable[..., Any],
) -> None:
    """A database written before the date bounds existed: the window ignores the post."""
    site = make_site(tmp_path / "stored")
    _run(site, emomon, "run", "--stage", "ingest", "--stage", "score")
    with sqlite3.connect(site / "emomon.db") as db:
        source_id, author_id, created, digest = db.execute(
            "SELECT source_id, author_id, created_at, content_hash FROM posts ORDER BY id LIMIT 1"
        ).fetchone()
        post_id = db.execute(
            "INSERT INTO posts (source_id, external_id, author_id, created_at, text, content_hash, "
            "ingested_at) VALUES (?, 'far', ?, '9999-12-31 23:59:59.000000', 'x', ?, ?)",
            (source_id, author_id, "f" + digest[1:], created),
        ).lastrowid
        columns = [c[1] for c in db.execute("PRAGMA table_info(scores)") if c[1] != "post_id"]
        names = ", ".join(columns)
        db.execute(
            f"INSERT INTO scores (post_id, {names}) SELECT ?, {names} FROM scores "  # noqa: S608
            "ORDER BY depression_index DESC LIMIT 1",
            (post_id,),
        )
    _run(site, emomon, "run", "--stage", "alerts")
    assert _alerts(site, emomon) == baseline
    done = emomon(site, "report", "--format", "json", env=SALT)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout) < 200_000  # no day-by-day axis out to the year 9999
    report = json.loads(done.stdout)
    assert report["overview"]["last"].startswith("2025-")
    assert report["recent_end"].startswith("2025-")


# ---------------------------------------------------------------- epoch units and bounds


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (MAX_EPOCH_SECONDS, datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),  # not 1978
        (str(MAX_EPOCH_SECONDS), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
        (1714564800, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800000, datetime(2024, 5, 1, 12, tzinfo=UTC)),
        (1714564800123, datetime(2024, 5, 1, 12, 0, 0, 123000, tzinfo=UTC)),
        (MAX_EPOCH_SECONDS * 1000 + 999, datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)),
        (-86400, datetime(1969, 12, 31, tzinfo=UTC)),
        ("20250301", datetime(2025, 3, 1, tzinfo=UTC)),  # a basic ISO date, not an epoch value
    ],
)
def test_epoch_unit_by_magnitude(value: object, expected: datetime) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (MAX_EPOCH_SECONDS * 1000 + 1000, "out of range: past 9999-12-31"),
        (10**30, "out of range: past 9999-12-31"),  # microseconds or nonsense: no guess
        ("1e40", "out of range: past 9999-12-31"),
        (-62_135_596_801, "out of range: before year 1"),
        ("9999-12-31T23:00:00-05:00", "out of range in UTC"),
        ("0001-01-01T00:00:00+05:00", "out of range in UTC"),
    ],
)
def test_out_of_range_values_are_refused_with_a_reason(value: object, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_datetime(value)


def _ingest_dates(
    tmp_path: Path, settings: Settings, engine: Engine, dates: dict[str, object]
) -> tuple[dict[str, datetime], dict[str, str]]:
    path = tmp_path / "dates.jsonl"
    path.write_text(
        "".join(json.dumps({"id": k, "text": f"post {k}", "created_at": v}) + "\n" for k, v in dates.items()),
        encoding="utf-8",
    )
    report = ingest(engine, settings, [adhoc_source(str(path))])
    totals = report.totals()
    assert totals["read"] == len(dates)
    with session_scope(engine) as s:
        stored = dict(s.execute(select(Post.external_id, Post.created_at)).all())
        reasons = dict(s.execute(select(Rejected.location, Rejected.reason)).all())
    by_id = {loc.rsplit(":", 1)[1]: reason for loc, reason in reasons.items()}
    ids = list(dates)
    return stored, {ids[int(line) - 1]: reason for line, reason in by_id.items()}


def test_ingest_rejects_dates_outside_the_bounds_with_reasons(
    tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine
) -> None:
    now = utcnow()
    settings = make_settings('[ingest]\nfuture_tolerance_hours = 2.0\nearliest = "2000-01-01"\n')
    stored, rejected = _ingest_dates(
        tmp_path,
        settings,
        engine,
        {
            "seconds": 1714564800,
            "millis": 1714564800000,
            "sentinel": MAX_EPOCH_SECONDS,  # 9999-12-31 in seconds: rejected, never 1978
            "micros": 1714564800000000,
            "zero": 0,
            "before": "1999-12-31T23:59:59Z",
            "first": "2000-01-01T00:00:00Z",
            "soon": (now + timedelta(hours=1)).isoformat(),
            "later": (now + timedelta(hours=3)).isoformat(),
        },
    )
    assert set(stored) == {"seconds", "millis", "first", "soon"}
    assert stored["seconds"] == stored["millis"] == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert set(rejected) == {"sentinel", "micros", "zero", "before", "later"}
    assert "9999-12-31" in rejected["sentinel"] and "future_tolerance_hours = 2" in rejected["sentinel"]
    assert "future_tolerance_hours = 2 hours" in rejected["later"]
    assert "before ingest.earliest = 2000-01-01" in rejected["before"]
    assert "1970-01-01" in rejected["zero"]
    assert "created_at" in rejected["micros"]


def test_default_lower_bound_is_1990(tmp_path: Path, make_settings: Callable[..., Settings], engine: Engine) -> None:
    stored, rejected = _ingest_dates(
        tmp_path, make_settings(), engine, {"old": "1989-12-31T23:59:59Z", "ok": "1990-01-01T00:00:00Z"}
    )
    assert set(stored) == {"ok"}
    assert "before ingest.earliest = 1990-01-01" in rejected["old"]
