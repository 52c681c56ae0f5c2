"""Settings: ``config.toml`` plus ``EMOMON_*`` environment variables, validated when loaded.

Each TOML section is a frozen dataclass. A section is parsed generically from its field types
(``str``, ``int``, ``float``, ``bool``, ``Path``, ``tuple[str, ...]``, ``dict[str, str]``,
``X | None`` and nested section dataclasses), then checked by its own ``_check_<section>``
function. Unknown keys and wrong types raise :class:`ConfigError` naming the key and the value.

Environment overrides: ``EMOMON_DATABASE_URL`` and ``EMOMON_<SECTION>_<KEY>`` for every scalar
(or list, comma-separated) key of a top-level section, e.g. ``EMOMON_INGEST_BATCH_SIZE=500``.
``EMOMON_PSEUDONYM_SALT`` sets ``privacy.pseudonym_salt``.
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.errors import ConfigError

SOURCE_KINDS = ("feed", "jsonl", "csv", "parquet", "mastodon", "x", "reddit")
COLUMN_KEYS = ("id", "text", "author", "created_at", "url", "language")


@dataclass(frozen=True)
class DatabaseSettings:
    """[database] section."""

    url: str = "sqlite:///emomon.db"


@dataclass(frozen=True)
class IngestSettings:
    """[ingest] section."""

    batch_size: int = 2000
    max_text_chars: int = 20_000
    max_raw_chars: int = 4_000
    timeout_s: float = 20.0
    max_bytes: int = 20_000_000
    user_agent: str = "emomon/0.1 (+https://github.com/emomon/emomon)"


@dataclass(frozen=True)
class SourceSettings:
    """One [[sources]] entry.

    ``location`` is a URL, or a path/glob made absolute against the config file's directory.
    ``platform`` keys author handles (default: the kind for mastodon/x/reddit, the host for
    feed URLs, else the source name).
    """

    name: str
    kind: str
    location: str
    columns: dict[str, str] = field(default_factory=dict)
    enabled: bool = True
    platform: str | None = None

    def author_platform(self) -> str:
        """The platform part of this source's author keys."""
        if self.platform:
            return self.platform
        if self.kind in ("mastodon", "x", "reddit"):
            return self.kind
        host = urlparse(self.location).hostname if is_url(self.location) else None
        return host or self.name


@dataclass(frozen=True)
class PrivacySettings:
    """[privacy] section."""

    exclude_authors: tuple[str, ...] = ()
    opt_out_markers: tuple[str, ...] = ("#nobots", "#noindex")
    pseudonym_salt: str | None = None


# ---------------------------------------------------------------------------------------------
# Trends, alerts, channels, schedule, retention
# ---------------------------------------------------------------------------------------------

SEVERITIES = ("low", "medium", "high")
CHANNEL_NAMES = ("terminal", "file", "webhook", "email")
SCHEDULE_JOBS = ("ingest", "score", "alerts", "report")


@dataclass(frozen=True)
class TrendsSettings:
    """[trends]: how scores become trends (see monitor/trends.py for the statistics)."""

    by: str = "day"
    short_window_days: int = 7
    long_window_days: int = 30
    threshold: float = 0.5
    recent_days: int = 7
    min_posts_big5: int = 20
    baseline_prior_posts: float = 5.0
    min_std: float = 0.05


@dataclass(frozen=True)
class LevelRule:
    """[alerts.rules.level]: an author's mean index over ``window_days`` >= ``threshold``."""

    enabled: bool = True
    severity: str = "medium"
    cooldown_hours: float = 168.0
    threshold: float = 0.6
    window_days: int = 7
    min_posts: int = 3


@dataclass(frozen=True)
class RiseRule:
    """[alerts.rules.rise]: the CUSUM of an author's z-scores against their baseline > ``h``."""

    enabled: bool = True
    severity: str = "high"
    cooldown_hours: float = 168.0
    k: float = 0.5
    h: float = 4.0
    z_cap: float = 2.5
    min_baseline_posts: int = 5


@dataclass(frozen=True)
class BurstRule:
    """[alerts.rules.burst]: ``count`` posts with index >= ``post_threshold`` in ``window_hours``."""

    enabled: bool = True
    severity: str = "high"
    cooldown_hours: float = 72.0
    post_threshold: float = 0.8
    count: int = 3
    window_hours: float = 24.0


@dataclass(frozen=True)
class SourceShiftRule:
    """[alerts.rules.source_shift]: a source's daily mean index moves ``z`` SDs from its baseline."""

    enabled: bool = True
    severity: str = "low"
    cooldown_hours: float = 168.0
    z: float = 3.0
    baseline_days: int = 28
    min_baseline_days: int = 7
    min_posts: int = 10
    direction: str = "up"


@dataclass(frozen=True)
class AlertRules:
    """[alerts.rules.*]."""

    level: LevelRule = field(default_factory=LevelRule)
    rise: RiseRule = field(default_factory=RiseRule)
    burst: BurstRule = field(default_factory=BurstRule)
    source_shift: SourceShiftRule = field(default_factory=SourceShiftRule)


@dataclass(frozen=True)
class AlertsSettings:
    """[alerts]: evaluation window, delivery channels and what payloads may carry."""

    lookback_days: int = 90
    channels: tuple[str, ...] = ("terminal", "file")
    excerpt: bool = False
    excerpt_chars: int = 200
    rules: AlertRules = field(default_factory=AlertRules)


@dataclass(frozen=True)
class FileChannel:
    """[channels.file]: append one JSON object a line."""

    path: Path = Path("alerts.jsonl")


@dataclass(frozen=True)
class WebhookChannel:
    """[channels.webhook]: HTTP POST of each alert as JSON."""

    url: str = ""
    secret_env: str = "EMOMON_WEBHOOK_SECRET"
    secret_header: str = "X-Emomon-Secret"
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0


@dataclass(frozen=True)
class EmailChannel:
    """[channels.email]: one digest e-mail per run over SMTP."""

    host: str = "localhost"
    port: int = 25
    starttls: bool = False
    cafile: Path | None = None
    username: str = ""
    password_env: str = "EMOMON_SMTP_PASSWORD"
    sender: str = "emomon@localhost"
    recipients: tuple[str, ...] = ()
    timeout: float = 10.0


@dataclass(frozen=True)
class ChannelsSettings:
    """[channels.*]."""

    file: FileChannel = field(default_factory=FileChannel)
    webhook: WebhookChannel = field(default_factory=WebhookChannel)
    email: EmailChannel = field(default_factory=EmailChannel)


@dataclass(frozen=True)
class ScheduleSettings:
    """[schedule]: when `emomon schedule` (or the system cron) runs each stage."""

    timezone: str = "UTC"
    ingest: str = "*/15 * * * *"
    score: str = "0 2 * * *"
    alerts: str = "30 2 * * *"
    report: str = "0 7 * * *"
    lock_timeout: float = 600.0
    misfire_grace_hours: float = 6.0
    jobstore_url: str = ""


@dataclass(frozen=True)
class RetentionSettings:
    """[retention]: raw text older than ``raw_text_days`` is removed (0 keeps it forever)."""

    raw_text_days: int = 365


@dataclass(frozen=True)
class ModelSettings:
    """[model]: the trained model directory and the training datasets (relative to the config file)."""

    path: str = "models/emomon-mtl-v1"
    datasets: str = "../shared/datasets"


SCORING_DEVICES = ("auto", "cpu", "cuda")
SCORING_PRECISIONS = ("auto", "bf16", "fp32")
WINDOW_COMBINE = ("max", "mean")
SCORING_OVERLAP = ("auto", "thread", "inline")


@dataclass(frozen=True)
class ScoringIndex:
    """[scoring.index]: depression-index weights per emotion label (empty: the model's own)."""

    goemotions: dict[str, float] = field(default_factory=dict)
    carer: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ScoringSettings:
    """[scoring]: how `emomon score` runs the model over the store (see monitor/score.py)."""

    device: str = "auto"
    precision: str = "auto"
    batch_tokens: int = 8192
    chunk_size: int = 8192
    languages: tuple[str, ...] = ("en",)
    language_prior: float = 10.0
    window_stride: int = 64
    window_emotions: str = "max"
    window_traits: str = "mean"
    overlap: str = "auto"
    index: ScoringIndex = field(default_factory=ScoringIndex)


@dataclass(frozen=True)
class Settings:
    """All settings; ``path`` is the config file read (None: built-in defaults)."""

    path: Path | None
    base_dir: Path
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    ingest: IngestSettings = field(default_factory=IngestSettings)
    sources: tuple[SourceSettings, ...] = ()
    privacy: PrivacySettings = field(default_factory=PrivacySettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    # ---- sections of later stages: add the field here, its dataclass above, and a check ----
    trends: TrendsSettings = field(default_factory=TrendsSettings)
    alerts: AlertsSettings = field(default_factory=AlertsSettings)
    channels: ChannelsSettings = field(default_factory=ChannelsSettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)

    def source(self, name: str) -> SourceSettings | None:
        """The configured source called ``name``, if any."""
        return next((s for s in self.sources if s.name == name), None)


# Top-level TOML keys and the Settings field each one fills (list-of-tables handled apart).
_SECTIONS: dict[str, type] = {
    "database": DatabaseSettings,
    "ingest": IngestSettings,
    "privacy": PrivacySettings,
    "model": ModelSettings,
    "scoring": ScoringSettings,
    "trends": TrendsSettings,
    "alerts": AlertsSettings,
    "channels": ChannelsSettings,
    "schedule": ScheduleSettings,
    "retention": RetentionSettings,
}


def is_url(location: str) -> bool:
    """True for http(s) URLs (anything else is a local path)."""
    return location.startswith(("http://", "https://"))


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Read, override and validate settings.

    Args:
        path: The TOML file; None uses the built-in defaults relative to the working directory.
        env: Environment variables (only ``EMOMON_*`` are looked at).

    Raises:
        ConfigError: The file is missing or unreadable, or a key or value is invalid.
    """
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    if path is not None:
        path = Path(path).expanduser().resolve()
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConfigError(
                f"config file {str(path)!r} not found: pass --config PATH or set EMOMON_CONFIG"
            ) from exc
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from exc
        base_dir = path.parent
    data = _apply_env(data, env)

    known = set(_SECTIONS) | {"sources"}
    for key in data:
        if key not in known:
            raise ConfigError(f"unknown config section {key!r}: known are {sorted(known)}")
    values: dict[str, Any] = {}
    for key, cls in _SECTIONS.items():
        values[key] = _build(cls, data.get(key, {}), key)
    raw_sources = data.get("sources", [])
    if not isinstance(raw_sources, list):
        raise ConfigError(f"sources must be a list of [[sources]] tables, got {raw_sources!r}")
    values["sources"] = tuple(
        _build(SourceSettings, item, f"sources[{i}]") for i, item in enumerate(raw_sources)
    )
    settings = Settings(path=path, base_dir=base_dir, **values)
    return _check(settings)


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    data = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    overrides: dict[tuple[str, str], str] = {}
    if env.get("EMOMON_DATABASE_URL"):
        overrides[("database", "url")] = env["EMOMON_DATABASE_URL"]
    if env.get("EMOMON_PSEUDONYM_SALT"):
        overrides[("privacy", "pseudonym_salt")] = env["EMOMON_PSEUDONYM_SALT"]
    for section, cls in _SECTIONS.items():
        for f in dataclasses.fields(cls):
            name = f"EMOMON_{section.upper()}_{f.name.upper()}"
            if name in env:
                overrides[(section, f.name)] = env[name]
    for (section, key), raw in overrides.items():
        cls = _SECTIONS[section]
        ftype = typing.get_type_hints(cls)[key]
        data.setdefault(section, {})[key] = _from_env(raw, ftype, f"{section}.{key}")
    return data


def _from_env(raw: str, ftype: Any, key: str) -> Any:
    base = _strip_optional(ftype)
    try:
        if base is bool:
            if raw.lower() in ("1", "true", "yes", "on"):
                return True
            if raw.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if base is int:
            return int(raw)
        if base is float:
            return float(raw)
        if typing.get_origin(base) is tuple:
            return [part.strip() for part in raw.split(",") if part.strip()]
    except ValueError as exc:
        raise ConfigError(f"environment value for {key} {raw!r} is not a valid {base}") from exc
    return raw


def _strip_optional(ftype: Any) -> Any:
    args = typing.get_args(ftype)
    if typing.get_origin(ftype) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else ftype
    return ftype


def _build(cls: type, raw: Any, where: str) -> Any:
    """Build a section dataclass from a TOML table, checking keys and value types."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[{where}] must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in fields:
            raise ConfigError(f"unknown key {where}.{key} = {raw[key]!r}: known keys are {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, f in fields.items():
        if name in raw:
            kwargs[name] = _coerce(raw[name], hints[name], f"{where}.{name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(f"missing key {where}.{name}: add `{name} = ...` to [{where}]")
    return cls(**kwargs)


def _coerce(value: Any, ftype: Any, key: str) -> Any:
    origin = typing.get_origin(ftype)
    args = typing.get_args(ftype)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        return _coerce(value, _strip_optional(ftype), key)
    if dataclasses.is_dataclass(ftype):
        return _build(ftype, value, key)  # type: ignore[arg-type]
    if ftype is bool:
        if isinstance(value, bool):
            return value
    elif ftype is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif ftype is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif ftype is str:
        if isinstance(value, str):
            return value
    elif ftype is Path:
        if isinstance(value, str):
            return Path(value)
    elif origin is tuple:
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return tuple(value)
    elif origin is dict:
        if typing.get_args(ftype)[1] is float:
            if isinstance(value, dict) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value.values()
            ):
                return {k: float(v) for k, v in value.items()}
        elif isinstance(value, dict) and all(isinstance(v, str) for v in value.values()):
            return dict(value)
    else:  # pragma: no cover - a section declared a type this parser does not know
        raise TypeError(f"unsupported settings type {ftype!r} for {key}")
    raise ConfigError(f"{key} = {value!r} has the wrong type: expected {_type_name(ftype)}")


def _type_name(ftype: Any) -> str:
    origin = typing.get_origin(ftype)
    if origin is tuple:
        return "a list of strings"
    if origin is dict:
        return "a table of numbers" if typing.get_args(ftype)[1] is float else "a table of strings"
    return getattr(ftype, "__name__", str(ftype))


def _check(settings: Settings) -> Settings:
    """Cross-field validation and path resolution; returns the final settings."""
    database = _check_database(settings.database, settings.base_dir)
    ingest = settings.ingest
    for key in ("batch_size", "max_text_chars", "max_raw_chars", "max_bytes"):
        if getattr(ingest, key) < 1:
            raise ConfigError(f"ingest.{key} = {getattr(ingest, key)!r} must be at least 1")
    if ingest.timeout_s <= 0:
        raise ConfigError(f"ingest.timeout_s = {ingest.timeout_s!r} must be positive")
    sources = tuple(
        _check_source(s, i, settings.base_dir) for i, s in enumerate(settings.sources)
    )
    names = [s.name for s in sources]
    for name in names:
        if names.count(name) > 1:
            raise ConfigError(f"sources: the name {name!r} is used twice: give each source its own name")
    ops = _check_ops(settings)
    _check_scoring(settings.scoring)
    return dataclasses.replace(settings, database=database, sources=sources, **ops)


def _check_scoring(sc: ScoringSettings) -> None:
    """Validate [scoring] and [scoring.index]."""
    for key, value, allowed in (
        ("device", sc.device, SCORING_DEVICES),
        ("precision", sc.precision, SCORING_PRECISIONS),
        ("window_emotions", sc.window_emotions, WINDOW_COMBINE),
        ("window_traits", sc.window_traits, WINDOW_COMBINE),
        ("overlap", sc.overlap, SCORING_OVERLAP),
    ):
        if value not in allowed:
            raise ConfigError(f"scoring.{key} = {value!r} must be one of {', '.join(allowed)}")
    for key in ("batch_tokens", "chunk_size", "window_stride"):
        if getattr(sc, key) < 1:
            raise ConfigError(f"scoring.{key} = {getattr(sc, key)!r} must be at least 1")
    if not sc.languages or any(not lang.strip() for lang in sc.languages):
        raise ConfigError(
            f"scoring.languages = {list(sc.languages)!r} must list language codes, e.g. [\"en\"]"
        )
    if sc.language_prior < 0:
        raise ConfigError(f"scoring.language_prior = {sc.language_prior!r} must be at least 0")
    for head in ("goemotions", "carer"):
        for label, weight in getattr(sc.index, head).items():
            if weight < 0:
                raise ConfigError(
                    f"scoring.index.{head}.{label} = {weight!r} must be at least 0 (0 drops it)"
                )


def _check_database(db: DatabaseSettings, base_dir: Path) -> DatabaseSettings:
    try:
        url = make_url(db.url)
    except ArgumentError as exc:
        raise ConfigError(f"database.url = {db.url!r} is not a SQLAlchemy URL (e.g. sqlite:///emomon.db)") from exc
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return db
    path = Path(url.database).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    if not path.parent.is_dir():
        raise ConfigError(
            f"database.url = {db.url!r}: the directory {str(path.parent)!r} does not exist; create it"
        )
    return DatabaseSettings(url=url.set(database=str(path)).render_as_string(hide_password=False))


def _check_source(source: SourceSettings, index: int, base_dir: Path) -> SourceSettings:
    where = f"sources[{index}]"
    if not source.name.strip():
        raise ConfigError(f"{where}.name = {source.name!r} must not be empty")
    if source.kind not in SOURCE_KINDS:
        raise ConfigError(f"{where}.kind = {source.kind!r} is not one of {', '.join(SOURCE_KINDS)}")
    for key in source.columns:
        if key not in COLUMN_KEYS:
            raise ConfigError(
                f"{where}.columns.{key} is not a known column: use {', '.join(COLUMN_KEYS)}"
            )
    location = source.location.strip()
    if not location:
        raise ConfigError(f"{where}.location = {source.location!r} must not be empty")
    if is_url(location):
        if source.kind != "feed":
            raise ConfigError(f"{where}.location = {location!r}: only kind = \"feed\" reads URLs")
        return dataclasses.replace(source, location=location)
    path = Path(location).expanduser()
    if not path.is_absolute():
        path = base_dir / path
    return dataclasses.replace(source, location=str(path))


def _check_ops(settings: Settings) -> dict[str, Any]:
    """Validate [trends], [alerts], [channels], [schedule], [retention]; resolve their paths."""
    t = settings.trends
    if t.by not in ("day", "week"):
        raise ConfigError(f"trends.by = {t.by!r} must be \"day\" or \"week\"")
    for key in ("short_window_days", "long_window_days", "recent_days", "min_posts_big5"):
        _at_least(f"trends.{key}", getattr(t, key), 1)
    _unit("trends.threshold", t.threshold)
    _at_least("trends.baseline_prior_posts", t.baseline_prior_posts, 0)
    if t.min_std <= 0:
        raise ConfigError(f"trends.min_std = {t.min_std!r} must be positive")

    a = settings.alerts
    _at_least("alerts.lookback_days", a.lookback_days, 1)
    _at_least("alerts.excerpt_chars", a.excerpt_chars, 1)
    for name in a.channels:
        if name not in CHANNEL_NAMES:
            raise ConfigError(
                f"alerts.channels has {name!r}: use any of {', '.join(CHANNEL_NAMES)}"
            )
    if len(set(a.channels)) != len(a.channels):
        raise ConfigError(f"alerts.channels = {list(a.channels)!r} names a channel twice")
    for rule_name in ("level", "rise", "burst", "source_shift"):
        rule = getattr(a.rules, rule_name)
        where = f"alerts.rules.{rule_name}"
        if rule.severity not in SEVERITIES:
            raise ConfigError(
                f"{where}.severity = {rule.severity!r} must be one of {', '.join(SEVERITIES)}"
            )
        _at_least(f"{where}.cooldown_hours", rule.cooldown_hours, 0)
    r = a.rules
    _unit("alerts.rules.level.threshold", r.level.threshold)
    _at_least("alerts.rules.level.window_days", r.level.window_days, 1)
    _at_least("alerts.rules.level.min_posts", r.level.min_posts, 1)
    _at_least("alerts.rules.rise.k", r.rise.k, 0)
    if r.rise.h <= 0:
        raise ConfigError(f"alerts.rules.rise.h = {r.rise.h!r} must be positive")
    if r.rise.z_cap <= r.rise.k:
        raise ConfigError(
            f"alerts.rules.rise.z_cap = {r.rise.z_cap!r} must be greater than k = {r.rise.k!r}"
        )
    _at_least("alerts.rules.rise.min_baseline_posts", r.rise.min_baseline_posts, 0)
    _unit("alerts.rules.burst.post_threshold", r.burst.post_threshold)
    _at_least("alerts.rules.burst.count", r.burst.count, 1)
    if r.burst.window_hours <= 0:
        raise ConfigError(
            f"alerts.rules.burst.window_hours = {r.burst.window_hours!r} must be positive"
        )
    s = r.source_shift
    if s.z <= 0:
        raise ConfigError(f"alerts.rules.source_shift.z = {s.z!r} must be positive")
    _at_least("alerts.rules.source_shift.baseline_days", s.baseline_days, 1)
    _at_least("alerts.rules.source_shift.min_baseline_days", s.min_baseline_days, 1)
    _at_least("alerts.rules.source_shift.min_posts", s.min_posts, 1)
    if s.direction not in ("up", "both"):
        raise ConfigError(
            f"alerts.rules.source_shift.direction = {s.direction!r} must be \"up\" or \"both\""
        )

    c = settings.channels
    hook = c.webhook
    if "webhook" in a.channels and not is_url(hook.url):
        raise ConfigError(
            f"channels.webhook.url = {hook.url!r}: set an http(s) URL or remove \"webhook\" "
            "from alerts.channels"
        )
    _at_least("channels.webhook.retries", hook.retries, 0)
    for key in ("timeout", "backoff"):
        _at_least(f"channels.webhook.{key}", getattr(hook, key), 0)
    mail = c.email
    if "email" in a.channels and not mail.recipients:
        raise ConfigError(
            "channels.email.recipients = []: list at least one address or remove \"email\" "
            "from alerts.channels"
        )
    if not 0 < mail.port < 65536:
        raise ConfigError(f"channels.email.port = {mail.port!r} must be between 1 and 65535")
    channels = dataclasses.replace(
        c,
        file=dataclasses.replace(c.file, path=_resolve(c.file.path, settings.base_dir)),
        email=dataclasses.replace(
            mail, cafile=_resolve(mail.cafile, settings.base_dir) if mail.cafile else None
        ),
    )

    sched = settings.schedule
    try:
        zone = ZoneInfo(sched.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(
            f"schedule.timezone = {sched.timezone!r} is not a known time zone "
            "(use an IANA name such as \"Europe/Berlin\" or \"UTC\")"
        ) from exc
    for job in SCHEDULE_JOBS:
        expr = getattr(sched, job)
        if not expr:
            continue  # an empty string leaves the stage out of the schedule
        try:
            CronTrigger.from_crontab(expr, timezone=zone)
        except ValueError as exc:
            raise ConfigError(
                f"schedule.{job} = {expr!r} is not a cron expression "
                f"(five fields: minute hour day month weekday, e.g. \"0 2 * * *\"): {exc}"
            ) from exc
    _at_least("schedule.lock_timeout", sched.lock_timeout, 0)
    if sched.misfire_grace_hours <= 0:
        raise ConfigError(
            f"schedule.misfire_grace_hours = {sched.misfire_grace_hours!r} must be positive"
        )
    _at_least("retention.raw_text_days", settings.retention.raw_text_days, 0)
    return {"channels": channels}


def _at_least(key: str, value: float, low: float) -> None:
    if value < low:
        raise ConfigError(f"{key} = {value!r} must be at least {low}")


def _unit(key: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key} = {value!r} must be between 0 and 1")


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path
