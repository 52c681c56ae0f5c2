"""The stage registry and one run of the chain: ingest → score → alerts → purge → report.

Each stage reads what the one before wrote, so any stage can also run alone. ``emomon run
--stage``, ``emomon schedule``, ``emomon cron`` and the README's stage table all come from
:data:`STAGES`. Every stage leaves one ``runs`` row with its counts, timings and status. A
failing stage does not stop the later ones, which then work on what is stored; the run as a
whole reports failure.

Light to import: each stage's module loads only when the stage runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from monitor.errors import EmomonError
from monitor.stages import STAGE_NAMES, STAGE_SUMMARIES

if TYPE_CHECKING:
    from rich.console import Console
    from sqlalchemy import Engine

    from monitor.report.data import ReportData
    from monitor.settings import Settings
    from monitor.store.runs import StageResult


@dataclass(frozen=True)
class StageRun:
    """What a stage runs with."""

    engine: Engine
    settings: Settings
    console: Console
    env: Mapping[str, str]
    now: datetime | None = None
    outputs: dict[str, Any] = field(default_factory=dict)  # what a stage hands back besides its result


def _ingest(run: StageRun) -> StageResult:
    from monitor.ingest.stage import ingest
    from monitor.store.runs import StageResult

    t0 = time.perf_counter()
    chosen = [s for s in run.settings.sources if s.enabled]
    if not chosen:
        return StageResult("ingest", "skipped", 0.0, message="no enabled [[sources]]")
    report = ingest(run.engine, run.settings, chosen)
    notes = [f"{s.name}: {s.error}" for s in report.sources if s.status == "error"]
    notes += [f"{s.name}: warning: {w}" for s in report.sources for w in s.warnings]
    return StageResult(
        "ingest",
        "ok" if report.ok else "failed",
        time.perf_counter() - t0,
        counts=report.totals(),
        message="; ".join(notes) or None,
    )


def _score(run: StageRun) -> StageResult:
    from monitor.score.stage import run_engine
    from monitor.store.runs import StageResult

    t0 = time.perf_counter()
    report = run_engine(run.engine, run.settings)
    return StageResult("score", "ok", time.perf_counter() - t0, counts=report.to_json())


def _alerts(run: StageRun) -> StageResult:
    from monitor.alerts.stage import alerts_stage

    return alerts_stage(run.engine, run.settings, console=run.console, env=run.env, now=run.now)


def _purge(run: StageRun) -> StageResult:
    from monitor.store.retention import purge_stage

    return purge_stage(run.engine, run.settings, now=run.now)


def _report(run: StageRun) -> StageResult:
    from monitor.report.stage import report_stage

    result, run.outputs["report"] = report_stage(run.engine, run.settings, console=run.console)
    return result


def stage_counts(result: StageResult) -> str:
    """The stage's scalar counts as ``key=value, ...`` (lists and documents left out)."""
    return ", ".join(f"{k}={v}" for k, v in result.counts.items() if not isinstance(v, (list, dict)))


def stage_brief(result: StageResult) -> str:
    """One line for logs: status, seconds, the scalar counts and the message."""
    counts = stage_counts(result)
    line = f"{result.status} in {result.seconds:.1f}s"
    if counts:
        line += f"; {counts}"
    if result.message:
        line += f" ({result.message})"
    return line


@dataclass(frozen=True)
class Stage:
    """One stage of the chain."""

    name: str
    summary: str
    run: Callable[[StageRun], StageResult]
    enabled: Callable[[Settings], bool] = lambda settings: True  # whether the schedule runs it


#: The stages in run order; the one list every caller derives from.
STAGES: dict[str, Stage] = {
    s.name: s
    for s in (
        Stage("ingest", STAGE_SUMMARIES["ingest"], _ingest),
        Stage("score", STAGE_SUMMARIES["score"], _score),
        Stage("alerts", STAGE_SUMMARIES["alerts"], _alerts),
        Stage("purge", STAGE_SUMMARIES["purge"], _purge, enabled=lambda settings: settings.retention.raw_text_days > 0),
        Stage("report", STAGE_SUMMARIES["report"], _report),
    )
}


@dataclass
class RunResult:
    """The outcome of :func:`run_stages`."""

    stages: list[StageResult] = field(default_factory=list)
    report: ReportData | None = None

    @property
    def ok(self) -> bool:
        """True when no stage failed."""
        return all(s.status != "failed" for s in self.stages)

    def to_json(self) -> dict[str, Any]:
        """``{"ok", "stages": [...]}``."""
        return {"ok": self.ok, "stages": [s.to_json() for s in self.stages]}


def run_stages(
    settings: Settings,
    stages: Sequence[str] = STAGE_NAMES,
    *,
    engine: Engine | None = None,
    console: Console | None = None,
    env: Mapping[str, str] | None = None,
    lock: bool = True,
    lock_label: str = "run",
    now: datetime | None = None,
) -> RunResult:
    """Run ``stages`` in pipeline order under the run lock.

    Args:
        settings: Loaded settings.
        stages: Names from :data:`STAGE_NAMES`.
        engine: An engine to reuse (default: one made from the settings, schema ensured).
        console: Where the alerts terminal channel and the report print (default: stdout).
        env: Environment for channel secrets (default: ``os.environ``).
        lock: Take the run lock (waits up to ``schedule.lock_timeout``).
        lock_label: Who holds the lock, shown to a run that has to wait.
        now: Reference time for alerts and retention (tests).

    Raises:
        RunLocked: Another run kept the lock past the timeout.
        EmomonError: A stage name is unknown, or a user error stops a stage from starting
            (schema out of date, bad channel settings).
    """
    from monitor.safe_text import console as safe_console
    from monitor.store.engine import ensure_schema, open_store
    from monitor.store.runs import StageResult, exclusive

    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise EmomonError(f"unknown stage {unknown[0]!r}: use {', '.join(STAGE_NAMES)}")
    if engine is None:
        engine = open_store(settings)
    else:
        ensure_schema(engine)
    context = StageRun(engine, settings, console or safe_console(), os.environ if env is None else env, now)
    result = RunResult()
    with ExitStack() as held:
        if lock:
            held.enter_context(exclusive(settings, engine, label=lock_label))
        for name, stage in STAGES.items():
            if name not in stages:
                continue
            t0 = time.perf_counter()
            try:
                done = stage.run(context)
            except EmomonError as exc:
                if name == "alerts":
                    raise  # bad channel settings: the user must fix them first
                done = StageResult(name, "failed", time.perf_counter() - t0, message=str(exc))
            result.stages.append(done)
    result.report = context.outputs.get("report")
    return result
