"""Plain data the engine hands out: run states, run views, stage views, events, snapshots.

These are the only engine types a front end needs; they are frozen so a
snapshot can be read from any thread without copying.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Generic, TypeVar, overload


class RunState(enum.StrEnum):
    """Life of one run (a stage's run for a configuration or a group of them):
    waiting -> queued -> running -> done | failed | cancelled; or skipped (outputs there); or blocked
    (a run it needs failed for good)."""

    WAITING = "waiting"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    BLOCKED = "blocked"
    REMOVED = "removed"  # only in views: a run of a configuration the config no longer has (kept, not run)

    @property
    def finished(self) -> bool:
        return self in FINISHED_STATES

    @property
    def passed(self) -> bool:
        """The runs that need this one may start."""
        return self in (RunState.DONE, RunState.SKIPPED)

    @property
    def open(self) -> bool:
        """Still to happen: waiting, queued (perhaps behind a retry's backoff) or running."""
        return self in (RunState.WAITING, RunState.QUEUED, RunState.RUNNING)


FINISHED_STATES = frozenset({RunState.DONE, RunState.FAILED, RunState.CANCELLED, RunState.SKIPPED, RunState.BLOCKED})
COUNTED_STATES: tuple[RunState, ...] = (
    RunState.QUEUED,
    RunState.RUNNING,
    RunState.DONE,
    RunState.FAILED,
    RunState.SKIPPED,
    RunState.CANCELLED,
    RunState.BLOCKED,
    RunState.WAITING,
)
ENDED_STATES: tuple[RunState, ...] = (
    RunState.DONE,
    RunState.SKIPPED,
    RunState.FAILED,
    RunState.CANCELLED,
    RunState.BLOCKED,
)

STOPPED_STATES: tuple[RunState, ...] = (RunState.FAILED, RunState.CANCELLED, RunState.BLOCKED)


def stopped_text(counts: Mapping[str, int], never_started: int = 0) -> str:
    """`3 failed, 1 cancelled, 12 blocked, 2 never started` ("" when every run passed): how a pipeline that
    stopped short ended, in the one wording the TUI's top bar, its end notification and the notes all use."""
    parts = [f"{counts[s.value]} {s.value}" for s in STOPPED_STATES if counts.get(s.value, 0)]
    if never_started:
        parts.append(f"{never_started} never started")
    return ", ".join(parts)


# Run: the engine's own record of one run, sized for a million of them. A run that has not started yet (the vast
# majority at scale) holds only what orders it; what an attempt writes (times, exit code, log, handle, recipe...)
# lives in a RunDetails made at its first such write: a queued run takes 96 B instead of 192.

T = TypeVar("T")


@dataclass(slots=True)
class RunDetails:
    failures: int = 0  # failed attempts counted against `retries` (a manual retry starts afresh)
    exit_code: int | None = None
    reason: str = ""
    log: str = ""
    started_at: float | None = None
    ended_at: float | None = None
    not_before: float | None = None  # a retry's backoff: not started before this time
    handle: dict[str, Any] | None = None  # the executor's, to find the run again after a restart
    resources: dict[str, Any] | None = None  # what it holds from the pools (GPU ids, amounts)
    recipe: str | None = None  # JSON of what made its current (or last) attempt: signature.Recipe
    signature: str | None = None  # the hash of that recipe
    rerun: bool = False  # what it is made of changed while it ran: it runs again once this attempt ends
    rerun_why: str = ""  # ... and why (said when it runs again)


NO_DETAILS = RunDetails()  # never changed: what a run that has not started reads
DETAIL_NAMES: tuple[str, ...] = tuple(f.name for f in fields(RunDetails))


class _Detail(Generic[T]):
    """A Run attribute kept in its RunDetails; reads its default until something else is written."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name
        self.default = getattr(NO_DETAILS, name)

    @overload
    def __get__(self, run: None, owner: type) -> _Detail[T]: ...
    @overload
    def __get__(self, run: Run, owner: type) -> T: ...
    def __get__(self, run: Run | None, owner: type) -> T | _Detail[T]:
        if run is None:
            return self
        details = run.details
        return self.default if details is None else getattr(details, self.name)

    def __set__(self, run: Run, value: T) -> None:
        details = run.details
        if details is None:
            if value is self.default or (value == self.default and type(value) is type(self.default)):
                return
            details = run.details = RunDetails()
        setattr(details, self.name, value)


class Run:
    """The engine's own record of one run; only the engine changes it (screens get a RunView)."""

    __slots__ = ("stage", "name", "state", "attempt", "priority", "order", "stored", "details")

    failures = _Detail[int]()
    exit_code = _Detail[int | None]()
    reason = _Detail[str]()
    log = _Detail[str]()
    started_at = _Detail[float | None]()
    ended_at = _Detail[float | None]()
    not_before = _Detail[float | None]()
    handle = _Detail[dict[str, Any] | None]()
    resources = _Detail[dict[str, Any] | None]()
    recipe = _Detail[str | None]()
    signature = _Detail[str | None]()
    rerun = _Detail[bool]()
    rerun_why = _Detail[str]()

    def __init__(
        self,
        stage: str,
        name: str,  # the configuration's name, or the group's (`dataset=wine`, `all`)
        state: RunState | None = None,
        attempt: int = 0,  # attempts started so far; the current or last one
        priority: int = 0,
        order: int = 0,  # first come, first served among equal priorities
        stored: bool = False,  # a row exists in the store
        **details: Any,
    ) -> None:
        self.stage = stage
        self.name = name
        self.state = RunState.WAITING if state is None else state
        self.attempt = attempt
        self.priority = priority
        self.order = order
        self.stored = stored
        self.details: RunDetails | None = None
        for field_name, value in details.items():
            if field_name not in DETAIL_NAMES:
                raise TypeError(f"Run() got an unexpected keyword argument {field_name!r}")
            setattr(self, field_name, value)

    @classmethod
    def restored(
        cls, stage: str, name: str, state: RunState, attempt: int, priority: int, order: int, details: RunDetails | None
    ) -> Run:
        """A run read back from the store (a million at a restart: no keyword parsing per field)."""
        run = cls.__new__(cls)
        run.stage, run.name, run.state, run.attempt, run.priority, run.order = (
            stage,
            name,
            state,
            attempt,
            priority,
            order,
        )
        run.stored, run.details = True, details
        return run

    @property
    def key(self) -> tuple[str, str]:
        return (self.stage, self.name)

    def _values(self) -> tuple[Any, ...]:
        own = (self.stage, self.name, self.state, self.attempt, self.priority, self.order, self.stored)
        return own + tuple(getattr(self, n) for n in DETAIL_NAMES)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Run):
            return NotImplemented
        return self._values() == other._values()

    __hash__ = None  # type: ignore[assignment]  # mutable, as the dataclass it replaces

    def __repr__(self) -> str:
        parts = [f"stage={self.stage!r}", f"name={self.name!r}", f"state={self.state!r}", f"attempt={self.attempt}"]
        parts += [f"{n}={getattr(self, n)!r}" for n in DETAIL_NAMES if getattr(self, n) != getattr(NO_DETAILS, n)]
        return f"Run({', '.join(parts)})"


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
    member_count: int = 0  # a group run's configurations (0: the run of one configuration)
    waiting_on: int = 0  # runs it needs that have not passed yet
    needs_total: int = 0  # runs it needs
    metrics: dict[str, float] = field(default_factory=dict)  # the last value of each metric it reported

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
            "member_count": self.member_count,
            "waiting_on": self.waiting_on,
            "metrics": dict(self.metrics),
        }


@dataclass(frozen=True, slots=True)
class StageView:
    name: str
    index: int
    workers: int
    paused: bool
    counts: dict[str, int]
    mean_duration: float | None = None
    total: int = 0  # the stage's runs: one per configuration, or one per group
    needs: tuple[str, ...] = ()
    over: tuple[str, ...] | None = None  # None: one run per configuration

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
            "total": self.total,
            "needs": list(self.needs),
            "over": list(self.over) if self.over is not None else None,
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


# ------------------------------------------------------------------ how an attempt runs
@dataclass(frozen=True)
class Launch:
    """One attempt's command as a Scripter makes it and an executor starts it: `argv` run as is (no shell), in
    `cwd`, with `env` added to the engine's environment. Here, below both, so executors need no Scripter."""

    argv: list[str]
    cwd: Path
    env: dict[str, str] = field(default_factory=dict)


Point = tuple[float, float]  # (step, value)


@dataclass(frozen=True)
class MetricRow:
    """One metric of one run, as stored: its attempt, last value, the step of it, and the series."""

    task: str
    stage: str
    name: str
    attempt: int
    value: float
    step: float | None
    series: tuple[Point, ...]

    def as_row(self) -> tuple[Any, ...]:
        return (self.task, self.stage, self.name, self.attempt, self.value, self.step, json.dumps(self.series))
