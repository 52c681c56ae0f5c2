"""``emomon ingest``: read sources into the database."""

from __future__ import annotations

from typing import Any

import click

from monitor.choices import SOURCE_KINDS
from monitor.cli.app import AppContext, json_option, pass_app, print_json, records_progress
from monitor.errors import StageFailed


@click.command()
@click.argument("sources", nargs=-1)
@click.option(
    "--format",
    "kind",
    type=click.Choice(SOURCE_KINDS),
    help="Format of paths/URLs given as SOURCES (guessed from the name when omitted). Example: --format reddit",
)
@json_option
@pass_app
def ingest(app: AppContext, sources: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """Read configured sources (or the SOURCES named) into the database.

    SOURCES are names of configured sources, or paths, globs and feed URLs. With none, every
    enabled configured source is read. A path or URL that a configured source reads (however
    it is spelled: relative, with .., through a symlink) is read as that source. Exit 3 when a
    source failed as a whole (or every record of it was rejected).

    Example: emomon ingest examples/posts.jsonl 'dumps/*.ndjson.gz' --format reddit
    """
    api = app.api
    with records_progress(app, enabled=app.interactive(as_json)) as progress:
        report = api.ingest(sources, kind=kind, progress=progress)
    if as_json:
        print_json(report.to_json())
    elif app.verbosity >= 0 or not report.ok:
        app.console.print(ingest_table(report))
    if not report.ok:
        failed = "; ".join(f"{s.name}: {s.error}" for s in report.sources if s.status == "error")
        raise StageFailed(failed)


def ingest_table(report: Any) -> Any:
    """A rich table of an ingest report: one row per source and a totals row."""
    from rich.table import Table

    table = Table(title="ingest")
    table.add_column("source")
    for key in ("read", "inserted", "updated", "duplicate", "rejected", "excluded"):
        table.add_column(key, justify="right")
    table.add_column("status")
    for s in report.sources:
        status = s.status if not s.error else f"error: {s.error}"
        if s.warnings:
            status += " (" + "; ".join(s.warnings) + ")"
        table.add_row(s.name, *(str(v) for v in s.counts().values()), status)
    table.add_row("total", *(str(v) for v in report.totals().values()), "", style="bold")
    return table


COMMANDS = (ingest,)
