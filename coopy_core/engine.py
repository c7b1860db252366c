"""Engine: moves each configuration through the stages' queues; owns all state.

Everything runs on one asyncio loop. A transition is one SQLite transaction
followed by events to subscribers; a run's end dispatches the next stage in the
same loop iteration (no polling for local processes). Front ends read
`snapshot()`, listen with `subscribe()` and steer only through the command
methods (`pause`, `set_workers`, `bump`, `top`, `retry`, `cancel`, `add_task`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coopy_core.config import Config, StageConfig, import_ref
from coopy_core.detector import DetectContext, Detector, ExitStatusDetector, Status, Verdict
from coopy_core.errors import CoopyError, StateError
from coopy_core.executors import make_executor
from coopy_core.executors.base import Executor, LaunchSpec, StartError
from coopy_core.executors.local import LocalExecutor
from coopy_core.hooks import HookRunner
from coopy_core.model import (
    COUNTED_STATES,
    Event,
    EventKind,
    RunState,
    RunView,
    Snapshot,
    StageView,
)
from coopy_core.queue import StageQueue
from coopy_core.resources import Allocation, Pools, environment
from coopy_core.scripter import Launch, Scripter, placeholder_values
from coopy_core.store import EngineLock, RunRow, StageRow, Store
from coopy_core.tasks import Task, valid_task_name

log = logging.getLogger("coopy.engine")

Subscriber = Callable[[Event], None]
CANCEL_GRACE = 3.0
MAX_PRIORITY = 10**15  # bump/top: well inside a 64-bit SQLite INTEGER
MAX_WORKERS = 10_000  # as in the config
MAX_POOL_AMOUNT = 1e15  # as in the config; NaN and infinity are refused too


class CommandError(CoopyError):
    """A command that cannot be carried out (unknown task, wrong state, bad value)."""


@dataclass
class _Live:
    """What the engine knows of a running attempt beyond its stored row."""

    attempt: int
    exited: bool = False
    exit_code: int | None = None
    cancel_reason: str = ""
    interrupted: bool = False  # stopped with the engine (--stop-running): back to the queue
    timed_out: bool = False
    checking: bool = False
    info: str = ""  # the executor's last word on it, e.g. a Slurm job's "PENDING (Resources)"
    timers: list[asyncio.TimerHandle] = field(default_factory=list)


class Engine:
    def __init__(
        self,
        config: Config,
        executors: Mapping[str, Executor] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.executors: dict[str, Executor] = dict(executors or {})
        self.executors.setdefault("local", LocalExecutor())
        self.clock = clock
        self._lock = EngineLock(config.state_dir)
        self._store: Store | None = None
        self._stages: dict[str, StageConfig] = {s.name: s for s in config.stages}
        self._stage_names = [s.name for s in config.stages]
        self._queues: dict[str, StageQueue] = {}
        self._scripters: dict[str, Scripter] = {}
        self._detectors: dict[str, Detector] = {}
        self._tasks: dict[str, Task] = {}
        self._runs: dict[tuple[str, str], RunRow] = {}
        self._live: dict[tuple[str, str], _Live] = {}
        self._delayed: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._counts: dict[str, Counter[str]] = {s: Counter() for s in self._stage_names}
        self._durations: dict[str, tuple[float, int]] = {s: (0.0, 0) for s in self._stage_names}
        self._subscribers: list[Subscriber] = []
        self._pools = Pools(config.pools)
        self._hooks: HookRunner | None = None
        self._settled_since_start = False  # the pipeline's end is an event only if some run ended
        self._seq = 0
        self._order = 0
        self._finished = asyncio.Event()
        self._poll_task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = False
        self._hold = False
        self._closed = False

    # ================================================================ life cycle
    async def start(self) -> None:
        """Take the state dir, re-adopt what ran while no engine watched, start dispatching."""
        self._loop = asyncio.get_running_loop()
        self._open_state()
        for stage in self.config.stages:
            self._scripters[stage.name] = self._make(stage, "scripter", Scripter)
            self._detectors[stage.name] = self._make(stage, "detector", ExitStatusDetector)
        self._load()
        local = self.executors["local"]
        self._hooks = HookRunner(
            self.config, self.store, local if isinstance(local, LocalExecutor) else LocalExecutor(), self._notify
        )
        self._started = True
        self._hold = True  # no dispatch until every run is back in its place
        try:
            self._reconcile()
        finally:
            self._hold = False
        self._poll_task = asyncio.create_task(self._poll_loop())
        self._hooks.fire_pending()  # owed before a crash and never started
        self._dispatch()
        self._check_finished()

    def _open_state(self) -> None:
        try:
            self.config.state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"{self.config.state_dir}: cannot create the state directory ({exc.strerror})") from None
        self._lock.acquire()
        try:
            self._store = Store(self.config.state_dir)
            self._store.set_meta("pipeline", self.config.pipeline.name)
        except Exception:
            self._lock.release()
            raise

    def _make(self, stage: StageConfig, attr: str, default: type) -> Any:
        ref = getattr(stage, attr)
        cls = import_ref(ref, self.config.base_dir) if ref else default
        return cls(stage, self.config)

    async def run_until_finished(self) -> bool:
        """Wait until every configuration passed every stage or failed for good; True if all passed."""
        await self._finished.wait()
        return self.all_passed()

    async def shutdown(self, stop_running: bool = False) -> None:
        """Stop the engine. Running commands keep running (the next start adopts them)
        unless `stop_running`, which stops them and puts their runs back in the queue."""
        if self._closed or not self._started:
            return
        self._hold = True  # start nothing new: while we wait below, a backoff may end or a run finish
        if stop_running:
            waiting = []
            for key, live in list(self._live.items()):
                rec = self._runs[key]
                if rec.handle is not None and not live.exited:
                    live.interrupted = True
                    self._executor(rec).cancel(rec.handle, grace=CANCEL_GRACE)
                    waiting.append(key)
            deadline = time.monotonic() + CANCEL_GRACE + 2.0
            while any(k in self._live and not self._live[k].exited for k in waiting) and time.monotonic() < deadline:
                await asyncio.sleep(0.02)
        self._closed = True
        if self._poll_task:
            self._poll_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poll_task
        for live in self._live.values():
            for timer in live.timers:
                timer.cancel()
        for timer in self._delayed.values():
            timer.cancel()
        for executor in self.executors.values():
            executor.close()
        if self._store:
            self._store.close()
        self._lock.release()

    # ================================================================ loading
    @property
    def store(self) -> Store:
        assert self._store is not None, "engine not started"
        return self._store

    def _load(self) -> None:
        store = self.store
        known = {name for name, _p, _a in store.tasks()}
        new = [(t.name, dict(t.params)) for t in self.config.tasks if t.name not in known]
        if new:
            store.add_tasks(new)
        for name, params, _added in store.tasks():
            self._tasks[name] = Task(name, params)
        rows = store.stages()
        for stage in self.config.stages:
            row = rows.get(stage.name)
            if row is None or row.config_workers != stage.workers:
                row = StageRow(stage.name, stage.workers, stage.workers, row.paused if row else False)
                store.save_stage(row)
            self._queues[stage.name] = StageQueue(stage.name, row.workers, row.paused)
        for name, spec in self.config.pools.items():
            stored = store.get_meta(f"pool:{name}")
            if stored is not None and store.get_meta(f"poolcfg:{name}") == json.dumps(spec):
                self._pools.resize(name, json.loads(stored))  # resized at run time; the config is unchanged
            else:
                store.set_meta(f"pool:{name}", json.dumps(spec))
                store.set_meta(f"poolcfg:{name}", json.dumps(spec))
        for rec in store.runs():
            if rec.stage not in self._stages or rec.task not in self._tasks:
                continue
            self._runs[(rec.task, rec.stage)] = rec
            self._counts[rec.stage][rec.state] += 1
            self._order = max(self._order, rec.order + 1)
            if rec.state == RunState.DONE.value and rec.started_at and rec.ended_at:
                self._add_duration(rec.stage, rec.ended_at - rec.started_at)

    def _reconcile(self) -> None:
        """Bring the store in line with the world after a stop or a crash."""
        now = self.clock()
        with self.store.transaction():
            for rec in list(self._runs.values()):
                state = RunState(rec.state)
                if state == RunState.RUNNING:
                    self._readopt(rec)
                elif state == RunState.QUEUED:
                    if rec.not_before and rec.not_before > now:
                        self._delay(rec)
                    else:
                        self._queues[rec.stage].push(rec.task, rec.priority, rec.order)
            for task in self._tasks:
                self._resume_chain(task)

    def _readopt(self, rec: RunRow) -> None:
        key = (rec.task, rec.stage)
        if rec.handle is None:
            # crashed between "starting" and recording the handle: did the start happen?
            status = self._status_path(rec.stage, rec.task, rec.attempt)
            found = self._executor(rec).find_started(self._run_id(rec), status)
            if found is None:
                old = rec.state
                rec.state = RunState.QUEUED.value
                rec.attempt -= 1
                self._recount(rec, old)
                self._save(rec)
                self._queues[rec.stage].push(rec.task, rec.priority, rec.order)
                return
            rec.handle = found
            self._save(rec)
        self._queues[rec.stage].running.add(rec.task)
        if rec.resources:
            self._pools.restore(key, rec.resources)
        adopted = self._executor(rec).adopt(rec.handle)
        self._live[key] = _Live(attempt=rec.attempt)
        if adopted.alive:
            log.info("re-adopted %s/%s attempt %d", rec.stage, rec.task, rec.attempt)
            self._watch(rec)
        elif adopted.lost:
            self._finish(rec, RunState.FAILED, None, "lost: the process ended without recording an exit status")
        else:
            self._on_exit(key, rec.attempt, adopted.exit_code)

    def _resume_chain(self, task: str) -> None:
        """Each task sits in exactly one place: enqueue it where its chain stopped."""
        for i, stage in enumerate(self._stage_names):
            rec = self._runs.get((task, stage))
            if rec is None:
                prev = self._runs.get((task, self._stage_names[i - 1])) if i else None
                self._enqueue_new(task, i, self._carry_priority(prev, i))
                return
            if not RunState(rec.state).passed:
                return

    # ================================================================ subscriptions & views
    def subscribe(self, callback: Subscriber) -> Callable[[], None]:
        """Call `callback(event)` for every event after this point; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self._subscribers.remove(callback) if callback in self._subscribers else None

    def _emit(self, kind: EventKind, **kw: Any) -> None:
        self._seq += 1
        event = Event(seq=self._seq, kind=kind, time=self.clock(), **kw)
        for callback in list(self._subscribers):
            try:
                callback(event)
            except Exception:  # noqa: BLE001 - a broken screen must not stop the pipeline
                log.exception("subscriber failed")

    def _notify(self, text: str, level: str) -> None:
        """A hook's news: a MESSAGE event tagged `source = hook` (screens show it as a notification)."""
        self._emit(EventKind.MESSAGE, message=text, level=level, data={"source": "hook"})

    def _message(self, text: str, level: str = "info", run: RunView | None = None) -> None:
        self._emit(EventKind.MESSAGE, message=text, level=level, run=run)

    def run_view(self, rec: RunRow) -> RunView:
        return RunView(
            task=rec.task,
            stage=rec.stage,
            attempt=rec.attempt,
            state=RunState(rec.state),
            priority=rec.priority,
            exit_code=rec.exit_code,
            reason=rec.reason,
            log=rec.log,
            started_at=rec.started_at,
            ended_at=rec.ended_at,
            not_before=rec.not_before,
            pid=(rec.handle or {}).get("pid"),
            job_id=(rec.handle or {}).get("job_id"),
            order=rec.order,
            resources=dict(rec.resources or {}),
        )

    def stage_view(self, name: str) -> StageView:
        q = self._queues[name]
        counts = {s.value: self._counts[name][s.value] for s in COUNTED_STATES}
        total, n = self._durations[name]
        return StageView(
            name=name,
            index=self._stage_names.index(name),
            workers=q.workers,
            paused=q.paused,
            counts=counts,
            mean_duration=total / n if n else None,
        )

    def snapshot(self) -> Snapshot:
        return Snapshot(
            seq=self._seq,
            pipeline=self.config.pipeline.name,
            tasks=tuple(self._tasks),
            stages=tuple(self.stage_view(s) for s in self._stage_names),
            runs=tuple(self.run_view(r) for r in sorted(self._runs.values(), key=lambda r: r.order)),
            finished=self._finished.is_set(),
            pools=self._pools.view(),
        )

    @property
    def finished(self) -> bool:
        """Nothing queued or running: every configuration passed every stage or stopped for good."""
        return self._finished.is_set()

    @property
    def task_count(self) -> int:
        return len(self._tasks)

    def queue_order(self, stage: str) -> list[str]:
        """Queued tasks of `stage` in the order they would start."""
        return self._queue(stage).order()

    def all_passed(self) -> bool:
        last = self._stage_names[-1]
        return all(
            (rec := self._runs.get((t, last))) is not None and RunState(rec.state).passed for t in self._tasks
        )

    # ================================================================ commands
    def pause(self, stage: str) -> None:
        self._set_stage(stage, paused=True)

    def resume(self, stage: str) -> None:
        self._set_stage(stage, paused=False)
        self._dispatch()

    def toggle_pause(self, stage: str) -> bool:
        paused = not self._queue(stage).paused
        (self.pause if paused else self.resume)(stage)
        return paused

    def set_workers(self, stage: str, workers: int) -> None:
        """Raising starts more at once; lowering lets running ones finish."""
        if not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
            raise CommandError(f"workers must be a whole number from 1 to {MAX_WORKERS}, got {str(workers)[:30]}")
        self._set_stage(stage, workers=workers)
        self._dispatch()

    def set_pool(self, name: str, size: list[int | str] | int | float) -> None:
        """Resize a resource pool (a list of ids, or an amount); runs holding resources keep them."""
        if name not in self._pools.pools:
            raise CommandError(f"no resource pool named {name!r}")
        if not isinstance(size, list) and not (isinstance(size, int | float) and 0 <= size <= MAX_POOL_AMOUNT):
            raise CommandError(f"pool {name!r}: an amount from 0 to {MAX_POOL_AMOUNT:g}, got {str(size)[:30]}")
        try:
            self._pools.resize(name, size)
        except (ValueError, TypeError) as exc:
            raise CommandError(str(exc)) from None
        self.store.set_meta(f"pool:{name}", json.dumps(self._pools.pools[name].spec()))
        self._emit(EventKind.POOL, data=self._pools.view())
        self._dispatch()

    def bump(self, task: str, stage: str, delta: int = 1) -> int:
        """Change a queued run's priority by `delta`; returns the new priority."""
        rec = self._queued(task, stage)
        return self._set_priority(rec, rec.priority + delta)

    def top(self, task: str, stage: str) -> int:
        """Move a queued run to the front of its stage's line."""
        rec = self._queued(task, stage)
        q = self._queue(stage)
        order = q.order()
        if order and order[0] == task:
            return rec.priority
        best = q.top_priority()
        return self._set_priority(rec, max(rec.priority, best if best is not None else rec.priority) + 1)

    def retry(self, task: str, stage: str) -> None:
        """Queue a failed or cancelled run again, with a fresh retry budget."""
        rec = self._get(task, stage)
        if rec.state not in (RunState.FAILED.value, RunState.CANCELLED.value):
            raise CommandError(f"{stage}/{task} is {rec.state}; only failed or cancelled runs can be retried")
        old = rec.state
        rec.state = RunState.QUEUED.value
        rec.failures = 0
        rec.reason = f"retry requested (was {old})"
        rec.not_before = None
        self._recount(rec, old)
        self._save(rec)
        self._queues[stage].push(task, rec.priority, rec.order)
        self._finished.clear()
        self._dispatch()

    def cancel(self, task: str, stage: str) -> None:
        """Cancel a queued run, or stop a running one and its whole process group."""
        rec = self._get(task, stage)
        key = (task, stage)
        if rec.state == RunState.QUEUED.value:
            self._queues[stage].remove(task)
            if key in self._delayed:
                self._delayed.pop(key).cancel()
            self._finish_queued(rec, RunState.CANCELLED, "cancelled while queued")
        elif rec.state == RunState.RUNNING.value:
            live = self._live.get(key)
            if live is None or live.cancel_reason:
                return
            live.cancel_reason = "cancelled by user"
            if rec.handle is not None:  # also when the command exited but left jobs behind
                self._executor(rec).cancel(rec.handle, grace=CANCEL_GRACE)
            if rec.handle is None or live.exited:
                self._finish(rec, RunState.CANCELLED, live.exit_code, live.cancel_reason)
        else:
            raise CommandError(f"{stage}/{task} is {rec.state}; only queued or running runs can be cancelled")

    def add_task(self, params: Mapping[str, Any], name: str | None = None) -> str:
        """Add a configuration while the pipeline runs; it joins the first stage's queue."""
        from coopy_core import templates
        from coopy_core.tasks import task_name

        params = dict(params)
        name = name or task_name(params)
        if not valid_task_name(name):
            raise CommandError(f"{name!r} is not a valid task name (letters, digits and . _ + = , @ -)")
        if name in self._tasks:
            raise CommandError(f"a configuration named {name!r} already exists")
        for key in params:
            if key in templates.BUILTIN_PLACEHOLDERS:
                raise CommandError(f"parameter name {key!r} is reserved for the built-in placeholder")
        known = set(params) | set(templates.BUILTIN_PLACEHOLDERS)
        for stage in self.config.stages:
            for t in [*stage.argv_templates, *stage.done_when, *stage.env.values()]:
                try:
                    templates.check(t, known)
                except templates.TemplateError as exc:
                    raise CommandError(f"stage {stage.name}: {exc}") from None
        self.store.add_tasks([(name, params)], added=True)
        self._tasks[name] = Task(name, params)
        self._emit(EventKind.TASK_ADDED, task=name)
        with self.store.transaction():
            self._enqueue_new(name, 0, self._stages[self._stage_names[0]].priority)
        self._finished.clear()
        self._dispatch()
        return name

    # ---------------------------------------------------------------- command helpers
    def _queue(self, stage: str) -> StageQueue:
        try:
            return self._queues[stage]
        except KeyError:
            raise CommandError(f"no stage named {stage!r}") from None

    def _get(self, task: str, stage: str) -> RunRow:
        self._queue(stage)
        rec = self._runs.get((task, stage))
        if rec is None:
            if task not in self._tasks:
                raise CommandError(f"no configuration named {task!r}")
            raise CommandError(f"{task!r} has not reached stage {stage!r} yet")
        return rec

    def _queued(self, task: str, stage: str) -> RunRow:
        rec = self._get(task, stage)
        if rec.state != RunState.QUEUED.value:
            raise CommandError(f"{stage}/{task} is {rec.state}; only queued runs have a place in the line")
        return rec

    def _set_priority(self, rec: RunRow, priority: int) -> int:
        if not isinstance(priority, int) or abs(priority) > MAX_PRIORITY:  # stored as a 64-bit SQLite INTEGER
            raise CommandError(f"the priority would be out of range (-{MAX_PRIORITY} to {MAX_PRIORITY})")
        rec.priority = priority
        key = (rec.task, rec.stage)
        if key not in self._delayed:
            self._queues[rec.stage].push(rec.task, priority, rec.order)
        self._save(rec)
        return priority

    def _set_stage(self, stage: str, *, paused: bool | None = None, workers: int | None = None) -> None:
        q = self._queue(stage)
        if paused is not None:
            q.paused = paused
        if workers is not None:
            q.workers = workers
        cfg = self._stages[stage]
        self.store.save_stage(StageRow(stage, q.workers, cfg.workers, q.paused))
        self._emit(EventKind.STAGE, stage=self.stage_view(stage))

    # ================================================================ transitions
    def _save(self, rec: RunRow) -> None:
        self.store.save_run(rec)
        if self._started:
            self._emit(EventKind.RUN, run=self.run_view(rec), stage=self.stage_view(rec.stage))

    def _recount(self, rec: RunRow, old: str | None) -> None:
        counts = self._counts[rec.stage]
        if old is not None:
            counts[old] -= 1
        counts[rec.state] += 1

    def _carry_priority(self, prev: RunRow | None, index: int) -> int:
        """A configuration bumped upstream keeps its lead downstream."""
        base = self._stages[self._stage_names[index]].priority
        if prev is None:
            return base
        return base + prev.priority - self._stages[prev.stage].priority

    def _enqueue_new(self, task: str, index: int, priority: int) -> None:
        stage = self._stage_names[index]
        key = (task, stage)
        existing = self._runs.get(key)
        if existing is not None:
            if RunState(existing.state).passed:
                self._hand_off(existing)
            return
        rec = RunRow(
            task=task, stage=stage, attempt=0, failures=0, state=RunState.QUEUED.value,
            priority=priority, order=self._order, exit_code=None, reason="", log="",
            started_at=None, ended_at=None, not_before=None, handle=None,
        )
        self._order += 1
        self._runs[key] = rec
        cfg = self._stages[stage]
        if cfg.skip_if_done and self._outputs_exist(rec):
            rec.state = RunState.SKIPPED.value
            rec.reason = "outputs already exist"
            rec.ended_at = self.clock()
            self._recount(rec, None)
            self._save(rec)
            self._hand_off(rec)
            return
        self._recount(rec, None)
        self._save(rec)
        self._queues[stage].push(task, priority, rec.order)

    def _outputs_exist(self, rec: RunRow) -> bool:
        try:
            outputs = self._scripters[rec.stage].outputs(self._tasks[rec.task], max(rec.attempt, 1))
        except Exception:  # noqa: BLE001
            return False
        return bool(outputs) and all(p.exists() for p in outputs)

    def _hand_off(self, rec: RunRow) -> None:
        index = self._stage_names.index(rec.stage) + 1
        if index < len(self._stage_names):
            self._enqueue_new(rec.task, index, self._carry_priority(rec, index))

    def _dispatch(self) -> None:
        if self._closed or not self._started or self._hold:
            return
        for name in reversed(self._stage_names):  # downstream first: a hand-off waits for no other spawn
            if self._stages[name].resources:
                continue
            q = self._queues[name]
            while q.has_free_worker():
                task = q.pop()
                if task is None:
                    break
                self._start_run(self._runs[(task, name)])
        if self._pools:
            self._dispatch_with_resources()
        self._check_finished()

    def _dispatch_with_resources(self) -> None:
        """Stages that ask for pool resources: the run that has waited longest is served first, and a
        pool it cannot get yet is held back for it — so a 2-GPU run is never overtaken forever by
        1-GPU runs of other stages (no backfill: a little idle capacity buys the no-starvation promise)."""
        while True:
            heads = []
            for name in self._stage_names:
                q = self._queues[name]
                if self._stages[name].resources and q.has_free_worker():
                    task = q.peek()
                    if task is not None:
                        heads.append((self._runs[(task, name)].order, name, task))
            reserved: set[str] = set()
            started = False
            for _order, name, task in sorted(heads):
                request = self._stages[name].resources
                if reserved & set(request):
                    continue
                if self._pools.can_serve(request):
                    self._queues[name].pop()
                    allocation = self._pools.allocate((task, name), request)
                    self._start_run(self._runs[(task, name)], allocation)
                    started = True
                    break  # caps and pools changed: look again
                reserved |= set(request)
            if not started:
                return

    def _executor(self, rec: RunRow) -> Executor:
        """The executor a run's stage names; local and Slurm runs look the same from here on."""
        name = self._stages[rec.stage].executor
        if name not in self.executors:
            self.executors[name] = make_executor(name, self.config)
        return self.executors[name]

    def _run_id(self, rec: RunRow) -> str:
        return f"{self.config.state_dir}:{rec.stage}/{rec.task}/{rec.attempt}"

    def _status_path(self, stage: str, task: str, attempt: int) -> Path:
        return self.config.state_dir / "status" / stage / f"{task}.{attempt}.status"

    def _start_run(self, rec: RunRow, allocation: Allocation | None = None) -> None:
        stage = self._stages[rec.stage]
        task = self._tasks[rec.task]
        old = rec.state
        rec.attempt += 1
        rec.state = RunState.RUNNING.value
        rec.started_at = self.clock()
        rec.ended_at = None
        rec.exit_code = None
        rec.reason = ""
        rec.not_before = None
        rec.handle = None
        rec.resources = dict(allocation) if allocation else None
        rec.log = str(self.config.log_dir / stage.name / f"{task.name}.{rec.attempt}.log")
        self._recount(rec, old)
        key = (rec.task, rec.stage)
        self._queues[rec.stage].running.add(rec.task)
        self._live[key] = _Live(attempt=rec.attempt)
        try:
            launch = self._scripters[stage.name].script(task, rec.attempt)
        except Exception as exc:  # noqa: BLE001 - a plug-in's error fails the run, not the engine
            self._save(rec)
            self._finish(rec, RunState.FAILED, None, f"scripter error: {exc}")
            return
        if allocation:
            launch = Launch(argv=launch.argv, cwd=launch.cwd, env={**launch.env, **environment(allocation)})
        self._save(rec)  # "starting": on a crash from here on, the restart looks for the process
        spec = LaunchSpec(
            run_id=self._run_id(rec),
            launch=launch,
            log=Path(rec.log),
            status=self._status_path(stage.name, task.name, rec.attempt),
            stage=stage.name,
        )
        try:
            rec.handle = self._executor(rec).start(spec)
        except StartError as exc:
            self._finish(rec, RunState.FAILED, None, str(exc))
            return
        self._save(rec)
        self._watch(rec)

    def _watch(self, rec: RunRow) -> None:
        key = (rec.task, rec.stage)
        live = self._live[key]
        assert rec.handle is not None and self._loop is not None
        attempt = rec.attempt
        self._executor(rec).watch(
            rec.handle,
            lambda code: self._on_exit(key, attempt, code),
            on_info=lambda text: self._on_info(key, attempt, text),
        )
        timeout = self._stages[rec.stage].timeout
        if timeout is not None:
            delay = max(0.0, (rec.started_at or self.clock()) + timeout - self.clock())
            live.timers.append(self._loop.call_later(delay, self._on_timeout, key, attempt))

    def _on_timeout(self, key: tuple[str, str], attempt: int) -> None:
        rec = self._runs.get(key)
        live = self._live.get(key)
        if rec is None or live is None or live.attempt != attempt or rec.state != RunState.RUNNING.value:
            return
        live.timed_out = True
        if rec.handle is not None:  # also when the command exited but left jobs behind
            self._executor(rec).cancel(rec.handle, grace=CANCEL_GRACE)
        if rec.handle is None or live.exited:
            self._finish(rec, RunState.FAILED, live.exit_code, self._timeout_reason(rec))

    def _timeout_reason(self, rec: RunRow) -> str:
        return f"timed out after {self._stages[rec.stage].timeout:g}s"

    def _on_info(self, key: tuple[str, str], attempt: int, text: str) -> None:
        """The executor's news of a running run (Slurm state and reason) becomes its reason: stored, sent."""
        rec = self._runs.get(key)
        live = self._live.get(key)
        if self._closed or rec is None or live is None or live.attempt != attempt or live.exited:
            return
        live.info = text
        if rec.state == RunState.RUNNING.value and rec.reason != text:
            rec.reason = text
            self._save(rec)

    def _on_exit(self, key: tuple[str, str], attempt: int, code: int | None) -> None:
        rec = self._runs.get(key)
        live = self._live.get(key)
        if self._closed or rec is None or live is None or live.attempt != attempt:
            return
        live.exited = True
        live.exit_code = code
        if live.interrupted and code is None:
            self._requeue_interrupted(rec)
        elif live.interrupted:
            self._detect(rec)  # it had ended on its own before we stopped it: that work counts
        elif live.cancel_reason:
            self._finish(rec, RunState.CANCELLED, code, live.cancel_reason)
        elif live.timed_out:
            self._finish(rec, RunState.FAILED, code, self._timeout_reason(rec))
        elif code is None:
            why = f"({live.info})" if live.info else "(killed with its wrapper?)"
            self._finish(rec, RunState.FAILED, None, f"ended without an exit status {why}")
        else:
            self._detect(rec)

    # ---------------------------------------------------------------- detection
    def _context(self, rec: RunRow, live: _Live) -> DetectContext:
        task = self._tasks[rec.task]
        return DetectContext(
            task=rec.task,
            stage=rec.stage,
            attempt=rec.attempt,
            params=dict(task.params),
            outputs=self._scripters[rec.stage].outputs(task, rec.attempt),
            log=Path(rec.log),
            exit_code=live.exit_code if live.exited else None,
            elapsed=self.clock() - (rec.started_at or self.clock()),
            extra=dict(rec.handle or {}),
        )

    def _detect(self, rec: RunRow) -> None:
        key = (rec.task, rec.stage)
        live = self._live[key]
        detector = self._detectors[rec.stage]
        if type(detector) in (Detector, ExitStatusDetector):
            try:
                verdict = detector.check(self._context(rec, live))
            except Exception as exc:  # noqa: BLE001
                verdict = Verdict(Status.FAILED, f"detector error: {exc}")
            self._apply(rec, live, verdict)
            return
        if live.checking:
            return
        live.checking = True
        asyncio.ensure_future(self._detect_in_thread(rec, live, detector))

    async def _detect_in_thread(self, rec: RunRow, live: _Live, detector: Detector) -> None:
        timeout = self.config.pipeline.detector_timeout
        try:
            verdict = await asyncio.wait_for(_in_daemon_thread(detector.check, self._context(rec, live)), timeout)
        except TimeoutError:
            verdict = Verdict(Status.FAILED, f"detector gave no answer within {timeout:g}s")
        except Exception as exc:  # noqa: BLE001
            verdict = Verdict(Status.FAILED, f"detector error: {type(exc).__name__}: {exc}")
        finally:
            live.checking = False
        if self._closed or self._live.get((rec.task, rec.stage)) is not live:
            return
        if not isinstance(verdict, Verdict):
            verdict = Verdict(Status.FAILED, f"detector returned {verdict!r}, not a Verdict")
        self._apply(rec, live, verdict)

    def _apply(self, rec: RunRow, live: _Live, verdict: Verdict) -> None:
        if verdict.status == Status.RUNNING:
            if live.exited and verdict.reason != rec.reason:
                rec.reason = verdict.reason
                self._save(rec)
            return
        state = RunState.DONE if verdict.status == Status.DONE else RunState.FAILED
        if not live.exited and rec.handle is not None:
            self._executor(rec).cancel(rec.handle, grace=CANCEL_GRACE)  # the detector decided; stop the leftovers
        self._finish(rec, state, live.exit_code, verdict.reason)

    async def _poll_loop(self) -> None:
        """Only outside state is polled: outputs that have not appeared yet, polling Detectors."""
        interval = self.config.pipeline.poll_interval
        while not self._closed:
            await asyncio.sleep(interval)
            for key, live in list(self._live.items()):
                rec = self._runs[key]
                detector = self._detectors[rec.stage]
                if rec.state == RunState.RUNNING.value and (live.exited or detector.polls):
                    if live.exited and live.cancel_reason:
                        continue
                    self._detect(rec)

    # ---------------------------------------------------------------- endings
    def _finish(self, rec: RunRow, state: RunState, code: int | None, reason: str) -> None:
        """End the current attempt: retry with backoff, or settle and hand off."""
        if state == RunState.FAILED and rec.log:
            reason += _disk_full_note(Path(rec.log))
        self._release_worker(rec)
        self._settled_since_start = True
        now = self.clock()
        cfg = self._stages[rec.stage]
        old = rec.state
        with self.store.transaction():
            self.store.add_attempt(rec, state.value, code, reason, now)
            rec.exit_code = code
            rec.ended_at = now
            if state == RunState.FAILED and rec.failures < cfg.retries:
                rec.failures += 1
                delay = cfg.backoff * 2 ** (rec.failures - 1)
                rec.state = RunState.QUEUED.value
                rec.not_before = now + delay
                rec.reason = f"{reason}; retry {rec.failures}/{cfg.retries} in {delay:g}s"
                self._recount(rec, old)
                self._save(rec)
                self._delay(rec)
            else:
                rec.state = state.value
                rec.reason = reason
                self._recount(rec, old)
                self._save(rec)
                if state == RunState.DONE and rec.started_at is not None:
                    self._add_duration(rec.stage, now - rec.started_at)
                if state.passed:
                    self._hand_off(rec)
                hook = cfg.on_done if state == RunState.DONE else cfg.on_failed if state == RunState.FAILED else None
                if hook and self._hooks is not None:
                    values = placeholder_values(self._tasks[rec.task], rec.stage, rec.attempt)
                    values.update(state=state.value, exit_code="" if code is None else code, reason=reason, log=rec.log)
                    event = "on_done" if state == RunState.DONE else "on_failed"
                    self._hooks.owe(
                        f"{event}.{rec.stage}.{rec.task}.{rec.attempt}", hook, values, f"{event} {rec.stage}/{rec.task}"
                    )
        if self._hooks is not None:
            self._hooks.fire_pending()
        if state == RunState.FAILED:
            final = rec.state == RunState.FAILED.value
            self._message(
                f"{rec.stage}/{rec.task} attempt {rec.attempt} failed: {reason}"
                + ("" if final else f" (retrying in {(rec.not_before or now) - now:g}s)"),
                level="error" if final else "warning",
                run=self.run_view(rec),
            )
        self._dispatch()

    def _finish_queued(self, rec: RunRow, state: RunState, reason: str) -> None:
        old = rec.state
        rec.state = state.value
        rec.reason = reason
        rec.not_before = None
        rec.ended_at = self.clock()
        self._recount(rec, old)
        self._save(rec)
        self._dispatch()

    def _release_worker(self, rec: RunRow) -> None:
        """The attempt is over: its timers, its worker slot and its pool resources are free again."""
        key = (rec.task, rec.stage)
        live = self._live.pop(key, None)
        if live:
            for timer in live.timers:
                timer.cancel()
        self._queues[rec.stage].running.discard(rec.task)
        self._pools.release(key)

    def _requeue_interrupted(self, rec: RunRow) -> None:
        self._release_worker(rec)
        with self.store.transaction():
            self.store.add_attempt(rec, RunState.CANCELLED.value, None, "stopped with the engine", self.clock())
            old = rec.state
            rec.state = RunState.QUEUED.value
            rec.reason = "stopped with the engine; queued again"
            rec.handle = None
            self._recount(rec, old)
            self.store.save_run(rec)

    def _delay(self, rec: RunRow) -> None:
        assert self._loop is not None
        key = (rec.task, rec.stage)
        delay = max(0.0, (rec.not_before or 0.0) - self.clock())
        self._delayed[key] = self._loop.call_later(delay, self._release, key)

    def _release(self, key: tuple[str, str]) -> None:
        self._delayed.pop(key, None)
        rec = self._runs.get(key)
        if rec is None or rec.state != RunState.QUEUED.value or self._closed:
            return
        rec.not_before = None
        self._save(rec)
        self._queues[rec.stage].push(rec.task, rec.priority, rec.order)
        self._dispatch()

    def _add_duration(self, stage: str, seconds: float) -> None:
        total, n = self._durations[stage]
        self._durations[stage] = (total + seconds, n + 1)

    def _check_finished(self) -> None:
        busy = any(c[RunState.QUEUED.value] or c[RunState.RUNNING.value] for c in self._counts.values())
        if busy:
            self._finished.clear()
        elif not self._finished.is_set():
            self._finished.set()
            if self._settled_since_start and self.config.pipeline.on_finished and self._hooks is not None:
                n = self.store.count_hooks("on_finished.") + 1
                state = "passed" if self.all_passed() else "failed"
                values = {"pipeline": self.config.pipeline.name, "state": state}
                self._hooks.owe(f"on_finished.{n}", self.config.pipeline.on_finished, values, "on_finished")
                self._hooks.fire_pending()
            passed = self.all_passed()
            self._emit(EventKind.FINISHED, message="all configurations passed" if passed else "finished with failures")


def _disk_full_note(log: Path) -> str:
    """A failure on a full disk says so: the log itself may have been cut short by it."""
    try:
        st = os.statvfs(log.parent)
    except OSError:
        return ""
    return f"; the log's disk is full ({log.parent})" if st.f_bavail * st.f_frsize < 4096 else ""


def _in_daemon_thread(fn: Callable[[DetectContext], Verdict], ctx: DetectContext) -> asyncio.Future[Verdict]:
    """Run a plug-in's check in a daemon thread: one that never answers must not keep the process alive
    at exit (asyncio's default executor joins its threads)."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Verdict] = loop.create_future()

    def deliver(result: Verdict | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def work() -> None:
        try:
            result = fn(ctx)
        except BaseException as exc:  # noqa: BLE001 - handed to the engine, which fails the run
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, None, exc)
            return
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(deliver, result, None)

    threading.Thread(target=work, name="coopy-detector", daemon=True).start()
    return future
