"""Errors a person can act on; the CLIs print them as one line and exit with `exit_code`."""

from __future__ import annotations


class CoopyError(Exception):
    """A problem the user must fix; never shown with a traceback."""

    exit_code = 2


class ConfigError(CoopyError):
    """The config file cannot be used: `file: key.path: what is wrong`."""

    def __init__(self, path: str, key: str, message: str) -> None:
        self.path = path
        self.key = key
        # one line, always: a message from a plug-in's import error may span several
        self.message = message = "; ".join(part.strip() for part in message.splitlines() if part.strip())
        where = f"{path}: {key}: " if key else f"{path}: "
        super().__init__(where + message)


class StateError(CoopyError):
    """The state directory cannot be used (locked by another engine, read-only, ...)."""
