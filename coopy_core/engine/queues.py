"""StageQueue: one stage's waiting line (priority first, then first come), pause flag and worker cap.

A heap with lazy invalidation: each queued task maps to its live heap entry; changing a priority pushes a
fresh entry, and an entry that is no longer its task's live one is dropped when it surfaces. Every
operation is O(log n), and a queued task costs one heap entry and one dict slot (a million are held).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

Entry = tuple[int, int, str]  # (-priority, order, task)


@dataclass
class StageQueue:
    name: str
    workers: int
    paused: bool = False
    held: bool = False  # outside `coopy run --until`: starts nothing in this session (not stored, unlike a pause)
    running: set[str] = field(default_factory=set)
    _heap: list[Entry] = field(default_factory=list)
    _live: dict[str, Entry] = field(default_factory=dict)  # task -> its live entry; absent: not queued

    def push(self, task: str, priority: int, order: int) -> None:
        entry = (-priority, order, task)
        self._live[task] = entry
        heapq.heappush(self._heap, entry)

    def remove(self, task: str) -> bool:
        """Take a task out of the line (cancel, or waiting for a retry backoff)."""
        return self._live.pop(task, None) is not None

    def __contains__(self, task: str) -> bool:
        return task in self._live

    def __len__(self) -> int:
        return len(self._live)

    def pop(self) -> str | None:
        """The next task to start, or None when the line is empty."""
        live = self._live
        while self._heap:
            entry = heapq.heappop(self._heap)
            if live.get(entry[2]) is entry:
                del live[entry[2]]
                return entry[2]
        return None

    def peek(self) -> str | None:
        """The task `pop` would return, left in the line."""
        live = self._live
        while self._heap:
            entry = self._heap[0]
            if live.get(entry[2]) is entry:
                return entry[2]
            heapq.heappop(self._heap)
        return None

    def top_priority(self) -> int | None:
        return max((-entry[0] for entry in self._live.values()), default=None)

    def has_free_worker(self) -> bool:
        return not self.paused and not self.held and len(self.running) < self.workers

    def order(self) -> list[str]:
        """Queued tasks in the order they would start (for display and tests; O(n log n))."""
        live = [e for e in self._heap if self._live.get(e[2]) is e]
        live.sort()
        if len(self._heap) > 4 * max(len(live), 64):
            self._heap = live[:]  # compact: too many stale entries
            heapq.heapify(self._heap)
        return [e[2] for e in live]
