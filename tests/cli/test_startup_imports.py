"""Commands that do not score start at once: what ``import monitor.cli`` and those commands load.

Each check runs in a fresh interpreter (this test process has torch loaded already): the probe
imports the CLI, runs one command the way the ``emomon`` script does, then writes the top-level
names in ``sys.modules`` to a file. ``bench/startup.py`` measures the time these imports cost.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from review_seed import DRIFT, seed

PROBE = """
import json, sys
from monitor.cli import cli
args = json.loads(sys.argv[2])
code = 0
if args is not None:
    try:
        cli(args, prog_name="emomon")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
with open(sys.argv[1], "w", encoding="utf-8") as out:
    json.dump({"code": code, "modules": sorted({name.split(".")[0] for name in sys.modules})}, out)
"""

#: What only scoring and training need; none of it may load for a command that does not score.
SCORING = {"torch", "onnxruntime", "onnx", "transformers", "tokenizers", "safetensors"}
#: What a command loads once it reads settings or the store; ``--help`` needs none of it.
HEAVY = {"pydantic", "sqlalchemy", "alembic", "polars", "numpy", "apscheduler", "jinja2", "httpx"}


def probe(tmp_path: Path, args: list[str] | None) -> tuple[set[str], str]:
    """Run ``emomon ARGS`` (or only import the CLI) in a fresh interpreter: (modules loaded, output)."""
    report = tmp_path / "modules.json"
    env = {k: v for k, v in os.environ.items() if k not in ("EMOMON_CONFIG", "EMOMON_DATABASE_URL")}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(report), json.dumps(args)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "Traceback" not in output, output
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["code"] == 0, output
    return set(result["modules"]), output


def third_party(modules: set[str]) -> set[str]:
    """The loaded top-level modules that are neither the standard library, emomon nor start-up hooks."""
    return {m for m in modules if m not in sys.stdlib_module_names and m != "monitor" and not m.startswith("_")}


@pytest.mark.parametrize("args", [None, ["--help"]], ids=["import", "--help"])
def test_importing_the_cli_and_its_help_load_click_and_nothing_else(tmp_path: Path, args: list[str] | None) -> None:
    modules, _ = probe(tmp_path, args)
    assert third_party(modules) == {"click"}


@pytest.mark.parametrize("command", ["alerts", "report", "score", "train", "sources", "db"])
def test_a_commands_help_opens_no_database_settings_or_model(tmp_path: Path, command: str) -> None:
    modules, output = probe(tmp_path, [command, "--help"])
    assert "Example" in output
    assert not modules & (HEAVY | SCORING), f"emomon {command} --help loaded {sorted(modules & (HEAVY | SCORING))}"


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A seeded store with its alerts raised: (config path, the id of one alert)."""
    config = seed(tmp_path_factory.mktemp("store"))
    emomon = [str(Path(sys.executable).with_name("emomon")), "--config", str(config)]
    run = subprocess.run([*emomon, "alerts", "run"], capture_output=True, text=True, timeout=300, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    listed = subprocess.run(
        [*emomon, "alerts", "list", "--json"], capture_output=True, text=True, timeout=300, check=True
    )
    alerts = json.loads(listed.stdout)["alerts"]
    assert {a["subject"] for a in alerts} == {DRIFT}
    return config, alerts[0]["id"]


@pytest.mark.parametrize(
    "command",
    [
        ["alerts", "list"],
        ["alerts", "show", "{id}"],
        ["alerts", "ack", "{id}", "--note", "reading"],
        ["sources", "list"],
        ["report"],
        ["report", "--format", "json"],
    ],
    ids=lambda c: " ".join(c),
)
def test_commands_that_do_not_score_load_no_model_runtime(
    tmp_path: Path, store: tuple[Path, int], command: list[str]
) -> None:
    config, alert_id = store
    modules, output = probe(tmp_path, ["--config", str(config), *(a.format(id=alert_id) for a in command)])
    assert output.strip()
    assert not modules & SCORING, f"emomon {' '.join(command)} loaded {sorted(modules & SCORING)}"
