"""How many configurations a pipeline may have: what this machine's memory allows.

Up to 100,000 configurations (the limit before) a config is never refused for its size. Past that, two
checks, each against the memory available now (MemAvailable, or a cgroup's room when that is smaller):

- reading the file: every command expands the configurations (~400 B each; measured 1,000,000 in ~400 MB),
  so a matrix no command could hold is refused before it is expanded (`load.py`);
- starting an engine: its run records take ~1 KB a run at the start's peak (bench W5, CPython 3.11), on top
  of the configurations it read: checked where an engine starts (`Engine`, and `ensure_engine` before it
  spawns one) and by `coopy validate` when no engine runs the pipeline. Not in the other commands: with an
  engine running, the memory it holds is not available to them, and they need none of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from coopy_core.tasks import Task

ALWAYS_ALLOWED = 100_000  # configurations: valid before this check existed, valid still
READ_BYTES = 512  # per configuration, for any command that reads the file
RUN_BYTES = 1024  # per run, for the engine, on top of READ_BYTES per configuration
BASE_BYTES = 64 * 2**20  # the interpreter, pydantic and the engine's modules
_CGROUP = Path("/sys/fs/cgroup")


def available_bytes() -> int | None:
    """Memory this process may still take: MemAvailable, or the room left under the cgroup limits of this
    process's cgroup and its parents (page cache it may reclaim counted as room), whichever is smaller."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    found.extend(_cgroup_room())
    return min(found) if found else None


def _cgroup_room() -> list[int]:
    """Room under each memory limit on the way from this process's cgroup to the root (v2, or v1's memory
    controller)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    rooms: list[int] = []
    for line in lines:
        number, controllers, where = (line.split(":", 2) + ["", ""])[:3]
        if number == "0" and not controllers:
            rooms += _room_up(_CGROUP / where.strip("/"), _CGROUP, V2)
        elif "memory" in controllers.split(","):
            rooms += _room_up(_CGROUP / "memory" / where.strip("/"), _CGROUP / "memory", V1)
    return rooms


V2 = ("memory.max", "memory.current", "inactive_file ")
V1 = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file ")
NO_LIMIT = 2**62  # v1 writes "no limit" as a page-rounded 2**63 - 1


def _room_up(folder: Path, root: Path, names: tuple[str, str, str]) -> list[int]:
    limit_name, used_name, reclaimable_name = names
    rooms = []
    while True:
        try:
            limit = (folder / limit_name).read_text().strip()
            if limit != "max" and int(limit) < NO_LIMIT:
                used = int((folder / used_name).read_text())
                reclaimable = 0  # page cache the kernel gives back before it refuses memory
                for stat in (folder / "memory.stat").read_text().splitlines():
                    if stat.startswith(reclaimable_name):
                        reclaimable = int(stat.split()[1])
                rooms.append(max(0, int(limit) - used + reclaimable))
        except (OSError, ValueError):
            pass
        if folder == root or root not in folder.parents:
            return rooms
        folder = folder.parent


def unreadable(configurations: int, available: int | None = None) -> str | None:
    """Why no command here could expand this many configurations, or None."""
    if configurations <= ALWAYS_ALLOWED:
        return None
    need = BASE_BYTES + configurations * READ_BYTES
    have = available_bytes() if available is None else available
    if have is None or need <= have:
        return None
    return f"{configurations} configurations, which need about {_size(need)} of memory to read; {_room(have)}"


def engine_too_big(configurations: int, runs: int, available: int | None = None) -> str | None:
    """Why an engine could not hold these runs here (its configurations already read), or None."""
    if configurations <= ALWAYS_ALLOWED:
        return None
    need = runs * RUN_BYTES
    have = available_bytes() if available is None else available
    if have is None or need <= have:
        return None
    return (
        f"{configurations} configurations make {runs} runs: the engine would need about {_size(need)} more "
        f"memory for them; {_room(have)}"
    )


def _room(have: int) -> str:
    return f"this machine has {_size(have)} available (leave some out, or split the sweep)"


def _size(n: int) -> str:
    gib = n / 2**30
    return f"{math.ceil(gib * 10) / 10:g} GB" if gib >= 1 else f"{math.ceil(n / 2**20)} MB"


def run_count(overs: Sequence[Sequence[str] | None], tasks: Sequence[Task]) -> int:
    """The runs stages over these params make (None: one per configuration; else one per distinct value of
    the params), counted without building the graph."""
    return sum(len(tasks) if over is None else len({tuple(t.param(p) for p in over) for t in tasks}) for over in overs)
