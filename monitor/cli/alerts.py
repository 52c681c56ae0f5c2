"""``emomon alerts``: raise, list and show alerts, and record what reviewers did with them."""

from __future__ import annotations

import csv
import getpass
import io
from typing import Any, Literal

import click

from monitor.cli.app import AppContext, json_option, parse_window, pass_app, print_json
from monitor.errors import EmomonError, StageFailed

RULE_NAMES = ("level", "rise", "burst", "source_shift")
CSV_COLUMNS = (
    "id",
    "status",
    "severity",
    "rule",
    "subject_kind",
    "subject",
    "trigger_at",
    "window_start",
    "window_end",
    "model_version",
    "explanation",
)


def reviewer(name: str | None) -> str:
    """``--by`` or the login name of whoever runs the command."""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError) as exc:
        raise EmomonError("cannot tell who you are: pass --by NAME") from exc


def width_of(app: AppContext, width: int | None) -> int:
    """``--width``, else COLUMNS / the terminal's width, kept within 60..200."""
    from monitor.report.common import fit_width

    return fit_width(width, app.console.width)


width_option = click.option(
    "--width",
    type=click.IntRange(60, 200),
    default=None,
    help="Columns to draw at, 60 to 200 (default: COLUMNS or the terminal's). Example: --width 100",
)


@click.group("alerts")
def alerts_group() -> None:
    """Raise alerts, list and show them, and mark them acknowledged or resolved.

    Example: emomon alerts list --status new
    """


@alerts_group.command("run")
@json_option
@pass_app
def alerts_run(app: AppContext, as_json: bool) -> None:
    """Evaluate the alert rules on stored scores and deliver new alerts (the alerts stage alone).

    Example: emomon alerts run
    """
    from monitor.pipeline import run_stages

    result = run_stages(
        app.settings,
        ["alerts"],
        engine=app.engine(),
        console=app.err_console if as_json else app.console,
        lock_label="alerts run",
    )
    stage = result.stages[0]
    if as_json:
        print_json(stage.to_json())
    else:
        c = stage.counts
        app.console.print(
            f"alerts: {c.get('new', 0)} new from {c.get('candidates', 0)} "
            f"candidate(s) over {c.get('posts', 0)} scored post(s)" + (f"; {stage.message}" if stage.message else ""),
            highlight=False,
        )
    if not result.ok:
        raise StageFailed(f"alerts stage failed: {stage.message}")


@alerts_group.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["new", "acknowledged", "resolved"]),
    help="Only alerts with this status (repeatable). Example: --status new",
)
@click.option(
    "--rule",
    "rule_names",
    multiple=True,
    type=click.Choice(RULE_NAMES),
    help="Only alerts of this rule (repeatable). Example: --rule rise",
)
@click.option("--since", help="Only alerts triggered at or after this date/time (UTC). Example: --since 2025-01-01")
@click.option("--until", help="Only alerts triggered before this date/time (UTC). Example: --until 2025-02-01")
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most this many (newest first). Example: --limit 20",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format. Example: --format csv",
)
@json_option
@width_option
@pass_app
def alerts_list(
    app: AppContext,
    statuses: tuple[str, ...],
    rule_names: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int | None,
    fmt: str,
    as_json: bool,
    width: int | None,
) -> None:
    """List alerts, newest first (subjects are pseudonyms or source names).

    Example: emomon alerts list --status new --rule rise --since 2025-01-01 --format csv
    """
    docs = list_docs(app, statuses, rule_names, since, until, limit)
    if as_json or fmt == "json":
        print_json({"alerts": docs})
    elif fmt == "csv":
        from monitor.safe_text import echo

        echo(alerts_csv(docs), nl=False)
    else:
        _print_table(app, docs, width_of(app, width))


def list_docs(
    app: AppContext,
    statuses: tuple[str, ...],
    rule_names: tuple[str, ...],
    since: str | None,
    until: str | None,
    limit: int | None,
) -> list[dict[str, Any]]:
    """The filtered alerts as dicts with their one-line explanation (:meth:`monitor.api.Emomon.alerts`)."""
    lo, hi = parse_window(since, until)
    return app.api.alerts(statuses, rule_names, lo, hi, limit)


def alerts_csv(docs: list[dict[str, Any]]) -> str:
    """One CSV row per alert (header first), the explanation in plain words."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for d in docs:
        w.writerow(["" if d.get(c) is None else d[c] for c in CSV_COLUMNS])
    return buf.getvalue()


#: Below this many columns `alerts list` prints two lines per alert instead of a table.
COMPACT_BELOW = 96


def _print_table(app: AppContext, docs: list[dict[str, Any]], width: int) -> None:
    from rich import box
    from rich.table import Table

    from monitor.alerts.evidence import brief
    from monitor.numbers import plural
    from monitor.safe_text import console as safe_console
    from monitor.safe_text import text

    console = safe_console(width=width, highlight=False)
    if width < COMPACT_BELOW:
        # Too narrow for seven columns: one line of fields per alert, its evidence wrapped below.
        from rich.padding import Padding

        console.print(plural(len(docs), "alert"))
        for d in docs:
            console.print(
                text(
                    f"#{d['id']}  {d['status']}  {d['severity']}  {d['rule']}  {d['subject']}  "
                    f"{(d['trigger_at'] or '')[:10]}",
                    no_wrap=True,
                    overflow="fold",
                )
            )
            console.print(Padding(text(brief(d)), (0, 0, 0, 4)))
        if docs:
            app.console.print("Details: emomon alerts show ID", style="dim")
        return
    table = Table(
        title=plural(len(docs), "alert"), box=box.SIMPLE_HEAD, title_justify="left", width=width, pad_edge=False
    )
    for col in ("id", "status", "severity", "rule", "subject", "triggered"):
        table.add_column(col, no_wrap=True)
    table.add_column("evidence", ratio=1, min_width=16)
    for d in docs:
        table.add_row(
            str(d["id"]), d["status"], d["severity"], d["rule"], d["subject"], (d["trigger_at"] or "")[:10], brief(d)
        )
    console.print(table)
    if docs:
        app.console.print("Details: emomon alerts show ID", style="dim")


@alerts_group.command("show")
@click.argument("alert_id", type=int, metavar="ID")
@json_option
@width_option
@pass_app
def alerts_show(app: AppContext, alert_id: int, as_json: bool, width: int | None) -> None:
    """Show what fired and why, the window, the posts behind it (date, index, top emotions,
    text where still kept) and what reviewers did with it.

    Example: emomon alerts show 12
    """
    doc = app.api.alert(alert_id)
    if as_json:
        print_json(doc)
        return
    from monitor.report.views import alert_view
    from monitor.safe_text import console

    w = width_of(app, width)
    console(width=w, highlight=False).print(alert_view(doc, doc["explanation"], doc["posts"], doc["history"], width=w))


def _act(
    app: AppContext,
    alert_id: int,
    status: Literal["acknowledged", "resolved"],
    note: str,
    by: str | None,
    as_json: bool,
    verdict: Literal["true_alarm", "false_alarm", "unsure"] | None = None,
) -> None:
    who = reviewer(by)
    doc = app.api.act(alert_id, status, note=note, by=who, verdict=verdict)
    if as_json:
        print_json(doc)
    else:
        judged = f" ({verdict.replace('_', ' ')})" if verdict else ""
        app.console.print(f"alert {alert_id}: {doc['status']} by {who}{judged}", highlight=False)


note_option = click.option(
    "--note",
    required=True,
    help="What was done or decided (kept in the alert's history). Example: --note 'checked in by phone'",
)
by_option = click.option("--by", "by", default=None, help="Who did it (default: your login name). Example: --by sam")


@alerts_group.command("ack")
@click.argument("alert_id", type=int, metavar="ID")
@note_option
@by_option
@json_option
@pass_app
def alerts_ack(app: AppContext, alert_id: int, note: str, by: str | None, as_json: bool) -> None:
    """Mark alert ID as acknowledged (someone is looking at it), with a note.

    Example: emomon alerts ack 12 --note "reading the posts" --by sam
    """
    _act(app, alert_id, "acknowledged", note, by, as_json)


@alerts_group.command("resolve")
@click.argument("alert_id", type=int, metavar="ID")
@note_option
@click.option(
    "--verdict",
    type=click.Choice(["true_alarm", "false_alarm", "unsure"]),
    default=None,
    help="What the review concluded (counted by `emomon alerts stats`). Example: --verdict false_alarm",
)
@by_option
@json_option
@pass_app
def alerts_resolve(
    app: AppContext,
    alert_id: int,
    note: str,
    verdict: Literal["true_alarm", "false_alarm", "unsure"] | None,
    by: str | None,
    as_json: bool,
) -> None:
    """Mark alert ID as resolved (reviewed; no further action here), with a note and a verdict.

    Example: emomon alerts resolve 12 --note "checked in; no follow-up needed" --verdict true_alarm
    """
    _act(app, alert_id, "resolved", note, by, as_json, verdict)


@alerts_group.command("stats")
@json_option
@pass_app
def alerts_stats(app: AppContext, as_json: bool) -> None:
    """Count the verdicts of resolved alerts per rule and per month (true alarm, false alarm,
    unsure) and the share of true alarms among those decided: whether the alerts help.

    Example: emomon alerts stats
    """
    rows = app.api.verdict_stats()
    if as_json:
        print_json({"stats": rows})
        return
    from rich.table import Table

    table = Table(title=f"verdicts on {sum(r['judged'] for r in rows)} resolved alert(s)", title_justify="left")
    for col in ("month", "rule", "true alarm", "false alarm", "unsure", "precision"):
        table.add_column(col, no_wrap=True, justify="left" if col in ("month", "rule") else "right")
    for r in rows:
        share = "–" if r["precision"] is None else f"{r['precision']:.0%}"
        table.add_row(r["month"], r["rule"], str(r["true_alarm"]), str(r["false_alarm"]), str(r["unsure"]), share)
    app.console.print(table)
    if not rows:
        app.console.print("No verdicts yet: emomon alerts resolve ID --note ... --verdict true_alarm", style="dim")


COMMANDS = (alerts_group,)
