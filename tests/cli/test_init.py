"""`emomon init`: a commented config, a database, the next commands; never over an existing config."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import inspect

from monitor.cli import cli
from monitor.settings import load_settings
from monitor.store.engine import make_engine

REPO = Path(__file__).resolve().parents[2]


def test_init_writes_the_commented_default_with_the_shipped_model_and_creates_the_database(tmp_path: Path) -> None:
    target = tmp_path / "team"
    result = CliRunner().invoke(cli, ["init", str(target)])
    assert result.exit_code == 0, result.output
    config = target / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert text.startswith("# emomon configuration") and text.count("\n#") > 50  # comments kept
    model = tomllib.loads(text)["model"]["path"]
    assert Path(model).is_absolute() and (Path(model) / "model.safetensors").is_file()
    assert Path(model).resolve() == (REPO / "models" / "emomon-mtl-v3").resolve()
    settings = load_settings(config, {})
    assert settings.database.url == f"sqlite:///{target / 'emomon.db'}"
    assert "posts" in inspect(make_engine(settings.database.url)).get_table_names()
    lines = result.output.splitlines()
    nxt = lines[lines.index("next:") + 1 :]
    assert [line.split("#")[0].split()[:3] for line in nxt] == [["emomon", "--config", str(config)]] * 3
    assert [line.split()[3] for line in nxt] == ["sources", "run", "alerts"]


def test_init_never_overwrites_a_config(tmp_path: Path) -> None:
    (tmp_path / "config.toml").write_text("# mine\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["init", str(tmp_path)])
    assert result.exit_code == 1
    assert "already exists" in result.output and "Traceback" not in result.output
    assert (tmp_path / "config.toml").read_text(encoding="utf-8") == "# mine\n"
    assert not (tmp_path / "emomon.db").exists()


def test_init_with_a_model_directory_names_it(tmp_path: Path) -> None:
    model = REPO / "models" / "emomon-mtl-v3"
    result = CliRunner().invoke(cli, ["init", str(tmp_path), "--model", str(model)])
    assert result.exit_code == 0, result.output
    assert load_settings(tmp_path / "config.toml", {}).model.path == str(model.resolve())


def test_the_packaged_default_is_the_repository_config_with_its_examples_commented() -> None:
    """`emomon init` writes the package's copy: the config.toml the repo documents, its example
    sources as comments (their files are in the repository's examples/, not beside a new config)."""
    packaged = (REPO / "monitor" / "settings" / "default.toml").read_text(encoding="utf-8")
    head, marker, examples = packaged.partition("# Examples of each kind")
    intro, blank, tables = examples.partition("\n\n")
    assert marker and tables.startswith("# [[sources]]")
    assert all(line.startswith("# ") for line in tables.splitlines() if line), "examples must stay comments"
    assert "sources" not in tomllib.loads(packaged)
    enabled = head + marker + intro + blank + re.sub(r"(?m)^# ", "", tables)
    assert (REPO / "config.toml").read_text(encoding="utf-8") == enabled, (
        "config.toml must be monitor/settings/default.toml with the example [[sources]] uncommented"
    )
