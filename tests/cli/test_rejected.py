"""`emomon rejected list`: quarantined records with location and reason; never the raw record."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from monitor.cli import cli


def _ingest(tmp_path: Path) -> list[str]:
    data = tmp_path / "posts.jsonl"
    data.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "1", "text": "a fine post", "author": "secret_handle", "created_at": "2025-03-01T10:00:00Z"}
                ),
                "{broken",
                json.dumps({"id": "3", "text": "", "author": "secret_handle", "created_at": "2025-03-01T10:00:00Z"}),
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    db = f"sqlite:///{tmp_path / 'e.db'}"
    result = CliRunner().invoke(cli, ["--db", db, "ingest", str(data)])
    assert result.exit_code == 0, result.output
    return ["--db", db]


def test_rejected_list_shows_location_and_reason_as_json(tmp_path: Path) -> None:
    db = _ingest(tmp_path)
    result = CliRunner().invoke(cli, [*db, "rejected", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)["rejected"]
    assert sorted(r["location"].rsplit(":", 1)[1] for r in rows) == ["2", "3"]
    assert {r["reason"].split(" ")[0] for r in rows} == {"broken", "no"}
    assert "secret_handle" not in result.output


def test_rejected_list_filters_by_reason_and_source(tmp_path: Path) -> None:
    db = _ingest(tmp_path)
    only = json.loads(CliRunner().invoke(cli, [*db, "rejected", "list", "--reason", "NO TEXT", "--json"]).output)
    assert [r["reason"] for r in only["rejected"]] == ["no text"]
    source = only["rejected"][0]["source"]
    same = json.loads(CliRunner().invoke(cli, [*db, "rejected", "list", "--source", source, "--json"]).output)
    assert len(same["rejected"]) == 2
    table = CliRunner().invoke(cli, [*db, "rejected", "list", "--reason", "nothing like this"])
    assert table.exit_code == 0 and "no rejected records for reason 'nothing like this'" in table.output


def test_an_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    db = _ingest(tmp_path)
    result = CliRunner().invoke(cli, [*db, "rejected", "list", "--source", "nosuch"])
    assert result.exit_code == 1
    assert "no source named 'nosuch'; known: " in result.output and "posts.jsonl" in result.output
