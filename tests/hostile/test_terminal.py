"""Data in the terminal is data: a hostile string (rich markup, an OSC 8 link, emoji codes, ESC,
a C1 CSI, bidi overrides) put into post text, handles, source names, notes, reviewer names,
reasons, file names and an HTTP status line reaches every view through the real commands on a
real store, and every view prints it as visible text: no crash, no traceback, no link, no
control character, only rich's own colour codes.

Commands run in-process through click's runner with ``FORCE_COLOR=1`` (rich then draws for a
colour terminal, where markup would become styles and links); a last test runs the installed
CLI in a real pseudo-terminal, progress display included.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hostile.loopback import Answer, loopback
from review_seed import DRIFT, seed
from sqlalchemy import text

from monitor.cli import cli
from monitor.store.engine import make_engine

HOSTILE = (
    "x[/]y [link=https://evil.example]Reviewer: click here[/link] [bold red]z :warning: "
    "\x1b[31mred\u009b2J\u202eq\u2066"
)
#: What a reviewer must see of it (pieces that never wrap at 200 columns).
SHOWN = (
    "x[/]y",
    "[link=https://evil.example]Reviewer:",
    "[/link]",
    "[bold",
    "red]z",
    ":warning:",
    "\\x1b[31mred\\x9b2J\\u202eq\\u2066",
)
#: Characters that must not reach a terminal (new line aside).
CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
#: rich's own colour and style codes: the only escape sequences allowed in the output.
SGR = re.compile(r"\x1b\[[0-9;]*m")
TERMINAL = {
    "FORCE_COLOR": "1",
    "COLUMNS": "200",
    "TERM": "xterm-256color",
    "NO_COLOR": None,
    "EMOMON_DATABASE_URL": None,
}


def assert_data(output: str, shown: tuple[str, ...] = SHOWN) -> str:
    """Assert ``output`` holds no traceback, link or control character and shows ``shown``;
    return it without rich's colour codes."""
    assert "Traceback" not in output, output
    assert "\x1b]8;" not in output, "an OSC 8 link reached the terminal"
    plain = SGR.sub("", output)
    assert not CONTROL.findall(plain), [c for c in CONTROL.findall(plain)]
    for piece in shown:
        assert piece in plain, f"{piece!r} not shown in:\n{plain}"
    return plain


def emomon(cfg: Path, *args: str, code: int | None = 0, shown: tuple[str, ...] = SHOWN) -> str:
    """Run the CLI in-process as on a colour terminal; assert the exit code (None: a failure that is
    not a usage error) and the output."""
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args], env=TERMINAL)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    if code is None:
        assert result.exit_code not in (0, 2), result.output
    else:
        assert result.exit_code == code, result.output
    return assert_data(result.output, shown)


@pytest.fixture()
def reviewed(tmp_path: Path, db_url: str) -> Iterator[Path]:
    """A scored store with alerts whose posts, handles, source name and one subject are HOSTILE."""
    cfg = seed(tmp_path / "site", db_url=db_url, extra_config="[privacy]\nallow_reveal = true\n")
    result = CliRunner().invoke(cli, ["--config", str(cfg), "alerts", "run"], env=TERMINAL)
    assert result.exit_code == 0, result.output
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE posts SET text = :h"), {"h": HOSTILE})
        conn.execute(text("UPDATE authors SET handle = :h || CAST(id AS VARCHAR(8))"), {"h": HOSTILE})
        conn.execute(text("UPDATE sources SET name = :h"), {"h": HOSTILE})
        conn.execute(
            text("UPDATE alerts SET subject_kind = 'source', subject = :h WHERE rule = 'level'"), {"h": HOSTILE}
        )
    engine.dispose()
    yield cfg


def alert_id(cfg: Path, rule: str) -> str:
    result = CliRunner().invoke(cli, ["--config", str(cfg), "alerts", "list", "--json"], env=TERMINAL)
    return str(next(a["id"] for a in json.loads(result.output)["alerts"] if a["rule"] == rule))


#: The pieces that stay whole where a view wraps the string in a narrow column (at spaces).
SHORT = ("x[/]y", "[bold", "red]z", ":warning:")


def case(view: tuple[str, ...], shown: tuple[str, ...] = SHOWN) -> object:
    """One view to check, named by its words (the hostile string named ``HOSTILE``)."""
    return pytest.param(view, shown, id=" ".join("HOSTILE" if a == HOSTILE else a for a in view))


@pytest.mark.parametrize(
    "view, shown",
    [
        case(("alerts", "list", "--width", "200")),
        case(("alerts", "list", "--width", "80"), SHORT),
        case(("alerts", "list", "--format", "csv")),
        case(("alerts", "show", "{rise}", "--width", "200")),
        case(("alerts", "show", "{level}", "--width", "200")),
        case(("author", DRIFT, "--width", "200"), ()),
        case(("report", "--width", "200")),
        case(("report", "--source", HOSTILE, "--width", "200")),
        case(("report", "--format", "md")),
        case(("report", "--format", "csv")),
        case(("report", "--format", "html")),
        case(("run", "--stage", "alerts", "--stage", "report"), SHORT),  # the report at 80 columns
    ],
)
def test_every_review_view_prints_hostile_data_as_text(
    reviewed: Path, view: tuple[str, ...], shown: tuple[str, ...]
) -> None:
    ids = {"rise": alert_id(reviewed, "rise"), "level": alert_id(reviewed, "level")}
    out = emomon(reviewed, *(a.format(**ids) if a.startswith("{") else a for a in view), shown=shown)
    if view[0] == "author":
        assert DRIFT in out and "Alerts" in out


@pytest.mark.parametrize(
    "view",
    [
        ("alerts", "list", "--json"),
        ("alerts", "show", "{rise}", "--json"),
        ("report", "--format", "json"),
    ],
)
def test_json_output_escapes_control_characters_and_keeps_the_data(reviewed: Path, view: tuple[str, ...]) -> None:
    args = [alert_id(reviewed, "rise") if a == "{rise}" else a for a in view]
    out = emomon(reviewed, *args, shown=())
    assert HOSTILE in strings(json.loads(out))  # lossless


def strings(doc: object) -> set[str]:
    """Every string value in a parsed JSON document."""
    if isinstance(doc, str):
        return {doc}
    values = doc.values() if isinstance(doc, dict) else doc if isinstance(doc, list) else ()
    return set().union(*(strings(v) for v in values))


def test_ack_and_resolve_by_a_hostile_name_record_it_and_every_later_view_shows_it(reviewed: Path) -> None:
    rise = alert_id(reviewed, "rise")
    out = emomon(reviewed, "alerts", "ack", rise, "--by", HOSTILE, "--note", HOSTILE)
    assert f"alert {rise}: acknowledged by" in out
    emomon(reviewed, "alerts", "resolve", rise, "--by", HOSTILE, "--note", "done " + HOSTILE)
    history = emomon(reviewed, "alerts", "show", rise, "--width", "200")
    assert "History" in history and "acknowledged" in history and "resolved" in history
    doc = json.loads(emomon(reviewed, "alerts", "show", rise, "--json", shown=()))
    assert [h["by"] for h in doc["history"]] == [HOSTILE, HOSTILE]


def test_reveal_and_audit_print_hostile_handles_reasons_and_names_as_text(reviewed: Path) -> None:
    out = emomon(reviewed, "authors", "reveal", DRIFT, "--reason", HOSTILE, "--by", HOSTILE)
    assert f"{DRIFT} is x[/]y" in out
    emomon(reviewed, "authors", "audit")
    doc = json.loads(emomon(reviewed, "authors", "audit", "--json", shown=()))
    assert doc["reveals"][0]["reason"] == HOSTILE


@pytest.fixture()
def fresh(tmp_path: Path, db_url: str) -> Path:
    """A config file with an empty store and no sources."""
    cfg = tmp_path / "site" / "config.toml"
    cfg.parent.mkdir()
    cfg.write_text(f'[database]\nurl = "{db_url}"\n', encoding="utf-8")
    return cfg


def test_a_hostile_source_name_and_file_name_through_sources_ingest_and_rejected(fresh: Path) -> None:
    posts = fresh.parent / "posts \x1b\u009b\u202e.jsonl"  # no brackets: they would make it a glob
    posts.write_text(
        json.dumps({"id": "1", "text": HOSTILE, "author": HOSTILE, "created_at": "2025-03-01"})
        + "\n"
        + json.dumps({"id": "2", "text": "no date", "author": "b", "created_at": HOSTILE})
        + "\n",
        encoding="utf-8",
    )
    emomon(fresh, "sources", "add", HOSTILE, str(posts), "--format", "jsonl", shown=())
    out = emomon(fresh, "ingest", HOSTILE)
    assert re.search(r"\b1\b.*\b1\b", out.rsplit("total", 1)[-1])  # 1 inserted, 1 rejected
    listed = emomon(fresh, "rejected", "list")
    assert "\\x1b\\x9b\\u202e.jsonl:2" in listed
    emomon(fresh, "sources", "list")
    assert json.loads(emomon(fresh, "sources", "list", "--json", shown=()))["sources"][0]["name"] == HOSTILE
    emomon(fresh, "sources", "remove", HOSTILE, "--purge", shown=())
    assert "no rejected records" in emomon(fresh, "rejected", "list", shown=())


def test_run_prints_config_names_in_brackets_as_written(fresh: Path) -> None:
    out = emomon(fresh, "run", "--stage", "ingest", shown=("no enabled [[sources]]",))
    assert "(no enabled [])" not in out


def test_a_feed_server_status_line_is_shown_as_text(fresh: Path) -> None:
    # The reason phrase's characters go out as latin-1 bytes: C2 9B and E2 80 AE are U+009B and
    # U+202E in UTF-8, and 0x9b alone is a C1 CSI however it is decoded.
    reason = "x[/]y [link=https://evil.example]Reviewer: click here[/link] \xc2\x9b2J\xe2\x80\xaeq \x9b"
    with loopback() as server:
        server.answer("/feed.xml", Answer(500, b"oops [/] end", reason=reason))
        out = emomon(
            fresh,
            "ingest",
            server.url("/feed.xml"),
            code=None,
            shown=("x[/]y", "[link=https://evil.example]Reviewer:", "[/link]", "HTTP 500"),
        )
    errors = [line for line in out.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "/feed.xml" in errors[0], out


@pytest.mark.parametrize(
    "args",
    [
        ("ingest", "missing \x1b[31m\u202e\u009b.jsonl"),
        ("alerts", "list", "--since", HOSTILE),
        ("rejected", "list", "--source", HOSTILE),
        ("sources", "remove", HOSTILE),
        ("author", HOSTILE),
        ("report", "--output", f"{HOSTILE}/report.md"),
    ],
    ids=lambda a: " ".join(a[:2]),
)
def test_error_lines_quote_what_was_given_as_text(fresh: Path, args: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, ["--config", str(fresh), *args], env=TERMINAL)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    plain = assert_data(result.output, shown=())
    if result.exit_code:
        errors = [line for line in plain.splitlines() if line.startswith("Error: ")]
        assert len(errors) == 1, plain
        assert "\\x1b[31m" in errors[0] or "x[/]y" in errors[0], errors[0]


def run_in_terminal(cwd: Path, *args: str) -> str:
    """Run the installed CLI with stdout and stderr on a pseudo-terminal; return what it drew."""
    main, child = pty.openpty()
    env = {**os.environ, "COLUMNS": "200", "TERM": "xterm-256color"}
    env.pop("NO_COLOR", None)
    proc = subprocess.Popen(
        [str(Path(sys.executable).with_name("emomon")), *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    chunks: list[bytes] = []
    while True:
        ready, _, _ = select.select([main], [], [], 120)
        if not ready:
            proc.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert proc.wait(timeout=60) == 0, b"".join(chunks).decode("utf-8", "replace")
    return b"".join(chunks).decode("utf-8")


# The redraws of rich's progress display: cursor moves, line erases, cursor show/hide.
REDRAW = re.compile(r"\x1b\[(\d*[ABCDGK]|\?25[hl]|2K)|\r")


def test_the_installed_cli_on_a_real_terminal_draws_no_link_and_no_control(fresh: Path) -> None:
    posts = fresh.parent / "posts.jsonl"
    posts.write_text(
        "".join(
            json.dumps({"id": str(i), "text": HOSTILE, "author": "someone", "created_at": "2025-03-01"}) + "\n"
            for i in range(3)
        ),
        encoding="utf-8",
    )
    emomon(fresh, "sources", "add", HOSTILE, str(posts), shown=())
    drawn = run_in_terminal(fresh.parent, "--config", str(fresh), "ingest", HOSTILE)
    assert "\x1b[" in drawn  # a colour terminal: rich did draw styles
    assert_data(REDRAW.sub("", drawn))
