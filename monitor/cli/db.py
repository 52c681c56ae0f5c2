"""``emomon db``: create, migrate and inspect the database schema."""

from __future__ import annotations

import click

from monitor.cli.app import AppContext, EmomonGroup, json_option, pass_app, print_json


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

    engine = app.engine(migrate=False)
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


COMMANDS = (db,)
