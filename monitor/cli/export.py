"""``emomon export``: per-post scores to a Parquet, CSV or JSON-lines file (:meth:`monitor.api.Emomon.export`)."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.app import AppContext, force_option, json_option, parse_window, pass_app, print_json

EXPORT_FORMATS = ("parquet", "csv", "jsonl")  # monitor.api.EXPORT_FORMATS, kept here so --help stays light


@click.command("export")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="File format (default: from the --output suffix: .parquet, .csv, .jsonl). Example: --format parquet",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The file to write (atomically; never the config, the database or the model). "
    "Example: --output scores.parquet",
)
@click.option("--since", help="Only posts created at or after this date/time (UTC). Example: --since 2025-01-01")
@click.option("--until", help="Only posts created before this date/time (UTC). Example: --until 2025-02-01")
@click.option("--source", help="Only this source (its configured name). Example: --source example-rss")
@click.option("--author", help="Only this author (pseudonym). Example: --author a-3f9c2e71b04d")
@click.option(
    "--with-text",
    is_flag=True,
    help="Add a text column: the post text while it is stored (null once purged). Example: --with-text",
)
@force_option
@json_option
@pass_app
def export_cmd(
    app: AppContext,
    fmt: str | None,
    output: Path,
    since: str | None,
    until: str | None,
    source: str | None,
    author: str | None,
    with_text: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Export one row per scored post: source, author pseudonym (never a handle), time, model
    version and every score as its own column (depression_index, distress, carer_*,
    goemotions_*, big5_*), for polars, pandas, DuckDB or datasette.

    Example: emomon export --format parquet --output scores.parquet --since 2025-01-01
    """
    lo, hi = parse_window(since, until)
    rows = app.api.export(
        output, fmt, since=lo, until=hi, source=source, author=author, with_text=with_text, force=force
    )
    if as_json:
        print_json({"output": str(output), "rows": rows})
    else:
        app.log(f"wrote {rows:,} row(s) to {output}")


COMMANDS = (export_cmd,)
