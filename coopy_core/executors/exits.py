"""Reading the spawn helpers' records of how their runs ended (`helper-<pid>.exits`, see `spawn_helper.py`).

Only a restart, a late timer and a start found after a crash read them: an engine hears of its own helper's runs
over the helper's socket. A lookup reads each file a MiB at a time and searches it for the run id, so nothing
of them is held in the engine between lookups.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXITS_GLOB = "helper-*.exits"
READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Exit:
    code: int  # the exit status; negative: killed by that signal
    at: float  # unix time the helper recorded it

    @property
    def status(self) -> int:
        """As a shell reports it: 128 + the signal for a run killed by one."""
        return self.code if self.code >= 0 else 128 - self.code


def is_pending(handle: dict[str, Any] | None) -> bool:
    """A helper's handle whose start was asked for but not answered (nothing proves it happened)."""
    return handle is not None and "exits" in handle and not handle.get("pid")


def find_exit(status_dir: Path, run_id: str) -> Exit | None:
    """The recorded end of the attempt `run_id`, in any helper's file of this state dir; None if none is there."""
    needle = b'\n["' + json.dumps(run_id)[1:].encode() + b","
    try:
        files = sorted(status_dir.glob(EXITS_GLOB))
    except OSError:
        return None
    for path in files:
        found = _search(path, needle)
        if found is not None:
            return found
    return None


def _search(path: Path, needle: bytes) -> Exit | None:
    """Read in chunks (never mapped: a helper that ends shortens its file, which a mapping would not survive)."""
    try:
        with open(path, "rb", buffering=0) as f:
            tail = b""
            while chunk := f.read(READ_CHUNK):
                data = tail + chunk
                at = data.find(needle)
                if at >= 0:
                    end = data.find(b"\n", at + 1)
                    while end < 0 and (more := f.read(READ_CHUNK)):
                        data += more
                        end = data.find(b"\n", at + 1)
                    if end < 0:
                        return None  # being written
                    return _parse(data[at + 1 : end])
                tail = data[-len(needle) :]
    except OSError:  # gone, unreadable
        return None
    return None


def _parse(line: bytes) -> Exit | None:
    try:
        _run, code, when = json.loads(line)
        return Exit(int(code), float(when))
    except (ValueError, TypeError):
        return None
