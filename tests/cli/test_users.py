"""``emomon users``: accounts of the web workspace, through the installed command and CliRunner,
on this run's database backend."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_seed import seed

from monitor.api import Emomon
from monitor.cli import cli

EMOMON = Path(sys.executable).with_name("emomon")
PASSWORD = "correct horse battery"


@pytest.fixture
def cfg(tmp_path: Path, db_url: str) -> Path:
    return seed(tmp_path, db_url=db_url)


def emomon(cfg: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(EMOMON), "--config", str(cfg), *args], input=stdin, capture_output=True, text=True, timeout=300
    )


def test_add_with_password_stdin_then_list_shows_name_and_role_never_the_hash(cfg: Path) -> None:
    made = emomon(cfg, "users", "add", "sam", "--role", "lead", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 0 and "user sam added (lead)" in made.stdout, made.stderr
    listed = emomon(cfg, "users", "list", "--json")
    users = json.loads(listed.stdout)["users"]
    assert [(u["name"], u["role"]) for u in users] == [("sam", "lead")]
    assert "argon2" not in listed.stdout and PASSWORD not in listed.stdout
    api = Emomon(cfg)
    assert api.authenticate("sam", PASSWORD) is not None
    assert api.authenticate("sam", PASSWORD + "x") is None and api.authenticate("nobody", PASSWORD) is None


def test_a_bad_role_is_one_clear_line_and_makes_nothing(cfg: Path) -> None:
    made = emomon(cfg, "users", "add", "sam", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 1
    assert made.stderr.splitlines() == ["Error: unknown role 'admin': use reviewer or lead (--role)"]
    assert Emomon(cfg).users() == []


@pytest.mark.parametrize(
    ("args", "stdin", "line"),
    [
        (("users", "add", "bad name"), PASSWORD, "user name 'bad name' is not allowed"),
        (("users", "add", "sam", "--password-stdin"), "short\n", "the password is too short"),
        (("users", "add", "sam", "--password-stdin"), "", "no password on stdin"),
        (("users", "remove", "ghost"), "", "no user named 'ghost'"),
        (("users", "passwd", "ghost", "--password-stdin"), PASSWORD, "no user named 'ghost'"),
    ],
)
def test_mistakes_are_one_line_each(cfg: Path, args: tuple[str, ...], stdin: str, line: str) -> None:
    done = emomon(cfg, *args, stdin=stdin)
    assert done.returncode == 1
    assert len(done.stderr.splitlines()) == 1 and line in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_taken_name_is_refused(cfg: Path) -> None:
    Emomon(cfg).add_user("sam", "reviewer", PASSWORD)
    made = emomon(cfg, "users", "add", "sam", "--password-stdin", stdin=PASSWORD + "\n")
    assert made.returncode == 1 and "a user named 'sam' exists already" in made.stderr


def test_add_prompts_twice_when_no_stdin_flag(cfg: Path) -> None:
    result = CliRunner().invoke(cli, ["--config", str(cfg), "users", "add", "kim"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output
    assert PASSWORD not in result.output
    assert Emomon(cfg).user("kim") is not None


def test_passwd_replaces_the_password_and_remove_deletes_the_account(cfg: Path) -> None:
    api = Emomon(cfg)
    api.add_user("sam", "reviewer", PASSWORD)
    changed = emomon(cfg, "users", "passwd", "sam", "--password-stdin", stdin="a brand new password\n")
    assert changed.returncode == 0, changed.stderr
    assert api.authenticate("sam", PASSWORD) is None and api.authenticate("sam", "a brand new password") is not None
    removed = emomon(cfg, "users", "remove", "sam")
    assert removed.returncode == 0 and api.users() == []
