"""``emomon alerts``: list alerts for review, acknowledge and resolve them."""

from __future__ import annotations

import click

from monitor.cli.app import AppContext, json_option, parse_when, pass_app, print_json


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
@json_option
@pass_app
def alerts_list(app: AppContext, statuses: tuple[str, ...], since: str | None, limit: int | None,
                as_json: bool) -> None:
    """List alerts, newest first (subjects are pseudonyms or source names).

    Example: emomon alerts list --status new --since 2025-01-01 --json
    """
    from monitor.store import alerts as alert_store
    from monitor.store.engine import session_scope

    with session_scope(app.engine()) as s:
        rows = alert_store.list_alerts(s, status=statuses or None,
                                       since=parse_when(since, "--since"), limit=limit)
        docs = [alert_store.alert_dict(a) for a in rows]
    if as_json:
        print_json({"alerts": docs})
        return
    from rich import box
    from rich.table import Table

    table = Table(title=f"{len(docs)} alert(s)", box=box.SIMPLE_HEAD, title_justify="left")
    for col in ("id", "status", "severity", "rule", "subject", "triggered"):
        table.add_column(col, no_wrap=True)
    table.add_column("evidence", overflow="fold", min_width=12)
    for d in docs:
        ev = ", ".join(f"{k}={v}" for k, v in d["evidence"].items() if k != "post_ids")
        table.add_row(str(d["id"]), d["status"], d["severity"], d["rule"], d["subject"],
                      (d["trigger_at"] or "")[:10], ev)
    app.console.print(table)


def _set_status(app: AppContext, alert_id: int, status: str, as_json: bool) -> None:
    from monitor.store import alerts as alert_store
    from monitor.store.engine import session_scope

    with session_scope(app.engine()) as s:
        doc = alert_store.alert_dict(alert_store.set_status(s, alert_id, status))
    if as_json:
        print_json(doc)
    else:
        app.console.print(f"alert {alert_id}: {doc['status']}")


@alerts_group.command("ack")
@click.argument("alert_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True,
              help="Print the alert as one JSON document. Example: --json")
@pass_app
def alerts_ack(app: AppContext, alert_id: int, as_json: bool) -> None:
    """Mark alert ID as acknowledged (someone is looking at it).

    Example: emomon alerts ack 12
    """
    _set_status(app, alert_id, "acknowledged", as_json)


@alerts_group.command("resolve")
@click.argument("alert_id", type=int, metavar="ID")
@click.option("--json", "as_json", is_flag=True,
              help="Print the alert as one JSON document. Example: --json")
@pass_app
def alerts_resolve(app: AppContext, alert_id: int, as_json: bool) -> None:
    """Mark alert ID as resolved (reviewed; no further action here).

    Example: emomon alerts resolve 12
    """
    _set_status(app, alert_id, "resolved", as_json)


COMMANDS = (alerts_group,)
