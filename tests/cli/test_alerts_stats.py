"""Verdicts close the loop: ``alerts resolve --verdict``, ``alerts stats`` and ``Emomon.verdicts``
on this run's database backend."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from review_seed import seed

from monitor.api import Emomon
from monitor.cli import cli
from monitor.errors import EmomonError


def invoke(cfg: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(cfg), *args])
    return result.exit_code, result.output


@pytest.fixture
def cfg(tmp_path: Path, db_url: str) -> Path:
    path = seed(tmp_path, db_url=db_url)
    code, out = invoke(path, "alerts", "run")
    assert code == 0, out
    return path


def test_resolve_with_a_verdict_is_counted_per_rule_and_month(cfg: Path) -> None:
    alerts = {a["rule"]: a for a in Emomon(cfg).alerts()}
    rise, level = alerts["rise"], alerts["level"]
    code, out = invoke(
        cfg, "alerts", "resolve", str(rise["id"]), "--note", "called", "--verdict", "true_alarm", "--by", "sam"
    )
    assert code == 0 and "resolved by sam (true alarm)" in out, out
    code, out = invoke(cfg, "alerts", "resolve", str(level["id"]), "--note", "fine", "--verdict", "false_alarm")
    assert code == 0, out
    code, out = invoke(cfg, "alerts", "stats", "--json")
    assert code == 0, out
    rows = json.loads(out)["stats"]
    month = rise["trigger_at"][:7]
    assert {(r["rule"], r["month"], r["true_alarm"], r["false_alarm"], r["unsure"], r["precision"]) for r in rows} == {
        ("rise", month, 1, 0, 0, 1.0),
        ("level", level["trigger_at"][:7], 0, 1, 0, 0.0),
    }
    code, out = invoke(cfg, "alerts", "stats")
    assert code == 0 and "verdicts on 2 resolved alert(s)" in out and month in out and "100%" in out
    verdicts = {v["alert_id"]: v for v in Emomon(cfg).verdicts()}
    assert verdicts[rise["id"]]["verdict"] == "true_alarm" and verdicts[rise["id"]]["by"] == "sam"
    assert verdicts[level["id"]]["rule"] == "level"


def test_stats_without_verdicts_says_how_to_make_one(cfg: Path) -> None:
    alert = Emomon(cfg).alerts()[0]
    code, _ = invoke(cfg, "alerts", "resolve", str(alert["id"]), "--note", "no verdict given")
    assert code == 0
    code, out = invoke(cfg, "alerts", "stats")
    assert code == 0 and "verdicts on 0 resolved alert(s)" in out and "--verdict" in out


def test_a_verdict_goes_with_a_resolve_only_and_must_be_known(cfg: Path) -> None:
    api = Emomon(cfg)
    alert_id = api.alerts()[0]["id"]
    with pytest.raises(EmomonError, match="goes with resolving"):
        api.act(alert_id, "ack", note="looking", by="sam", verdict="true_alarm")
    with pytest.raises(EmomonError, match="unknown verdict 'maybe'"):
        api.act(alert_id, "resolve", note="done", by="sam", verdict="maybe")  # type: ignore[arg-type]
    assert api.alert(alert_id)["history"] == []
    code, out = invoke(cfg, "alerts", "resolve", str(alert_id), "--note", "x", "--verdict", "maybe")
    assert code == 2 and "--verdict" in out
