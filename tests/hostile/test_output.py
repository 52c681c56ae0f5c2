"""`emomon report --output` destroys nothing it does not own: the database, the config file and
a symbolic link are refused (and left byte for byte as they were) unless --force; --force
writes through a temporary file and one rename; a missing directory is one line."""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hostile.permissions import permissions_bind

from monitor.cli import cli


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """A config file naming a SQLite database, the database created at head."""
    (tmp_path / "config.toml").write_text('[database]\nurl = "sqlite:///emomon.db"\n', encoding="utf-8")
    result = emomon(tmp_path, "db", "upgrade")
    assert result.exit_code == 0, result.output
    gc.collect()  # close the in-process engine's connection now: its closing checkpoint writes the file
    return tmp_path


def emomon(home: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--config", str(home / "config.toml"), *args], env={"EMOMON_DATABASE_URL": None})


def one_line_error(result: Result) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.mark.parametrize(
    "target, what",
    [
        ("emomon.db", "the database"),
        ("emomon.db-wal", "a journal file of the database"),
        ("config.toml", "the config file"),
    ],
)
def test_output_onto_the_database_or_the_config_is_refused_and_leaves_it_untouched(
    home: Path, target: str, what: str
) -> None:
    path = home / target
    if not path.exists():
        path.write_bytes(b"")  # the -wal file exists while a connection is open
    before = path.read_bytes()
    line = one_line_error(emomon(home, "report", "--format", "md", "--output", str(path)))
    assert what in line and "--force" in line and str(path) in line
    assert path.read_bytes() == before


def test_another_name_for_the_database_is_refused_too(home: Path) -> None:
    os.link(home / "emomon.db", home / "hardlink.md")
    before = (home / "emomon.db").read_bytes()
    line = one_line_error(emomon(home, "report", "--format", "md", "--output", str(home / "hardlink.md")))
    assert "the database" in line
    assert (home / "emomon.db").read_bytes() == before


def test_a_symlink_is_refused_and_what_it_points_to_is_untouched(home: Path) -> None:
    victim = home / "notes.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = home / "report.md"
    link.symlink_to(victim)
    line = one_line_error(emomon(home, "report", "--format", "md", "--output", str(link)))
    assert "symbolic link" in line and "--force" in line
    assert victim.read_text(encoding="utf-8") == "keep me" and link.is_symlink()


def test_force_replaces_the_link_itself_not_its_target(home: Path) -> None:
    victim = home / "notes.txt"
    victim.write_text("keep me", encoding="utf-8")
    link = home / "report.md"
    link.symlink_to(victim)
    result = emomon(home, "report", "--format", "md", "--output", str(link), "--force")
    assert result.exit_code == 0, result.output
    assert not link.is_symlink() and link.read_text(encoding="utf-8").startswith("#")
    assert victim.read_text(encoding="utf-8") == "keep me"


def test_force_replaces_the_config_file_in_one_rename(home: Path) -> None:
    cfg = home / "config.toml"
    os.chmod(cfg, 0o640)
    inode = cfg.stat().st_ino
    result = emomon(home, "report", "--format", "json", "--output", str(cfg), "--force")
    assert result.exit_code == 0, result.output
    assert cfg.read_text(encoding="utf-8").lstrip().startswith("{")
    assert cfg.stat().st_ino != inode  # a new file renamed over the old one, not rewritten in place
    assert cfg.stat().st_mode & 0o777 == 0o640  # its permissions kept
    assert sorted(p.name for p in home.iterdir() if p.name.endswith(".tmp")) == []


@pytest.mark.parametrize("fmt", ["terminal", "md", "html", "csv", "json"])
def test_an_ordinary_file_is_written_in_every_format(home: Path, fmt: str) -> None:
    out = home / f"report.{fmt}"
    out.write_text("old", encoding="utf-8")
    result = emomon(home, "report", "--format", fmt, "--output", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") not in ("", "old")
    assert "\x1b[" not in out.read_text(encoding="utf-8")  # no colour codes in a file


def test_a_missing_directory_is_one_line(home: Path) -> None:
    out = home / "no" / "such" / "report.md"
    line = one_line_error(emomon(home, "report", "--format", "md", "--output", str(out)))
    assert str(home / "no" / "such") in line and "does not exist" in line
    assert not (home / "no").exists()


def test_a_failed_write_leaves_the_old_file_and_no_temporary_file(home: Path) -> None:
    locked = home / "locked"
    locked.mkdir()
    out = locked / "report.md"
    out.write_text("old report", encoding="utf-8")
    os.chmod(locked, 0o500)  # the directory cannot take the temporary file
    preexec = permissions_bind()  # as root: a child without the capabilities that override permissions
    try:
        probe = subprocess.run(
            [sys.executable, "-c", f"open({str(locked / 'probe')!r}, 'w')"],
            preexec_fn=preexec,
            capture_output=True,
            text=True,
        )
        if probe.returncode == 0:
            pytest.skip("cannot make a directory read-only for this user (root without CAP_SETPCAP?)")
        env = {k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}
        result = subprocess.run(
            [
                sys.executable,
                "-c",
                "from monitor.cli import cli; cli(prog_name='emomon')",
                "--config",
                str(home / "config.toml"),
                "report",
                "--format",
                "md",
                "--output",
                str(out),
            ],
            cwd=home,
            env=env,
            preexec_fn=preexec,
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        os.chmod(locked, 0o700)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and re.fullmatch(
        r"Error: cannot write .*report\.md.*Permission denied; fix: .+", lines[0]
    ), result.stderr
    assert out.read_text(encoding="utf-8") == "old report"
    assert [p.name for p in locked.iterdir()] == ["report.md"]
