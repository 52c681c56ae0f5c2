"""What every command shares: the app context, the error boundary, the shared options, JSON
output, date parsing and progress displays.

Nothing heavy is imported here: settings, rich, the database and torch load on first use, so
``emomon --help`` starts fast.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import click

from monitor.choices import DEVICES
from monitor.errors import ConfigError, EmomonError, ExitStatus
from monitor.redact import redact

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text
    from sqlalchemy import Engine

    from monitor.api import Emomon
    from monitor.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
R = TypeVar("R")
DEFAULT_CONFIG = Path("config.toml")


@dataclass
class AppContext:
    """What every command gets as ``ctx.obj``: lazy settings, consoles, and the engine."""

    config_path: Path | None
    config_explicit: bool
    db_url: str | None
    verbosity: int = 0
    config_named_by: str = "--config"  # or "EMOMON_CONFIG": how an explicit config_path was named
    _config_file: Path | None = None
    _settings: Settings | None = None
    _engine: Engine | None = None
    _consoles: dict[str, Console] = field(default_factory=dict)

    @property
    def settings(self) -> Settings:
        """Settings loaded on first use (``--db`` overrides ``database.url``)."""
        if self._settings is None:
            from monitor.settings import load_settings

            env = dict(os.environ)
            if self.db_url:
                env["EMOMON_DATABASE_URL"] = self.db_url
            self._settings = load_settings(self.config_file(), env)
        return self._settings

    def config_file(self) -> Path:
        """The config file every command but ``init`` reads: the one named by ``--config`` or
        ``EMOMON_CONFIG``, else the first found of ``./config.toml`` and
        ``$XDG_CONFIG_HOME/emomon/config.toml``.

        Raises:
            ConfigError: The named file does not exist, or none was found (one line pointing to
                ``emomon init``; nothing is created).
        """
        if self._config_file is None:
            from monitor.settings.loading import config_places, find_config

            if self.config_explicit and self.config_path is not None:
                if not self.config_path.expanduser().exists():
                    raise ConfigError(
                        f"config file {str(self.config_path)!r} ({self.config_named_by}) not found: "
                        "check the path, or write one with `emomon init DIRECTORY`"
                    )
                self._config_file = self.config_path
            else:
                found = find_config(os.environ)
                if found is None:
                    here, user = config_places(os.environ)
                    raise ConfigError(
                        f"no config file found (looked for ./{here} and {user}): create one here "
                        "with `emomon init`, or name one with --config PATH or EMOMON_CONFIG"
                    )
                self._config_file = found
        return self._config_file

    def engine(self, *, migrate: bool = True) -> Engine:
        """The database engine; a new database is created at head, an old one refused."""
        if self._engine is None:
            from monitor.store.engine import open_store

            self._engine = open_store(self.settings, migrate=migrate)
        return self._engine

    @property
    def api(self) -> Emomon:
        """The :class:`monitor.api.Emomon` every command calls: these settings, and this engine once
        one is open (else the API opens the database when a method first needs it)."""
        from monitor.api import Emomon

        return Emomon(self.settings, engine=self._engine)

    def database_label(self) -> str | None:
        """How error lines name the database: the SQLite file, or the URL without secrets."""
        url = self._engine.url if self._engine is not None else None
        if url is None and self._settings is not None:
            from sqlalchemy.engine import make_url

            url = make_url(self._settings.database.url)
        if url is None:
            return None
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return str(url.database)
        return redact(url.render_as_string(hide_password=False))

    @property
    def console(self) -> Console:
        """Rich console on stdout (results)."""
        return self._console("out")

    @property
    def err_console(self) -> Console:
        """Rich console on stderr (progress and notes)."""
        return self._console("err")

    def _console(self, which: str) -> Console:
        if which not in self._consoles:
            from monitor.safe_text import console

            self._consoles[which] = console(stderr=which == "err")  # data printed as data
        return self._consoles[which]

    def log(self, message: str | Text) -> None:
        """Print a progress note on stderr unless --quiet (a string is never read as markup)."""
        if self.verbosity >= 0:
            self.err_console.print(message, highlight=False, soft_wrap=True)

    def interactive(self, as_json: bool = False) -> bool:
        """Whether to draw progress: stderr is a terminal, not --quiet, not --json."""
        import sys

        return not as_json and self.verbosity >= 0 and sys.stderr.isatty()


class EmomonGroup(click.Group):
    """The error boundary: every failure a user can hit becomes one line on stderr and an exit status.

    Domain errors carry their own line and :class:`~monitor.errors.ExitStatus` (config 78, lock
    held 75, a source or stage failed 3, else 1); database and file-system errors are described by
    :func:`monitor.failures.describe` (the thing and the fix, never SQL parameters or post
    text). URLs in any error line are redacted. Anything else is a bug and keeps its traceback.
    With ``-v`` a database or file-system failure also prints its stack frames first (file,
    line, code; no messages or values, which may hold post text).
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # may quote what was typed
            line = _visible(exc.format_message())
            if line == exc.format_message():
                raise
            raise click.UsageError(line, exc.ctx) from None
        except click.ClickException as exc:
            line = _visible(redact(exc.format_message()))
            if line == exc.format_message():
                raise
            raise exiting(line, exc.exit_code) from None
        except EmomonError as exc:  # the one place a domain error becomes its exit status
            raise exiting(_visible(redact(with_flag(str(exc), exc.argument))), exc.exit_status) from exc
        except (click.exceptions.Exit, click.Abort):  # --help, --version, Ctrl-C: nothing to describe
            raise
        except Exception as exc:
            from monitor.failures import describe

            app = ctx.find_object(AppContext)
            described = describe(exc, database=app.database_label() if app else None)
            if described is None:
                raise
            raise _failure(ctx, exc, described) from None


#: The command-line spelling of each library argument an :class:`EmomonError` may name.
FLAGS: dict[str, str] = {
    "note": "--note",
    "reason": "--reason",
    "force": "--force",
    "older_than": "--older-than",
    "source_database": "--from",
    "target_database": "--to",
    "model": "--model",
    "device": "--device",
    "config": "--config",
    "database": "--db",
    "engine": "--engine",
    "columns": "--column",
    "datasets": "--datasets",
    "encoder": "--encoder",
    "resume": "--resume",
    "role": "--role",
    "verdict": "--verdict",
}


def with_flag(line: str, argument: str | None) -> str:
    """An error line with the flag of the argument it names added: ``... (--note)``."""
    flag = FLAGS.get(argument or "")
    return f"{line} ({flag})" if flag else line


def exiting(line: str, status: int = ExitStatus.ERROR) -> click.ClickException:
    """The exception that prints ``Error: <line>`` on stderr and exits with ``status``."""
    return _exiting_with(int(status))(line)


@functools.cache
def _exiting_with(status: int) -> type[click.ClickException]:
    """A ClickException class whose ``exit_code`` is ``status``."""
    return type(f"ClickExceptionExit{status}", (click.ClickException,), {"exit_code": status})


def _failure(ctx: click.Context, exc: BaseException, line: str) -> click.ClickException:
    """The one-line error for ``exc``; with ``-v`` its stack frames go to stderr first."""
    app = ctx.find_object(AppContext)
    if app is not None and app.verbosity > 0:
        import traceback

        frames = "".join(traceback.format_tb(exc.__traceback__))
        click.echo(f"Traceback of {type(exc).__name__} (messages left out):\n{frames}", err=True, nl=False)
    return click.ClickException(_visible(redact(line)))


def _visible(line: str) -> str:
    """An error line with terminal control characters made visible (:func:`monitor.safe_text.clean`;
    imported on the first error, so commands start without rich)."""
    from monitor.safe_text import clean

    return clean(line)


#: Pass the app context to a command that needs no config file (``init``).
pass_app_without_config = click.make_pass_decorator(AppContext)


def pass_app(func: Callable[Concatenate[AppContext, P], R]) -> Callable[P, R]:
    """Pass the app context to a command, once its config file is found: the one check that every
    command but ``init`` makes before it does anything (see :meth:`AppContext.config_file`)."""

    @functools.wraps(func)
    def configured(app: AppContext, *args: P.args, **kwargs: P.kwargs) -> R:
        app.config_file()
        return func(app, *args, **kwargs)

    return pass_app_without_config(configured)


def json_option(func: F) -> F:
    """The shared ``--json`` flag."""
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        help="Print exactly one JSON document on stdout instead of tables. Example: --json",
    )(func)


def force_option(func: F) -> F:
    """The shared ``--force`` flag of commands with ``--output`` (see monitor.safe_write)."""
    return click.option(
        "--force",
        is_flag=True,
        help="Let --output replace the database, the config file or a symbolic link (the link "
        "itself, not what it points to). Example: --force",
    )(func)


def model_option(func: F) -> F:
    """The shared ``--model`` option (a model directory instead of [model] path)."""
    return click.option(
        "--model",
        "model",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Model directory (default [model] path). Example: --model models/emomon-mtl-v3",
    )(func)


def device_option(func: F) -> F:
    """The shared ``--device`` option."""
    return click.option(
        "--device",
        type=click.Choice(DEVICES),
        default=None,
        help="Where the model runs (default [scoring] device). Example: --device cuda",
    )(func)


def print_json(data: Any) -> None:
    """Print one JSON document on stdout (terminal controls in strings as ``\\uXXXX`` escapes)."""
    from monitor.safe_text import echo

    echo(json.dumps(data, indent=2, default=str, ensure_ascii=False), json=True)


def parse_when(value: str | None, option: str) -> datetime | None:
    """``2025-01-31`` (midnight UTC) or an ISO time (naive means UTC), as a time in UTC.

    The one parser of every command's date options. A time whose UTC form falls outside the
    years 1 to 9999 (``9999-12-31T23:00:00-05:00``) is clamped to the first or last moment UTC
    can hold: it bounds nothing stored, and no later conversion can overflow.
    """
    if value is None:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), time(0), tzinfo=UTC)
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise EmomonError(
            f"{option} {value!r} is not a date: use YYYY-MM-DD or an ISO time like 2025-01-31T08:00:00Z"
        ) from exc
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # past the end of year 9999 or before year 1 in UTC
        offset = parsed.utcoffset()
        late = offset is not None and offset < timedelta(0)
        return (datetime.max if late else datetime.min).replace(tzinfo=UTC)


def parse_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``--since`` and ``--until`` parsed; an empty window (``--until`` is exclusive) is a usage error."""
    start, end = parse_when(since, "--since"), parse_when(until, "--until")
    if start is not None and end is not None and start >= end:
        raise click.UsageError(f"--since {since} is not before --until {until}: swap them or widen the window")
    return start, end


# -- progress --------------------------------------------------------------------------------


@contextmanager
def records_progress(app: AppContext, *, enabled: bool) -> Iterator[Callable[[str, int], None] | None]:
    """Yield ``update(source name, records read)`` drawing one counter per source, or None."""
    if not enabled:
        yield None
        return
    from rich.progress import Progress, TaskID, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}", markup=False),
        TextColumn("{task.completed} records"),
        TimeElapsedColumn(),
        console=app.err_console,
        transient=True,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def update(name: str, read: int) -> None:
            if name not in tasks:
                from monitor.safe_text import clean

                tasks[name] = progress.add_task(clean(name), total=None)
            progress.update(tasks[name], completed=read)

        yield update


@contextmanager
def counted_progress(
    app: AppContext,
    label: str,
    unit: str,
    *,
    enabled: bool,
    total: int | None = None,
    completed: int = 0,
    waiting: str = "",
) -> Iterator[tuple[Callable[[int], None], Callable[[int, str], None]] | None]:
    """Yield ``(set_total, advance(n, info))`` driving a bar with a rate in ``unit``/s, or None.

    The rate is the average since ``set_total`` (items done / seconds since the work started),
    the same figure the commands' summaries print. ``waiting`` shows until then (e.g. "loading
    model…")."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        Task,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            elapsed = task.elapsed
            done = task.completed - completed
            if not elapsed or done <= 0:
                return Text(f"-- {unit}/s")
            return Text(f"{done / elapsed:,.1f} {unit}/s")

    with Progress(
        TextColumn(label, markup=False),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}", markup=False),
        console=app.err_console,
        transient=True,
    ) as progress:
        bar = progress.add_task(label, total=total, completed=completed, info=waiting, start=not waiting)

        def set_total(n: int) -> None:
            progress.update(bar, total=n, info="")
            progress.start_task(bar)

        def advance(n: int, info: str = "") -> None:
            progress.update(bar, advance=n, info=info)

        yield set_total, advance
