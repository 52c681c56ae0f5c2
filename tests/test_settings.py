"""monitor.settings: loading, environment overlay, one-line errors, defaults = config.toml."""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from monitor.errors import ConfigError
from monitor.settings import (
    AlertRules,
    LevelRule,
    RiseRule,
    ScheduleSettings,
    Settings,
    load_settings,
)

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "config.toml"

# Keys the code knows that config.toml leaves commented out (checked below).
COMMENTED_OUT = {"privacy.pseudonym_salt", "channels.email.cafile", "scoring.index.goemotions", "scoring.index.carer"}


def load(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> Settings:
    path = tmp_path / "config.toml"
    path.write_text(toml, encoding="utf-8")
    return load_settings(path, env or {})


def error(tmp_path: Path, toml: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, toml, env)
    return str(info.value).replace(str(tmp_path / "config.toml"), "config.toml")


# ---- the shipped file and the defaults -------------------------------------------------------


def test_repo_config_loads_and_resolves_paths_against_its_directory():
    settings = load_settings(SHIPPED, {})
    assert settings.path == SHIPPED
    assert settings.base_dir == REPO
    assert settings.database.url == f"sqlite:///{REPO / 'emomon.db'}"
    assert settings.channels.file.path == REPO / "alerts.jsonl"
    assert "example-jsonl" in [s.name for s in settings.sources]
    for source in settings.sources:
        assert Path(source.location).is_absolute()
        assert Path(source.location).exists(), source.location
    assert settings.source("example-csv") is not None
    assert settings.source("example-csv").columns["text"] == "body"
    assert settings.source("nope") is None


def test_defaults_without_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, {})
    assert settings.path is None
    assert settings.privacy.opt_out_markers == ("#nobots", "#noindex")
    assert settings.database.url == f"sqlite:///{tmp_path / 'emomon.db'}"
    assert settings.channels.file.path == tmp_path / "alerts.jsonl"


def _leaves(raw: dict[str, Any], obj: BaseModel, where: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted key, settings value) for every key config.toml sets, recursing into tables."""
    for key, value in raw.items():
        assert key in type(obj).model_fields, f"config.toml has {where}{key}, the code does not"
        current = getattr(obj, key)
        if isinstance(current, BaseModel):
            yield from _leaves(value, current, f"{where}{key}.")
        else:
            yield f"{where}{key}", current


def _get(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def test_code_defaults_equal_the_shipped_config(tmp_path):
    # Both files in one directory, so relative paths resolve alike.
    shutil.copy(SHIPPED, tmp_path / "shipped.toml")
    shipped = load_settings(tmp_path / "shipped.toml", {})
    empty = load(tmp_path, "")
    raw = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))
    raw.pop("sources")  # the example sources are examples, not defaults
    leaves = dict(_leaves(raw, shipped))
    assert len(leaves) > 80 and "alerts.rules.burst.post_threshold" in leaves
    drift = {key: (_get(empty, key), value) for key, value in leaves.items() if _get(empty, key) != value}
    assert drift == {}, "code default != config.toml (code, file): fix one of them"
    assert empty.model_dump(exclude={"path", "sources"}) == shipped.model_dump(exclude={"path", "sources"})


def _code_keys(model: type[BaseModel], where: str = "") -> Iterator[str]:
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel):
            yield from _code_keys(sub, f"{where}{name}.")
        else:
            yield f"{where}{name}"


def test_every_code_key_is_in_the_shipped_config():
    text = SHIPPED.read_text(encoding="utf-8")
    raw = tomllib.loads(text)
    keys = set(_code_keys(Settings)) - {"path", "base_dir", "sources"}
    missing = set()
    for key in keys:
        try:
            _get_raw(raw, key)
        except KeyError:
            missing.add(key)
    assert missing == COMMENTED_OUT
    for key in COMMENTED_OUT:
        assert f"# {key.rsplit('.', 1)[1]} =" in text, f"{key} is not even commented in config.toml"


def _get_raw(raw: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        raw = raw[part]
    return raw


def test_models_default_to_the_tuned_rule_values_and_are_frozen():
    rules = AlertRules()
    assert (rules.level.threshold, rules.level.min_posts, rules.rise.h, rules.rise.min_baseline_posts) == (
        0.5,
        4,
        4.0,
        10,
    )
    assert (rules.burst.post_threshold, rules.burst.count, rules.burst.window_hours) == (0.7, 5, 72.0)
    with pytest.raises(ValidationError):
        rules.level.threshold = 0.1  # type: ignore[misc]
    with pytest.raises(ValidationError, match="extra"):
        LevelRule(treshold=0.5)  # type: ignore[call-arg]
    with pytest.raises(ValidationError):
        RiseRule(k=1.0, z_cap=0.5)


def test_schedule_stages_are_the_pipeline_registry():
    from monitor.stages import STAGE_NAMES

    options = {"timezone", "lock_timeout", "misfire_grace_hours", "jobstore_url", "report_output", "report_email"}
    assert set(ScheduleSettings.model_fields) - options == set(STAGE_NAMES)
    assert list(ScheduleSettings().jobs) == list(STAGE_NAMES)  # registry order
    assert list(ScheduleSettings(ingest="", purge="").jobs) == [s for s in STAGE_NAMES if s not in ("ingest", "purge")]


# ---- one error class each: the file, the key, the value and the fix on one line ----------------


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        # unknown keys and sections
        (
            "[scoring]\npresicion = 'fp16'\n",
            "config.toml: unknown key [scoring] presicion; known keys: device, precision, batch_tokens",
        ),
        ("[alerts.rules.rise]\nhh = 1.0\n", "unknown key [alerts.rules.rise] hh; known keys: enabled,"),
        (
            "[[sources]]\nname = 'a'\nkind = 'csv'\nlocation = 'x'\npath = 'y'\n",
            "unknown key [[sources]] #1 path; known keys: name, kind, location",
        ),
        ("[bogus]\n", "config.toml: unknown section [bogus]; known sections: database, ingest"),
        ("base_dir = '/'\n", "config.toml: unknown section [base_dir]"),
        (
            "[schedule]\nweekly = '0 0 * * 0'\n",
            "unknown key [schedule] weekly; known keys: timezone, lock_timeout, misfire_grace_hours, "
            "jobstore_url, report_output, report_email, ingest, score, alerts",
        ),
        # wrong types (strict: no strings for numbers, no numbers for bools)
        (
            "[ingest]\nbatch_size = 'many'\n",
            "config.toml: [ingest] batch_size = 'many' has the wrong type; use a whole number",
        ),
        ("[ingest]\nbatch_size = '20'\n", "[ingest] batch_size = '20' has the wrong type"),
        ("[ingest]\nbatch_size = 2.5\n", "[ingest] batch_size = 2.5 has the wrong type; use a whole number"),
        ("[alerts]\nexcerpt = 1\n", "[alerts] excerpt = 1 has the wrong type; use true or false"),
        (
            "[privacy]\nopt_out_markers = '#x'\n",
            "[privacy] opt_out_markers = '#x' has the wrong type; use a list of quoted strings",
        ),
        (
            "[privacy]\nexclude_authors = ['a', 3]\n",
            "[privacy] exclude_authors[1] = 3 has the wrong type; use a quoted string",
        ),
        ("[alerts]\nrules = 3\n", "[alerts] rules = 3 has the wrong type; use a table"),
        (
            "[scoring.index]\ncarer = { sadness = 'lots' }\n",
            "[scoring.index] carer.sadness = 'lots' has the wrong type; use a number",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'csv'\n",
            "config.toml: missing key [[sources]] #1 location; add `location = ...`",
        ),
        # out of range
        (
            "[ingest]\nbatch_size = 0\n",
            "config.toml: [ingest] batch_size = 0 is out of range; use a value of at least 1",
        ),
        ("[trends]\nthreshold = 1.5\n", "[trends] threshold = 1.5 is out of range; use a value between 0 and 1"),
        ("[trends]\nmin_std = 0.0\n", "[trends] min_std = 0.0 is out of range; use a value above 0"),
        (
            "[channels.email]\nport = 70000\n",
            "[channels.email] port = 70000 is out of range; use a value between 1 and 65535",
        ),
        (
            "[scoring.index]\ngoemotions = { sadness = -1.0 }\n",
            "[scoring.index] goemotions.sadness = -1.0 is out of range; use a value of at least 0",
        ),
        # not one of the allowed values
        (
            "[scoring]\nprecision = 'fp16'\n",
            "config.toml: [scoring] precision = 'fp16' is not allowed; use one of 'auto', 'bf16', 'int8', 'fp32'",
        ),
        (
            "[scoring]\noverlap = 'yes'\n",
            "[scoring] overlap = 'yes' is not allowed; use one of 'auto', 'thread', 'inline'",
        ),
        (
            "[alerts]\nchannels = ['terminal', 'sms']\n",
            "[alerts] channels[1] = 'sms' is not allowed; use one of 'terminal', 'file', 'webhook', 'email'",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'rss'\nlocation = 'x'\n",
            "[[sources]] #1 kind = 'rss' is not allowed; use one of 'feed', 'jsonl'",
        ),
        # nan and inf
        ("[ingest]\ntimeout_s = nan\n", "[ingest] timeout_s = nan is not a finite number"),
        ("[alerts.rules.rise]\nh = inf\n", "[alerts.rules.rise] h = inf is not a finite number"),
        ("[scoring.index]\ncarer = { fear = inf }\n", "[scoring.index] carer.fear = inf is not a finite number"),
        # field and cross-field checks
        (
            "[alerts.rules.rise]\nk = 1.0\nz_cap = 0.5\n",
            "config.toml: [alerts.rules.rise] z_cap = 0.5 must be greater than k = 1.0; raise z_cap or lower k",
        ),
        (
            "[alerts]\nchannels = ['webhook']\n",
            "[channels.webhook] url = '': set an http(s) URL or remove 'webhook' from [alerts] channels",
        ),
        (
            "[alerts]\nchannels = ['email']\n[channels.email]\nrecipients = []\n",
            "[channels.email] recipients = []: list at least one address",
        ),
        ("[alerts]\nchannels = ['file', 'file']\n", "[alerts] channels = ['file', 'file'] names a channel twice"),
        (
            "[[sources]]\nname='a'\nkind='csv'\nlocation='x'\n[[sources]]\nname='a'\nkind='csv'\nlocation='y'\n",
            "[[sources]] the name 'a' is used twice; give each source its own name",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'csv'\nlocation = 'https://x.org/a.csv'\n",
            "[[sources]] #1 location = 'https://x.org/a.csv' is a URL but kind = 'csv': only kind = 'feed' reads URLs",
        ),
        (
            "[[sources]]\nname = 'a'\nkind = 'csv'\nlocation = 'x'\ncolumns = {body = 'b'}\n",
            "[[sources]] #1 columns = {'body': 'b'} has the unknown column 'body'; use any of 'id', 'text'",
        ),
        ("[[sources]]\nname = ' '\nkind = 'csv'\nlocation = 'x'\n", "[[sources]] #1 name = ' ' must not be empty"),
        ("[scoring]\nlanguages = ['en', ' ']\n", "[scoring] languages = ['en', ' '] must list language codes"),
        (
            "[database]\nurl = 'sqlite:///no/such/dir/x.db'\n",
            "[database] url = 'sqlite:///no/such/dir/x.db': the directory",
        ),
        ("[database]\nurl = 'no url'\n", "[database] url = 'no url' is not a SQLAlchemy URL"),
        (
            "[schedule]\ntimezone = 'Mars/Olympus'\n",
            "[schedule] timezone = 'Mars/Olympus' is not a known time zone; use an IANA name",
        ),
        ("[schedule]\nscore = 'nightly'\n", "[schedule] score = 'nightly' is not a cron expression"),
    ],
)
def test_invalid_config_is_one_line_naming_key_value_and_fix(tmp_path, toml, message):
    text = error(tmp_path, toml)
    assert message in text
    assert text.startswith("config.toml")
    assert "\n" not in text


def test_several_problems_report_the_first_and_count_the_rest(tmp_path):
    text = error(tmp_path, "[ingest]\nbatch_size = 0\nmax_bytes = 0\n[trends]\nby = 'month'\n")
    assert text.startswith("config.toml: [ingest] batch_size = 0 is out of range")
    assert text.endswith("(and 2 more problems)")


@pytest.mark.parametrize(
    ("toml", "line"),
    [
        ("[ingest]\nbatch_size = 5\nnot toml = = 1\n", 3),
        ("[ingest]\nbatch_size = [1,\n", 3),
        ("[ingest]\n[ingest]\n", 2),
    ],
)
def test_toml_syntax_error_names_file_and_line(tmp_path, toml, line):
    text = error(tmp_path, toml)
    assert text.startswith(f"config.toml:{line}: not valid TOML: ")
    assert "(at line" not in text and "\n" not in text


def test_missing_config_file(tmp_path):
    with pytest.raises(ConfigError, match="not found: name another config file or set EMOMON_CONFIG"):
        load_settings(tmp_path / "nope.toml", {})


# ---- environment ------------------------------------------------------------------------------


def test_environment_overrides(tmp_path):
    settings = load(
        tmp_path,
        "[ingest]\nbatch_size = 10\n[alerts]\nexcerpt = false\n",
        {
            "EMOMON_INGEST_BATCH_SIZE": "20",
            "EMOMON_INGEST_TIMEOUT_S": "2.5",
            "EMOMON_ALERTS_EXCERPT": "yes",
            "EMOMON_PRIVACY_OPT_OUT_MARKERS": "#a, #b",
            "EMOMON_DATABASE_URL": "sqlite:///other.db",
            "EMOMON_PSEUDONYM_SALT": "pepper",
            "EMOMON_SCHEDULE_SCORE": "",
        },
    )
    assert settings.ingest.batch_size == 20
    assert settings.ingest.timeout_s == 2.5
    assert settings.alerts.excerpt is True
    assert settings.privacy.opt_out_markers == ("#a", "#b")
    assert settings.privacy.pseudonym_salt == "pepper"
    assert settings.database.url == f"sqlite:///{tmp_path / 'other.db'}"
    assert settings.schedule.score == "" and "score" not in settings.schedule.jobs


def test_environment_ignores_unknown_variables_and_keeps_the_file(tmp_path):
    settings = load(
        tmp_path,
        "[ingest]\nbatch_size = 10\n",
        {
            "EMOMON_INGEST_BATCH_SISE": "1",
            "EMOMON_CONFIG": "x.toml",
            "EMOMON_WEBHOOK_SECRET": "s",
            "EMOMON_PSEUDONYM_SALT": "",
        },
    )
    assert settings.ingest.batch_size == 10
    assert settings.privacy.pseudonym_salt is None


def test_specific_salt_variable_wins_over_the_alias(tmp_path):
    settings = load(tmp_path, "", {"EMOMON_PSEUDONYM_SALT": "a", "EMOMON_PRIVACY_PSEUDONYM_SALT": "b"})
    assert settings.privacy.pseudonym_salt == "b"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"EMOMON_INGEST_BATCH_SIZE": "lots"},
            "environment: EMOMON_INGEST_BATCH_SIZE='lots' ([ingest] batch_size) is not a whole number; "
            "set e.g. EMOMON_INGEST_BATCH_SIZE=2000",
        ),
        (
            {"EMOMON_ALERTS_EXCERPT": "maybe"},
            "environment: EMOMON_ALERTS_EXCERPT='maybe' ([alerts] excerpt) is not true or false",
        ),
        ({"EMOMON_TRENDS_MIN_STD": "-"}, "EMOMON_TRENDS_MIN_STD='-' ([trends] min_std) is not a number"),
        (
            {"EMOMON_INGEST_BATCH_SIZE": "0"},
            "environment: EMOMON_INGEST_BATCH_SIZE='0' ([ingest] batch_size) is out of range; "
            "use a value of at least 1",
        ),
        (
            {"EMOMON_TRENDS_THRESHOLD": "nan"},
            "EMOMON_TRENDS_THRESHOLD='nan' ([trends] threshold) is not a finite number",
        ),
        (
            {"EMOMON_SCORING_PRECISION": "fp16"},
            "environment: EMOMON_SCORING_PRECISION='fp16' ([scoring] precision) is not allowed; use one of 'auto'",
        ),
        (
            {"EMOMON_ALERTS_CHANNELS": "terminal,sms"},
            "EMOMON_ALERTS_CHANNELS='terminal,sms' ([alerts] channels[1]) is not allowed",
        ),
        ({"EMOMON_ALERTS_RULES": "{}"}, "environment: EMOMON_ALERTS_RULES names the table [alerts.rules]"),
    ],
)
def test_bad_environment_value_names_the_variable(tmp_path, env, message):
    assert message in error(tmp_path, "[ingest]\nbatch_size = 10\n", env)


@pytest.mark.parametrize(
    ("table", "key", "value"),
    [
        ("alerts", "lookback_days", "100000000"),
        ("alerts.rules.level", "cooldown_hours", "1e300"),
        ("alerts.rules.burst", "window_hours", "1e300"),
        ("ingest", "timeout_s", "1e300"),
        ("schedule", "lock_timeout", "1e300"),
        ("retention", "raw_text_days", "10000000"),
        ("channels.email", "timeout", "1e300"),
    ],
)
def test_durations_have_an_upper_bound(tmp_path, table, key, value):
    """A huge but finite duration is one config error, not an OverflowError at run time."""
    cfg = tmp_path / "config.toml"
    cfg.write_text(f"[{table}]\n{key} = {value}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=rf"\[{re.escape(table)}\] {key} = \S+ is out of range; use a value"):
        load_settings(cfg, {})


def test_a_scheme_in_capitals_is_still_a_url(make_settings):
    from monitor.ingest.registry import canonical_location, guess_kind

    url = "HTTPS://example.org/feed.xml"
    source = make_settings(f'[[sources]]\nname = "news"\nkind = "feed"\nlocation = "{url}"\n').sources[0]
    assert source.location == url  # not made a path under the config's directory
    assert source.author_platform() == "example.org"
    assert guess_kind(url) == "feed" and canonical_location(url) == "https://example.org/feed.xml"
    with pytest.raises(ConfigError, match="is a URL but kind = 'jsonl'"):
        make_settings(f'[[sources]]\nname = "news"\nkind = "jsonl"\nlocation = "{url}"\n')
