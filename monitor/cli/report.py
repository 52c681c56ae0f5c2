"""``emomon report``: the trend report in the terminal or exported to a file."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.app import AppContext, parse_when, pass_app
from monitor.errors import EmomonError


@click.command("report")
@click.option("--since", help="Only posts created at or after this date/time (UTC). "
                              "Example: --since 2025-01-01")
@click.option("--until", help="Only posts created before this date/time (UTC). "
                              "Example: --until 2025-02-01")
@click.option("--source", help="Only this source (its configured name). "
                               "Example: --source example-rss")
@click.option("--author", help="Only this author (pseudonym). Example: --author a-3f9c2e71b04d")
@click.option("--by", type=click.Choice(["day", "week"]), default=None,
              help="Period of the trend lines (default [trends] by). Example: --by week")
@click.option("--format", "fmt", type=click.Choice(["terminal", "md", "html", "csv", "json"]),
              default="terminal", show_default=True,
              help="Output format. Example: --format html")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of stdout. Example: --output report.html")
@click.option("--width", type=click.IntRange(min=60), default=None,
              help="Terminal width to render at (default: the terminal's). Example: --width 80")
@pass_app
def report_cmd(app: AppContext, since: str | None, until: str | None, source: str | None,
               author: str | None, by: str | None, fmt: str, output: Path | None,
               width: int | None) -> None:
    """Show trends: overview, emotion and index sparklines, rising emotions, authors to
    review, sources side by side, personality distribution.

    Example: emomon report --since 2025-01-01 --by week --format html --output report.html
    """
    from rich.console import Console

    from monitor import report
    from monitor.report.data import load_report_data
    from monitor.store.engine import session_scope

    with session_scope(app.engine()) as s:
        data = load_report_data(s, app.settings, since=parse_when(since, "--since"),
                                until=parse_when(until, "--until"), source=source,
                                author=author, by=by)
    if fmt == "terminal":
        if output is not None:
            with output.open("w", encoding="utf-8") as fh:
                Console(file=fh, width=width or 80, color_system=None).print(
                    report.terminal_report(data))
        else:
            console = Console(width=width) if width else app.console
            console.print(report.terminal_report(data))
        return
    text = report.export(data, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            output.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise EmomonError(f"cannot write {str(output)!r}: {exc.strerror or exc}") from exc
        if app.verbosity >= 0:
            click.echo(f"wrote {fmt} report to {output}", err=True)


COMMANDS = (report_cmd,)
