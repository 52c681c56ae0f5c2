from pathlib import Path

import pytest

from monitor.config import load_settings
from monitor.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_repo_config_loads_and_resolves_paths_against_its_directory():
    settings = load_settings(REPO / "config.toml", {})
    assert settings.database.url == f"sqlite:///{REPO / 'emomon.db'}"
    names = [s.name for s in settings.sources]
    assert "example-jsonl" in names
    for source in settings.sources:
        assert Path(source.location).is_absolute()
        assert Path(source.location).exists(), source.location


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.privacy.opt_out_markers == ("#nobots", "#noindex")
    assert settings.database.url == f"sqlite:///{tmp_path / 'emomon.db'}"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("[ingest]\nbatch_sise = 3\n", "unknown key ingest.batch_sise = 3"),
        ("[ingest]\nbatch_size = 'many'\n", "ingest.batch_size = 'many' has the wrong type"),
        ("[ingest]\nbatch_size = 0\n", "ingest.batch_size = 0 must be at least 1"),
        ("[privacy]\nopt_out_markers = '#x'\n", "privacy.opt_out_markers = '#x'"),
        ("[bogus]\n", "unknown config section 'bogus'"),
        ("[database]\nurl = 'sqlite:///no/such/dir/x.db'\n", "does not exist"),
        ("[[sources]]\nname = 'a'\nkind = 'rss'\nlocation = 'x'\n", "sources[0].kind = 'rss'"),
        ("[[sources]]\nname = 'a'\nkind = 'csv'\n", "missing key sources[0].location"),
        ("[[sources]]\nname = 'a'\nkind = 'csv'\nlocation = 'x'\ncolumns = {body = 'b'}\n", "columns.body"),
        ("[[sources]]\nname='a'\nkind='csv'\nlocation='x'\n[[sources]]\nname='a'\nkind='csv'\nlocation='y'\n", "used twice"),
        ("[[sources]]\nname = 'a'\nkind = 'csv'\nlocation = 'https://x.org/a.csv'\n", "only kind"),
        ("not toml = = 1", "not valid TOML"),
        ("[alerts.rules.rise]\nk = 1.0\nz_cap = 0.5\n", "rise.z_cap = 0.5 must be greater than k"),
        ("[scoring]\noverlap = 'yes'\n", "scoring.overlap = 'yes' must be one of auto, thread, inline"),
    ],
)
def test_invalid_config_names_key_and_value(tmp_path, toml, message):
    path = tmp_path / "config.toml"
    path.write_text(toml)
    with pytest.raises(ConfigError) as info:
        load_settings(path, {})
    assert message in str(info.value)


def test_environment_overrides(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text("[ingest]\nbatch_size = 10\n")
    settings = load_settings(path, {
        "EMOMON_INGEST_BATCH_SIZE": "20",
        "EMOMON_PRIVACY_OPT_OUT_MARKERS": "#a, #b",
        "EMOMON_DATABASE_URL": "sqlite:///other.db",
        "EMOMON_PSEUDONYM_SALT": "pepper",
    })
    assert settings.ingest.batch_size == 20
    assert settings.privacy.opt_out_markers == ("#a", "#b")
    assert settings.privacy.pseudonym_salt == "pepper"
    assert settings.database.url == f"sqlite:///{tmp_path / 'other.db'}"


def test_bad_environment_value_names_variable(tmp_path):
    with pytest.raises(ConfigError, match="ingest.batch_size 'lots'"):
        load_settings(None, {"EMOMON_INGEST_BATCH_SIZE": "lots"})


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.toml", {})
