import json
import re
import shutil
from pathlib import Path

import click
import pytest

from monitor.cli import cli
from monitor.errors import ExitStatus

REPO = Path(__file__).resolve().parents[2]


def _commands(group: click.Group, prefix: str = ""):
    for name, command in group.commands.items():
        path = f"{prefix}{name}"
        if isinstance(command, click.Group):
            yield from _commands(command, path + " ")
        else:
            yield path, command


ALL_COMMANDS = sorted(_commands(cli), key=lambda item: item[0])


@pytest.mark.parametrize(("path", "command"), ALL_COMMANDS, ids=[p for p, _ in ALL_COMMANDS])
def test_every_command_and_option_has_help_with_example(path, command):
    assert command.help and "Example" in command.help, f"emomon {path} needs help text with an example"
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help and "Example" in param.help, f"emomon {path} {param.opts[0]} needs help with an example"


def test_readme_has_exactly_two_fresh_machine_commands():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = [c.strip() for c in re.findall(r"```sh\n(.+?)\n\s*```", quick, flags=re.DOTALL)]
    assert len(commands) == 2
    assert commands[0].startswith("pip install torch==2.13.0 && pip install -e . && emomon ")
    assert commands[1] == "pip install torch==2.13.0 && pip install -e '.[dev]' && pytest -q"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A copy of the default config and examples in a temporary working directory."""
    shutil.copy(REPO / "config.toml", tmp_path / "config.toml")
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EMOMON_CONFIG", raising=False)
    monkeypatch.delenv("EMOMON_DATABASE_URL", raising=False)
    return tmp_path


def test_ingest_default_config_json(project, runner):
    result = runner.invoke(cli, ["ingest", "--json", "example-jsonl", "example-csv", "example-reddit"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [s["name"] for s in data["sources"]] == ["example-jsonl", "example-csv", "example-reddit"]
    for entry in [*data["sources"], data["totals"]]:
        assert entry["read"] == sum(entry[k] for k in ("inserted", "updated", "duplicate", "rejected", "excluded"))
    jsonl = data["sources"][0]
    assert (jsonl["read"], jsonl["inserted"], jsonl["rejected"], jsonl["excluded"]) == (10, 7, 2, 1)
    again = json.loads(runner.invoke(cli, ["ingest", "--json", "example-jsonl"]).stdout)
    assert again["totals"]["duplicate"] == 7 and again["totals"]["inserted"] == 0
    assert (project / "emomon.db").exists()


def test_ingest_table_output_and_adhoc_path(project, runner):
    result = runner.invoke(cli, ["ingest", "examples/posts.jsonl"])
    assert result.exit_code == 0, result.output
    assert "inserted" in result.stdout and "total" in result.stdout


def test_missing_source_exits_failed_with_one_line(project, runner):
    result = runner.invoke(cli, ["ingest", "--json", "nowhere.jsonl"])
    assert result.exit_code == ExitStatus.FAILED
    assert "Traceback" not in result.output
    assert "not found" in result.stderr
    assert json.loads(result.stdout)["sources"][0]["status"] == "error"


def test_config_error_is_one_clean_line(tmp_path, runner):
    bad = tmp_path / "bad.toml"
    bad.write_text("[ingest]\nbatch_size = 'x'\n")
    result = runner.invoke(cli, ["--config", str(bad), "ingest"])
    assert result.exit_code == ExitStatus.CONFIG
    assert result.stderr.strip().count("\n") == 0
    assert "[ingest] batch_size = 'x'" in result.stderr and "whole number" in result.stderr


def test_usage_error_exits_2(runner):
    assert runner.invoke(cli, ["ingest", "--format", "pdf", "x"]).exit_code == 2
    assert runner.invoke(cli, ["no-such-command"]).exit_code == 2


def test_db_upgrade_and_current(tmp_path, runner):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    up = runner.invoke(cli, ["--db", url, "db", "upgrade", "--json"])
    assert up.exit_code == 0, up.output
    state = json.loads(up.stdout)
    assert state["before"] is None and state["after"] == state["head"]
    current = json.loads(runner.invoke(cli, ["--db", url, "db", "current", "--json"]).stdout)
    assert current["up_to_date"] is True


def test_old_schema_tells_user_to_upgrade(tmp_path, runner):
    from monitor.store import engine as db

    url = f"sqlite:///{tmp_path / 'old.db'}"
    db.upgrade(db.make_engine(url), "0001")
    result = runner.invoke(cli, ["--db", url, "ingest", "--json", str(REPO / "examples" / "posts.jsonl")])
    assert result.exit_code == 1
    assert "schema out of date: run `emomon db upgrade`" in result.stderr


def test_sources_add_list_remove(project, runner):
    shutil.copy(project / "examples" / "posts.csv", project / "forum.csv")  # example-csv reads posts.csv
    added = runner.invoke(
        cli, ["sources", "add", "forum", "forum.csv", "--column", "text=body", "--column", "id=post_id"]
    )
    assert added.exit_code == 0, added.output
    assert "forum" in (project / "config.toml").read_text()
    dup = runner.invoke(cli, ["sources", "add", "forum", "forum.csv"])
    assert dup.exit_code == ExitStatus.CONFIG and "already exists" in dup.stderr
    ingested = runner.invoke(cli, ["ingest", "--json", "forum"])
    assert json.loads(ingested.stdout)["totals"]["inserted"] == 8
    listed = json.loads(runner.invoke(cli, ["sources", "list", "--json"]).stdout)["sources"]
    forum = next(s for s in listed if s["name"] == "forum")
    assert (forum["posts"], forum["rejected"], forum["kind"]) == (8, 1, "csv")
    removed = runner.invoke(cli, ["sources", "remove", "forum", "--purge"])
    assert removed.exit_code == 0, removed.output
    text = (project / "config.toml").read_text()
    assert 'name = "forum"' not in text and "example-jsonl" in text
    listed = json.loads(runner.invoke(cli, ["sources", "list", "--json"]).stdout)["sources"]
    assert "forum" not in [s["name"] for s in listed]
    missing = runner.invoke(cli, ["sources", "remove", "forum"])
    assert missing.exit_code == 1 and "no source named 'forum'" in missing.stderr


def test_bad_column_option_is_usage_error(project, runner):
    result = runner.invoke(cli, ["sources", "add", "f", "examples/posts.csv", "--column", "body"])
    assert result.exit_code == 2
