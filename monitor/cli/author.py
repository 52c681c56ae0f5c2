"""``emomon author PSEUDONYM``: one author's timeline for a reviewer."""

from __future__ import annotations

from pathlib import Path

import click

from monitor.cli.alerts import width_of, width_option
from monitor.cli.app import AppContext, force_option, json_option, parse_window, pass_app, print_json


@click.command("author")
@click.argument("pseudonym")
@click.option("--since", help="Only posts created at or after this date/time (UTC). Example: --since 2025-01-01")
@click.option("--until", help="Only posts created before this date/time (UTC). Example: --until 2025-02-01")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["terminal", "html"]),
    default="terminal",
    show_default=True,
    help="Output format (html: a page with an SVG chart). Example: --format html",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of stdout. Example: --output author.html",
)
@force_option
@json_option
@width_option
@pass_app
def author_cmd(
    app: AppContext,
    pseudonym: str,
    since: str | None,
    until: str | None,
    fmt: str,
    output: Path | None,
    force: bool,
    as_json: bool,
    width: int | None,
) -> None:
    """Show an author's timeline: posts per day, the index per day on a date axis (days
    without posts left blank), their baseline, alerts, top emotions and, past the configured
    post count, the Big Five profile with its caveat.

    Example: emomon author a-3f9c2e71b04d --since 2025-01-01
    """
    from monitor.report.author import author_dict

    lo, hi = parse_window(since, until)
    view = app.api.author(pseudonym, since=lo, until=hi)
    if as_json:
        print_json(author_dict(view))
        return
    if fmt == "html":
        from monitor.report.html import author_html

        text = author_html(view)
        if output is None:
            from monitor.safe_text import echo

            echo(text, nl=False)
            return
        from monitor.safe_write import write_text_atomic

        write_text_atomic(output, text, protected=app.settings.protected_paths(), force=force)
        app.log(f"wrote the author page to {output}")
        return
    from monitor.report.views import author_view
    from monitor.safe_text import console

    w = width_of(app, width)
    console(width=w, highlight=False).print(author_view(view, width=w))


COMMANDS = (author_cmd,)
