"""Plain data the engine hands out: run states, run views, stage views, events, snapshots.

These are the only engine types a front end needs; they are frozen so a
snapshot can be read from any thread without copying.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class RunState(enum.StrEnum):
    """Life of one run (configuration x stage): queued -> running -> done | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATES

    @property
    def passed(self) -> bool:
        """The configuration may move on to the next stage."""
        return self in (RunState.DONE, RunState.SKIPPED)


FINISHED_STATES = frozenset({RunState.DONE, RunState.FAILED, RunState.CANCELLED, RunState.SKIPPED})
COUNTED_STATES: tuple[RunState, ...] = (
    RunState.QUEUED,
    RunState.RUNNING,
    RunState.DONE,
    RunState.FAILED,
    RunState.SKIPPED,
    RunState.CANCELLED,
)


@dataclass(frozen=True, slots=True)
class RunView:
    """What a screen may know of one run; the engine's own record stays private."""

    task: str
    stage: str
    attempt: int
    state: RunState
    priority: int
    exit_code: int | None = None
    reason: str = ""
    log: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    not_before: float | None = None
    pid: int | None = None
    job_id: str | None = None
    order: int = 0
    resources: dict[str, Any] = field(default_factory=dict)  # pool -> GPU ids held, or amount held

    def as_json(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "stage": self.stage,
            "attempt": self.attempt,
            "state": self.state.value,
            "exit_code": self.exit_code,
            "priority": self.priority,
            "log": self.log,
            "reason": self.reason,
            "started_at": self.started_at,
            "ended_at": self.ended_at,
            "pid": self.pid,
            "job_id": self.job_id,
            "resources": dict(self.resources),
        }


@dataclass(frozen=True, slots=True)
class StageView:
    name: str
    index: int
    workers: int
    paused: bool
    counts: dict[str, int]
    mean_duration: float | None = None

    @property
    def running(self) -> int:
        return self.counts.get(RunState.RUNNING.value, 0)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workers": self.workers,
            "paused": self.paused,
            "counts": dict(self.counts),
            "mean_duration": self.mean_duration,
        }


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The whole pipeline at event number `seq`; events after it bring a screen up to date."""

    seq: int
    pipeline: str
    tasks: tuple[str, ...]
    stages: tuple[StageView, ...]
    runs: tuple[RunView, ...]
    finished: bool = False
    pools: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> size, used, capacity, free

    def as_json(self) -> dict[str, Any]:
        return {
            "pipeline": self.pipeline,
            "seq": self.seq,
            "finished": self.finished,
            "tasks": list(self.tasks),
            "stages": [s.as_json() for s in self.stages],
            "runs": [r.as_json() for r in self.runs],
            "pools": self.pools,
        }


class EventKind(enum.StrEnum):
    RUN = "run"  # a run changed (state, priority, attempt, ...)
    STAGE = "stage"  # a stage changed (paused, workers)
    TASK_ADDED = "task_added"
    MESSAGE = "message"  # something a person should read (a failure, a warning)
    FINISHED = "finished"  # every configuration passed every stage or failed for good
    POOL = "pool"  # a resource pool was resized; data holds every pool's view


@dataclass(frozen=True, slots=True)
class Event:
    seq: int
    kind: EventKind
    time: float
    run: RunView | None = None
    stage: StageView | None = None
    task: str | None = None
    message: str = ""
    level: str = "info"
    data: dict[str, Any] = field(default_factory=dict)
