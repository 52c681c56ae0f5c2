"""Domain errors: things a user can cause and fix, and the exit status of each.

The CLI prints a domain error as one line and exits with its class's :attr:`EmomonError.exit_status`;
:data:`EXIT_STATUSES` is the table of every status (``exit_status_table()`` renders it as Markdown
for the command reference), so a cron wrapper can tell "try again later" from "a person must fix
the config".
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar


class ExitStatus(IntEnum):
    """How an ``emomon`` command ended (modelled on httpie's ``ExitStatus``).

    Distinct numbers for what a wrapper acts on differently; 75 and 78 are the ``sysexits.h``
    values that schedulers and mail systems already read as "temporary" and "configuration".
    """

    OK = 0
    ERROR = 1
    USAGE = 2
    FAILED = 3
    LOCKED = 75
    CONFIG = 78


#: What each exit status means, for the command reference.
EXIT_STATUSES: dict[ExitStatus, str] = {
    ExitStatus.OK: "done: everything asked for was done",
    ExitStatus.ERROR: "an error a user can fix, printed as one line naming the thing and the fix "
    "(a missing file, a bad value, the database)",
    ExitStatus.USAGE: "a usage error: an unknown command or option, a value of the wrong type",
    ExitStatus.FAILED: "a source or a stage failed (a file not found, a feed unreachable, every record "
    "rejected); the others still ran and what they stored is kept; the line names "
    "each failure",
    ExitStatus.LOCKED: "already running: another emomon run holds the run lock past the wait (or "
    "another `emomon schedule` runs on the database); nothing was done, try again "
    "later (EX_TEMPFAIL)",
    ExitStatus.CONFIG: "no config file was found (run `emomon init`), or the config or an EMOMON_* "
    "variable is invalid; nothing was done (EX_CONFIG)",
}


def exit_status_table() -> str:
    """:data:`EXIT_STATUSES` as a Markdown table: status, name, meaning."""
    rows = ["| status | name | meaning |", "| --- | --- | --- |"]
    rows += [f"| {status.value} | `{status.name.lower()}` | {meaning} |" for status, meaning in EXIT_STATUSES.items()]
    return "\n".join(rows)


class EmomonError(Exception):
    """Base class of every error the user can cause; the message names the thing and the fix.

    The message names arguments and settings in library terms ("the note", "[model] path");
    ``argument`` is the name of the one argument to change, which a front end may render as its own
    spelling of it (the CLI adds its flag: ``argument="note"`` -> ``(--note)``).
    """

    #: The exit status of a command this error ends.
    exit_status: ClassVar[ExitStatus] = ExitStatus.ERROR

    def __init__(self, *args: object, argument: str | None = None) -> None:
        super().__init__(*args)
        self.argument = argument


class ConfigError(EmomonError):
    """No configuration file was found, or it or an EMOMON_* variable is invalid."""

    exit_status = ExitStatus.CONFIG


class SchemaOutOfDate(EmomonError):
    """The database schema is older than this version of emomon."""


class ModelNotFound(EmomonError):
    """The configured model directory does not exist or is incomplete."""


class SourceError(EmomonError):
    """A whole source could not be read (missing file, unreachable URL, unknown format)."""


class RunLocked(EmomonError):
    """Another emomon run holds the run lock (or another scheduler the scheduler lock)."""

    exit_status = ExitStatus.LOCKED


class StageFailed(EmomonError):
    """A source or a stage of a run failed; the others ran (the message names each failure)."""

    exit_status = ExitStatus.FAILED


class ModelDataError(EmomonError):
    """A training or evaluation dataset is missing or malformed."""


class AlertNotFound(EmomonError):
    """No alert has the id given on the command line."""


class StaleAlert(EmomonError):
    """Someone acted on an alert after the view an action was based on was read; nothing was recorded.

    ``newer`` holds those actions (as :func:`monitor.store.review.history` gives them), so a front
    end can show what the other reviewer did.
    """

    def __init__(self, *args: object, newer: list[dict[str, Any]] | None = None) -> None:
        super().__init__(*args)
        self.newer = newer or []


class ChannelError(EmomonError):
    """An alert channel (file, webhook, e-mail) could not deliver."""
