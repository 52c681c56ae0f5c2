"""Ingest diagnostics: a text column that never matches fails the source, naming it and the file's columns."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from monitor.errors import ExitStatus


def _ingest(tmp_path: Path, path: Path, *extra: str, status: int = ExitStatus.OK) -> dict:
    result = CliRunner().invoke(cli, ["--db", f"sqlite:///{tmp_path / 'e.db'}", "ingest", str(path), *extra, "--json"])
    assert result.exit_code == status, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("kind", ["csv", "jsonl"])
def test_a_text_column_that_never_matches_names_the_file_columns(tmp_path: Path, kind: str) -> None:
    rows = [{"post_id": str(i), "body": f"an invented post {i}", "user": "someone"} for i in range(3)]
    path = tmp_path / f"forum.{kind}"
    if kind == "csv":
        path.write_text(
            "\ufeffpost_id,body,user\n" + "".join(f"{r['post_id']},{r['body']},{r['user']}\n" for r in rows),
            encoding="utf-8",
        )
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    (source,) = _ingest(tmp_path, path, status=ExitStatus.FAILED)["sources"]
    assert (source["rejected"], source["status"], source["warnings"]) == (3, "error", [])
    assert "column 'text' matched nothing; the file has the columns post_id, body, user" in source["error"]
    assert 'columns = {text = "NAME"}' in source["error"]


def test_no_warning_when_some_records_have_text(tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps({"id": "1", "text": "a post"}) + "\n" + json.dumps({"id": "2"}) + "\n", encoding="utf-8")
    (source,) = _ingest(tmp_path, path)["sources"]
    assert source["rejected"] == 1 and source["warnings"] == []
