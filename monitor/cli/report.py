"""``emomon report``: the trend report in the terminal or exported to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import click

from monitor.cli.app import AppContext, force_option, parse_window, pass_app


@click.command("report")
@click.option("--since", help="Only posts created at or after this date/time (UTC). Example: --since 2025-01-01")
@click.option("--until", help="Only posts created before this date/time (UTC). Example: --until 2025-02-01")
@click.option("--source", help="Only this source (its configured name). Example: --source example-rss")
@click.option("--author", help="Only this author (pseudonym). Example: --author a-3f9c2e71b04d")
@click.option(
    "--by",
    type=click.Choice(["day", "week"]),
    default=None,
    help="Period of the trend lines (default [trends] by). Example: --by week",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "md", "html", "csv", "json"]),
    default="terminal",
    show_default=True,
    help="Output format. Example: --format html",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout (atomically: a new file renamed over the "
    "old one). Example: --output report.html",
)
@force_option
@click.option(
    "--width",
    type=click.IntRange(60, 200),
    default=None,
    help="Columns to render at, 60 to 200 (default: COLUMNS or the terminal's, within 60..200). Example: --width 80",
)
@pass_app
def report_cmd(
    app: AppContext,
    since: str | None,
    until: str | None,
    source: str | None,
    author: str | None,
    by: Literal["day", "week"] | None,
    fmt: str,
    output: Path | None,
    force: bool,
    width: int | None,
) -> None:
    """Show trends: overview, emotion and index sparklines, rising emotions, authors to
    review, sources side by side, personality distribution.

    Example: emomon report --since 2025-01-01 --by week --format html --output report.html
    """
    from monitor.report.common import fit_width
    from monitor.report.terminal import terminal_report
    from monitor.report.text import export
    from monitor.safe_write import check_target, write_text_atomic

    lo, hi = parse_window(since, until)
    protected = app.settings.protected_paths()
    if output is not None:
        check_target(output, protected, force=force)  # before the work, not after it
    data = app.api.report(since=lo, until=hi, source=source, author=author, by=by)
    if output is None and fmt == "terminal":
        from monitor.safe_text import console

        w = fit_width(width, app.console.width)
        console(width=w).print(terminal_report(data, w))
    elif output is None:
        from monitor.safe_text import echo

        echo(export(data, fmt), nl=False, json=fmt == "json")
    else:
        text = (
            _terminal_text(terminal_report(data, width or 80), width or 80) if fmt == "terminal" else export(data, fmt)
        )
        write_text_atomic(output, text, protected=protected, force=force)
        if app.verbosity >= 0:
            from monitor.safe_text import echo

            echo(f"wrote {fmt} report to {output}", err=True)


def _terminal_text(renderable: Any, width: int) -> str:
    """The terminal report as plain text (no colour codes) at ``width`` columns."""
    import io

    from monitor.safe_text import console

    buffer = io.StringIO()
    console(file=buffer, width=width, color_system=None).print(renderable)
    return buffer.getvalue()


COMMANDS = (report_cmd,)
