"""``emomon ingest``: read sources into the database."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.choices import SOURCE_KINDS
from monitor.cli.app import AppContext, json_option, pass_app, print_json, records_progress
from monitor.errors import EmomonError, StageFailed

if TYPE_CHECKING:
    from monitor.settings import SourceSettings


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
    from monitor.ingest.registry import find_configured
    from monitor.ingest.stage import adhoc_source, with_kind
    from monitor.ingest.stage import ingest as run_ingest
    from monitor.store.runs import exclusive

    settings = app.settings
    chosen: dict[str, SourceSettings] = {}  # by name: a source named twice is read once
    for name in sources:
        configured = settings.source(name) or find_configured(settings.sources, name)
        if configured is None:
            _require_location(name, [s.name for s in settings.sources])
        source = with_kind(configured, kind) if configured else adhoc_source(name, kind)
        chosen.setdefault(source.name, source)
    if not sources:
        chosen = {s.name: s for s in settings.sources if s.enabled}
        if not chosen:
            raise EmomonError("no sources to ingest: add [[sources]] to the config or name paths/URLs")
    engine = app.engine()
    with (
        exclusive(settings, engine, label="ingest"),
        records_progress(app, enabled=app.interactive(as_json)) as progress,
    ):
        report = run_ingest(engine, settings, list(chosen.values()), progress=progress)
    if as_json:
        print_json(report.to_json())
    elif app.verbosity >= 0 or not report.ok:
        app.console.print(ingest_table(report))
    if not report.ok:
        failed = "; ".join(f"{s.name}: {s.error}" for s in report.sources if s.status == "error")
        raise StageFailed(failed)


def _require_location(name: str, known: list[str]) -> None:
    """A SOURCE that is not configured and looks like no path, URL or glob is a mistyped name."""
    import difflib

    from monitor.locations import is_glob, is_url

    if is_url(name) or is_glob(name) or Path(name).expanduser().exists():
        return
    if "/" in name or Path(name).suffix:
        return  # a path: ingest reports it as a missing file, with the other sources' counts
    listed = ", ".join(known) or "none (add one with `emomon sources add`)"
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    raise EmomonError(f"no source named {name!r} and no such file: {hint}known sources: {listed}")


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
