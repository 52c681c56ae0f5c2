"""The ``emomon`` command line: the group and its global options; each command group lives in
its own module and every command parses, calls one public function, renders.

Domain errors (:class:`monitor.errors.EmomonError`) become one-line messages (no traceback)
and exit with their :class:`~monitor.errors.ExitStatus`; usage errors exit 2. Every command but
``init`` needs a config file (``--config``, ``EMOMON_CONFIG``, ``./config.toml``, then
``$XDG_CONFIG_HOME/emomon/config.toml``).
"""

from __future__ import annotations

from pathlib import Path

import click

from monitor import __version__
from monitor.cli import (
    alerts,
    author,
    authors,
    db,
    export,
    ingest,
    init,
    model,
    ops,
    rejected,
    report,
    score,
    serve,
    sources,
    users,
)
from monitor.cli.app import DEFAULT_CONFIG, AppContext, EmomonGroup


@click.group(cls=EmomonGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="EMOMON_CONFIG",
    default=None,
    show_envvar=True,
    help="Config file to read (default ./config.toml, else $XDG_CONFIG_HOME/emomon/config.toml). "
    "Example: --config /etc/emomon/config.toml",
)
@click.option(
    "--db",
    "db_url",
    envvar="EMOMON_DATABASE_URL",
    show_envvar=True,
    default=None,
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
    from_env = ctx.get_parameter_source("config_path") == click.core.ParameterSource.ENVIRONMENT
    ctx.obj = AppContext(
        config_path=config_path or DEFAULT_CONFIG,
        config_explicit=config_path is not None,
        db_url=db_url,
        verbosity=-1 if quiet else verbose,
        config_named_by="EMOMON_CONFIG" if from_env else "--config",
    )


for _module in (
    init,
    db,
    sources,
    ingest,
    rejected,
    score,
    model,
    alerts,
    author,
    authors,
    report,
    export,
    ops,
    users,
    serve,
):
    for _command in _module.COMMANDS:
        cli.add_command(_command)
