"""The schedule: APScheduler 3.x wiring for `emomon schedule`, and crontab lines for `emomon cron`.

Each configured stage of the registry (``[schedule] ingest``, ``score``, ``alerts``,
``purge``, ``report``: cron expressions in ``[schedule] timezone``; purge only while
``[retention] raw_text_days`` is above 0) becomes one job with a stable id (``emomon-<stage>``)
in a SQLAlchemy job store, so a restarted scheduler knows what it missed. Every job is
``coalesce=True`` (missed runs collapse into one), ``max_instances=1`` and has a
``misfire_grace_time`` of ``[schedule] misfire_grace_hours``. Jobs call
:func:`run_job`, which loads the settings afresh and runs the stage under the shared run lock,
so scheduled, cron-started and manual runs never write at the same time.
"""

from __future__ import annotations

import logging
import os
import shlex
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.events import EVENT_SCHEDULER_START, SchedulerEvent
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import create_engine, inspect, text

from monitor.clock import utcnow
from monitor.errors import EmomonError
from monitor.pipeline import STAGES
from monitor.settings import Settings, load_settings
from monitor.store.engine import open_store

log = logging.getLogger(__name__)

JOB_PREFIX = "emomon-"
JOBS_TABLE = "apscheduler_jobs"


def job_id(stage: str) -> str:
    """The stable job id of a stage, e.g. ``emomon-score``."""
    return f"{JOB_PREFIX}{stage}"


def scheduled_stages(settings: Settings) -> list[tuple[str, str]]:
    """(stage, cron expression) of every registry stage the schedule runs, in run order."""
    out = []
    for name, stage in STAGES.items():
        expr = getattr(settings.schedule, name, "")
        if expr and stage.enabled(settings):
            out.append((name, expr))
    return out


def configure_logging(verbosity: int) -> None:
    """Log the scheduler's job lines on stderr: one line per job start and end.

    ``-q`` keeps warnings and errors only; APScheduler's own lines (which repeat ours) show
    from ``-vv`` on.
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S%z"))
    for name, level in (
        ("monitor", logging.WARNING if verbosity < 0 else logging.INFO),
        ("apscheduler", logging.INFO if verbosity >= 2 else logging.WARNING),
    ):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.addHandler(handler)
        logger.propagate = False


def job_defaults(settings: Settings) -> dict[str, Any]:
    """coalesce, max_instances and misfire_grace_time (seconds) for every job."""
    return {
        "coalesce": True,
        "max_instances": 1,
        "misfire_grace_time": int(settings.schedule.misfire_grace_hours * 3600),
    }


def run_job(stage: str, config_path: str | None, db_url: str | None = None) -> None:
    """Run one stage from the scheduler (module-level so the job store can refer to it).

    The settings are read again at every run, so an edited config takes effect without a
    restart of the scheduler (a changed schedule needs one). One log line when the job starts
    and one when it ends, with the stage's counts; a scheduled report then goes to
    ``[schedule] report_output`` and ``report_email`` when they are set.
    """
    import io

    from rich.console import Console

    from monitor.pipeline import run_stages, stage_brief

    log.info("job %s: started", stage)
    env = dict(os.environ)
    if db_url:
        env["EMOMON_DATABASE_URL"] = db_url
    try:
        settings = load_settings(Path(config_path) if config_path else None, env)
        quiet = Console(file=io.StringIO()) if stage == "report" else None
        result = run_stages(settings, [stage], lock_label=f"schedule:{stage}", console=quiet)
        for s in result.stages:
            log.info("job %s: %s", stage, stage_brief(s))
        if result.report is not None:
            from monitor.report.scheduled import send_scheduled_report

            for line in send_scheduled_report(result.report, settings, env):
                log.info("job %s: %s", stage, line)
    except EmomonError as exc:
        log.error("job %s: failed: %s", stage, exc)


def missed_run_times(store_url: str) -> dict[str, datetime]:
    """When each stored job was next due, for the jobs whose due time is already past (missed runs).

    ``add_job(replace_existing=True)`` would compute a fresh next run time from now and so
    drop a run missed while the scheduler was down; passing this time on keeps it, and
    APScheduler then runs it once if it is within ``misfire_grace_time`` (coalesced).
    """
    engine = create_engine(store_url)
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table(JOBS_TABLE):
                return {}
            rows = conn.execute(
                text(f"SELECT id, next_run_time FROM {JOBS_TABLE} WHERE next_run_time IS NOT NULL")
            ).all()
    finally:
        engine.dispose()
    now = utcnow()
    due = {job: datetime.fromtimestamp(float(at), UTC) for job, at in rows}
    return {job: when for job, when in due.items() if when < now}


def build_scheduler(
    settings: Settings,
    *,
    db_url: str | None = None,
    scheduler_class: type[BaseScheduler] = BlockingScheduler,
) -> BaseScheduler:
    """A scheduler with one job per configured stage (not started).

    Args:
        settings: Loaded settings; ``settings.path`` is what jobs reload.
        db_url: The ``--db`` override, passed on to jobs.
        scheduler_class: ``BlockingScheduler`` for `emomon schedule`; tests may pass another.
    """
    sched = settings.schedule
    zone = ZoneInfo(sched.timezone)
    store_url = sched.jobstore_url or settings.database.url
    if not sched.jobstore_url:
        # The job store adds its table to our database: create the schema first, so the
        # database is never mistaken for a foreign one.
        open_store(settings).dispose()
    scheduler = scheduler_class(
        timezone=zone,
        jobstores={"default": SQLAlchemyJobStore(url=store_url, tablename=JOBS_TABLE)},
        job_defaults=job_defaults(settings),
    )
    wanted = set()
    config_path = str(settings.path) if settings.path else None
    missed_runs = missed_run_times(store_url)  # one read of the job store for every stage
    for stage, expr in scheduled_stages(settings):
        extra: dict[str, Any] = {}
        wanted.add(job_id(stage))
        missed = missed_runs.get(job_id(stage))
        if missed is not None:
            log.info(
                "job %s: missed its run at %s; runs now if within the grace time",
                stage,
                missed.isoformat(timespec="seconds"),
            )
            extra["next_run_time"] = missed
        scheduler.add_job(
            run_job,
            CronTrigger.from_crontab(expr, timezone=zone),
            args=[stage, config_path, db_url],
            id=job_id(stage),
            name=f"emomon {stage} ({expr} {sched.timezone})",
            replace_existing=True,
            **job_defaults(settings),
            **extra,
        )

    def drop_stale(event: SchedulerEvent) -> None:
        # Jobs of stages since removed from the config are still in the job store.
        for job in scheduler.get_jobs():
            if job.id.startswith(JOB_PREFIX) and job.id not in wanted:
                log.info("removing job %s: its stage is no longer scheduled", job.id)
                job.remove()

    scheduler.add_listener(drop_stale, EVENT_SCHEDULER_START)
    return scheduler


def emomon_executable() -> str:
    """The path of the ``emomon`` command to put in crontab lines."""
    found = shutil.which("emomon")
    if found:
        return found
    return f"{shlex.quote(sys.executable)} -c 'from monitor.cli import cli; cli()'"


def crontab_lines(settings: Settings, *, executable: str | None = None, log_file: Path | None = None) -> list[str]:
    """Crontab lines equivalent to the schedule, for the system cron.

    Jobs started this way take the same run lock as `emomon schedule` and `emomon run`.
    ``CRON_TZ`` is understood by cronie and systemd-cron; other crons run in the system time
    zone, so the header says which zone the expressions were written for.

    Raises:
        EmomonError: No stage is scheduled, or the log file is the config file, the database or
            in the model directory (the jobs would append their output to it).
    """
    from monitor.safe_write import check_protected

    sched = settings.schedule
    exe = executable or emomon_executable()
    config = f" --config {shlex.quote(str(settings.path))}" if settings.path else ""
    workdir = shlex.quote(str(settings.base_dir))
    out_file = log_file or settings.base_dir / "emomon-cron.log"
    check_protected(
        out_file if out_file.is_absolute() else settings.base_dir / out_file,
        settings.protected_paths(),
        action="send the cron jobs' output to",
    )
    lines = [
        "# emomon schedule, generated by `emomon cron` (install with: emomon cron | crontab -)",
        f"# times are in {sched.timezone}; each job waits up to {sched.lock_timeout:g}s for the run lock",
        f"CRON_TZ={sched.timezone}",
    ]
    count = 0
    for stage, expr in scheduled_stages(settings):
        count += 1
        lines.append(
            f"{expr} cd {workdir} && {exe}{config} -q run --stage {stage} >> {shlex.quote(str(out_file))} 2>&1"
        )
    if count == 0:
        raise EmomonError("no stage is scheduled: set cron expressions in [schedule]")
    return lines
