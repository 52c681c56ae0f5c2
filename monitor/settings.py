"""Settings: ``config.toml`` plus ``EMOMON_*`` environment variables, validated by pydantic.

Every TOML table is a frozen pydantic model that forbids unknown keys; values are checked
strictly (no ``"20"`` for a number), floats must be finite, and the cross-field checks are
model validators. :func:`load_settings` turns any validation failure into one
:class:`~monitor.errors.ConfigError` line naming the file, the key, the value and the fix.

The built-in defaults are the values of the shipped ``config.toml``.

Environment overrides (:class:`EnvOverlay`): ``EMOMON_<SECTION>_<KEY>`` for every scalar or list
key of a top-level section, lists comma-separated, e.g. ``EMOMON_INGEST_BATCH_SIZE=500``;
``EMOMON_PSEUDONYM_SALT`` also sets ``privacy.pseudonym_salt``.
"""

from __future__ import annotations

import re
import tomllib
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Self
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import annotated_types
from apscheduler.triggers.cron import CronTrigger
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails, PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.errors import ConfigError

SourceKind = Literal["feed", "jsonl", "csv", "parquet", "mastodon", "x", "reddit"]
ColumnKey = Literal["id", "text", "author", "created_at", "url", "language"]
Severity = Literal["low", "medium", "high"]
ChannelName = Literal["terminal", "file", "webhook", "email"]
Combine = Literal["max", "mean"]

SOURCE_KINDS: tuple[str, ...] = typing.get_args(SourceKind)
COLUMN_KEYS: tuple[str, ...] = typing.get_args(ColumnKey)

# The tables are strict: no "20" for a number, no 1 for a bool. Lists and paths set
# strict=False, so TOML arrays and strings still become tuples and paths.
Unit = Annotated[float, Field(ge=0.0, le=1.0)]
Weight = Annotated[float, Field(ge=0.0)]


def is_url(location: str) -> bool:
    """True for http(s) URLs (anything else is a local path)."""
    return location.startswith(("http://", "https://"))


class _Table(BaseModel):
    """Base of every TOML table: frozen, unknown keys forbidden, strict types, finite floats."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True
    )


class DatabaseSettings(_Table):
    """[database] section."""

    url: str = "sqlite:///emomon.db"

    @field_validator("url")
    @classmethod
    def _sqlalchemy_url(cls, url: str) -> str:
        try:
            make_url(url)
        except ArgumentError as exc:
            raise ValueError("is not a SQLAlchemy URL; use e.g. 'sqlite:///emomon.db'") from exc
        return url


class IngestSettings(_Table):
    """[ingest] section."""

    batch_size: int = Field(default=2000, ge=1)
    max_text_chars: int = Field(default=20_000, ge=1)
    max_raw_chars: int = Field(default=4_000, ge=1)
    timeout_s: float = Field(default=20.0, gt=0)
    max_bytes: int = Field(default=20_000_000, ge=1)
    user_agent: str = "emomon/0.1 (+https://github.com/emomon/emomon)"


class SourceSettings(_Table):
    """One [[sources]] entry.

    ``location`` is a URL, or a path/glob made absolute against the config file's directory.
    ``platform`` keys author handles (default: the kind for mastodon/x/reddit, the host for
    feed URLs, else the source name).
    """

    name: str
    kind: SourceKind
    location: str
    columns: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    platform: str | None = None

    @field_validator("name")
    @classmethod
    def _named(cls, name: str) -> str:
        if not name.strip():
            raise ValueError("must not be empty; give the source a name")
        return name

    @field_validator("location")
    @classmethod
    def _located(cls, location: str) -> str:
        if not location.strip():
            raise ValueError("must not be empty; give a URL, a path or a glob")
        return location.strip()

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, columns: dict[str, str]) -> dict[str, str]:
        for key in columns:
            if key not in COLUMN_KEYS:
                raise ValueError(
                    f"has the unknown column {key!r}; use any of {_choices(COLUMN_KEYS)}"
                )
        return columns

    @model_validator(mode="after")
    def _urls_are_feeds(self) -> Self:
        if is_url(self.location) and self.kind != "feed":
            raise ValueError(
                f"location = {self.location!r} is a URL but kind = {self.kind!r}: only "
                "kind = 'feed' reads URLs; use kind = 'feed' or a local path"
            )
        return self

    def author_platform(self) -> str:
        """The platform part of this source's author keys."""
        if self.platform:
            return self.platform
        if self.kind in ("mastodon", "x", "reddit"):
            return self.kind
        host = urlparse(self.location).hostname if is_url(self.location) else None
        return host or self.name


class PrivacySettings(_Table):
    """[privacy] section."""

    exclude_authors: tuple[str, ...] = Field(default=(), strict=False)
    opt_out_markers: tuple[str, ...] = Field(default=("#nobots", "#noindex"), strict=False)
    pseudonym_salt: str | None = None


class ModelSettings(_Table):
    """[model]: the trained model directory and the training datasets (relative to the config file)."""

    path: str = "models/emomon-mtl-v1"
    datasets: str = "../shared/datasets"


class ScoringIndex(_Table):
    """[scoring.index]: depression-index weights per emotion label (empty: the model's own)."""

    goemotions: dict[str, Weight] = Field(default_factory=dict)
    carer: dict[str, Weight] = Field(default_factory=dict)


class ScoringSettings(_Table):
    """[scoring]: how `emomon score` runs the model over the store (see monitor/score)."""

    device: Literal["auto", "cpu", "cuda"] = "auto"
    precision: Literal["auto", "bf16", "fp32"] = "auto"
    batch_tokens: int = Field(default=8192, ge=1)
    chunk_size: int = Field(default=8192, ge=1)
    languages: tuple[str, ...] = Field(default=("en",), strict=False)
    language_prior: float = Field(default=10.0, ge=0)
    window_stride: int = Field(default=64, ge=1)
    window_emotions: Combine = "max"
    window_traits: Combine = "mean"
    overlap: Literal["auto", "thread", "inline"] = "auto"
    index: ScoringIndex = Field(default_factory=ScoringIndex)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        if not languages or any(not lang.strip() for lang in languages):
            raise ValueError('must list language codes; use e.g. ["en"]')
        return languages


class TrendsSettings(_Table):
    """[trends]: how scores become trends (see monitor/trends.py for the statistics)."""

    by: Literal["day", "week"] = "day"
    short_window_days: int = Field(default=7, ge=1)
    long_window_days: int = Field(default=30, ge=1)
    threshold: Unit = 0.5
    recent_days: int = Field(default=7, ge=1)
    min_posts_big5: int = Field(default=20, ge=1)
    baseline_prior_posts: float = Field(default=5.0, ge=0)
    min_std: float = Field(default=0.05, gt=0)


class LevelRule(_Table):
    """[alerts.rules.level]: an author's mean index over ``window_days`` >= ``threshold``."""

    enabled: bool = True
    severity: Severity = "medium"
    cooldown_hours: float = Field(default=168.0, ge=0)
    threshold: Unit = 0.75
    window_days: int = Field(default=7, ge=1)
    min_posts: int = Field(default=3, ge=1)


class RiseRule(_Table):
    """[alerts.rules.rise]: the CUSUM of an author's z-scores against their baseline > ``h``."""

    enabled: bool = True
    severity: Severity = "high"
    cooldown_hours: float = Field(default=168.0, ge=0)
    k: float = Field(default=0.5, ge=0)
    h: float = Field(default=6.5, gt=0)
    z_cap: float = 2.5
    min_baseline_posts: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _cap_above_allowance(self) -> Self:
        if self.z_cap <= self.k:
            raise ValueError(
                f"z_cap = {self.z_cap!r} must be greater than k = {self.k!r}; raise z_cap or lower k"
            )
        return self


class BurstRule(_Table):
    """[alerts.rules.burst]: ``count`` posts with index >= ``post_threshold`` in ``window_hours``."""

    enabled: bool = True
    severity: Severity = "high"
    cooldown_hours: float = Field(default=72.0, ge=0)
    post_threshold: Unit = 0.9
    count: int = Field(default=5, ge=1)
    window_hours: float = Field(default=24.0, gt=0)


class SourceShiftRule(_Table):
    """[alerts.rules.source_shift]: a source's daily mean index moves ``z`` SDs from its baseline."""

    enabled: bool = True
    severity: Severity = "low"
    cooldown_hours: float = Field(default=168.0, ge=0)
    z: float = Field(default=3.0, gt=0)
    baseline_days: int = Field(default=28, ge=1)
    min_baseline_days: int = Field(default=7, ge=1)
    min_posts: int = Field(default=10, ge=1)
    direction: Literal["up", "both"] = "up"


class AlertRules(_Table):
    """[alerts.rules.*]."""

    level: LevelRule = Field(default_factory=LevelRule)
    rise: RiseRule = Field(default_factory=RiseRule)
    burst: BurstRule = Field(default_factory=BurstRule)
    source_shift: SourceShiftRule = Field(default_factory=SourceShiftRule)


class AlertsSettings(_Table):
    """[alerts]: evaluation window, delivery channels and what payloads may carry."""

    lookback_days: int = Field(default=90, ge=1)
    channels: tuple[ChannelName, ...] = Field(default=("terminal", "file"), strict=False)
    excerpt: bool = False
    excerpt_chars: int = Field(default=200, ge=1)
    rules: AlertRules = Field(default_factory=AlertRules)

    @field_validator("channels")
    @classmethod
    def _each_once(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(channels)) != len(channels):
            raise ValueError("names a channel twice; list each once")
        return channels


class FileChannel(_Table):
    """[channels.file]: append one JSON object a line."""

    path: Path = Field(default=Path("alerts.jsonl"), strict=False)


class WebhookChannel(_Table):
    """[channels.webhook]: HTTP POST of each alert as JSON."""

    url: str = ""
    secret_env: str = "EMOMON_WEBHOOK_SECRET"
    secret_header: str = "X-Emomon-Secret"
    timeout: float = Field(default=10.0, ge=0)
    retries: int = Field(default=3, ge=0)
    backoff: float = Field(default=1.0, ge=0)


class EmailChannel(_Table):
    """[channels.email]: one digest e-mail per run over SMTP."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    cafile: Path | None = Field(default=None, strict=False)
    username: str = ""
    password_env: str = "EMOMON_SMTP_PASSWORD"
    sender: str = "emomon@localhost"
    recipients: tuple[str, ...] = Field(default=(), strict=False)
    timeout: float = 10.0


class ChannelsSettings(_Table):
    """[channels.*]."""

    file: FileChannel = Field(default_factory=FileChannel)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)
    email: EmailChannel = Field(default_factory=EmailChannel)


_SCHEDULE_OPTIONS = ("timezone", "lock_timeout", "misfire_grace_hours", "jobstore_url")


class ScheduleSettings(_Table):
    """[schedule]: when `emomon schedule` (or the system cron) runs each stage.

    Every other key than the options in ``_SCHEDULE_OPTIONS`` is a stage of
    ``monitor.pipeline.STAGE_NAMES`` with a cron expression; "" leaves the stage out.
    """

    timezone: str = "UTC"
    ingest: str = "*/15 * * * *"
    score: str = "0 2 * * *"
    alerts: str = "30 2 * * *"
    purge: str = "0 3 * * *"
    report: str = "0 7 * * *"
    lock_timeout: float = Field(default=600.0, ge=0)
    misfire_grace_hours: float = Field(default=6.0, gt=0)
    jobstore_url: str = ""

    @model_validator(mode="before")
    @classmethod
    def _stage_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            from monitor.pipeline import STAGE_NAMES

            for key in data:
                if key not in _SCHEDULE_OPTIONS and key not in STAGE_NAMES:
                    known = ", ".join((*_SCHEDULE_OPTIONS, *STAGE_NAMES))
                    raise PydanticCustomError(
                        "unknown_key", "unknown key {key}; known keys: {known}",
                        {"key": key, "known": known},
                    )
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                "is not a known time zone; use an IANA name such as 'Europe/Berlin' or 'UTC'"
            ) from exc
        return name

    @model_validator(mode="after")
    def _cron_expressions(self) -> Self:
        zone = ZoneInfo(self.timezone)
        for stage, expr in self.jobs.items():
            try:
                CronTrigger.from_crontab(expr, timezone=zone)
            except ValueError as exc:
                raise ValueError(
                    f"{stage} = {expr!r} is not a cron expression ({exc}); use five fields "
                    "(minute hour day month weekday), e.g. '0 2 * * *', or '' to leave it out"
                ) from exc
        return self

    @property
    def jobs(self) -> dict[str, str]:
        """``{stage: cron expression}`` of the scheduled stages, in the pipeline's order."""
        from monitor.pipeline import STAGE_NAMES

        exprs = {stage: getattr(self, stage, "") for stage in STAGE_NAMES}
        return {stage: expr for stage, expr in exprs.items() if expr}


class RetentionSettings(_Table):
    """[retention]: raw text older than ``raw_text_days`` is removed (0 keeps it forever)."""

    raw_text_days: int = Field(default=365, ge=0)


class Settings(BaseSettings):
    """All settings; ``path`` is the config file read (None: built-in defaults).

    Relative paths (the SQLite file, source locations, ``channels.file.path``,
    ``channels.email.cafile``) are made absolute against ``base_dir``.
    """

    model_config = SettingsConfigDict(
        extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True
    )

    path: Path | None = Field(default=None, strict=False)
    base_dir: Path = Field(strict=False)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    sources: tuple[SourceSettings, ...] = Field(default=(), strict=False)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    model: ModelSettings = Field(default_factory=ModelSettings)
    scoring: ScoringSettings = Field(default_factory=ScoringSettings)
    trends: TrendsSettings = Field(default_factory=TrendsSettings)
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    channels: ChannelsSettings = Field(default_factory=ChannelsSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only the arguments: :func:`load_settings` merges the file and :class:`EnvOverlay`."""
        return (init_settings,)

    @field_validator("database")
    @classmethod
    def _sqlite_file(cls, db: DatabaseSettings, info: ValidationInfo) -> DatabaseSettings:
        url = make_url(db.url)
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return db
        base_dir: Path | None = info.data.get("base_dir")
        if base_dir is None:
            return db
        path = _resolve(Path(str(url.database)), base_dir)
        if not path.parent.is_dir():
            raise ValueError(
                f"url = {db.url!r}: the directory {str(path.parent)!r} does not exist; "
                "create it or change the path"
            )
        resolved = url.set(database=str(path)).render_as_string(hide_password=False)
        return db.model_copy(update={"url": resolved})

    @field_validator("sources")
    @classmethod
    def _source_files(
        cls, sources: tuple[SourceSettings, ...], info: ValidationInfo
    ) -> tuple[SourceSettings, ...]:
        names = [s.name for s in sources]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"the name {name!r} is used twice; give each source its own name")
        base_dir: Path | None = info.data.get("base_dir")
        if base_dir is None:
            return sources
        return tuple(
            s if is_url(s.location)
            else s.model_copy(update={"location": str(_resolve(Path(s.location), base_dir))})
            for s in sources
        )

    @field_validator("channels")
    @classmethod
    def _channel_files(cls, c: ChannelsSettings, info: ValidationInfo) -> ChannelsSettings:
        base_dir: Path | None = info.data.get("base_dir")
        if base_dir is None:
            return c
        cafile = _resolve(c.email.cafile, base_dir) if c.email.cafile else None
        return c.model_copy(update={
            "file": c.file.model_copy(update={"path": _resolve(c.file.path, base_dir)}),
            "email": c.email.model_copy(update={"cafile": cafile}),
        })

    @model_validator(mode="after")
    def _channels_configured(self) -> Self:
        if "webhook" in self.alerts.channels and not is_url(self.channels.webhook.url):
            raise ValueError(
                f"[channels.webhook] url = {self.channels.webhook.url!r}: set an http(s) URL "
                "or remove 'webhook' from [alerts] channels"
            )
        if "email" in self.alerts.channels and not self.channels.email.recipients:
            raise ValueError(
                "[channels.email] recipients = []: list at least one address or remove "
                "'email' from [alerts] channels"
            )
        return self

    def source(self, name: str) -> SourceSettings | None:
        """The configured source called ``name``, if any."""
        return next((s for s in self.sources if s.name == name), None)


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path


# ---------------------------------------------------------------------------------------------
# Loading: TOML file + environment overlay
# ---------------------------------------------------------------------------------------------

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
_ALIASES = {"EMOMON_PSEUDONYM_SALT": ("privacy", "pseudonym_salt")}


class EnvOverlay(PydanticBaseSettingsSource):
    """``EMOMON_<SECTION>_<KEY>`` variables of a given mapping, as nested typed values.

    Only keys of the top-level sections are read (not sub-tables such as ``[alerts.rules]``);
    other ``EMOMON_*`` variables are ignored. ``origins`` maps ``(section, key)`` to the
    variable and its text, so errors can name the variable rather than the file.

    Raises (when called):
        ConfigError: A value does not parse as the key's type, or a variable names a table.
    """

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env
        self.origins: dict[tuple[str, str], tuple[str, str]] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """The ``{key: value}`` overrides of section ``field_name`` (None when there are none)."""
        section = _model_class(field.annotation)
        if section is None:
            return None, field_name, False
        found: dict[str, Any] = {}
        for var, (sec, key) in _ALIASES.items():
            if sec == field_name and self.env.get(var):
                found[key] = self._value(var, sec, key, section.model_fields[key])
        for key, info in section.model_fields.items():
            var = f"EMOMON_{field_name}_{key}".upper()
            if var not in self.env:
                continue
            if _model_class(info.annotation) is not None:
                raise ConfigError(
                    f"environment: {var} names the table [{field_name}.{key}]; only single "
                    "keys can be set from the environment, set the others in the config file"
                )
            found[key] = self._value(var, field_name, key, info)
        return (found or None), field_name, True

    def __call__(self) -> dict[str, Any]:
        """``{section: {key: value}}`` for every section with an override."""
        out: dict[str, Any] = {}
        for name, info in self.settings_cls.model_fields.items():
            value, _, _ = self.get_field_value(info, name)
            if value is not None:
                out[name] = value
        return out

    def _value(self, var: str, section: str, key: str, info: FieldInfo) -> Any:
        raw = self.env[var]
        self.origins[(section, key)] = (var, raw)
        base = _strip_optional(info.annotation)
        try:
            if base is bool:
                if raw.strip().lower() in _TRUE:
                    return True
                if raw.strip().lower() in _FALSE:
                    return False
                raise ValueError(raw)
            if base is int:
                return int(raw)
            if base is float:
                return float(raw)
        except ValueError as exc:
            example = "true" if base is bool else info.get_default(call_default_factory=True)
            raise ConfigError(
                f"environment: {var}={raw!r} ([{section}] {key}) is not {_expected(base)}; "
                f"set e.g. {var}={example}"
            ) from exc
        if typing.get_origin(base) is tuple:
            return [part.strip() for part in raw.split(",") if part.strip()]
        return raw


def load_settings(path: Path | None, env: Mapping[str, str]) -> Settings:
    """Read, override and validate settings.

    Args:
        path: The TOML file; None uses the built-in defaults relative to the working directory.
        env: Environment variables (only ``EMOMON_*`` are looked at).

    Raises:
        ConfigError: The file is missing, unreadable or not TOML, or a key or value is invalid.
    """
    data: dict[str, Any] = {}
    base_dir = Path.cwd()
    where = "settings"
    if path is not None:
        where = str(path)
        path = Path(path).expanduser().resolve()
        data = _read_toml(path, where)
        base_dir = path.parent
    for key in ("path", "base_dir"):
        if key in data:
            raise ConfigError(f"{where}: unknown section [{key}]; known sections: {_sections()}")
    overlay = EnvOverlay(Settings, env)
    merged = _merge(data, overlay())
    try:
        return Settings.model_validate({**merged, "path": path, "base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, where, overlay.origins)) from exc


def _read_toml(path: Path, where: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {str(path)!r} not found: pass --config PATH or set EMOMON_CONFIG"
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        line = text.count("\n") + 1
        found = re.search(r" \(at line (\d+), column (\d+)\)$", message)
        if found:
            line = int(found.group(1))
        message = re.sub(r" \(at (line \d+, column \d+|end of document)\)$", "", message)
        raise ConfigError(
            f"{where}:{line}: not valid TOML: {message}; fix the syntax on that line"
        ) from exc


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------------------
# ValidationError -> one ConfigError line
# ---------------------------------------------------------------------------------------------

_TYPE_ERRORS = {
    "bool_type", "bool_parsing", "int_type", "int_parsing", "int_from_float", "float_type",
    "float_parsing", "string_type", "path_type", "tuple_type", "list_type", "dict_type",
    "model_type", "model_attributes_type", "none_required",
}
_BOUNDS = {"ge": "of at least", "gt": "above", "le": "of at most", "lt": "below"}


def _describe(exc: ValidationError, where: str, origins: Mapping[tuple[str, str], tuple[str, str]]) -> str:
    """One line for the first error: file (or variable), table, key, value, and the fix."""
    errors = exc.errors(include_url=False)
    text = _describe_one(errors[0], where, origins)
    if len(errors) > 1:
        more = len(errors) - 1
        text += f" (and {more} more problem{'s' if more > 1 else ''})"
    return text


def _describe_one(
    err: ErrorDetails, where: str, origins: Mapping[tuple[str, str], tuple[str, str]]
) -> str:
    loc = tuple(err["loc"])
    kind = err["type"]
    ctx = err.get("ctx") or {}
    place = _place(loc, leaf=kind in _TYPE_ERRORS)
    table, key = place.table, place.key
    subject = f"{table} {key}".strip()
    shown = f" = {err.get('input')!r}"
    origin = origins.get((str(loc[0]), str(loc[1]))) if len(loc) >= 2 else None
    if origin is not None:
        where, subject, shown = "environment", f"{origin[0]}={origin[1]!r} ({subject})", ""

    if kind == "extra_forbidden":
        if not table:
            what = f"section [{key}]" if isinstance(err.get("input"), dict) else f"key {key}"
            return f"{where}: unknown {what}; known sections: {_sections()}"
        known = ", ".join(place.model.model_fields)
        return f"{where}: unknown key {table} {key}; known keys: {known}"
    if kind == "unknown_key":
        return f"{where}: unknown key {table} {ctx['key']}; known keys: {ctx['known']}"
    if kind == "missing":
        return f"{where}: missing key {subject}; add `{key} = ...` to {table}"
    if kind == "literal_error":
        choices = _literal_choices(place.annotation, ctx)
        return f"{where}: {subject}{shown} is not allowed; use one of {choices}"
    if kind in _TYPE_ERRORS:
        return f"{where}: {subject}{shown} has the wrong type; use {_expected(place.annotation)}"
    if kind == "finite_number":
        return (f"{where}: {subject}{shown} is not a finite number; "
                "use an ordinary number (no nan or inf)")
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bounds = _range(place.metadata, ctx)
        return f"{where}: {subject}{shown} is out of range; use a value {bounds}"
    if kind in ("value_error", "assertion_error"):
        message = str(ctx.get("error", err["msg"]))
        if key:
            return f"{where}: {subject}{shown} {message}"
        return f"{where}: {f'{table} ' if table else ''}{message}"
    return f"{where}: {subject}{shown}: {err['msg']}"


class _Place(NamedTuple):
    """Where an error location is in TOML terms."""

    table: str  # "[scoring]", "[[sources]] #1", "" for the top level
    key: str  # "precision", "goemotions.sadness", "channels[2]", "" for the table itself
    model: type[BaseModel]  # the model of ``table``
    annotation: Any  # the type of the value at the location (None for a table)
    metadata: list[Any]  # its constraints (Ge, Le, ...)


def _place(loc: tuple[int | str, ...], *, leaf: bool = False) -> _Place:
    """Split an error location into table label, key, model and the value's type.

    ``leaf`` keeps the last part as a key even when it names a table (``rules = 3``).
    """
    model: type[BaseModel] = Settings
    names: list[str] = []
    table = ""
    rest = list(loc)
    while rest and isinstance(rest[0], str) and rest[0] in model.model_fields:
        if leaf and len(rest) == 1:
            break
        annotation = model.model_fields[rest[0]].annotation
        sub = _model_class(annotation)
        item = _model_class(typing.get_args(annotation)[0]) if _is_tuple(annotation) else None
        if sub is not None:
            names.append(str(rest.pop(0)))
            table, model = f"[{'.'.join(names)}]", sub
        elif item is not None:
            names.append(str(rest.pop(0)))
            table = f"[[{'.'.join(names)}]]"
            if not rest or not isinstance(rest[0], int):
                return _Place(table, _key_text(tuple(rest)), item, None, [])
            table, model = f"{table} #{int(rest.pop(0)) + 1}", item
        else:
            break
    if not rest:
        return _Place(table, "", model, None, [])
    info = model.model_fields.get(str(rest[0]))
    if info is None:
        return _Place(table, _key_text(tuple(rest)), model, None, [])
    annotation = _descend(info.annotation, tuple(rest[1:]))
    metadata = list(info.metadata) if len(rest) == 1 else []  # else the violated bound
    return _Place(table, _key_text(tuple(rest)), model, annotation, metadata)


def _key_text(parts: tuple[int | str, ...]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part != "[key]":
            text += f".{part}" if text else str(part)
    return text


def _descend(annotation: Any, parts: tuple[int | str, ...]) -> Any:
    """The annotation of the element ``parts`` inside a list or table of type ``annotation``."""
    for part in parts:
        base = _strip_optional(annotation)
        args = typing.get_args(base)
        if typing.get_origin(base) is tuple and args:
            annotation = args[0]
        elif typing.get_origin(base) is dict and args:
            annotation = args[0] if part == "[key]" else args[1]
    return annotation


def _strip_optional(annotation: Any) -> Any:
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    if typing.get_origin(annotation) is Annotated:
        return _strip_optional(args[0])
    return annotation


def _model_class(annotation: Any) -> type[BaseModel] | None:
    base = _strip_optional(annotation)
    if isinstance(base, type) and issubclass(base, BaseModel):
        return base
    return None


def _is_tuple(annotation: Any) -> bool:
    return typing.get_origin(_strip_optional(annotation)) is tuple


def _expected(annotation: Any) -> str:
    """What to write instead, in TOML words."""
    base = _strip_optional(annotation)
    origin = typing.get_origin(base)
    args = typing.get_args(base)
    if base is bool:
        return "true or false"
    if base is int:
        return "a whole number"
    if base is float:
        return "a number"
    if base is str:
        return "a quoted string"
    if base is Path:
        return "a quoted path"
    if origin is Literal:
        return f"one of {_choices(args)}"
    if origin is tuple and args and _model_class(args[0]) is not None:
        return "[[...]] tables, one per entry"
    if origin is tuple:
        item = _strip_optional(args[0]) if args else str
        if typing.get_origin(item) is Literal:
            return f"a list of {_choices(typing.get_args(item))}"
        return 'a list of quoted strings, e.g. ["a", "b"]'
    if origin is dict:
        kind = "numbers" if _strip_optional(args[1]) is float else "quoted strings"
        return f"a table of {kind}, e.g. {{ key = ... }}"
    if _model_class(base) is not None:
        return "a table"
    return "a value of the documented type"


def _literal_choices(annotation: Any, ctx: Mapping[str, Any]) -> str:
    base = _strip_optional(annotation)
    if typing.get_origin(base) is Literal:
        return _choices(typing.get_args(base))
    return str(ctx.get("expected", "a documented value"))


def _range(metadata: list[Any], ctx: Mapping[str, Any]) -> str:
    """``between 0 and 1``, ``at least 1``, ... from the field's bounds (or the one violated)."""
    bounds: dict[str, Any] = {}
    for meta in metadata:
        for name, cls in (("ge", annotated_types.Ge), ("gt", annotated_types.Gt),
                          ("le", annotated_types.Le), ("lt", annotated_types.Lt)):
            if isinstance(meta, cls):
                bounds[name] = getattr(meta, name)
    bounds = bounds or {k: v for k, v in ctx.items() if k in _BOUNDS}
    if "ge" in bounds and "le" in bounds:
        return f"between {bounds['ge']:g} and {bounds['le']:g}"
    return " and ".join(f"{_BOUNDS[k]} {v:g}" for k, v in bounds.items())


def _choices(values: tuple[Any, ...]) -> str:
    return ", ".join(repr(v) for v in values)


def _sections() -> str:
    return ", ".join(k for k in Settings.model_fields if k not in ("path", "base_dir"))
