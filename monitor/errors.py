"""Domain errors: things a user can cause and fix. The CLI prints them as one line."""


class EmomonError(Exception):
    """Base class of every error the user can cause; the message names the thing and the fix."""


class ConfigError(EmomonError):
    """The configuration file or an EMOMON_* variable is invalid."""


class SchemaOutOfDate(EmomonError):
    """The database schema is older than this version of emomon."""


class ModelNotFound(EmomonError):
    """The configured model directory does not exist or is incomplete."""


class SourceError(EmomonError):
    """A whole source could not be read (missing file, unreachable URL, unknown format)."""


class RunLocked(EmomonError):
    """Another emomon run holds the run lock."""


class ModelDataError(EmomonError):
    """A training or evaluation dataset is missing or malformed."""


class AlertNotFound(EmomonError):
    """No alert has the id given on the command line."""


class ChannelError(EmomonError):
    """An alert channel (file, webhook, e-mail) could not deliver."""
