"""``emomon authors``: re-identify an author for outreach (audited), and list the audit."""

from __future__ import annotations

import click

from monitor.cli.alerts import reviewer
from monitor.cli.app import AppContext, json_option, pass_app, print_json


@click.group("authors")
def authors_group() -> None:
    """Re-identify a pseudonymised author (only with [privacy] allow_reveal) and list who did.

    Example: emomon authors audit
    """


@authors_group.command("reveal")
@click.argument("pseudonym")
@click.option(
    "--reason",
    required=True,
    help="Why the author must be reached (kept in the audit). Example: --reason 'alert 12: team decided on a check-in'",
)
@click.option("--by", "by", default=None, help="Who asks (default: your login name). Example: --by sam")
@json_option
@pass_app
def authors_reveal(app: AppContext, pseudonym: str, reason: str, by: str | None, as_json: bool) -> None:
    """Print the handle and source link behind PSEUDONYM and record who asked, when and why.

    Off unless [privacy] allow_reveal = true in the config. Nothing else prints a handle.

    Example: emomon authors reveal a-3f9c2e71b04d --reason "alert 12: check-in agreed"
    """
    who = reviewer(by)
    ident = app.api.reveal(pseudonym, reason=reason, by=who)
    if as_json:
        print_json(
            {
                "pseudonym": ident.pseudonym,
                "platform": ident.platform,
                "handle": ident.handle,
                "links": ident.links,
                "by": who,
            }
        )
        return
    from monitor.safe_text import echo

    echo(f"{ident.pseudonym} is {ident.handle} on {ident.platform}")
    for link in ident.links:
        echo(f"  {link}")
    echo(f"(recorded in `emomon authors audit`: by {who})")


@authors_group.command("audit")
@json_option
@pass_app
def authors_audit(app: AppContext, as_json: bool) -> None:
    """List every re-identification: when, by whom, which pseudonym and why (newest first).

    Example: emomon authors audit --json
    """
    rows = app.api.audit()
    if as_json:
        print_json({"reveals": rows})
        return
    from rich.table import Table

    table = Table(title=f"{len(rows)} re-identification(s)", title_justify="left")
    for col in ("when", "by", "pseudonym"):
        table.add_column(col, no_wrap=True)
    table.add_column("reason", ratio=1)
    for r in rows:
        table.add_row(r["at"][:16].replace("T", " "), r["by"], r["pseudonym"], r["reason"])
    app.console.print(table)


COMMANDS = (authors_group,)
