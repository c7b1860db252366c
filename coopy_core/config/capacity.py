"""How many configurations a pipeline may have: what this machine's memory allows the engine to hold.

The engine keeps a record of every run (a configuration at a stage) in memory; measured on CPython 3.11
(bench W5, 2026-12-07) that is ~1.0 KB a run held and ~1.35 KB at the start's peak, at 100,000 and at
1,000,000 configurations. A matrix the engine could not hold is refused before it is expanded, with the
memory it would need and the memory there is, instead of a machine swapping for minutes.
"""

from __future__ import annotations

import math
from pathlib import Path

BYTES_PER_RUN = 1536  # the start's peak per run, rounded up
BASE_BYTES = 64 * 2**20  # the interpreter, pydantic and the engine's modules


def available_bytes() -> int | None:
    """Memory this process may still use: MemAvailable, or the cgroup's limit when that is lower."""
    found: list[int] = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
                break
    except (OSError, ValueError, IndexError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text().strip())
        if limit != "max":
            found.append(max(0, int(limit) - used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def needed_bytes(configurations: int, stages: int) -> int:
    return BASE_BYTES + configurations * max(1, stages) * BYTES_PER_RUN


def too_many(configurations: int, stages: int, available: int | None = None) -> str | None:
    """Why the engine could not hold this many runs here, or None when it can (or memory is unknown)."""
    have = available_bytes() if available is None else available
    need = needed_bytes(configurations, stages)
    if have is None or need <= have:
        return None
    return (
        f"{configurations} configurations x {max(1, stages)} stage(s): the engine would need about {_size(need)} "
        f"of memory; this machine has {_size(have)} available (leave some out, or split the sweep)"
    )


def _size(n: int) -> str:
    gib = n / 2**30
    return f"{math.ceil(gib * 10) / 10:g} GB" if gib >= 1 else f"{math.ceil(n / 2**20)} MB"
