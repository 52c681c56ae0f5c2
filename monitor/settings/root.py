"""The root :class:`Settings` model: every section, plus paths made absolute against ``base_dir``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator
from sqlalchemy.engine import make_url

from monitor.locations import is_url
from monitor.settings.alerts import AlertsSettings, ChannelsSettings
from monitor.settings.sections import (
    DatabaseSettings,
    IngestSettings,
    ModelSettings,
    PrivacySettings,
    RetentionSettings,
    ScheduleSettings,
    ScoringSettings,
    SourceSettings,
    TrendsSettings,
)


class Settings(BaseModel):
    """All settings; ``path`` is the config file read (None: built-in defaults).

    Relative paths (the SQLite file, source locations, ``channels.file.path``,
    ``channels.email.cafile``) are made absolute against ``base_dir``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False, validate_default=True)

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
                f"url = {db.url!r}: the directory {str(path.parent)!r} does not exist; create it or change the path"
            )
        resolved = url.set(database=str(path)).render_as_string(hide_password=False)
        return db.model_copy(update={"url": resolved})

    @field_validator("sources")
    @classmethod
    def _source_files(cls, sources: tuple[SourceSettings, ...], info: ValidationInfo) -> tuple[SourceSettings, ...]:
        names = [s.name for s in sources]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"the name {name!r} is used twice; give each source its own name")
        base_dir: Path | None = info.data.get("base_dir")
        if base_dir is None:
            return sources
        return tuple(
            s if is_url(s.location) else s.model_copy(update={"location": str(_resolve(Path(s.location), base_dir))})
            for s in sources
        )

    @field_validator("channels")
    @classmethod
    def _channel_files(cls, c: ChannelsSettings, info: ValidationInfo) -> ChannelsSettings:
        base_dir: Path | None = info.data.get("base_dir")
        if base_dir is None:
            return c
        cafile = _resolve(c.email.cafile, base_dir) if c.email.cafile else None
        return c.model_copy(
            update={
                "file": c.file.model_copy(update={"path": _resolve(c.file.path, base_dir)}),
                "email": c.email.model_copy(update={"cafile": cafile}),
            }
        )

    @model_validator(mode="after")
    def _channels_configured(self) -> Self:
        if "webhook" in self.alerts.channels and not is_url(self.channels.webhook.url):
            raise ValueError(
                f"[channels.webhook] url = {self.channels.webhook.url!r}: set an http(s) URL "
                "or remove 'webhook' from [alerts] channels"
            )
        if "email" in self.alerts.channels and not self.channels.email.recipients:
            raise ValueError(
                "[channels.email] recipients = []: list at least one address or remove 'email' from [alerts] channels"
            )
        return self

    @model_validator(mode="after")
    def _outputs_unprotected(self) -> Self:
        from monitor.clock import utcnow
        from monitor.safe_write import protected_as

        protected = self.protected_paths()
        outputs = [("[channels.file] path", str(self.channels.file.path), self.channels.file.path, "alerts.jsonl")]
        if self.schedule.report_output:
            day = utcnow().date().isoformat()
            written = _resolve(Path(self.schedule.report_output.format(date=day)), self.base_dir)
            outputs.append(
                ("[schedule] report_output", self.schedule.report_output, written, "reports/emomon-{date}.html")
            )
        for key, value, path, example in outputs:
            what = protected_as(path, protected)
            if what is not None:
                raise ValueError(
                    f"{key} = {value!r} is {what}: emomon would write into it; name another file, e.g. {example!r}"
                )
        return self

    def source(self, name: str) -> SourceSettings | None:
        """The configured source called ``name``, if any."""
        return next((s for s in self.sources if s.name == name), None)

    def model_dir(self, override: Path | None = None) -> Path:
        """The model directory: ``override`` or ``[model] path``, relative to ``base_dir``."""
        return _resolve(Path(override) if override is not None else Path(self.model.path), self.base_dir)

    def protected_paths(self) -> dict[Path, str]:
        """What no file emomon writes may be (:func:`monitor.safe_write.protected_as`): the config
        file, the SQLite database with its journal files (beside the name given and beside the
        file it links to, where SQLite puts them) and the model directory."""
        found: dict[Path, str] = {}
        if self.path is not None:
            found[self.path] = "the config file"
        url = make_url(self.database.url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            found[Path(str(url.database))] = "the database"
            for name in dict.fromkeys((str(url.database), os.path.realpath(str(url.database)))):
                for suffix in ("-wal", "-shm", "-journal"):
                    found[Path(f"{name}{suffix}")] = "a journal file of the database"
        found[_resolve(Path(self.model.path), self.base_dir)] = "the model directory"
        return found


def _resolve(path: Path, base_dir: Path) -> Path:
    path = path.expanduser()
    return path if path.is_absolute() else base_dir / path
