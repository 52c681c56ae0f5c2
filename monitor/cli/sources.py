"""``emomon sources``: list, add and remove configured sources (the config file is edited with
comments kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from monitor.choices import SOURCE_KINDS
from monitor.cli.app import AppContext, EmomonGroup, json_option, pass_app, print_json
from monitor.errors import EmomonError
from monitor.redact import redact_url


@click.group(cls=EmomonGroup)
def sources() -> None:
    """List, add and remove configured sources.

    Example: emomon sources list
    """


@sources.command("list")
@json_option
@pass_app
def sources_list(app: AppContext, as_json: bool) -> None:
    """Show configured sources with their stored state (posts, rejected, feed URL, pause).

    Example: emomon sources list --json
    """
    from monitor.store.engine import session_scope
    from monitor.store.posts import list_sources

    settings = app.settings
    with session_scope(app.engine()) as session:
        stored = {row.name: row for row in list_sources(session)}
    rows: list[dict[str, Any]] = []
    for s in settings.sources:
        row = stored.pop(s.name, None)
        rows.append(_source_json(s.name, s.kind, s.location, True, s.enabled, row))
    for name, row in stored.items():
        rows.append(_source_json(name, row.kind, row.location, False, True, row))
    if as_json:
        print_json({"sources": rows})
        return
    from rich import box
    from rich.table import Table

    from monitor.safe_text import text

    # Readable at 80 columns: the location goes under the name, and only the location wraps.
    table = Table(title="sources", box=box.SIMPLE_HEAD, title_justify="left", pad_edge=False, expand=True)
    table.add_column("source / location", ratio=1, min_width=16, overflow="fold")
    for column in ("kind", "posts", "rejected", "state", "last ingest"):
        table.add_column(column, no_wrap=True, justify="right" if column in ("posts", "rejected") else "left")
    for r in rows:
        flags = ", ".join(f for f, on in (("ad-hoc", not r["configured"]), ("disabled", not r["enabled"])) if on)
        where = text((r["name"], "bold"), f" ({flags})" if flags else "", ("\n" + r["location"], "dim"))
        last = (r["last_ingested_at"] or "never")[:16].replace("T", " ")
        table.add_row(where, r["kind"], str(r["posts"]), str(r["rejected"]), r["state"], last)
    app.console.print(table)


def _source_json(name: str, kind: str, location: str, configured: bool, enabled: bool, row: Any) -> dict[str, Any]:
    state = "new"
    if row is not None:
        state = "paused (410 Gone)" if row.paused else "ok"
        if row.retry_after is not None:
            state += f", retry after {row.retry_after.isoformat()}"
    return {
        "name": name,
        "kind": kind,
        "location": redact_url(location),
        "configured": configured,
        "enabled": enabled,
        "url": redact_url(row.url) if row and row.url else None,
        "posts": row.posts if row else 0,
        "rejected": row.rejected if row else 0,
        "state": state,
        "last_ingested_at": row.last_ingested_at.isoformat() if row and row.last_ingested_at else None,
    }


@sources.command("add")
@click.argument("name")
@click.argument("location")
@click.option(
    "--format",
    "kind",
    type=click.Choice(SOURCE_KINDS),
    help="Source format (guessed from LOCATION when omitted). Example: --format csv",
)
@click.option(
    "--column",
    "columns",
    multiple=True,
    metavar="KEY=NAME",
    help="Map a field to a column/key of the input (id, text, author, created_at, url, "
    "language). Repeatable. Example: --column text=body --column id=post_id",
)
@pass_app
def sources_add(app: AppContext, name: str, location: str, kind: str | None, columns: tuple[str, ...]) -> None:
    """Add a [[sources]] entry to the config file (comments elsewhere are kept).

    A path is written as its real path (relative to the config file's directory when below
    it), a URL in normal form; a location another source already reads is refused.

    Example: emomon sources add news https://example.org/feed.xml
    """
    from monitor.ingest.registry import canonical_location, guess_kind
    from monitor.locations import is_glob, is_url
    from monitor.sources_file import add_source, config_location

    mapping: dict[str, str] = {}
    for item in columns:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r} is not KEY=NAME (e.g. text=body)", param_hint="--column")
        mapping[key.strip()] = value.strip()
    path = _config_file(app)
    written = config_location(location, path.parent)
    add_source(
        path, name=name, kind=kind or guess_kind(canonical_location(location)), location=written, columns=mapping
    )
    app.log(f"added source {name!r} ({redact_url(written)}) to {path}")
    if not is_url(location) and not is_glob(location):
        real = Path(written) if Path(written).is_absolute() else path.parent / written
        if not real.exists():
            from monitor.safe_text import text

            app.log(
                text(
                    ("warning:", "yellow"),
                    f" {real} does not exist (yet): `emomon ingest {name}` "
                    "will report the source as failed until it does",
                )
            )


@sources.command("remove")
@click.argument("name")
@click.option("--purge", is_flag=True, help="Also delete the source's stored posts and rejections. Example: --purge")
@pass_app
def sources_remove(app: AppContext, name: str, purge: bool) -> None:
    """Remove a [[sources]] entry from the config file.

    Example: emomon sources remove news --purge
    """
    from contextlib import nullcontext

    from monitor.sources_file import remove_source
    from monitor.store.engine import session_scope
    from monitor.store.posts import delete_source, source_names
    from monitor.store.runs import exclusive

    path = _config_file(app)
    configured = any(s.name == name for s in app.settings.sources)
    if not configured:
        with session_scope(app.engine()) as session:
            stored = name in source_names(session)
        if not stored:
            known = ", ".join(s.name for s in app.settings.sources) or "none"
            raise EmomonError(f"no source named {name!r} in {str(path)!r} or the database; configured: {known}")
        if not purge:
            raise EmomonError(
                f"source {name!r} is only in the database (an ad-hoc ingest): pass --purge "
                "to delete it with its stored posts and rejections"
            )
    # --purge writes to the database: under the run lock, so it never runs inside an ingest.
    with exclusive(app.settings, app.engine(), label="sources remove") if purge else nullcontext():
        if configured:
            remove_source(path, name)
        if purge:
            with session_scope(app.engine()) as session:
                delete_source(session, name)
    where = f"from {path}" if configured else "from the database"
    app.log(f"removed source {name!r} {where}" + (" and its stored posts" if purge else ""))


def _config_file(app: AppContext) -> Path:
    app.settings  # validate before editing  # noqa: B018
    return app.config_file()


COMMANDS = (sources,)
