"""``emomon users``: the reviewers' accounts of ``emomon serve`` (add, list, remove, passwd)."""

from __future__ import annotations

import sys

import click

from monitor.cli.app import AppContext, json_option, pass_app, print_json
from monitor.errors import EmomonError

password_stdin_option = click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of stdin instead of prompting. Example: --password-stdin",
)


def read_password(from_stdin: bool) -> str:
    """The new password: the first line of stdin, or typed twice at a hidden prompt."""
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise EmomonError("no password on stdin: pipe one line, e.g. `printf '%s\\n' \"$PW\" | emomon users ...`")
        return line
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@click.group("users")
def users_group() -> None:
    """Accounts of the reviewers' web workspace: reviewers act on alerts, leads also re-identify.

    Example: emomon users add sam --role reviewer
    """


@users_group.command("add")
@click.argument("name")
@click.option(
    "--role",
    default="reviewer",
    show_default=True,
    help="reviewer (acts on alerts) or lead (also reveals authors and reads the audit). Example: --role lead",
)
@password_stdin_option
@pass_app
def users_add(app: AppContext, name: str, role: str, password_stdin: bool) -> None:
    """Create the account NAME (the password is prompted for, or read with --password-stdin).

    Example: emomon users add sam --role reviewer
    """
    from monitor.store.users import check_name, check_role

    check_name(name)
    check_role(role)  # before the prompt: a typo costs no typing
    account = app.api.add_user(name, role, read_password(password_stdin))
    app.console.print(f"user {account.name} added ({account.role})", highlight=False)


@users_group.command("list")
@json_option
@pass_app
def users_list(app: AppContext, as_json: bool) -> None:
    """List the accounts: name, role, when made and when the password last changed.

    Example: emomon users list
    """
    accounts = app.api.users()
    if as_json:
        print_json(
            {
                "users": [
                    {
                        "name": a.name,
                        "role": a.role,
                        "created_at": a.created_at.isoformat(),
                        "password_changed_at": a.password_changed_at.isoformat(),
                    }
                    for a in accounts
                ]
            }
        )
        return
    from rich.table import Table

    table = Table(title=f"{len(accounts)} user(s)", title_justify="left")
    for col in ("name", "role", "created", "password changed"):
        table.add_column(col, no_wrap=True)
    for a in accounts:
        table.add_row(a.name, a.role, a.created_at.strftime("%Y-%m-%d"), a.password_changed_at.strftime("%Y-%m-%d"))
    app.console.print(table)


@users_group.command("remove")
@click.argument("name")
@pass_app
def users_remove(app: AppContext, name: str) -> None:
    """Delete the account NAME (what it did stays recorded under its name).

    Example: emomon users remove sam
    """
    app.api.remove_user(name)
    app.console.print(f"user {name} removed", highlight=False)


@users_group.command("passwd")
@click.argument("name")
@password_stdin_option
@pass_app
def users_passwd(app: AppContext, name: str, password_stdin: bool) -> None:
    """Set a new password for NAME (their open web sessions end).

    Example: emomon users passwd sam
    """
    if app.api.user(name) is None:
        raise EmomonError(f"no user named {name!r}: see `emomon users list`")
    app.api.set_password(name, read_password(password_stdin))
    app.console.print(f"password of {name} changed", highlight=False)


COMMANDS = (users_group,)
