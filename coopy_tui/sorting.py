"""How a task list can be sorted (`o` cycles through them): one list, so a new order is one entry.

Every key ends with the run's `order` (first come, first served), so equal rows keep a stable place.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from coopy_core.model import RunState, RunView

_GROUP = {
    RunState.RUNNING: 0,
    RunState.QUEUED: 1,
    RunState.WAITING: 2,
    RunState.FAILED: 3,
    RunState.BLOCKED: 3,
    RunState.CANCELLED: 4,
    RunState.DONE: 5,
    RunState.SKIPPED: 5,
}
_STATE_ORDER = {  # `state` sort: what needs a look first
    RunState.FAILED: 0,
    RunState.BLOCKED: 1,
    RunState.CANCELLED: 2,
    RunState.RUNNING: 3,
    RunState.QUEUED: 4,
    RunState.WAITING: 5,
    RunState.DONE: 6,
    RunState.SKIPPED: 7,
}
_CHUNKS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[tuple[int, int, str], ...]:
    """`lr=1` < `lr=2` < `lr=10` (digits compare as numbers, the rest as text, case-blind)."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower()) for part in _CHUNKS.split(name) if part)


def queue_key(run: RunView) -> tuple[Any, ...]:
    """The default: running (oldest first), queued in the order they would start, runs waiting out a
    retry's backoff, waiting ones, then failed / blocked, cancelled, and finished ones (newest first)."""
    group = _GROUP[run.state]
    if run.state == RunState.RUNNING:
        return (group, run.started_at or 0.0, run.order)
    if run.state == RunState.QUEUED:
        if run.not_before is not None:
            return (1.5, run.not_before, run.order)
        return (group, -run.priority, run.order)
    if run.state == RunState.WAITING:
        return (group, -run.priority, run.order)
    return (group, -(run.ended_at or 0.0), run.order)


def name_key(run: RunView) -> tuple[Any, ...]:
    return (natural_key(run.task), run.order)


def state_key(run: RunView) -> tuple[Any, ...]:
    return (_STATE_ORDER[run.state], natural_key(run.task), run.order)


def elapsed_key(run: RunView) -> tuple[Any, ...]:
    """Longest first: running runs by their start (the oldest has run longest), then ended ones by how
    long they took; runs that never started last."""
    if run.started_at is None:
        return (2, 0.0, run.order)
    if run.state == RunState.RUNNING or run.ended_at is None:
        return (0, run.started_at, run.order)
    return (1, -(run.ended_at - run.started_at), run.order)


@dataclass(frozen=True)
class SortMode:
    name: str  # shown in the panel's border: `sort: name`
    key: Callable[[RunView], tuple[Any, ...]]


SORTS: list[SortMode] = [
    SortMode("queue", queue_key),
    SortMode("name", name_key),
    SortMode("state", state_key),
    SortMode("elapsed", elapsed_key),
]


def next_sort(current: SortMode, sorts: list[SortMode] | None = None) -> SortMode:
    modes = sorts or SORTS
    names = [m.name for m in modes]
    i = names.index(current.name) if current.name in names else -1
    return modes[(i + 1) % len(modes)]
