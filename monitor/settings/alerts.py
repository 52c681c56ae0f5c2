"""[alerts] with its rules, and the delivery [channels.*]."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self

from pydantic import Field, field_validator, model_validator

from monitor.settings.base import ChannelName, Severity, Table, Unit


class LevelRule(Table):
    """[alerts.rules.level]: an author's mean signal over ``window_days`` >= ``threshold``."""

    enabled: bool = True
    severity: Severity = "medium"
    cooldown_hours: float = Field(default=168.0, ge=0, le=876_000)
    threshold: Unit = 0.5
    window_days: int = Field(default=7, ge=1, le=36_500)
    min_posts: int = Field(default=4, ge=1)


class RiseRule(Table):
    """[alerts.rules.rise]: the CUSUM of an author's z-scores against their baseline > ``h``."""

    enabled: bool = True
    severity: Severity = "high"
    cooldown_hours: float = Field(default=168.0, ge=0, le=876_000)
    k: float = Field(default=0.5, ge=0)
    h: float = Field(default=4.0, gt=0)
    z_cap: float = 2.5
    min_baseline_posts: int = Field(default=10, ge=0)

    @model_validator(mode="after")
    def _cap_above_allowance(self) -> Self:
        if self.z_cap <= self.k:
            raise ValueError(f"z_cap = {self.z_cap!r} must be greater than k = {self.k!r}; raise z_cap or lower k")
        return self


class BurstRule(Table):
    """[alerts.rules.burst]: ``count`` posts with signal >= ``post_threshold`` in ``window_hours``."""

    enabled: bool = True
    severity: Severity = "high"
    cooldown_hours: float = Field(default=72.0, ge=0, le=876_000)
    post_threshold: Unit = 0.7
    count: int = Field(default=5, ge=1)
    window_hours: float = Field(default=72.0, gt=0, le=876_000)


class SourceShiftRule(Table):
    """[alerts.rules.source_shift]: a source's daily mean index moves ``z`` SDs from its baseline."""

    enabled: bool = True
    severity: Severity = "low"
    cooldown_hours: float = Field(default=168.0, ge=0, le=876_000)
    z: float = Field(default=3.0, gt=0)
    baseline_days: int = Field(default=28, ge=1, le=36_500)
    min_baseline_days: int = Field(default=7, ge=1, le=36_500)
    min_posts: int = Field(default=10, ge=1)
    direction: Literal["up", "both"] = "up"


class AlertRules(Table):
    """[alerts.rules.*]."""

    level: LevelRule = Field(default_factory=LevelRule)
    rise: RiseRule = Field(default_factory=RiseRule)
    burst: BurstRule = Field(default_factory=BurstRule)
    source_shift: SourceShiftRule = Field(default_factory=SourceShiftRule)


class AlertsSettings(Table):
    """[alerts]: evaluation window, delivery channels and what payloads may carry."""

    lookback_days: int = Field(default=90, ge=1, le=36_500)
    # The per-post score person rules read (monitor.trends.person_signal).
    signal: Literal["auto", "distress", "depression_index"] = "auto"
    # A text posted by this many authors or more reads 0 for person rules (0: off).
    repeated_authors: int = Field(default=3, ge=0)
    channels: tuple[ChannelName, ...] = Field(default=("terminal", "file"), strict=False)
    excerpt: bool = False
    excerpt_chars: int = Field(default=200, ge=1)
    # Seconds one run may spend on webhook and e-mail deliveries; the rest stay pending.
    delivery_budget_s: float = Field(default=60.0, gt=0, allow_inf_nan=False, le=86_400)
    rules: AlertRules = Field(default_factory=AlertRules)

    @field_validator("channels")
    @classmethod
    def _each_once(cls, channels: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(channels)) != len(channels):
            raise ValueError("names a channel twice; list each once")
        return channels


class FileChannel(Table):
    """[channels.file]: append one JSON object a line."""

    path: Path = Field(default=Path("alerts.jsonl"), strict=False)


class WebhookChannel(Table):
    """[channels.webhook]: HTTP POST of each alert as JSON."""

    url: str = ""
    secret_env: str = "EMOMON_WEBHOOK_SECRET"
    secret_header: str = "X-Emomon-Secret"
    timeout: float = Field(default=10.0, ge=0, le=86_400)
    retries: int = Field(default=3, ge=0)
    backoff: float = Field(default=1.0, ge=0)


class EmailChannel(Table):
    """[channels.email]: one digest e-mail per run over SMTP."""

    host: str = "localhost"
    port: int = Field(default=25, ge=1, le=65535)
    starttls: bool = False
    cafile: Path | None = Field(default=None, strict=False)
    username: str = ""
    password_env: str = "EMOMON_SMTP_PASSWORD"
    sender: str = "emomon@localhost"
    recipients: tuple[str, ...] = Field(default=(), strict=False)
    timeout: float = Field(default=10.0, gt=0, le=86_400)


class ChannelsSettings(Table):
    """[channels.*]."""

    file: FileChannel = Field(default_factory=FileChannel)
    webhook: WebhookChannel = Field(default_factory=WebhookChannel)
    email: EmailChannel = Field(default_factory=EmailChannel)
