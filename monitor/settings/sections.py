"""The section models other than alerts and channels (see :mod:`monitor.settings.alerts`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Literal, Self
from urllib.parse import urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import Field, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from monitor.choices import Device, Precision, ScoringEngine, SourceKind
from monitor.locations import is_url
from monitor.settings.base import COLUMN_KEYS, Combine, Table, Unit, Weight, choices
from monitor.stages import STAGE_NAMES


class DatabaseSettings(Table):
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


class IngestSettings(Table):
    """[ingest] section."""

    batch_size: int = Field(default=2000, ge=1)
    max_text_chars: int = Field(default=20_000, ge=1)
    max_raw_chars: int = Field(default=4_000, ge=1)
    timeout_s: float = Field(default=20.0, gt=0, le=86_400)
    max_bytes: int = Field(default=20_000_000, ge=1)
    # Bounded work per source (monitor/ingest/limits.py).
    max_line_bytes: int = Field(default=1_000_000, ge=1)
    max_decompressed_bytes: int = Field(default=2_000_000_000, ge=1)
    max_document_bytes: int = Field(default=200_000_000, ge=1)
    source_budget_s: float = Field(default=600.0, gt=0, allow_inf_nan=False, le=86_400)
    user_agent: str = "emomon/0.1 (+https://github.com/emomon/emomon)"
    # Posts dated after the run's clock + this, or before `earliest`, are rejected.
    future_tolerance_hours: float = Field(default=24.0, ge=0, le=100_000)
    earliest: date = Field(default=date(1990, 1, 1), strict=False)


#: The platform of authors in files (JSON Lines, CSV, Parquet, a feed file) without ``platform``.
FILE_PLATFORM = "file"


class SourceSettings(Table):
    """One [[sources]] entry.

    ``location`` is a URL, or a path/glob made absolute against the config file's directory.
    ``platform`` keys author identities (default: the kind for mastodon/x/reddit, the host for
    feed URLs, else ``"file"``): never the source's name, so renaming a source, or configuring
    one first read ad hoc, keeps its authors' pseudonyms.
    """

    name: str
    kind: SourceKind
    location: str
    columns: dict[str, str] = Field(default_factory=dict)
    enabled: bool = True
    platform: str | None = None
    # A closed archive: alerts replay its authors' whole timelines, whatever the run's clock.
    archive: bool = False
    # Store this source's mood shifts (rule source_shift) as alerts; otherwise a report trend only.
    alert_on_shift: bool = False

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
                raise ValueError(f"has the unknown column {key!r}; use any of {choices(COLUMN_KEYS)}")
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
        """The platform part of this source's author identities (see :mod:`monitor.identity`)."""
        if self.platform:
            return self.platform
        if self.kind in ("mastodon", "x", "reddit"):
            return self.kind
        host = urlparse(self.location).hostname if is_url(self.location) else None
        return host or FILE_PLATFORM


class PrivacySettings(Table):
    """[privacy] section."""

    exclude_authors: tuple[str, ...] = Field(default=(), strict=False)
    opt_out_markers: tuple[str, ...] = Field(default=("#nobots", "#noindex"), strict=False)
    pseudonym_salt: str | None = None
    allow_reveal: bool = False


class ModelSettings(Table):
    """[model]: the trained model directory and the training datasets (relative to the config file)."""

    path: str = "models/emomon-mtl-v3"
    datasets: str = "../shared/datasets"


class ScoringIndex(Table):
    """[scoring.index]: depression-index weights per emotion label (empty: the model's own)."""

    goemotions: dict[str, Weight] = Field(default_factory=dict)
    carer: dict[str, Weight] = Field(default_factory=dict)


class ScoringSettings(Table):
    """[scoring]: how `emomon score` runs the model over the store (see monitor/score)."""

    device: Device = "auto"
    precision: Precision = "auto"
    batch_tokens: int = Field(default=8192, ge=1)
    chunk_size: int = Field(default=8192, ge=1)
    languages: tuple[str, ...] = Field(default=("en", "ko"), strict=False)
    language_prior: float = Field(default=10.0, ge=0)
    window_stride: int = Field(default=64, ge=1)
    window_emotions: Combine = "max"
    window_traits: Combine = "mean"
    overlap: Literal["auto", "thread", "inline"] = "auto"
    engine: ScoringEngine = "local"
    ray_address: str = ""
    ray_actors: int = Field(default=0, ge=0)
    index: ScoringIndex = Field(default_factory=ScoringIndex)

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, languages: tuple[str, ...]) -> tuple[str, ...]:
        if not languages or any(not lang.strip() for lang in languages):
            raise ValueError('must list language codes; use e.g. ["en"]')
        return languages


class TrendsSettings(Table):
    """[trends]: how scores become trends (see monitor/trends.py for the statistics)."""

    by: Literal["day", "week"] = "day"
    short_window_days: int = Field(default=7, ge=1, le=36_500)
    long_window_days: int = Field(default=30, ge=1, le=36_500)
    threshold: Unit = 0.5
    recent_days: int = Field(default=7, ge=1, le=36_500)
    min_posts_big5: int = Field(default=20, ge=1)
    baseline_prior_posts: float = Field(default=5.0, ge=0)
    min_std: float = Field(default=0.05, gt=0)


_SCHEDULE_OPTIONS = ("timezone", "lock_timeout", "misfire_grace_hours", "jobstore_url", "report_output", "report_email")


class ScheduleSettings(Table):
    """[schedule]: when `emomon schedule` (or the system cron) runs each stage.

    Every other key than the options in ``_SCHEDULE_OPTIONS`` is a stage of
    ``monitor.stages.STAGE_NAMES`` with a cron expression; "" leaves the stage out.
    """

    timezone: str = "UTC"
    ingest: str = "*/15 * * * *"
    score: str = "0 2 * * *"
    alerts: str = "30 2 * * *"
    purge: str = "0 3 * * *"
    report: str = "0 7 * * *"
    lock_timeout: float = Field(default=600.0, ge=0, le=86_400)
    misfire_grace_hours: float = Field(default=6.0, gt=0, le=876_000)
    jobstore_url: str = ""
    report_output: str = ""
    report_email: tuple[str, ...] = Field(default=(), strict=False)

    @model_validator(mode="before")
    @classmethod
    def _stage_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in data:
                if key not in _SCHEDULE_OPTIONS and key not in STAGE_NAMES:
                    known = ", ".join((*_SCHEDULE_OPTIONS, *STAGE_NAMES))
                    raise PydanticCustomError(
                        "unknown_key",
                        "unknown key {key}; known keys: {known}",
                        {"key": key, "known": known},
                    )
        return data

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError("is not a known time zone; use an IANA name such as 'Europe/Berlin' or 'UTC'") from exc
        return name

    @field_validator("report_output")
    @classmethod
    def _output_placeholders(cls, path: str) -> str:
        try:
            path.format(date="2025-01-01")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError("may only contain the placeholder {date}, e.g. 'reports/emomon-{date}.html'") from exc
        return path

    @field_validator("report_email")
    @classmethod
    def _addresses(cls, addresses: tuple[str, ...]) -> tuple[str, ...]:
        for address in addresses:
            if "@" not in address or address != address.strip():
                raise ValueError(f"{address!r} is not an e-mail address such as 'team@example.org'")
        return addresses

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
        exprs = {stage: getattr(self, stage, "") for stage in STAGE_NAMES}
        return {stage: expr for stage, expr in exprs.items() if expr}


class RetentionSettings(Table):
    """[retention]: raw text is removed ``raw_text_days`` after ingestion (0 keeps it forever)."""

    raw_text_days: int = Field(default=365, ge=0, le=36_500)
