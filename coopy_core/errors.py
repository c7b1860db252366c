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
        # one line, always: a message from a plug-in's import error may span several, and a key
        # written in quotes may hold a newline or a terminal escape: those are shown escaped
        message = "; ".join(part.strip() for part in message.splitlines() if part.strip())
        self.message = message = one_line(message)
        key = one_line(key)
        where = f"{one_line(path)}: {key}: " if key else f"{one_line(path)}: "
        super().__init__(where + message)


def one_line(text: str) -> str:
    """`text` with every line break and control character escaped (as Python would write it)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class StateError(CoopyError):
    """The state directory cannot be used (locked by another engine, read-only, ...)."""
