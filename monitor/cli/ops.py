"""``emomon run``, ``schedule``, ``cron`` and ``purge``: running the stages of the registry."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.app import AppContext, pass_app, print_json
from monitor.errors import EmomonError, StageFailed
from monitor.pipeline import STAGE_NAMES


@click.command("run")
@click.option(
    "--stage",
    "stages",
    multiple=True,
    type=click.Choice(STAGE_NAMES),
    help="Run only this stage (repeatable; default all, in order). Example: --stage score --stage alerts",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait for another run's lock (default schedule.lock_timeout). Example: --lock-timeout 0",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print exactly one JSON document (the stage summary). Example: --json"
)
@pass_app
def run_cmd(app: AppContext, stages: tuple[str, ...], lock_timeout: float | None, as_json: bool) -> None:
    """Run ingest, score, alerts, purge (retention) and report once, in order.

    One `runs` row per stage. Exit 3 when a source or stage failed (the later stages still ran),
    75 when another run holds the lock.

    Example: emomon run
    """
    from monitor.pipeline import stage_counts

    console = None if as_json or app.verbosity < 0 else app.console  # None: the API prints nowhere
    result = app.api.run(stages, console=console, lock_timeout=lock_timeout)
    if as_json:
        print_json(result.to_json())
    elif app.verbosity >= 0:
        from rich.table import Table

        table = Table(title="emomon run")
        for col in ("stage", "status", "seconds", "counts"):
            table.add_column(col, overflow="fold")
        for st in result.stages:
            counts = stage_counts(st)
            table.add_row(st.name, st.status, f"{st.seconds:.1f}", counts + (f" ({st.message})" if st.message else ""))
        app.console.print(table)
    if not result.ok:
        failed = "; ".join(f"{s.name}: {s.message}" for s in result.stages if s.status == "failed")
        raise StageFailed(f"stage failed: {failed}")


# -------------------------------------------------------------------------- schedule, cron


@click.command("schedule")
@click.option(
    "--list", "list_only", is_flag=True, help="Print the jobs and their next run times, then exit. Example: --list"
)
@pass_app
def schedule_cmd(app: AppContext, list_only: bool) -> None:
    """Run the configured stages on their cron schedule until stopped (Ctrl-C).

    Uses APScheduler with jobs kept in the database; missed runs are coalesced and still run
    within [schedule] misfire_grace_hours. One scheduler per database: a second one is refused,
    naming the first (pid, host).

    Example: emomon schedule
    """
    from monitor.schedule import build_scheduler, configure_logging

    settings = app.settings
    app.engine()  # schema ready before the job store shares the database
    if list_only:
        from apscheduler.schedulers.background import BackgroundScheduler

        probe = build_scheduler(settings, db_url=app.db_url, scheduler_class=BackgroundScheduler)
        probe.start(paused=True)
        try:
            for job in probe.get_jobs():
                click.echo(f"{job.id}\t{job.name}\tnext {job.next_run_time}")
        finally:
            probe.shutdown(wait=False)
        return
    from monitor.store.runs import scheduler_lock

    with scheduler_lock(settings, engine=app.engine()):  # one scheduler per database
        configure_logging(app.verbosity)
        scheduler = build_scheduler(settings, db_url=app.db_url)
        if app.verbosity >= 0:
            click.echo(f"emomon schedule: {settings.schedule.timezone}; Ctrl-C stops", err=True)
        try:
            scheduler.start()
        except (KeyboardInterrupt, SystemExit):
            scheduler.shutdown(wait=False)


@click.command("cron")
@click.option(
    "--log-file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where cron jobs append their output (default emomon-cron.log beside the "
    "config). Example: --log-file /var/log/emomon.log",
)
@pass_app
def cron_cmd(app: AppContext, log_file: Path | None) -> None:
    """Print crontab lines equivalent to [schedule], for the system cron.

    Example: emomon cron | crontab -
    """
    from monitor.schedule import crontab_lines

    for line in crontab_lines(app.settings, log_file=log_file):
        click.echo(line)


# ----------------------------------------------------------------------------------- purge


@click.command("purge")
@click.option(
    "--older-than",
    "days",
    type=int,
    default=None,
    help="Remove the text of posts created more than DAYS days ago "
    "(default [retention] raw_text_days). Example: --older-than 365",
)
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document. Example: --json")
@pass_app
def purge_cmd(app: AppContext, days: int | None, as_json: bool) -> None:
    """Remove raw text of old posts; scores and alerts are kept.

    Example: emomon purge --older-than 180
    """
    from monitor.store.retention import purge_stage
    from monitor.store.runs import exclusive

    settings = app.settings
    if days is None:
        days = settings.retention.raw_text_days
        if days == 0:
            raise EmomonError("retention.raw_text_days = 0 keeps text forever: pass --older-than DAYS to purge anyway")
    engine = app.engine()
    with exclusive(settings, engine, label="purge"):
        result = purge_stage(engine, settings, older_than_days=days)
    if as_json:
        print_json(result.counts)
    elif app.verbosity >= 0:
        c = result.counts
        app.console.print(
            f"removed text of {c['posts']} post(s) and {c['rejected']} rejected "
            f"record(s) older than {days} days (before {c['cutoff'][:10]})"
        )


COMMANDS = (run_cmd, schedule_cmd, cron_cmd, purge_cmd)
