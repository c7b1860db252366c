"""The wrapper contract every executor keeps: a run is started detached, carries its run id, and leaves its exit
status in a file, so a restarted engine can find its processes and learn how it ended.

- `COOPY_RUN_ID` (`<state_dir>:<stage>/<run>/<attempt>`) is in the run's environment; every process it starts
  inherits it, which is how an attempt's processes are found (local) and a job is named (Slurm, Ray).
- `COOPY_STATUS_FILE` names the file the wrapper writes the command's exit status into, one number and a
  newline. A reader takes the first word; blanks (the reserve, see `reserve`) mean "not written yet".

Local runs use `WRAPPER` (a `/bin/sh -c` line); Slurm's batch script and Ray's entrypoint say the same in their
own words (`executors/slurm.py`, `executors/ray_job.py`) and export the run's env with `exports`.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

RUN_ID_VAR = "COOPY_RUN_ID"
STATUS_VAR = "COOPY_STATUS_FILE"
# "$@" keeps every argument exactly as given: no word splitting, no globbing.
# The status is written with a shell builtin (no extra process), with `1<>`: over the reserve, in place, with no
# truncation (no new block needed on a full disk). A reader takes the first word; blanks: not written yet.
WRAPPER = 'cd "$1" || exit 126; shift; "$@"; c=$?; printf "%s\\n" "$c" 1<> "$COOPY_STATUS_FILE"; exit $c'
RESERVE = b" " * 15 + b"\n"
_SHELL_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def reserve(status: Path) -> None:
    """The status file, blank, made now while there is room: the wrapper writes over it in place."""
    fd = os.open(status, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    try:
        if os.write(fd, RESERVE) != len(RESERVE):
            raise OSError(28, os.strerror(28))  # ENOSPC: a short write
    finally:
        os.close(fd)


def read_status(path: Path) -> int | None:
    """The exit status the wrapper wrote; None while only the reserve (or nothing) is there."""
    try:
        words = path.read_bytes().split()
    except OSError:
        return None
    try:
        return int(words[0]) if words else None
    except ValueError:
        return None


def ended_at(handle: Mapping[str, Any]) -> float | None:
    """When the wrapper wrote the command's exit status (the status file's mtime), or None while none is written:
    what happened, for a timer that fires late (the engine was stopped) to look at before it acts."""
    if "exits" in handle:  # started by the spawn helper: its record of the end
        from coopy_core.executors.exits import find_exit

        found = find_exit(Path(str(handle["exits"])), str(handle.get("run_id", "")))
        return found.at if found is not None else None
    raw = handle.get("status")
    if not raw:
        return None
    path = Path(str(raw))
    if read_status(path) is None:
        return None
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def exports(env: Mapping[str, str]) -> list[str]:
    """`NAME=value` for a shell's `export`, value quoted; names a shell cannot export are left out."""
    return [f"{key}={shlex.quote(value)}" for key, value in env.items() if _SHELL_NAME.fullmatch(key)]
