"""The first run and the exit statuses: what a new user and a cron wrapper meet.

`emomon init DIR` then `emomon run` in DIR succeeds; without a config every command but `init`
stops with one line pointing to `emomon init` and creates nothing; `sources add` refuses a
column mapping the file does not have; a source whose every record is rejected has failed; and
each :class:`~monitor.errors.ExitStatus` is what the installed command really exits with.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from hostile.conftest import EMOMON, REPO
from sqlalchemy import select

from monitor.cli import cli
from monitor.errors import EXIT_STATUSES, ExitStatus, exit_status_table
from monitor.settings import load_settings
from monitor.store.engine import make_engine, session_scope
from monitor.store.schema import Run


def bare_env(xdg: Path, **extra: str) -> dict[str, str]:
    """The environment without EMOMON_* variables, XDG_CONFIG_HOME at ``xdg``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}
    return {**env, "XDG_CONFIG_HOME": str(xdg), **extra}


def emomon(cwd: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """The installed `emomon` in ``cwd`` with exactly ``env``."""
    return subprocess.run(
        [str(EMOMON), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
    )


def listing(*roots: Path) -> list[str]:
    """Every path under ``roots`` (the roots included)."""
    return sorted(str(p) for root in roots for p in (root, *root.rglob("*")))


def one_line(done: subprocess.CompletedProcess[str] | click.testing.Result) -> str:
    """The single non-blank stderr line of a failed command (no traceback)."""
    err = done.stderr
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- a first run ---------------------------------------------------------------------------


@pytest.mark.sqlite_only(reason="`emomon init` writes a config on a SQLite file")
def test_init_then_run_exits_0(tmp_path: Path) -> None:
    site, xdg = tmp_path / "team", tmp_path / "xdg"
    xdg.mkdir()
    env = bare_env(xdg)
    made = emomon(tmp_path, "init", str(site), env=env)
    assert made.returncode == 0 and "Traceback" not in made.stderr, made.stderr
    config = (site / "config.toml").read_text(encoding="utf-8")
    assert "# [[sources]]" in config and load_settings(site / "config.toml", {}).sources == ()
    done = emomon(site, "run", env=env)
    assert done.returncode == ExitStatus.OK, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "(no enabled [[sources]])" in " ".join(done.stdout.split())  # the brackets are printed, not eaten
    with sqlite3.connect(site / "emomon.db") as con:
        statuses = dict(con.execute("select command, status from runs"))
    assert statuses and set(statuses.values()) == {"ok"}  # the skipped ingest leaves no row


# -- no config -----------------------------------------------------------------------------

COMMANDS = [
    ("alerts", "list"),
    ("run",),
    ("sources", "list"),
    ("report",),
    ("ingest", "posts.jsonl"),
    ("db", "upgrade"),
    ("cron",),
]


@pytest.fixture
def nowhere(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """An empty working directory and an empty XDG_CONFIG_HOME; both must stay as they are."""
    cwd, xdg = tmp_path / "cwd", tmp_path / "xdg"
    cwd.mkdir()
    xdg.mkdir()
    before = listing(cwd, xdg)
    yield cwd, xdg
    assert listing(cwd, xdg) == before, "a command without a config created something"


def test_without_a_config_every_command_stops_with_one_line_and_creates_nothing(nowhere: tuple[Path, Path]) -> None:
    cwd, xdg = nowhere
    for args in COMMANDS:
        done = emomon(cwd, *args, env=bare_env(xdg))
        assert done.returncode == ExitStatus.CONFIG, (args, done.stderr)
        line = one_line(done)
        assert "no config file found" in line and "`emomon init`" in line, line
        assert str(xdg / "emomon" / "config.toml") in line and done.stdout == ""
    for args in (("--help",), ("--version",), ("alerts", "list", "--help")):
        assert emomon(cwd, *args, env=bare_env(xdg)).returncode == 0, args


def test_a_named_config_that_does_not_exist_is_one_line(nowhere: tuple[Path, Path]) -> None:
    cwd, xdg = nowhere
    by_flag = emomon(cwd, "--config", "missing.toml", "alerts", "list", env=bare_env(xdg))
    assert by_flag.returncode == ExitStatus.CONFIG
    assert "'missing.toml' (--config) not found" in one_line(by_flag)
    by_env = emomon(cwd, "report", env=bare_env(xdg, EMOMON_CONFIG="gone.toml"))
    assert by_env.returncode == ExitStatus.CONFIG
    assert "'gone.toml' (EMOMON_CONFIG) not found" in one_line(by_env)


def _leaf_commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            yield from _leaf_commands(command, (*path, name))
        else:
            yield (*path, name), command


def _placeholder(param: click.Parameter) -> str:
    if isinstance(param.type, click.Choice):
        return str(param.type.choices[0])
    if isinstance(param.type, click.types.IntParamType | click.types.FloatParamType):
        return "1"
    return "x"


LEAVES = [(path, command) for path, command in _leaf_commands(cli) if path != ("init",)]


@pytest.mark.parametrize(("path", "command"), LEAVES, ids=[" ".join(p) for p, _ in LEAVES])
def test_every_command_but_init_needs_a_config(
    path: tuple[str, ...], command: click.Command, nowhere: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every command, its required arguments given: the config is looked for before anything."""
    cwd, xdg = nowhere
    monkeypatch.chdir(cwd)
    args = [*path]
    for param in command.params:
        if param.required and isinstance(param, click.Argument):
            args += [_placeholder(param)] * max(param.nargs, 1)
        elif param.required:
            args += [param.opts[0], _placeholder(param)]
    result = CliRunner(env=bare_env(xdg)).invoke(cli, args)
    assert result.exit_code == ExitStatus.CONFIG, (args, result.output)
    assert "`emomon init`" in one_line(result) and result.stdout == ""


def test_a_config_in_xdg_config_home_is_found(tmp_path: Path) -> None:
    cwd, xdg = tmp_path / "cwd", tmp_path / "xdg"
    cwd.mkdir()
    (xdg / "emomon").mkdir(parents=True)
    (xdg / "emomon" / "config.toml").write_text('[database]\nurl = "sqlite:///emomon.db"\n', encoding="utf-8")
    done = emomon(cwd, "sources", "list", "--json", env=bare_env(xdg))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"sources": []}
    assert (xdg / "emomon" / "emomon.db").is_file() and list(cwd.iterdir()) == []  # relative to the config


# -- column mappings -----------------------------------------------------------------------


@pytest.fixture
def forum(tmp_path: Path) -> Path:
    """A directory with an empty config, forum.csv and forum.jsonl (columns post_id, body, user)."""
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///emomon.db"\n', encoding="utf-8")
    rows = [{"post_id": str(i), "body": f"an invented post {i}", "user": {"name": "someone"}} for i in range(3)]
    (tmp_path / "forum.csv").write_text(
        "post_id,body,user\n" + "".join(f"{r['post_id']},{r['body']},someone\n" for r in rows), encoding="utf-8"
    )
    (tmp_path / "forum.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_sources_add_refuses_a_column_mapping_that_matches_nothing(forum: Path, kind: str) -> None:
    config = forum / "config.toml"
    before = config.read_text(encoding="utf-8")
    runner = CliRunner()
    typo = runner.invoke(
        cli, ["--config", str(config), "sources", "add", "forum", str(forum / f"forum.{kind}"), "--column", "text=bdy"]
    )
    assert typo.exit_code == ExitStatus.ERROR
    line = one_line(typo)
    assert "column text=bdy matches nothing" in line and "post_id, body, user" in line
    assert "did you mean text=body?" in line
    default = runner.invoke(cli, ["--config", str(config), "sources", "add", "forum", str(forum / f"forum.{kind}")])
    assert default.exit_code == ExitStatus.ERROR
    assert "the default text column 'text' matches nothing" in one_line(default)
    assert config.read_text(encoding="utf-8") == before
    author = "user.name" if kind == "jsonl" else "user"
    added = runner.invoke(
        cli,
        [
            "--config",
            str(config),
            "sources",
            "add",
            "forum",
            str(forum / f"forum.{kind}"),
            "--column",
            "text=body",
            "--column",
            "id=post_id",
            "--column",
            f"author={author}",
        ],
    )
    assert added.exit_code == 0, added.output
    assert load_settings(config, {}).sources[0].columns == {"text": "body", "id": "post_id", "author": author}


# -- a source whose every record is rejected -----------------------------------------------


def test_a_source_whose_every_record_is_rejected_has_failed(forum: Path, db_url: str) -> None:
    with (forum / "config.toml").open("a", encoding="utf-8") as f:  # as written before the check existed
        f.write('\n[[sources]]\nname = "forum"\nkind = "csv"\nlocation = "forum.csv"\ncolumns = { text = "bdy" }\n')
    env = bare_env(forum, EMOMON_DATABASE_URL=db_url)
    ingest = emomon(forum, "ingest", "--json", env=env)
    assert ingest.returncode == ExitStatus.FAILED, ingest.stderr
    (source,) = json.loads(ingest.stdout)["sources"]
    assert (source["read"], source["rejected"], source["status"]) == (3, 3, "error")
    assert "column 'bdy' matched nothing; the file has the columns post_id, body, user" in source["error"]
    assert "column 'bdy' matched nothing" in one_line(ingest)
    run = emomon(forum, "run", "--stage", "ingest", env=env)
    assert run.returncode == ExitStatus.FAILED and "Traceback" not in run.stderr, run.stderr
    assert "stage failed: ingest: forum: every record was rejected" in one_line(run)
    engine = make_engine(db_url)
    with session_scope(engine) as s:
        rows = list(s.scalars(select(Run).where(Run.command == "ingest")))
    engine.dispose()
    assert [r.status for r in rows] == ["failed", "failed"]
    assert all("column 'bdy' matched nothing" in (r.message or "") for r in rows)


def test_a_source_rejected_for_another_reason_names_it(forum: Path, db_url: str) -> None:
    (forum / "broken.jsonl").write_text("{not json\n[1, 2]\n", encoding="utf-8")
    done = emomon(forum, "ingest", str(forum / "broken.jsonl"), env=bare_env(forum, EMOMON_DATABASE_URL=db_url))
    assert done.returncode == ExitStatus.FAILED
    line = one_line(done)
    assert "every record (2) was rejected, the first as 'broken JSON line 1" in line, line


# -- every exit status ---------------------------------------------------------------------

HOLD = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    from monitor.settings import load_settings
    from monitor.store.runs import run_lock
    with run_lock(load_settings(Path(sys.argv[1]), os.environ), label="holder"):
        print("locked", flush=True)
        time.sleep(60)
""")


def test_each_exit_status_is_what_the_command_exits_with(forum: Path, db_url: str) -> None:
    env = bare_env(forum, EMOMON_DATABASE_URL=db_url)
    statuses = {
        ExitStatus.OK: emomon(forum, "alerts", "list", env=env),
        ExitStatus.ERROR: emomon(forum, "alerts", "show", "999", env=env),
        ExitStatus.USAGE: emomon(forum, "alerts", "list", "--no-such-option", env=env),
        ExitStatus.FAILED: emomon(forum, "ingest", str(forum / "nowhere.jsonl"), env=env),
        ExitStatus.CONFIG: emomon(forum, "alerts", "list", env={**env, "EMOMON_INGEST_BATCH_SIZE": "lots"}),
    }
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(forum / "config.toml")],
        stdout=subprocess.PIPE,
        text=True,
        env={**env, "PYTHONPATH": str(REPO)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        statuses[ExitStatus.LOCKED] = emomon(forum, "run", "--stage", "purge", "--lock-timeout", "0", env=env)
    finally:
        holder.kill()
        holder.wait()
    assert {status: done.returncode for status, done in statuses.items()} == {s: s.value for s in statuses}
    assert set(statuses) == set(ExitStatus)
    for status, done in statuses.items():
        assert "Traceback" not in done.stderr, done.stderr
        if status not in (ExitStatus.OK, ExitStatus.USAGE):
            one_line(done)
    assert "another emomon run holds the lock" in statuses[ExitStatus.LOCKED].stderr
    assert "EMOMON_INGEST_BATCH_SIZE" in statuses[ExitStatus.CONFIG].stderr


def test_the_exit_status_table_names_every_status_once() -> None:
    assert len({s.value for s in ExitStatus}) == len(ExitStatus) and set(EXIT_STATUSES) == set(ExitStatus)
    rows = exit_status_table().splitlines()[2:]
    assert [int(row.split("|")[1]) for row in rows] == [s.value for s in ExitStatus]
    assert (ExitStatus.USAGE, ExitStatus.LOCKED, ExitStatus.CONFIG) == (2, 75, 78)  # click's; sysexits.h
