"""Exceptions that the entry point turns into a one-line reason and a non-zero exit."""


class InlifeError(Exception):
    """Base of every error inlife raises on purpose; its message is shown to the user as is."""


class ConfigError(InlifeError):
    """Configuration is missing, unknown, of the wrong type or unreadable."""


class TableError(InlifeError):
    """A Delta table operation failed (missing table, bad name, bad arguments)."""


class SchemaMismatchError(TableError):
    """A frame's columns or types differ from the table it is written to."""


class ConstraintError(TableError):
    """A write with a row that breaks one of the table's CHECK constraints; nothing was committed."""


class ConflictError(TableError):
    """Another writer committed to the same table first and the operations conflict."""


class JobError(InlifeError):
    """A job was asked for that does not exist or got bad arguments."""


def describe(exc: BaseException, depth: int = 4) -> str:
    """One line for a caught exception; for a Java error, the Java exception and its root cause (the
    Python message of a Py4JJavaError is only "An error occurred while calling o123.collectToPython")."""
    java = getattr(exc, "java_exception", None)
    if java is not None:
        try:
            parts = [str(java.toString())]
            cause = java.getCause()
            while cause is not None and len(parts) < depth:
                parts.append(str(cause.toString()))
                cause = cause.getCause()
            return f"{type(exc).__name__}: " + " <- caused by ".join(p.splitlines()[0] for p in parts)
        except Exception:  # the gateway may be gone
            pass
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"
