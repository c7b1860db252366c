"""One spelling of the Python that runs CooPy, in recipes, whatever started it.

A Scripter that builds its command with `sys.executable` gets `.venv/bin/python` under `python file.py`
and `.venv/bin/python3` under `coopy` (the console script's shebang), the background engine or
`python3 -m coopy_core`: the same interpreter spelled two ways. A recipe records every spelling of this
interpreter — any `python*` beside `sys.executable` that resolves to the same file, and the resolved file
itself when CooPy does not run in a venv — as one token naming its version and environment
(`{python3.11 of /home/me/proj/.venv}`), in argv elements and env values, whole or inside a shell string.
Another venv, another version or the base interpreter of a venv (which does not see the venv's packages)
stays a different interpreter. Only recipes change: the command run is the Scripter's, as it gave it.
"""

from __future__ import annotations

import functools
import os
import re
import sys
from typing import Any


@functools.cache
def token() -> str:
    """What every spelling of this interpreter is recorded as."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    return f"{{python{version} of {os.path.realpath(sys.prefix)}}}"


@functools.cache
def spellings() -> tuple[str, ...]:
    """The paths that run this very interpreter in this very environment, longest first."""
    exe = sys.executable
    if not exe:
        return ()
    real = os.path.realpath(exe)
    found = {exe}
    for folder in {os.path.dirname(exe), os.path.realpath(os.path.dirname(exe))}:
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            path = os.path.join(folder, name)
            if name.startswith("python") and os.path.realpath(path) == real:
                found.add(path)
    if sys.prefix == sys.base_prefix:  # no venv: the resolved file is the same environment
        found.add(real)
    return tuple(sorted(found, key=len, reverse=True))


@functools.cache
def _pattern() -> re.Pattern[str] | None:
    names = spellings()
    if not names:
        return None
    return re.compile(r"(?<![\w./-])(?:" + "|".join(re.escape(n) for n in names) + r")(?![\w.+-])")


def normalised_text(text: str) -> str:
    pattern = _pattern()
    if pattern is None or not any(name in text for name in spellings()):
        return text
    return pattern.sub(token(), text)


def normalised_command(command: dict[str, Any]) -> dict[str, Any]:
    """The recipe's command with this interpreter spelled as `token()` in argv and env values."""
    out = dict(command)
    argv = command.get("argv")
    if isinstance(argv, list):
        out["argv"] = [normalised_text(a) if isinstance(a, str) else a for a in argv]
    env = command.get("env")
    if isinstance(env, dict):
        out["env"] = {k: normalised_text(v) if isinstance(v, str) else v for k, v in env.items()}
    return out
