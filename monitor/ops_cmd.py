"""Click commands of the operating side: alerts, report, run, schedule, cron, purge.

Registered in ``monitor/cli.py`` with ``cli.add_command(...)``. ``ctx.obj`` is the CLI's
``AppContext`` (``.settings``, ``.engine()``, ``.console``, ``.verbosity``).
"""

from __future__ import annotations

import json
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any

import click
from rich import box
from rich.table import Table

from monitor.errors import EmomonError


def _echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


def _parse_when(value: str | None, option: str) -> datetime | None:
    """``2025-01-31`` (midnight UTC) or an ISO time (naive means UTC)."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=timezone.utc)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EmomonError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD or an ISO time "
            "like 2025-01-31T08:00:00Z"
        ) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


# ---------------------------------------------------------------------------------- alerts

@click.group("alerts")
def alerts_group() -> None:
    """List alerts for review and mark them acknowledged or resolved.

    Example: emomon alerts list --status new
    """


@alerts_group.command("list")
@click.option("--status", "statuses", multiple=True,
              type=click.Choice(["new", "acknowledged", "resolved"]),
              help="Only alerts with this status (repeatable). Example: --status new")
@click.option("--since", help="Only alerts triggered at or after this date/time (UTC). "
                              "Example: --since 2025-01-01")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Show at most this many (newest first). Example: --limit 20")
@click.option("--json", "as_json", is_flag=True,
              help="Print exactly one JSON document on stdout. Example: --json")
@click.pass_obj
def alerts_list(app: Any, statuses: tuple[str, ...], since: str | None, limit: int | None,
                as_json: bool) -> None:
    """List alerts, newest first (subjects are pseudonyms or source names).

    Example: emomon alerts list --status new --since 2025-01-01 --json
    """
    from monitor import alert_store
    from monitor.db import session_scope

    with session_scope(app.engine()) as s:
        rows = alert_store.list_alerts(s, status=statuses or None,
                                       since=_parse_when(since, "--since"), limit=limit)
        docs = [alert_store.alert_dict(a) for a in rows]
    if as_json:
        _echo_json({"alerts": docs})
        return
    table = Table(title=f"{len(docs)} alert(s)", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("id", "status", "severity", "rule", "subject", "triggered"):
        table.add_column(col, no_wrap=True)
    table.add_column("evidence", overflow="fold", min_width=12)
    for d in docs:
        ev = ", ".join(f"{k}={v}" for k, v in d["evidence"].items() if k != "post_ids")
        table.add_row(str(d["id"]), d["status"], d["severity"], d["rule"], d["subject"],
                      (d["trigger_at"] or "")[:10], ev)
    app.console.print(table)


def _set_status(app: Any, alert_id: int, status: str, as_json: bool) -> None:
    from monitor import alert_store
    from monitor.db import session_scope

    with session_scope(app.engine()) as s:
        doc = alert_store.alert_dict(alert_store.set_status(s, alert_id, status))
    if as_json:
        _echo_json(doc)
    else:
        app.console.print(f"alert {alert_id}: {doc['status']}")


@alerts_group.command("ack")
@click.argument("alert_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True,
              help="Print the alert as one JSON document. Example: --json")
@click.pass_obj
def alerts_ack(app: Any, alert_id: int, as_json: bool) -> None:
    """Mark alert ID as acknowledged (someone is looking at it).

    Example: emomon alerts ack 12
    """
    _set_status(app, alert_id, "acknowledged", as_json)


@alerts_group.command("resolve")
@click.argument("alert_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True,
              help="Print the alert as one JSON document. Example: --json")
@click.pass_obj
def alerts_resolve(app: Any, alert_id: int, as_json: bool) -> None:
    """Mark alert ID as resolved (reviewed; no further action here).

    Example: emomon alerts resolve 12
    """
    _set_status(app, alert_id, "resolved", as_json)


# ---------------------------------------------------------------------------------- report

@click.command("report")
@click.option("--since", help="Only posts created at or after this date/time (UTC). "
                              "Example: --since 2025-01-01")
@click.option("--until", help="Only posts created before this date/time (UTC). "
                              "Example: --until 2025-02-01")
@click.option("--source", help="Only this source (its configured name). "
                               "Example: --source example-rss")
@click.option("--author", help="Only this author (pseudonym). Example: --author a-3f9c2e71b04d")
@click.option("--by", type=click.Choice(["day", "week"]), default=None,
              help="Period of the trend lines (default [trends] by). Example: --by week")
@click.option("--format", "fmt", type=click.Choice(["terminal", "md", "html", "csv", "json"]),
              default="terminal", show_default=True,
              help="Output format. Example: --format html")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout. Example: --output report.html")
@click.option("--width", type=click.IntRange(min=60), default=None,
              help="Terminal width to render at (default: the terminal's). Example: --width 80")
@click.pass_obj
def report_cmd(app: Any, since: str | None, until: str | None, source: str | None,
               author: str | None, by: str | None, fmt: str, output: Path | None,
               width: int | None) -> None:
    """Show trends: overview, emotion and index sparklines, rising emotions, authors to
    review, sources side by side, personality distribution.

    Example: emomon report --since 2025-01-01 --by week --format html --output report.html
    """
    from rich.console import Console

    from monitor import report
    from monitor.db import session_scope
    from monitor.report_data import load_report_data

    with session_scope(app.engine()) as s:
        data = load_report_data(s, app.settings, since=_parse_when(since, "--since"),
                                until=_parse_when(until, "--until"), source=source,
                                author=author, by=by)
    if fmt == "terminal":
        if output is not None:
            with output.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=width or 80, color_system=None).print(
                    report.terminal_report(data))
        else:
            console = Console(width=width) if width else app.console
            console.print(report.terminal_report(data))
        return
    text = report.export(data, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EmomonError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from exc
        if app.verbosity >= 0:
            click.echo(f"wrote {fmt} report to {output}", err=True)


# ------------------------------------------------------------------------------------- run

@click.command("run")
@click.option("--stage", "stages", multiple=True,
              type=click.Choice(["ingest", "score", "alerts", "purge", "report"]),
              help="Run only this stage (repeatable; default all, in order). "
                   "Example: --stage score --stage alerts")
@click.option("--lock-timeout", type=click.FloatRange(min=0), default=None,
              help="Seconds to wait for another run's lock (default schedule.lock_timeout). "
                   "Example: --lock-timeout 0")
@click.option("--json", "as_json", is_flag=True,
              help="Print exactly one JSON document (the stage summary). Example: --json")
@click.pass_obj
def run_cmd(app: Any, stages: tuple[str, ...], lock_timeout: float | None,
            as_json: bool) -> None:
    """Run ingest, score, alerts, purge (retention) and report once, in order.

    One `runs` row per stage. Exit 1 when a stage failed (the later stages still ran).

    Example: emomon run
    """
    import dataclasses
    import io

    from rich.console import Console

    from monitor.pipeline import STAGES, run_stages

    settings = app.settings
    if lock_timeout is not None:
        settings = dataclasses.replace(
            settings, schedule=dataclasses.replace(settings.schedule, lock_timeout=lock_timeout))
    console = Console(file=io.StringIO()) if as_json or app.verbosity < 0 else app.console
    result = run_stages(settings, stages or STAGES, engine=app.engine(), console=console)
    if as_json:
        _echo_json(result.to_json())
    elif app.verbosity >= 0:
        table = Table(title="emomon run")
        for col in ("stage", "status", "seconds", "counts"):
            table.add_column(col, overflow="fold")
        for st in result.stages:
            counts = ", ".join(f"{k}={v}" for k, v in st.counts.items()
                               if not isinstance(v, (list, dict)))
            table.add_row(st.name, st.status, f"{st.seconds:.1f}",
                          counts + (f" ({st.message})" if st.message else ""))
        app.console.print(table)
    if not result.ok:
        failed = "; ".join(f"{s.name}: {s.message}" for s in result.stages if s.status == "failed")
        raise click.ClickException(f"stage failed: {failed}")


# -------------------------------------------------------------------------- schedule, cron

@click.command("schedule")
@click.option("--list", "list_only", is_flag=True,
              help="Print the jobs and their next run times, then exit. Example: --list")
@click.pass_obj
def schedule_cmd(app: Any, list_only: bool) -> None:
    """Run the configured stages on their cron schedule until stopped (Ctrl-C).

    Uses APScheduler with jobs kept in the database; missed runs are coalesced and still run
    within [schedule] misfire_grace_hours.

    Example: emomon schedule
    """
    from monitor.schedule import build_scheduler

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
    scheduler = build_scheduler(settings, db_url=app.db_url)
    if app.verbosity >= 0:
        click.echo(f"emomon schedule: {settings.schedule.timezone}; Ctrl-C stops", err=True)
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        scheduler.shutdown(wait=False)


@click.command("cron")
@click.option("--log-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where cron jobs append their output (default emomon-cron.log beside the "
                   "config). Example: --log-file /var/log/emomon.log")
@click.pass_obj
def cron_cmd(app: Any, log_file: Path | None) -> None:
    """Print crontab lines equivalent to [schedule], for the system cron.

    Example: emomon cron | crontab -
    """
    from monitor.schedule import crontab_lines

    for line in crontab_lines(app.settings, log_file=log_file):
        click.echo(line)


# ----------------------------------------------------------------------------------- purge

@click.command("purge")
@click.option("--older-than", "days", type=int, default=None,
              help="Remove the text of posts created more than DAYS days ago "
                   "(default [retention] raw_text_days). Example: --older-than 365")
@click.option("--json", "as_json", is_flag=True,
              help="Print exactly one JSON document. Example: --json")
@click.pass_obj
def purge_cmd(app: Any, days: int | None, as_json: bool) -> None:
    """Remove raw text of old posts; scores and alerts are kept.

    Example: emomon purge --older-than 180
    """
    from monitor.pipeline import exclusive, purge_stage

    settings = app.settings
    if days is None:
        days = settings.retention.raw_text_days
        if days == 0:
            raise EmomonError("retention.raw_text_days = 0 keeps text forever: "
                              "pass --older-than DAYS to purge anyway")
    engine = app.engine()
    with exclusive(settings, engine, label="purge"):
        result = purge_stage(engine, settings, older_than_days=days)
    if as_json:
        _echo_json(result.counts)
    elif app.verbosity >= 0:
        c = result.counts
        app.console.print(f"removed text of {c['posts']} post(s) and {c['rejected']} rejected "
                          f"record(s) older than {days} days (before {c['cutoff'][:10]})")


COMMANDS = (alerts_group, report_cmd, run_cmd, schedule_cmd, cron_cmd, purge_cmd)
