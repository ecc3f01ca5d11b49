"""Exceptions that the entry point turns into a one-line reason and a non-zero exit."""


class InlifeError(Exception):
    """Base of every error inlife raises on purpose; its message is shown to the user as is."""


class ConfigError(InlifeError):
    """Configuration is missing, unknown, of the wrong type or unreadable."""


class TableError(InlifeError):
    """A Delta table operation failed (missing table, bad name, bad arguments)."""


class SchemaMismatchError(TableError):
    """A frame's columns or types differ from the table it is written to."""


class ConflictError(TableError):
    """Another writer committed to the same table first and the operations conflict."""


class JobError(InlifeError):
    """A job was asked for that does not exist or got bad arguments."""
