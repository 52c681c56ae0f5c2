"""The report stage: compute the trend report and print it to a console."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from monitor.report.data import ReportData, load_report_data
from monitor.store.engine import session_scope
from monitor.store.runs import StageResult, recorded_stage

if TYPE_CHECKING:
    from rich.console import Console

    from monitor.settings import Settings


def report_stage(
    engine: Engine, settings: Settings, *, console: Console | None, **filters: Any
) -> tuple[StageResult, ReportData]:
    """Compute the trend report and, with a console, print it there; one ``runs`` row, written
    "running" first (:func:`recorded_stage`)."""
    from monitor.report.terminal import terminal_report

    t0 = time.perf_counter()
    with recorded_stage(engine, "report") as run:
        with session_scope(engine) as s:
            data = load_report_data(s, settings, **filters)
        if console is not None:
            console.print(terminal_report(data))
        result = run.done(
            StageResult(
                "report",
                "ok",
                time.perf_counter() - t0,
                counts={
                    "posts": data.overview["posts"],
                    "authors": data.overview["authors"],
                    "review": len(data.review),
                },
            )
        )
    return result, data
