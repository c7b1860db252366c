"""Handing the terminal to another program ($PAGER, $EDITOR) and notifying the terminal itself.

The program gets the real terminal (the app is suspended: Textual leaves the alternate screen and
stops reading keys) and the screen is drawn again when it exits. It runs as an asyncio subprocess
and no frame is written meanwhile (a batch update is open), so an engine running inside the UI
(`--in-process`) keeps dispatching while someone reads a log in `less`.
"""

from __future__ import annotations

import asyncio
import errno
import os
import shlex
import shutil
from typing import Any

DEFAULTS = {"pager": ("PAGER", "less"), "editor": ("VISUAL", "vi")}


def command_for(kind: str, env: dict[str, str] | None = None) -> list[str]:
    """$PAGER (default `less`), or $VISUAL / $EDITOR (default `vi`), split like a shell would."""
    env = dict(os.environ) if env is None else env
    var, default = DEFAULTS[kind]
    value = env.get(var) or (env.get("EDITOR") if kind == "editor" else "") or default
    try:
        return shlex.split(value) or [default]
    except ValueError:
        return [default]


async def run_outside(app: Any, argv: list[str]) -> int:
    """Run `argv` on the terminal with the app suspended; its exit status. Raises SuspendNotSupported
    where the app cannot let go of the terminal, and OSError when the program cannot be started.

    The program is looked up before the terminal is let go: Textual's `suspend()` does not resume the
    app when its block raises, which left a blank, deaf screen for good."""
    if shutil.which(argv[0]) is None:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), argv[0])
    failed: OSError | None = None
    with app.suspend(), app.batch_update():  # no frame is written while the other program owns the terminal
        try:
            proc = await asyncio.create_subprocess_exec(*argv)
        except OSError as exc:  # found but not startable (permissions, a bad interpreter line)
            failed = exc
        else:
            return await proc.wait()
    raise failed


def osc(kind: str, title: str, body: str) -> str:
    """The escape sequence of a desktop notification: OSC 9 (iTerm2, kitty, WezTerm, Windows Terminal)
    or OSC 777 (urxvt, foot, Ghostty, VTE terminals); a bell for "bell"."""
    clean = " ".join(f"{title}: {body}".replace("\x07", " ").replace("\x1b", " ").split())
    if kind == "osc9":
        return f"\x1b]9;{clean}\x07"
    if kind == "osc777":
        t = title.replace(";", ",").replace("\x07", " ").replace("\x1b", " ")
        b = body.replace(";", ",").replace("\x07", " ").replace("\x1b", " ")
        return f"\x1b]777;notify;{t};{b}\x07"
    if kind == "bell":
        return "\x07"
    return ""
