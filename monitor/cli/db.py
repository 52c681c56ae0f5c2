"""``emomon db``: create, migrate and inspect the database schema."""

from __future__ import annotations

import click

from monitor.cli.app import AppContext, EmomonGroup, counted_progress, json_option, pass_app, print_json


@click.group(cls=EmomonGroup)
def db() -> None:
    """Manage the database schema.

    Example: emomon db upgrade
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision. Example: --revision 0001")
@json_option
@pass_app
def db_upgrade(app: AppContext, revision: str, as_json: bool) -> None:
    """Create the database or migrate it to the newest schema.

    Example: emomon db upgrade
    """
    from monitor.store import engine as store_engine
    from monitor.store.runs import run_lock

    engine = app.engine(migrate=False)
    with run_lock(app.settings, label="db upgrade", engine=engine):  # never migrate under a running writer
        before = store_engine.current_revision(engine)
        after = store_engine.upgrade(engine, revision)
    if as_json:
        print_json({"before": before, "after": after, "head": store_engine.head_revision()})
    else:
        app.console.print(f"database at revision {after} (was {before or 'empty'})", highlight=False)


@db.command("current")
@json_option
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """Show the database's schema revision and the newest one emomon knows.

    Example: emomon db current --json
    """
    from monitor.store import engine as store_engine

    engine = app.engine(migrate=False)
    current, head = store_engine.current_revision(engine), store_engine.head_revision()
    if as_json:
        print_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "out of date: run `emomon db upgrade`"
        app.console.print(f"revision {current or 'none'} (head {head}): {state}", highlight=False)


@db.command("copy")
@click.option(
    "--from",
    "source",
    metavar="URL",
    default=None,
    help="Database to copy (default: the configured database.url). Example: --from sqlite:///emomon.db",
)
@click.option(
    "--to",
    "target",
    metavar="URL",
    required=True,
    help="Empty database to copy into. Example: --to postgresql+psycopg://emomon@db.example.org/emomon",
)
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait for either database's run lock (default schedule.lock_timeout). Example: --lock-timeout 0",
)
@json_option
@pass_app
def db_copy(app: AppContext, source: str | None, target: str, lock_timeout: float | None, as_json: bool) -> None:
    """Copy the whole store into an empty database, e.g. from SQLite to PostgreSQL.

    Every table (pseudonym salt, sources, authors, posts, rejected, scores, alerts, runs) is
    copied with its ids, then verified by row counts and a checksum per table. A non-empty
    target is refused.

    Example: emomon db copy --from sqlite:///emomon.db --to postgresql+psycopg://emomon@localhost/emomon
    """
    from monitor.store.copy import copy_store

    wait = app.settings.schedule.lock_timeout if lock_timeout is None else lock_timeout
    with counted_progress(app, "copying", "rows", enabled=app.interactive(as_json)) as bar:
        shown: dict[str, int] = {}

        def progress(table: str, rows: int) -> None:
            if bar is not None:
                bar[1](rows - shown.get(table, 0), table)
            shown[table] = rows

        report = copy_store(source or app.settings.database.url, target, lock_timeout=wait, progress=progress)
    if as_json:
        print_json(report.to_json())
        return
    from rich.table import Table

    table = Table(title=f"db copy: {report.source} -> {report.target}")
    for column in ("table", "rows", "checksum (sha256)", "verified"):
        table.add_column(column)
    for t in report.tables:
        table.add_row(t.name, f"{t.rows:,}", t.checksum[:16], "yes" if t.ok else "NO")
    app.console.print(table)


COMMANDS = (db,)
