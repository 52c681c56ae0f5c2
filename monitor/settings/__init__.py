"""Settings: ``config.toml`` plus ``EMOMON_*`` environment variables, validated by pydantic.

Every TOML table is a frozen pydantic model that forbids unknown keys; values are checked
strictly (no ``"20"`` for a number), floats must be finite, and the cross-field checks are
model validators. :func:`load_settings` turns any validation failure into one
:class:`~monitor.errors.ConfigError` line naming the file, the key, the value and the fix.

The built-in defaults are the values of the shipped ``config.toml``.

Environment overrides (:class:`EnvOverlay`): ``EMOMON_<SECTION>_<KEY>`` for every scalar or list
key of a top-level section, lists comma-separated, e.g. ``EMOMON_INGEST_BATCH_SIZE=500``;
``EMOMON_PSEUDONYM_SALT`` also sets ``privacy.pseudonym_salt``.

Modules: :mod:`~monitor.settings.base` (shared types and helpers),
:mod:`~monitor.settings.sections` and :mod:`~monitor.settings.alerts` (the section models),
:mod:`~monitor.settings.root` (:class:`Settings`), :mod:`~monitor.settings.loading` (file,
environment, :func:`load_settings`), :mod:`~monitor.settings.errors` (one-line messages).
"""

from __future__ import annotations

from monitor.choices import SOURCE_KINDS, SourceKind
from monitor.settings.alerts import (
    AlertRules,
    AlertsSettings,
    BurstRule,
    ChannelsSettings,
    EmailChannel,
    FileChannel,
    LevelRule,
    RiseRule,
    SourceShiftRule,
    WebhookChannel,
)
from monitor.settings.base import (
    COLUMN_KEYS,
    ChannelName,
    ColumnKey,
    Combine,
    Severity,
    Unit,
    Weight,
)
from monitor.settings.loading import EnvOverlay, load_settings
from monitor.settings.root import Settings
from monitor.settings.sections import (
    DatabaseSettings,
    IngestSettings,
    ModelSettings,
    PrivacySettings,
    RetentionSettings,
    ScheduleSettings,
    ScoringIndex,
    ScoringSettings,
    SourceSettings,
    TrendsSettings,
)

__all__ = [
    "COLUMN_KEYS",
    "SOURCE_KINDS",
    "AlertRules",
    "AlertsSettings",
    "BurstRule",
    "ChannelName",
    "ChannelsSettings",
    "ColumnKey",
    "Combine",
    "DatabaseSettings",
    "EmailChannel",
    "EnvOverlay",
    "FileChannel",
    "IngestSettings",
    "LevelRule",
    "ModelSettings",
    "PrivacySettings",
    "RetentionSettings",
    "RiseRule",
    "ScheduleSettings",
    "ScoringIndex",
    "ScoringSettings",
    "Settings",
    "Severity",
    "SourceKind",
    "SourceSettings",
    "SourceShiftRule",
    "TrendsSettings",
    "Unit",
    "WebhookChannel",
    "Weight",
    "load_settings",
]
