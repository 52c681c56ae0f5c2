"""``emomon sources``: list, add and remove configured sources (the config file is edited with
comments kept)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from monitor.cli.app import DEFAULT_CONFIG, AppContext, EmomonGroup, json_option, pass_app, print_json
from monitor.errors import EmomonError
from monitor.ingest.registry import SOURCE_KINDS


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
    from rich.table import Table

    table = Table(title="sources")
    for column in ("name", "kind", "location", "configured", "enabled", "posts", "rejected", "state", "last ingest"):
        table.add_column(column)
    for r in rows:
        table.add_row(r["name"], r["kind"], r["location"], _yes(r["configured"]), _yes(r["enabled"]),
                      str(r["posts"]), str(r["rejected"]), r["state"], r["last_ingested_at"] or "never")
    app.console.print(table)


def _yes(value: bool) -> str:
    return "yes" if value else "no"


def _source_json(name: str, kind: str, location: str, configured: bool, enabled: bool, row: Any) -> dict[str, Any]:
    state = "new"
    if row is not None:
        state = "paused (410 Gone)" if row.paused else "ok"
        if row.retry_after is not None:
            state += f", retry after {row.retry_after.isoformat()}"
    return {
        "name": name, "kind": kind, "location": location, "configured": configured, "enabled": enabled,
        "url": row.url if row else None, "posts": row.posts if row else 0,
        "rejected": row.rejected if row else 0, "state": state,
        "last_ingested_at": row.last_ingested_at.isoformat() if row and row.last_ingested_at else None,
    }


@sources.command("add")
@click.argument("name")
@click.argument("location")
@click.option("--format", "kind", type=click.Choice(SOURCE_KINDS),
              help="Source format (guessed from LOCATION when omitted). Example: --format csv")
@click.option("--column", "columns", multiple=True, metavar="KEY=NAME",
              help="Map a field to a column/key of the input (id, text, author, created_at, url, "
                   "language). Repeatable. Example: --column text=body --column id=post_id")
@pass_app
def sources_add(app: AppContext, name: str, location: str, kind: str | None, columns: tuple[str, ...]) -> None:
    """Add a [[sources]] entry to the config file (comments elsewhere are kept).

    Example: emomon sources add news https://example.org/feed.xml
    """
    from monitor.ingest.registry import guess_kind
    from monitor.sources_file import add_source

    mapping: dict[str, str] = {}
    for item in columns:
        key, sep, value = item.partition("=")
        if not sep or not key or not value:
            raise click.BadParameter(f"{item!r} is not KEY=NAME (e.g. text=body)", param_hint="--column")
        mapping[key.strip()] = value.strip()
    path = _config_file(app)
    add_source(path, name=name, kind=kind or guess_kind(location), location=location, columns=mapping)
    app.log(f"added source {name!r} to {path}")


@sources.command("remove")
@click.argument("name")
@click.option("--purge", is_flag=True,
              help="Also delete the source's stored posts and rejections. Example: --purge")
@pass_app
def sources_remove(app: AppContext, name: str, purge: bool) -> None:
    """Remove a [[sources]] entry from the config file.

    Example: emomon sources remove news --purge
    """
    from monitor.sources_file import remove_source
    from monitor.store.engine import session_scope
    from monitor.store.posts import delete_source

    path = _config_file(app)
    remove_source(path, name)
    if purge:
        with session_scope(app.engine()) as session:
            delete_source(session, name)
    app.log(f"removed source {name!r} from {path}" + (" and its stored posts" if purge else ""))


def _config_file(app: AppContext) -> Path:
    path = app.config_path or DEFAULT_CONFIG
    if not path.exists():
        raise EmomonError(f"config file {str(path)!r} not found: pass --config PATH to the file to edit")
    app.settings  # validate before editing  # noqa: B018
    return path


COMMANDS = (sources,)
