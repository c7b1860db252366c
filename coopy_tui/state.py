"""The UI's copy of the pipeline: a snapshot plus the events after it, and what changed since the last repaint.

Engine callbacks only land here (`apply` is O(1) and touches no widget); the
app's repaint timer calls `take()` about ten times a second and updates only
the rows and headers named in the returned `Changes`. That is what keeps
10,000 runs and a burst of events cheap.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from coopy_core.model import Event, EventKind, RunState, RunView, Snapshot, StageView

MAX_PENDING_MESSAGES = 200

ENDED_STATES = ("done", "skipped", "failed", "cancelled")


@dataclass
class Changes:
    """What changed since the previous `take()`."""

    runs: dict[str, set[str]] = field(default_factory=dict)  # stage -> tasks
    stages: set[str] = field(default_factory=set)
    messages: list[Event] = field(default_factory=list)
    dropped_messages: int = 0
    tasks_added: int = 0

    def __bool__(self) -> bool:
        return bool(self.runs or self.stages or self.messages or self.tasks_added or self.dropped_messages)


class PipelineState:
    """Latest RunView / StageView of everything, kept current by engine events."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.pipeline = snapshot.pipeline
        self.seq = snapshot.seq  # the highest event number seen
        self.snapshot_seq = snapshot.seq
        self.stage_names: list[str] = [s.name for s in snapshot.stages]
        self.stages: dict[str, StageView] = {s.name: s for s in snapshot.stages}
        self.runs: dict[str, dict[str, RunView]] = {name: {} for name in self.stage_names}
        self.tasks: set[str] = set(snapshot.tasks)
        self.pools: dict[str, dict[str, object]] = dict(snapshot.pools)  # resource pools: size, used, free
        for run in snapshot.runs:
            if run.stage in self.runs:
                self.runs[run.stage][run.task] = run
        self._dirty_runs: dict[str, set[str]] = {}
        self._dirty_stages: set[str] = set()
        self._messages: deque[Event] = deque(maxlen=MAX_PENDING_MESSAGES)
        self._dropped = 0
        self._tasks_added = 0

    # ------------------------------------------------------------------ events
    def apply(self, event: Event) -> None:
        """Record one engine event (called on the engine's loop; must stay cheap)."""
        if event.seq <= self.snapshot_seq:
            return  # already in the snapshot
        # Not "older than the last event": a message said while the store fails is numbered after the run
        # changes still waiting for their commit, and is delivered before them.
        self.seq = max(self.seq, event.seq)
        if event.kind == EventKind.RUN and event.run is not None:
            run = event.run
            stage_runs = self.runs.get(run.stage)
            if stage_runs is not None:
                stage_runs[run.task] = run
                self._dirty_runs.setdefault(run.stage, set()).add(run.task)
        if event.stage is not None and event.stage.name in self.stages:
            self.stages[event.stage.name] = event.stage
            self._dirty_stages.add(event.stage.name)
        if event.kind == EventKind.POOL and event.data:
            self.pools = dict(event.data)
        if event.kind == EventKind.TASK_ADDED and event.task and event.task not in self.tasks:
            self.tasks.add(event.task)
            self._tasks_added += 1
        if event.kind in (EventKind.MESSAGE, EventKind.FINISHED) and event.message:
            if len(self._messages) == self._messages.maxlen:
                self._dropped += 1
            self._messages.append(event)

    def take(self) -> Changes:
        """Hand over (and forget) everything that changed since the last call."""
        changes = Changes(
            runs=self._dirty_runs,
            stages=self._dirty_stages,
            messages=list(self._messages),
            dropped_messages=self._dropped,
            tasks_added=self._tasks_added,
        )
        self._dirty_runs = {}
        self._dirty_stages = set()
        self._messages.clear()
        self._dropped = 0
        self._tasks_added = 0
        return changes

    @property
    def pending(self) -> bool:
        return bool(self._dirty_runs or self._dirty_stages or self._messages or self._tasks_added)

    # ------------------------------------------------------------------ queries
    @property
    def task_count(self) -> int:
        return len(self.tasks)

    def run(self, stage: str, task: str) -> RunView | None:
        return self.runs.get(stage, {}).get(task)

    def running(self) -> int:
        return sum(v.counts.get(RunState.RUNNING.value, 0) for v in self.stages.values())

    def busy(self) -> bool:
        """Anything queued or running anywhere (the engine has work left)."""
        return any(
            v.counts.get(RunState.RUNNING.value, 0) or v.counts.get(RunState.QUEUED.value, 0)
            for v in self.stages.values()
        )
