"""The ``emomon`` command line: one flat click group; parse, call, render.

Domain errors (:class:`monitor.errors.EmomonError`) become one-line ``click.ClickException``
messages (exit 1, no traceback); usage errors exit 2.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from monitor import __version__
from monitor.config import SOURCE_KINDS, Settings, load_settings
from monitor.errors import EmomonError

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_CONFIG = Path("config.toml")


@dataclass
class AppContext:
    """What every command gets as ``ctx.obj``: lazy settings, consoles, and the engine."""

    config_path: Path | None
    config_explicit: bool
    db_url: str | None
    verbosity: int = 0
    console: Console = field(default_factory=Console)
    err_console: Console = field(default_factory=lambda: Console(stderr=True))
    _settings: Settings | None = None
    _engine: Any = None

    @property
    def settings(self) -> Settings:
        """Settings loaded on first use (``--db`` overrides ``database.url``)."""
        if self._settings is None:
            env = dict(os.environ)
            if self.db_url:
                env["EMOMON_DATABASE_URL"] = self.db_url
            path = self.config_path
            if path is not None and not self.config_explicit and not path.exists():
                path = None  # no ./config.toml: built-in defaults
            self._settings = load_settings(path, env)
        return self._settings

    def engine(self, *, migrate: bool = True) -> Any:
        """The database engine; a new database is created at head, an old one refused."""
        if self._engine is None:
            from monitor.db import ensure_schema, make_engine

            self._engine = make_engine(self.settings.database.url)
            if migrate:
                ensure_schema(self._engine)
        return self._engine

    def log(self, message: str) -> None:
        """Print a progress note on stderr unless --quiet."""
        if self.verbosity >= 0:
            self.err_console.print(message, highlight=False)


class EmomonGroup(click.Group):
    """A click group that turns domain errors into clean one-line messages."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except EmomonError as exc:
            raise click.ClickException(str(exc)) from exc


pass_app = click.make_pass_decorator(AppContext)


def json_option(func: F) -> F:
    """The shared ``--json`` flag."""
    return click.option(
        "--json", "as_json", is_flag=True,
        help="Print exactly one JSON document on stdout instead of tables. Example: --json",
    )(func)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout."""
    click.echo(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@click.group(cls=EmomonGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), envvar="EMOMON_CONFIG",
    default=None, show_envvar=True,
    help="Config file to read (default ./config.toml). Example: --config /etc/emomon/config.toml",
)
@click.option(
    "--db", "db_url", envvar="EMOMON_DATABASE_URL", show_envvar=True, default=None,
    help="Database URL, overrides [database] url. Example: --db sqlite:///data/emomon.db",
)
@click.option("-v", "--verbose", count=True, help="Say more on stderr. Example: -v")
@click.option("-q", "--quiet", is_flag=True, help="Print only results and errors. Example: -q")
@click.version_option(__version__, prog_name="emomon")
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None, db_url: str | None, verbose: int, quiet: bool) -> None:
    """emomon: ingest social-media text, score emotions, raise trend alerts for human review.

    Decision support for a named team of reviewers, not a diagnosis tool.

    Example: emomon --config config.toml ingest
    """
    ctx.obj = AppContext(
        config_path=config_path or DEFAULT_CONFIG,
        config_explicit=config_path is not None,
        db_url=db_url,
        verbosity=-1 if quiet else verbose,
    )


# ---------------------------------------------------------------------------- db

@cli.group(cls=EmomonGroup)
def db() -> None:
    """Manage the database schema.

    Example: emomon db upgrade
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True,
              help="Target revision. Example: --revision 0001")
@json_option
@pass_app
def db_upgrade(app: AppContext, revision: str, as_json: bool) -> None:
    """Create the database or migrate it to the newest schema.

    Example: emomon db upgrade
    """
    from monitor import db as dbmod

    engine = app.engine(migrate=False)
    before = dbmod.current_revision(engine)
    after = dbmod.upgrade(engine, revision)
    if as_json:
        print_json({"before": before, "after": after, "head": dbmod.head_revision()})
    else:
        app.console.print(f"database at revision {after} (was {before or 'empty'})", highlight=False)


@db.command("current")
@json_option
@pass_app
def db_current(app: AppContext, as_json: bool) -> None:
    """Show the database's schema revision and the newest one emomon knows.

    Example: emomon db current --json
    """
    from monitor import db as dbmod

    engine = app.engine(migrate=False)
    current, head = dbmod.current_revision(engine), dbmod.head_revision()
    if as_json:
        print_json({"current": current, "head": head, "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "out of date: run `emomon db upgrade`"
        app.console.print(f"revision {current or 'none'} (head {head}): {state}", highlight=False)


# ---------------------------------------------------------------------------- ingest

@cli.command()
@click.argument("sources", nargs=-1)
@click.option("--format", "kind", type=click.Choice(SOURCE_KINDS),
              help="Format of paths/URLs given as SOURCES (guessed from the name when omitted). "
                   "Example: --format reddit")
@json_option
@pass_app
def ingest(app: AppContext, sources: tuple[str, ...], kind: str | None, as_json: bool) -> None:
    """Read configured sources (or the SOURCES named) into the database.

    SOURCES are names of configured sources, or paths, globs and feed URLs. With none, every
    enabled configured source is read. Exit 1 when a source failed as a whole.

    Example: emomon ingest examples/posts.jsonl 'dumps/*.ndjson.gz' --format reddit
    """
    from monitor.ingest.run import adhoc_source, ingest as run_ingest, with_kind

    settings = app.settings
    chosen = []
    for name in sources:
        configured = settings.source(name)
        chosen.append(with_kind(configured, kind) if configured else adhoc_source(name, kind))
    if not sources:
        chosen = [s for s in settings.sources if s.enabled]
        if not chosen:
            raise EmomonError("no sources to ingest: add [[sources]] to the config or name paths/URLs")
    engine = app.engine()
    show_progress = not as_json and app.verbosity >= 0 and sys.stderr.isatty()
    from monitor.pipeline import exclusive

    with exclusive(settings, engine, label="ingest"), \
            progress_reporter(app.err_console, enabled=show_progress) as progress:
        report = run_ingest(engine, settings, chosen, progress=progress)
    if as_json:
        print_json(report.to_json())
    elif app.verbosity >= 0 or not report.ok:
        app.console.print(ingest_table(report))
    if not report.ok:
        failed = "; ".join(f"{s.name}: {s.error}" for s in report.sources if s.status == "error")
        raise click.ClickException(failed)


def ingest_table(report: Any) -> Table:
    """A rich table of an ingest report: one row per source and a totals row."""
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


@contextmanager
def progress_reporter(console: Console, *, enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """Yield a progress callback showing records read per source, or None when disabled."""
    if not enabled:
        yield None
        return
    with Progress(
        TextColumn("{task.description}"), TextColumn("{task.completed} records"),
        TimeElapsedColumn(), console=console, transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(name: str, read: int) -> None:
            if name not in tasks:
                tasks[name] = progress.add_task(name, total=None)
            progress.update(tasks[name], completed=read)

        yield update


# ---------------------------------------------------------------------------- sources

@cli.group(cls=EmomonGroup)
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
    from monitor.db import session_scope
    from monitor.store import list_sources

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
    from monitor.ingest.run import guess_kind
    from monitor.sources_config import add_source

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
    from sqlalchemy import delete

    from monitor.db import session_scope
    from monitor.sources_config import remove_source
    from monitor.tables import Source

    path = _config_file(app)
    remove_source(path, name)
    if purge:
        with session_scope(app.engine()) as session:
            session.execute(delete(Source).where(Source.name == name))
    app.log(f"removed source {name!r} from {path}" + (" and its stored posts" if purge else ""))


def _config_file(app: AppContext) -> Path:
    path = app.config_path or DEFAULT_CONFIG
    if not path.exists():
        raise EmomonError(f"config file {str(path)!r} not found: pass --config PATH to the file to edit")
    app.settings  # validate before editing  # noqa: B018
    return path


# ---------------------------------------------------------------------------- other areas
# Commands of later stages are registered here, one line each, e.g.
#   from monitor.model.commands import train, evaluate, predict
#   cli.add_command(train)
# >>> registered commands >>>
from monitor.model.commands import evaluate, predict, train  # noqa: E402

cli.add_command(train)
cli.add_command(evaluate)
cli.add_command(predict)
from monitor.score_cmd import score as score_command  # noqa: E402

cli.add_command(score_command)
from monitor.ops_cmd import COMMANDS as OPS_COMMANDS  # noqa: E402

for _command in OPS_COMMANDS:  # alerts, report, run, schedule, cron, purge
    cli.add_command(_command)
# <<< registered commands <<<
