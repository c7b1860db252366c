"""StageQueue: one stage's waiting line (priority first, then first come), pause flag and worker cap.

A heap with lazy invalidation: changing a priority pushes a fresh entry and
bumps the task's version, so stale entries are dropped when they surface.
Every operation is O(log n), which keeps 10,000 queued runs cheap.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field


@dataclass
class StageQueue:
    name: str
    workers: int
    paused: bool = False
    held: bool = False  # outside `coopy run --until`: starts nothing in this session (not stored, unlike a pause)
    running: set[str] = field(default_factory=set)
    _heap: list[tuple[int, int, int, str]] = field(default_factory=list)
    _version: dict[str, int] = field(default_factory=dict)  # task -> live version; absent: not queued
    _priority: dict[str, int] = field(default_factory=dict)

    def push(self, task: str, priority: int, order: int) -> None:
        version = self._version.get(task, 0) + 1
        self._version[task] = version
        self._priority[task] = priority
        heapq.heappush(self._heap, (-priority, order, version, task))

    def remove(self, task: str) -> bool:
        """Take a task out of the line (cancel, or waiting for a retry backoff)."""
        if task not in self._priority:
            return False
        del self._priority[task]
        self._version[task] = self._version.get(task, 0) + 1
        return True

    def __contains__(self, task: str) -> bool:
        return task in self._priority

    def __len__(self) -> int:
        return len(self._priority)

    def pop(self) -> str | None:
        """The next task to start, or None when the line is empty."""
        while self._heap:
            _neg, _order, version, task = heapq.heappop(self._heap)
            if self._version.get(task) == version and task in self._priority:
                del self._priority[task]
                self._version[task] = version + 1
                return task
        return None

    def peek(self) -> str | None:
        """The task `pop` would return, left in the line."""
        while self._heap:
            _neg, _order, version, task = self._heap[0]
            if self._version.get(task) == version and task in self._priority:
                return task
            heapq.heappop(self._heap)
        return None

    def top_priority(self) -> int | None:
        return max(self._priority.values(), default=None)

    def has_free_worker(self) -> bool:
        return not self.paused and not self.held and len(self.running) < self.workers

    def order(self) -> list[str]:
        """Queued tasks in the order they would start (for display and tests; O(n log n))."""
        live = [e for e in self._heap if self._version.get(e[3]) == e[2] and e[3] in self._priority]
        live.sort()
        if len(self._heap) > 4 * max(len(live), 64):
            self._heap = live[:]  # compact: too many stale entries
            heapq.heapify(self._heap)
        return [e[3] for e in live]
