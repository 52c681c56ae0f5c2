"""Messages that guide: a mistyped name, a filter that matches nothing, a missing config or path."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.errors import ExitStatus

POST = {"id": "1", "text": "an invented post", "author": "quiet_harbor", "created_at": "2025-03-01T10:00:00Z"}


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A config with one configured source, ingested once."""
    (tmp_path / "posts.jsonl").write_text(json.dumps(POST) + "\n", encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[database]\nurl = "sqlite:///e.db"\n[[sources]]\nname = "forum"\nkind = "jsonl"\nlocation = "posts.jsonl"\n',
        encoding="utf-8",
    )
    assert run(tmp_path, "ingest").exit_code == 0
    return tmp_path


def run(site: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(site / "config.toml"), *args])


def test_a_mistyped_source_name_suggests_the_configured_one(site: Path) -> None:
    result = run(site, "ingest", "froum")
    assert result.exit_code == 1
    assert "no source named 'froum' and no such file: did you mean 'forum'? known sources: forum" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["report", "--source", "nosuch"], "no source named 'nosuch'; known: forum"),
        (["report", "--author", "quiet_harbor"], "authors are shown by pseudonym (a-…)"),
        (["author", "quiet_harbor"], "authors are shown by pseudonym (a-…)"),
    ],
)
def test_a_filter_that_matches_nothing_says_which(site: Path, args: list[str], message: str) -> None:
    result = run(site, *args)
    assert result.exit_code == 1 and message in result.output
    assert "quiet_harbor" not in result.output.replace("'quiet_harbor'", "")  # echoed back, never looked up


@pytest.mark.parametrize("command", [["report"], ["alerts", "list"], ["author", "a-000000000000"]])
def test_since_after_until_is_a_usage_error(site: Path, command: list[str]) -> None:
    result = run(site, *command, "--since", "2025-03-05", "--until", "2025-03-01")
    assert result.exit_code == 2
    assert "--since 2025-03-05 is not before --until 2025-03-01" in result.output


def test_sources_add_without_a_config_offers_init(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    result = CliRunner().invoke(cli, ["sources", "add", "forum", "posts.jsonl"])
    assert result.exit_code == ExitStatus.CONFIG and "create one here with `emomon init`" in result.output


def test_sources_add_warns_about_a_path_that_does_not_exist(site: Path) -> None:
    result = run(site, "sources", "add", "later", "dumps/later.jsonl")
    assert result.exit_code == 0
    assert "does not exist (yet)" in result.output and "later.jsonl" in result.output


def test_a_failed_adhoc_source_can_be_removed(site: Path) -> None:
    bad = site / "bad.jsonl"
    bad.write_text("{broken\n", encoding="utf-8")
    assert run(site, "ingest", str(bad)).exit_code == ExitStatus.FAILED  # its one record was rejected
    name = str(bad.resolve())
    refused = run(site, "sources", "remove", name)
    assert refused.exit_code == 1 and "only in the database" in refused.output and "--purge" in refused.output
    removed = run(site, "sources", "remove", name, "--purge")
    assert removed.exit_code == 0, removed.output
    listed = json.loads(run(site, "sources", "list", "--json").output)
    assert [s["name"] for s in listed["sources"]] == ["forum"]
    unknown = run(site, "sources", "remove", "nosuch", "--purge")
    assert unknown.exit_code == 1 and "no source named 'nosuch'" in unknown.output
