"""No file emomon writes can be the config file, the database or the model directory.

``[channels.file] path`` and ``[schedule] report_output`` naming the config file, the database
or one of its journal files (directly, through a symbolic link or a hard link), or a file in the
model directory, are refused when the settings load: one line naming the key and the fix, the
files left byte for byte as they were. The alerts file is checked again when it is written, and
``emomon cron --log-file`` goes through the same check.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from monitor.alerts.channels import JsonlChannel, alert_payload
from monitor.errors import ChannelError, ConfigError, ExitStatus
from monitor.settings import load_settings
from monitor.store.engine import ensure_schema, make_engine

Emomon = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    """A config file (file channel on), its SQLite database at head with a -wal file, a model directory."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}", encoding="utf-8")
    write_config(tmp_path, "alerts.jsonl")
    engine = make_engine(f"sqlite:///{tmp_path / 'emomon.db'}")
    ensure_schema(engine)
    engine.dispose()
    (tmp_path / "emomon.db-wal").write_bytes(b"")  # as while a connection is open
    return tmp_path


def write_config(home: Path, file_path: str, extra: str = "") -> None:
    (home / "config.toml").write_text(
        f'[database]\nurl = "sqlite:///emomon.db"\n\n[model]\npath = "model"\n\n'
        f'[alerts]\nchannels = ["file"]\n\n[channels.file]\npath = "{file_path}"\n{extra}',
        encoding="utf-8",
    )


def snapshot(home: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in (home / "config.toml", home / "emomon.db", home / "emomon.db-wal")}


def one_line(done: subprocess.CompletedProcess[str], code: int = ExitStatus.ERROR) -> str:
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), done.stderr
    return lines[0]


def make_link(home: Path, kind: str, target: str) -> str:
    name = f"{kind}-to-{target}"
    if kind == "symlink":
        (home / name).symlink_to(home / target)
    else:
        os.link(home / target, home / name)
    return name


def test_the_file_channel_cannot_be_the_config_or_the_database_through_a_symlink(home: Path, emomon: Emomon) -> None:
    """The command stops at the settings with one line; the config and the database are untouched."""
    for path, what in (
        ("config.toml", "the config file"),
        (make_link(home, "symlink", "emomon.db"), "the database"),
        (make_link(home, "symlink", "emomon.db-wal"), "a journal file of the database"),
    ):
        write_config(home, path)
        before = snapshot(home)
        line = one_line(emomon(home, "--config", "config.toml", "run", "--stage", "alerts"), ExitStatus.CONFIG)
        assert f"[channels.file] path = '{home / path}' is {what}" in line and "name another file" in line, line
        assert snapshot(home) == before


@pytest.mark.parametrize(
    "target, what",
    [
        ("config.toml", "the config file"),
        ("emomon.db", "the database"),
        ("emomon.db-wal", "a journal file of the database"),
        ("emomon.db-shm", "a journal file of the database"),  # not there yet: SQLite would create it
        ("model", "the model directory"),
        ("model/labels.json", "a file in the model directory"),
    ],
)
@pytest.mark.parametrize("kind", ["name", "symlink", "hardlink"])
def test_every_name_of_a_protected_file_is_refused_at_load(home: Path, target: str, what: str, kind: str) -> None:
    exists = (home / target).is_file()
    if kind != "name" and not exists:
        return  # a link needs an existing file; the name alone is tested
    path = target if kind == "name" else make_link(home, kind, target)
    write_config(home, path)
    with pytest.raises(ConfigError) as err:
        load_settings(home / "config.toml", {})
    line = str(err.value)
    assert "\n" not in line and "[channels.file] path" in line and f"is {what}" in line, line


def test_the_scheduled_report_cannot_be_the_database(home: Path, emomon: Emomon) -> None:
    write_config(home, "alerts.jsonl", '\n[schedule]\nreport_output = "emomon.db"\n')
    before = snapshot(home)
    line = one_line(emomon(home, "--config", "config.toml", "alerts", "list"), ExitStatus.CONFIG)
    assert "[schedule] report_output" in line and "the database" in line, line
    assert snapshot(home) == before


@pytest.mark.parametrize("log_file", ["config.toml", "emomon.db-wal"])
def test_the_cron_log_cannot_be_the_config_or_the_database(home: Path, emomon: Emomon, log_file: str) -> None:
    before = snapshot(home)
    line = one_line(emomon(home, "--config", "config.toml", "cron", "--log-file", log_file))
    assert "refusing" in line and log_file in line, line
    assert snapshot(home) == before


def test_a_link_made_after_the_settings_loaded_is_refused_when_the_alerts_are_written(home: Path) -> None:
    """The check runs again on the file opened: a link swapped in later loses nothing."""
    settings = load_settings(home / "config.toml", {})
    channel = JsonlChannel(settings.channels.file.path, settings.protected_paths())
    payload: dict[str, Any] = alert_payload(
        {
            "id": 1,
            "rule": "level",
            "subject_kind": "author",
            "subject": "a-1",
            "severity": "high",
            "trigger_at": "2025-03-01",
        }
    )
    channel.send([payload])
    assert (home / "alerts.jsonl").read_text(encoding="utf-8").count("\n") == 1
    for kind, target in (("symlink", "emomon.db"), ("symlink", "config.toml"), ("hardlink", "emomon.db")):
        (home / "alerts.jsonl").unlink()
        if kind == "symlink":
            (home / "alerts.jsonl").symlink_to(home / target)
        else:
            os.link(home / target, home / "alerts.jsonl")
        before = snapshot(home)
        with pytest.raises(ChannelError, match="channels.file.path") as err:
            channel.send([payload])
        assert "refusing to append" in str(err.value)
        assert snapshot(home) == before
