"""``emomon rejected``: the records ingest quarantined, with where they were and why."""

from __future__ import annotations

import click

from monitor.cli.app import AppContext, json_option, pass_app, print_json


@click.group("rejected")
def rejected_group() -> None:
    """Show the records ingest could not store (the rest of each file was still read).

    Example: emomon rejected list --source forum
    """


@rejected_group.command("list")
@click.option("--source", default=None, help="Only this source's records. Example: --source forum")
@click.option(
    "--reason", default=None, help="Only records whose reason contains this (any case). Example: --reason 'no text'"
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="Show at most this many (newest first). Example: --limit 50",
)
@json_option
@pass_app
def rejected_list(app: AppContext, source: str | None, reason: str | None, limit: int | None, as_json: bool) -> None:
    """List quarantined records, newest first: source, location (file:line or entry), reason.

    The raw record is kept in the database but not printed: it may carry a handle.

    Example: emomon rejected list --reason date --json
    """
    from monitor.store.engine import session_scope
    from monitor.store.posts import list_rejected, require_source

    with session_scope(app.engine()) as s:
        if source is not None:
            require_source(s, source)
        rows = list_rejected(s, source=source, reason=reason, limit=limit)
    if as_json:
        print_json(
            {
                "rejected": [
                    {
                        "source": r.source,
                        "location": r.location,
                        "reason": r.reason,
                        "rejected_at": r.rejected_at.isoformat(),
                    }
                    for r in rows
                ]
            }
        )
        return
    if not rows:
        what = " and ".join(x for x in (source and f"source {source!r}", reason and f"reason {reason!r}") if x)
        app.console.print(f"no rejected records{' for ' + what if what else ''}")
        return
    from rich import box
    from rich.table import Table

    table = Table(title=f"{len(rows)} rejected record(s)", box=box.SIMPLE_HEAD, title_justify="left")
    table.add_column("source", no_wrap=True)
    table.add_column("location", overflow="fold")
    table.add_column("reason", overflow="fold", ratio=2)
    table.add_column("rejected", no_wrap=True)
    for r in rows:
        table.add_row(r.source, r.location, r.reason, r.rejected_at.strftime("%Y-%m-%d %H:%M"))
    app.console.print(table)


COMMANDS = (rejected_group,)
