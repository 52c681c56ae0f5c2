"""Every failure is one line on stderr that names the thing and the fix, exit 1, no traceback:
damaged model directories, unusable databases, a full disk, non-finite settings, an overflowing
purge and a constraint failure whose SQL parameters hold post text.

The commands run as real subprocesses (what cron runs), on real files under tmp_path.
"""

from __future__ import annotations

import ctypes
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hostile.conftest import config_here
from pydantic import BaseModel

from monitor.errors import ConfigError, ExitStatus
from monitor.settings import Settings, load_settings
from monitor.settings.base import model_class, strip_optional

REPO = Path(__file__).resolve().parents[2]
SHIPPED_MODEL = REPO / "models" / "emomon-mtl-v3"
POST_TEXT = "my private diary line about the hospital"


def emomon(
    cwd: Path, *args: str, preexec: Callable[[], None] | None = None, wrap: tuple[str, ...] = ()
) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a fresh interpreter in ``cwd`` (no EMOMON_* variables; a config of defaults)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}
    config_here(cwd, args, env)
    command = [*wrap, sys.executable, "-c", "from monitor.cli import cli; cli(prog_name='emomon')", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, preexec_fn=preexec)


def one_line(result: subprocess.CompletedProcess[str], *, code: int = 1) -> str:
    """The single error line of a failed command."""
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == code, result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[-1]


def db_arg(path: Path) -> tuple[str, str]:
    return "--db", f"sqlite:///{path}"


# -- damaged model directories ------------------------------------------------------------------


@pytest.fixture(scope="session")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the shipped model that loads (checked once)."""
    model = tmp_path_factory.mktemp("pristine") / "model"
    shutil.copytree(SHIPPED_MODEL, model)
    result = emomon(model.parent, "predict", "--model", str(model), "--device", "cpu", "a calm day")
    assert result.returncode == 0, result.stderr
    return model


def _replace(path: Path, data: bytes) -> None:
    path.unlink()  # the copy's files are hard links to the pristine copy: never write into them
    path.write_bytes(data)


def _truncate(path: Path) -> None:
    _replace(path, path.read_bytes()[:4096])


#: case -> (the file damaged, how); the line names that file, or only the directory where the
#: file is valid JSON of the wrong shape (nothing tells which file then).
DAMAGE: dict[str, tuple[str, Callable[[Path], None]]] = {
    "truncated weights": ("model.safetensors", _truncate),
    "a pickle renamed to .safetensors": (
        "model.safetensors",
        lambda p: _replace(p, pickle.dumps({"weights": list(range(100))})),
    ),
    "config.json not JSON": ("config.json", lambda p: _replace(p, b'{"format": "emomon-model/1", ')),
    "config.json a list": ("config.json", lambda p: _replace(p, b"[1, 2]")),
    "labels.json wrong shape": ("labels.json", lambda p: _replace(p, b'{"goemotions": 3}')),
    "tokenizer.json not JSON": ("tokenizer/tokenizer.json", lambda p: _replace(p, b"{broken")),
    "tokenizer_config.json not UTF-8": ("tokenizer/tokenizer_config.json", lambda p: _replace(p, b"\xff\xfe\x00{")),
    "encoder config not JSON": ("encoder/config.json", lambda p: _replace(p, b"{broken")),
}


@pytest.mark.parametrize("case", list(DAMAGE))
def test_a_damaged_model_directory_is_one_line_naming_it(tmp_path: Path, pristine: Path, case: str) -> None:
    part, damage = DAMAGE[case]
    model = tmp_path / "model"
    shutil.copytree(pristine, model, copy_function=os.link)
    damage(model / part)
    line = one_line(emomon(tmp_path, "predict", "--model", str(model), "--device", "cpu", "a calm day"))
    assert str(model) in line and "re-export" in line, line
    if "shape" not in case and "list" not in case:
        assert part in line, line  # the damaged file is named


# -- databases ----------------------------------------------------------------------------------


def test_a_database_path_that_is_a_directory(tmp_path: Path) -> None:
    (tmp_path / "data.db").mkdir()
    line = one_line(emomon(tmp_path, *db_arg(tmp_path / "data.db"), "sources", "list"))
    assert str(tmp_path / "data.db") in line and "directory" in line and "fix: name a file" in line


def test_a_database_file_that_is_not_sqlite(tmp_path: Path) -> None:
    (tmp_path / "data.db").write_text("id,text\n1,hello\n" * 200, encoding="utf-8")
    line = one_line(emomon(tmp_path, *db_arg(tmp_path / "data.db"), "sources", "list"))
    assert str(tmp_path / "data.db") in line and "not a database" in line and "fix:" in line


def _drop_file_permission_override() -> None:
    """In the child: drop CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from the bounding set, so
    root after exec obeys file permissions like everybody else."""
    libc = ctypes.CDLL(None, use_errno=True)
    for capability in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, capability, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            os._exit(97)


@pytest.fixture()
def read_only_db(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], None] | None]]:
    """An emomon database in a directory that, with its file, cannot be written.

    Yields the file and the preexec function that makes permissions bind (as root they do not:
    the child then drops the capabilities that override them).
    """
    home = tmp_path / "ro"
    home.mkdir()
    db = home / "emomon.db"
    assert emomon(tmp_path, *db_arg(db), "db", "upgrade").returncode == 0
    with sqlite3.connect(db) as conn:  # no -wal/-shm files left for a reader to need
        conn.execute("PRAGMA journal_mode=DELETE")
    preexec = _drop_file_permission_override if os.geteuid() == 0 else None
    db.chmod(0o444)
    home.chmod(0o555)
    probe = subprocess.run(
        [sys.executable, "-c", f"open({str(db)!r}, 'a')"], preexec_fn=preexec, capture_output=True, text=True
    )
    try:
        if probe.returncode == 0:
            pytest.skip("cannot make a file read-only for this user (root without CAP_SETPCAP?)")
        yield db, preexec
    finally:
        home.chmod(0o755)
        db.chmod(0o644)


def test_a_read_only_database_still_lists_and_reports(
    read_only_db: tuple[Path, Callable[[], None] | None], tmp_path: Path
) -> None:
    db, preexec = read_only_db
    for args in (("sources", "list"), ("report", "--format", "md")):
        result = emomon(tmp_path, *db_arg(db), *args, preexec=preexec)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_writing_to_a_read_only_database_is_one_line(
    read_only_db: tuple[Path, Callable[[], None] | None], tmp_path: Path
) -> None:
    db, preexec = read_only_db
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "1", "text": "a calm day", "author": "a", "created_at": "2025-03-01T00:00:00Z"}) + "\n",
        encoding="utf-8",
    )
    line = one_line(emomon(tmp_path, *db_arg(db), "ingest", str(posts), preexec=preexec))
    assert str(db) in line and "fix:" in line and ("read" in line or "Permission denied" in line), line


def test_a_constraint_failure_prints_no_post_text(tmp_path: Path) -> None:
    """A real SQLite constraint failure on the insert of a post: its SQL parameters (the post's
    text and handle) stay out of stderr and out of the runs row."""
    db = tmp_path / "emomon.db"
    assert emomon(tmp_path, *db_arg(db), "db", "upgrade").returncode == 0
    with sqlite3.connect(db) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON posts BEGIN "
            "SELECT RAISE(ABORT, 'UNIQUE constraint failed: posts.external_id'); END"
        )
    posts = tmp_path / "posts.jsonl"
    posts.write_text(
        json.dumps({"id": "1", "text": POST_TEXT, "author": "quiet_harbor", "created_at": "2025-03-01T00:00:00Z"})
        + "\n",
        encoding="utf-8",
    )
    line = one_line(emomon(tmp_path, *db_arg(db), "ingest", str(posts)))
    assert str(db) in line and "UNIQUE constraint failed" in line and "fix:" in line
    verbose = emomon(tmp_path, "-v", *db_arg(db), "ingest", str(posts))
    assert verbose.returncode == 1 and "Traceback" in verbose.stderr  # -v shows where ...
    with sqlite3.connect(db) as conn:
        messages = [m for (m,) in conn.execute("SELECT message FROM runs WHERE command = 'ingest'")]
    assert len(messages) == 2 and all(m and "UNIQUE constraint failed" in m for m in messages)
    for text in (line, verbose.stderr, verbose.stdout, *messages):
        assert POST_TEXT not in text and "quiet_harbor" not in text  # ... never the values


# -- a full disk ----------------------------------------------------------------------------------


def _tiny_disk(mount_point: Path, size: str) -> tuple[str, ...]:
    """A command prefix running the rest in a private mount namespace with a tiny tmpfs at
    ``mount_point``; skips where this user cannot mount (unprivileged: no real full disk)."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1): a full disk cannot be made without privileges")
    script = f'mount -t tmpfs -o size={size} tmpfs "{mount_point}" && exec "$@"'
    probe = subprocess.run([unshare, "-m", "sh", "-c", script, "sh", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a private mount namespace (needs CAP_SYS_ADMIN)")
    return (unshare, "-m", "sh", "-c", script, "sh")


def test_a_full_disk_under_the_database_is_one_line(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    wrap = _tiny_disk(disk, "400k")
    posts = tmp_path / "posts.jsonl"
    with posts.open("w", encoding="utf-8") as fh:
        for i in range(3000):
            fh.write(
                json.dumps(
                    {
                        "id": str(i),
                        "text": f"an ordinary post number {i} " * 20,
                        "author": f"a{i % 50}",
                        "created_at": "2025-03-01T00:00:00Z",
                    }
                )
                + "\n"
            )
    line = one_line(emomon(tmp_path, *db_arg(disk / "emomon.db"), "ingest", str(posts), wrap=wrap))
    assert str(disk / "emomon.db") in line and "full" in line and "fix: free space" in line


def test_a_full_disk_under_the_report_keeps_the_old_report(tmp_path: Path) -> None:
    disk = tmp_path / "disk"
    disk.mkdir()
    wrap = _tiny_disk(disk, "64k")
    # Inside the namespace: an old report, a file that fills the disk, the command, then what
    # is left on the disk (on stdout: the namespace and its disk go when the shell exits).
    script = (
        'printf "the old report" > "$D/report.md"; head -c 1000000 /dev/zero > "$D/fill" 2>/dev/null; '
        '"$@"; rc=$?; printf "kept: %s\\n" "$(cat "$D/report.md")"; ls -A "$D"; exit $rc'
    )
    result = emomon(
        tmp_path,
        *db_arg(tmp_path / "emomon.db"),
        "report",
        "--format",
        "html",
        "--output",
        str(disk / "report.md"),
        wrap=(*wrap, "env", f"D={disk}", "sh", "-c", script, "sh"),
    )
    line = one_line(result)
    assert str(disk / "report.md") in line and "No space left on device" in line and "fix: free disk" in line
    assert "kept: the old report" in result.stdout
    assert sorted(result.stdout.splitlines()[1:]) == ["fill", "report.md"]  # no temporary file left


# -- settings and options -----------------------------------------------------------------------


def float_keys(model: type[BaseModel], table: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], str]]:
    """(table path, key) of every float setting, nested tables included."""
    for name, info in model.model_fields.items():
        sub = model_class(info.annotation)
        if sub is not None:
            yield from float_keys(sub, (*table, name))
        elif strip_optional(info.annotation) is float:
            yield table, name


FLOAT_KEYS = list(float_keys(Settings))


def test_every_float_setting_is_found() -> None:
    assert (("ingest",), "timeout_s") in FLOAT_KEYS and len(FLOAT_KEYS) >= 10
    assert any(len(table) > 1 for table, _ in FLOAT_KEYS)  # nested tables: [alerts.rules.level]


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("table, key", FLOAT_KEYS, ids=lambda v: ".".join(v) if isinstance(v, tuple) else v)
def test_no_float_setting_accepts_a_non_finite_number(
    tmp_path: Path, table: tuple[str, ...], key: str, value: str
) -> None:
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[{'.'.join(table)}]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"{key} = {value} is not a finite number"):
        load_settings(cfg, {})


def test_a_non_finite_timeout_from_the_environment_is_one_line(tmp_path: Path) -> None:
    env = {"EMOMON_INGEST_TIMEOUT_S": "nan"}
    config_here(tmp_path)
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "from monitor.cli import cli; cli(prog_name='emomon')",
            *db_arg(tmp_path / "emomon.db"),
            "sources",
            "list",
        ],
        cwd=tmp_path,
        env={**{k: v for k, v in os.environ.items() if not k.startswith("EMOMON_")}, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    line = one_line(result, code=ExitStatus.CONFIG)
    assert "EMOMON_INGEST_TIMEOUT_S" in line and "finite" in line


def test_purge_older_than_a_million_days_is_one_line(tmp_path: Path) -> None:
    line = one_line(emomon(tmp_path, *db_arg(tmp_path / "emomon.db"), "purge", "--older-than", "1000000"))
    assert "older than 1000000 days" in line and "(--older-than)" in line and "smaller" in line
